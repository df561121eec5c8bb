// W6 and W7 of BENCHMARKS.md: the layout side of SB-GAN.
//   W6  progressive layout generator at its final resolution (latent 512, channels
//       512…64, equalized LR, pixel norm, K = 35, 256×512) + the Gumbel-ST sampler:
//       forward, N=1
//   W7  the straight-through Gumbel-softmax sampler alone on 8×35×256×512
//       probabilities: forward; forward+backward, reported in GB/s of the bytes the
//       fused kernels must read and write:
//         forward:  read p, write y_soft and the one-hot                3 tensors
//         backward: read p, y_soft, dy and dp, write dp                 5 tensors
#include "bench_common.hpp"

#include <sbgan/layers/channel_softmax.hpp>
#include <sbgan/models/layout_generator.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

constexpr index_t classes = 35;

// ---- W6 ---------------------------------------------------------------------------

void W6_fwd(benchmark::State& state) {
  Generator init(6);
  const auto options = ProgressiveLayoutGeneratorOptions::reference(256, classes, 2);  // 4×8 … 256×512
  LayoutGenerator<float> g(options, init, Generator(6, 1));
  g.set_training(true);  // Gumbel sampling
  const auto z = g.sample_latent(1, init);
  benchmark::DoNotOptimize(g.forward(z).output.data());  // warm-up
  for (auto _ : state) {
    auto ctx = g.forward(z);
    benchmark::DoNotOptimize(ctx.output.data());
  }
  set_gflops(state, progan_generator_flops(1, options.latent, options.channels, classes, options.base_height, options.aspect));
}

// ---- W7 ---------------------------------------------------------------------------

const Shape w7_shape{8, classes, 256, 512};
const double w7_tensor_bytes = double(w7_shape.numel()) * sizeof(float);

Tensor<float> w7_probabilities(Generator& g) {
  return ChannelSoftmax<float>().forward(g.normal<float>(w7_shape)).output;
}

void W7_fwd(benchmark::State& state) {
  Generator init(7);
  const auto p = w7_probabilities(init);
  GumbelSoftmaxST<float> sampler(Generator(7, 1));
  benchmark::DoNotOptimize(sampler.forward(p).output.data());  // warm-up
  for (auto _ : state) {
    auto ctx = sampler.forward(p);
    benchmark::DoNotOptimize(ctx.output.data());
  }
  set_gbytes(state, 3 * w7_tensor_bytes);
}

void W7_fwd_bwd(benchmark::State& state) {
  Generator init(7);
  const auto p = w7_probabilities(init);
  const auto dy = init.normal<float>(w7_shape);
  auto dp = zeros<float>(w7_shape);
  GumbelSoftmaxST<float> sampler(Generator(7, 1));
  auto step = [&] {
    auto ctx = sampler.forward(p);
    sampler.backward(ctx, dy, dp, ParamGrads::accumulate);
  };
  step();  // warm-up
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(dp.data());
  }
  set_gbytes(state, 8 * w7_tensor_bytes);
}

}  // namespace

BENCHMARK(W6_fwd)->Name("W6_layout_generator/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W7_fwd)->Name("W7_gumbel_st/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W7_fwd_bwd)->Name("W7_gumbel_st/fwd_bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
