// The GPU workloads of BENCHMARKS.md on sbgan's CUDA backend, under the CPU
// benchmarks' names and FLOP/byte counts, so that bench/compare_torch.py --device
// cuda compares them with PyTorch on the same GPU:
//   W1  conv 3×3 256 → 256, 64×128: forward; backward          (bench_conv.cpp)
//   W3  SPADE generator, 256×512: inference forward              (bench_spade.cpp)
//   W7  straight-through Gumbel-softmax, 8×35×256×512: forward;
//       forward+backward, in GB/s                                (bench_layout.cpp)
//   W9  one SB-GAN end-to-end iteration at 128×256               (bench_sbgan.cpp)
// Each mirrors its CPU benchmark with Tensor<float, cuda>: inputs are made on the
// host (the same seeds) and copied to the device once; the timed loop synchronises
// sbgan's stream after every iteration, so the time is the GPU's. The counter
// "device MiB" is what the caching allocator holds after the run (live tensors plus
// its cache), the GPU counterpart of the CPU table's peak RSS.
//
// A separate program, sbgan_bench_cuda (nvcc; built with SBGAN_WITH_CUDA and the
// benchmarks on): without a GPU it says so and exits non-zero.
// Every backend's kernels are declared before any template that calls them
// (docs/architecture.md): the aggregate first, then the shared bench helpers.
#include <sbgan/backend/kernels.hpp>

#include "bench_w9.hpp"

#include <cstdio>

#include <sbgan/backend/cuda/device.hpp>
#include <sbgan/backend/cuda/memory.hpp>
#include <sbgan/backend/cuda/stream.hpp>
#include <sbgan/backend/cuda/transfer.hpp>
#include <sbgan/layers/batch_norm.hpp>
#include <sbgan/layers/channel_softmax.hpp>
#include <sbgan/layers/conv2d.hpp>
#include <sbgan/layers/gumbel_softmax.hpp>
#include <sbgan/models/config.hpp>
#include <sbgan/models/sbgan.hpp>
#include <sbgan/models/spade_generator.hpp>
#include <sbgan/train/end_to_end_stage.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

using DeviceTensor = Tensor<float, cuda>;

void sync() { cuda_detail::synchronize(); }

void set_device_memory(benchmark::State& state) {
  const CudaMemoryStats s = cuda_memory_stats();
  state.counters["device MiB"] = double(s.bytes_in_use + s.bytes_cached) / (1024.0 * 1024.0);
}

// ---- W1 ---------------------------------------------------------------------------

constexpr index_t w1_channels = 256, w1_h = 64, w1_w = 128;
constexpr double w1_flops = same_conv_flops(1, w1_channels, w1_channels, 3, w1_h, w1_w);

void W1_conv3x3_fwd(benchmark::State& state) {
  Generator g(1);
  Conv2d<float, cuda> conv({w1_channels, w1_channels, 3, 1, 1, false}, g);
  const DeviceTensor x = to_device(g.normal<float>(Shape{1, w1_channels, w1_h, w1_w}));
  benchmark::DoNotOptimize(conv.forward(x).output.data());  // warm-up (and cuDNN's algorithm choice)
  sync();
  for (auto _ : state) {
    auto ctx = conv.forward(x);
    benchmark::DoNotOptimize(ctx.output.data());
    sync();
  }
  set_gflops(state, w1_flops);
  set_device_memory(state);
}

void W1_conv3x3_bwd(benchmark::State& state) {
  Generator g(1);
  Conv2d<float, cuda> conv({w1_channels, w1_channels, 3, 1, 1, false}, g);
  const DeviceTensor x = to_device(g.normal<float>(Shape{1, w1_channels, w1_h, w1_w}));
  auto ctx = conv.forward(x);
  const DeviceTensor dy = to_device(g.normal<float>(ctx.output.shape()));
  auto dx = zeros<float, cuda>(x.shape());
  conv.backward(ctx, dy, dx, ParamGrads::accumulate);  // warm-up
  sync();
  for (auto _ : state) {
    conv.backward(ctx, dy, dx, ParamGrads::accumulate);
    benchmark::DoNotOptimize(dx.data());
    sync();
  }
  set_gflops(state, 2 * w1_flops);
  set_device_memory(state);
}

// ---- W3 ---------------------------------------------------------------------------

constexpr index_t classes = 35, hidden = 128;
constexpr index_t gen_h = 256, gen_w = 512, gen_nf = 64;

SpadeGeneratorOptions generator_options() {
  SpadeGeneratorOptions o;
  o.label_channels = classes;
  o.nf = gen_nf;
  o.hidden = hidden;
  o.height = gen_h;
  o.width = gen_w;
  o.upsampling = SpadeUpsampling::normal;
  o.detach_layout = true;
  return o;
}

void W3_infer(benchmark::State& state) {
  Generator init(3);
  SpadeGenerator<BatchNorm<float, cuda>> g(generator_options(), init);
  g.set_training(false);  // running statistics, stored spectral-norm vectors
  const DeviceTensor seg = to_device(random_one_hot(init, 1, classes, gen_h, gen_w));
  benchmark::DoNotOptimize(g.forward(seg).output.data());  // warm-up
  sync();
  for (auto _ : state) {
    auto ctx = g.forward(seg);
    benchmark::DoNotOptimize(ctx.output.data());
    sync();
  }
  set_gflops(state, spade_generator_flops(1, classes, gen_nf, hidden, gen_h, gen_w, 5));
  set_device_memory(state);
}

// ---- W7 ---------------------------------------------------------------------------

const Shape w7_shape{8, classes, 256, 512};
const double w7_tensor_bytes = double(w7_shape.numel()) * sizeof(float);

DeviceTensor w7_probabilities(Generator& g) {
  return ChannelSoftmax<float, cuda>().forward(to_device(g.normal<float>(w7_shape))).output;
}

void W7_fwd(benchmark::State& state) {
  Generator init(7);
  const DeviceTensor p = w7_probabilities(init);
  GumbelSoftmaxST<float, cuda> sampler(Generator(7, 1));
  benchmark::DoNotOptimize(sampler.forward(p).output.data());  // warm-up
  sync();
  for (auto _ : state) {
    auto ctx = sampler.forward(p);
    benchmark::DoNotOptimize(ctx.output.data());
    sync();
  }
  set_gbytes(state, 3 * w7_tensor_bytes);
  set_device_memory(state);
}

void W7_fwd_bwd(benchmark::State& state) {
  Generator init(7);
  const DeviceTensor p = w7_probabilities(init);
  const DeviceTensor dy = to_device(init.normal<float>(w7_shape));
  auto dp = zeros<float, cuda>(w7_shape);
  GumbelSoftmaxST<float, cuda> sampler(Generator(7, 1));
  auto step = [&] {
    auto ctx = sampler.forward(p);
    sampler.backward(ctx, dy, dp, ParamGrads::accumulate);
  };
  step();  // warm-up
  sync();
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(dp.data());
    sync();
  }
  set_gbytes(state, 8 * w7_tensor_bytes);
  set_device_memory(state);
}

// ---- W9 (config and FLOP model in bench_w9.hpp) --------------------------------------

using Model = SBGAN<SBGanTraits<float, cuda, PixelNormForm::official, SpadeNormKind::batch>>;
using Stage = EndToEndStage<Model::layout_generator_type, Model::layout_critic_type, Model::image_generator_type,
                            Model::discriminator_type>;

void W9_iteration(benchmark::State& state) {
  const SBGanConfig c = w9_config();
  Generator init(9);
  Model model(c, init);
  EndToEndOptions<float, cuda> o;
  o.lr_pgan = c.end2end.lr_pgan;
  o.lr_spade_g = c.end2end.spade_generator_lr;
  o.lr_spade_d = c.end2end.spade_discriminator_lr;
  o.lr_d2 = c.end2end.d2_lr;
  o.lambda_pgan = c.end2end.lambda_pgan;
  o.lambda_gp = c.layout_gan.gp_lambda;
  o.lambda_d2 = c.end2end.lambda_d2;
  o.lambda_feat = c.spade.lambda_feat;
  o.lambda_vgg = c.spade.lambda_vgg;
  o.scaling = c.end2end_scaling();
  o.vgg = nullptr;
  model.set_layout_resolution(c.end2end.layout_resolution);
  Generator rng(9, 1);
  Stage stage(model.g_sb(), model.d_sb(), model.g_spade(), model.d_spade(), model.d2(), rng, o);
  const DeviceTensor layouts = to_device(random_one_hot(init, 1, c.classes, c.height, c.width));
  const DeviceTensor real = to_device(init.uniform<float>(Shape{1, 3, c.height, c.width}, -1.f, 1.f));
  benchmark::DoNotOptimize(stage.step(layouts, real).generator_loss());  // warm-up
  sync();
  for (auto _ : state) {
    const auto stats = stage.step(layouts, real);
    benchmark::DoNotOptimize(stats.generator_loss());
    sync();
  }
  set_gflops(state, w9_flops(c));
  set_device_memory(state);
}

}  // namespace

BENCHMARK(W1_conv3x3_fwd)->Name("W1_conv3x3/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W1_conv3x3_bwd)->Name("W1_conv3x3/bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W3_infer)->Name("W3_spade_generator/infer")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W7_fwd)->Name("W7_gumbel_st/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W7_fwd_bwd)->Name("W7_gumbel_st/fwd_bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W9_iteration)->Name("W9_sbgan_iteration")->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (!sbgan::cuda_available()) {
    std::fprintf(stderr, "sbgan_bench_cuda: no CUDA GPU is present: nothing to measure\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
