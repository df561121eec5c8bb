// W2–W4 of BENCHMARKS.md: the SPADE residual block and the SPADE generator
// (batch-norm SPADE, spectral norm, K = 35, hidden 128, the layout detached as in the
// SB-GAN fork, so no layout gradient is computed).
//   W2  SPADE block 512 → 256 (learned shortcut), N=1, 64×128: forward (infer: no
//       context kept); forward+backward
//   W3  SPADE generator, nf 64, 'normal' (5 upsamplings), 256×512: inference (infer)
//   W4  the same generator: training forward + backward (parameter gradients)
#include "bench_common.hpp"

#include <sbgan/blocks/spade_resblock.hpp>
#include <sbgan/layers/batch_norm.hpp>
#include <sbgan/models/spade_generator.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

constexpr index_t classes = 35, hidden = 128;

// ---- W2 ---------------------------------------------------------------------------

constexpr index_t w2_fin = 512, w2_fout = 256, w2_h = 64, w2_w = 128;

struct W2Setup {
  Generator init{1};
  SpadeResBlock<BatchNorm<float>> block{{w2_fin, w2_fout, classes, hidden, true, 0.2, {}}, init};
  Tensor<float> x = init.normal<float>(Shape{1, w2_fin, w2_h, w2_w});
  Tensor<float> seg = random_one_hot(init, 1, classes, w2_h, w2_w);
  W2Setup() { block.set_training(true); }
};

double w2_flops() { return spade_block_flops(1, w2_fin, w2_fout, classes, hidden, w2_h, w2_w); }

void W2_fwd(benchmark::State& state) {
  W2Setup s;
  benchmark::DoNotOptimize(s.block.infer(s.x, s.seg).data());  // warm-up
  for (auto _ : state) {
    auto y = s.block.infer(s.x, s.seg);  // as PyTorch's forward under no_grad
    benchmark::DoNotOptimize(y.data());
  }
  set_gflops(state, w2_flops());
}

void W2_fwd_bwd(benchmark::State& state) {
  W2Setup s;
  const auto dy = s.init.normal<float>(Shape{1, w2_fout, w2_h, w2_w});
  auto dx = zeros<float>(s.x.shape());
  auto step = [&] {
    auto ctx = s.block.forward(s.x, s.seg);
    s.block.backward(ctx, dy, dx, ParamGrads::accumulate);  // layout held constant
  };
  step();  // warm-up
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(dx.data());
  }
  set_gflops(state, 3 * w2_flops());
}

// ---- W3, W4 -------------------------------------------------------------------------

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

double generator_flops() { return spade_generator_flops(1, classes, gen_nf, hidden, gen_h, gen_w, 5); }

void W3_infer(benchmark::State& state) {
  Generator init(3);
  SpadeGenerator<BatchNorm<float>> g(generator_options(), init);
  g.set_training(false);  // running statistics, stored spectral-norm vectors
  const auto seg = random_one_hot(init, 1, classes, gen_h, gen_w);
  benchmark::DoNotOptimize(g.infer(seg).data());  // warm-up
  for (auto _ : state) {
    auto image = g.infer(seg);  // no contexts kept, as PyTorch's forward under no_grad
    benchmark::DoNotOptimize(image.data());
  }
  set_gflops(state, generator_flops());
}

void W4_train(benchmark::State& state) {
  Generator init(4);
  SpadeGenerator<BatchNorm<float>> g(generator_options(), init);
  g.set_training(true);
  const auto seg = random_one_hot(init, 1, classes, gen_h, gen_w);
  const auto dy = init.normal<float>(g.output_shape(1));
  auto step = [&] {
    auto ctx = g.forward(seg);
    g.backward(ctx, dy, ParamGrads::accumulate);  // parameter gradients; the layout is data
  };
  step();  // warm-up
  for (auto _ : state) step();
  set_gflops(state, 3 * generator_flops());
}

}  // namespace

BENCHMARK(W2_fwd)->Name("W2_spade_resblock/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W2_fwd_bwd)->Name("W2_spade_resblock/fwd_bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W3_infer)->Name("W3_spade_generator/infer")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W4_train)->Name("W4_spade_generator/train")->Unit(benchmark::kMillisecond)->UseRealTime();
