// W1 of BENCHMARKS.md: conv 3×3, pad 1, no bias, N=1, 256 → 256 channels, 64×128;
// forward, and backward (input and weight gradients).
#include "bench_common.hpp"

#include <sbgan/layers/conv2d.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

constexpr index_t w1_channels = 256, w1_h = 64, w1_w = 128;
constexpr double w1_flops = same_conv_flops(1, w1_channels, w1_channels, 3, w1_h, w1_w);

void W1_conv3x3_fwd(benchmark::State& state) {
  Generator g(1);
  Conv2d<float> conv({w1_channels, w1_channels, 3, 1, 1, false}, g);
  const auto x = g.normal<float>(Shape{1, w1_channels, w1_h, w1_w});
  benchmark::DoNotOptimize(conv.forward(x).output.data());  // warm-up
  for (auto _ : state) {
    auto ctx = conv.forward(x);
    benchmark::DoNotOptimize(ctx.output.data());
  }
  set_gflops(state, w1_flops);
}

void W1_conv3x3_bwd(benchmark::State& state) {
  Generator g(1);
  Conv2d<float> conv({w1_channels, w1_channels, 3, 1, 1, false}, g);
  const auto x = g.normal<float>(Shape{1, w1_channels, w1_h, w1_w});
  auto ctx = conv.forward(x);
  const auto dy = g.normal<float>(ctx.output.shape());
  auto dx = zeros<float>(x.shape());
  conv.backward(ctx, dy, dx, ParamGrads::accumulate);  // warm-up
  for (auto _ : state) {
    conv.backward(ctx, dy, dx, ParamGrads::accumulate);
    benchmark::DoNotOptimize(dx.data());
  }
  set_gflops(state, 2 * w1_flops);
}

}  // namespace

BENCHMARK(W1_conv3x3_fwd)->Name("W1_conv3x3/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W1_conv3x3_bwd)->Name("W1_conv3x3/bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
