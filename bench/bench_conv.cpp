// Convolution benchmarks: W1 of BENCHMARKS.md (3x3, pad 1, no bias, N=1,
// 256->256 channels, 64x128), forward and backward, and the machine's float32 GEMM
// ceiling through the same Eigen GEMM the convolution uses.
#include <benchmark/benchmark.h>

#include <sbgan/sbgan.hpp>

namespace {

using namespace sbgan;

constexpr index_t w1_channels = 256, w1_h = 64, w1_w = 128;
constexpr double w1_flops = 2.0 * w1_channels * w1_channels * 9 * w1_h * w1_w;  // one GEMM-sized pass

void W1_conv3x3_fwd(benchmark::State& state) {
  Generator g(1);
  Conv2d<float> conv({w1_channels, w1_channels, 3, 1, 1, false}, g);
  const auto x = g.normal<float>(Shape{1, w1_channels, w1_h, w1_w});
  for (auto _ : state) {
    auto ctx = conv.forward(x);
    benchmark::DoNotOptimize(ctx.output.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(w1_flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void W1_conv3x3_bwd(benchmark::State& state) {
  Generator g(1);
  Conv2d<float> conv({w1_channels, w1_channels, 3, 1, 1, false}, g);
  const auto x = g.normal<float>(Shape{1, w1_channels, w1_h, w1_w});
  auto ctx = conv.forward(x);
  const auto dy = g.normal<float>(ctx.output.shape());
  auto dx = zeros<float>(x.shape());
  for (auto _ : state) {
    conv.backward(ctx, dy, dx, ParamGrads::accumulate);
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * w1_flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void ceiling_gemm_f32(benchmark::State& state) {
  const index_t n = state.range(0);
  Generator g(2);
  const auto a = g.normal<float>(Shape{n, n});
  const auto b = g.normal<float>(Shape{n, n});
  Tensor<float> c(Shape{n, n});
  for (auto _ : state) {
    cpu_detail::matrix(c.data(), n, n).noalias() = cpu_detail::matrix(a.data(), n, n) * cpu_detail::matrix(b.data(), n, n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(n) * double(n) * double(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(W1_conv3x3_fwd)->Name("W1_conv3x3/fwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(W1_conv3x3_bwd)->Name("W1_conv3x3/bwd")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ceiling_gemm_f32)->Name("ceiling/gemm_f32")->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
