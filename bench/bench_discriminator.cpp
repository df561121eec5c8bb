// W5 of BENCHMARKS.md: the multiscale patch discriminator (2 scales, 4 layers — the
// paper form, last inner stride 1 — ndf 64, spectral + instance norm) on
// concat(one-hot K=35, RGB), N=1, 256×512: forward + backward, parameter and input
// gradients, with a gradient on every scale's prediction.
#include "bench_common.hpp"

#include <vector>

#include <sbgan/blocks/multiscale_discriminator.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

constexpr index_t classes = 35, h = 256, w = 512, ndf = 64;

void W5_fwd_bwd(benchmark::State& state) {
  Generator init(5);
  MultiscaleDiscriminator<float> d({PatchDiscriminatorOptions::paper(classes + 3, ndf), 2}, init);
  d.set_training(true);
  const auto x = conditional_input(random_one_hot(init, 1, classes, h, w), init.uniform<float>(Shape{1, 3, h, w}, -1.f, 1.f));
  // A gradient on each scale's prediction map, none on the intermediate features.
  std::vector<std::vector<Tensor<float>>> dy;
  {
    const auto ctx = d.forward(x);
    for (const auto& scale : ctx.scales) {
      dy.emplace_back(scale.features.size());
      dy.back().back() = init.normal<float>(scale.output.shape());
    }
  }
  auto dx = zeros<float>(x.shape());
  auto step = [&] {
    auto ctx = d.forward(x);
    d.backward(ctx, dy, dx, ParamGrads::accumulate);
  };
  step();  // warm-up
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(dx.data());
  }
  set_gflops(state, 3 * multiscale_discriminator_flops(1, classes + 3, ndf, 4, true, 2, h, w));
}

}  // namespace

BENCHMARK(W5_fwd_bwd)->Name("W5_multiscale_discriminator/fwd_bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
