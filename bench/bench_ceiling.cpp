// The machine's practical ceilings (BENCHMARKS.md): a large float32 GEMM through the
// blocked GEMM the convolutions use (backend/cpu/gemm/), on 1 and 2 threads, and a
// large copy.
// This translation unit also holds the benchmark program's main().
#include "bench_common.hpp"

#include <cstring>
#include <vector>

#include <sbgan/backend/cpu/gemm/blocked_gemm.hpp>
#include <sbgan/backend/cpu/parallel.hpp>
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using namespace sbgan;
using namespace sbgan_bench;

// C = A·B, n×n, float32, with sbgan's blocked GEMM on `threads` threads.
void ceiling_gemm_f32(benchmark::State& state) {
  namespace gm = cpu_detail::gemm;
  const index_t n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
#if defined(_OPENMP)
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
#endif
  Generator g(2);
  const auto a = g.normal<float>(Shape{n, n});
  const auto b = g.normal<float>(Shape{n, n});
  Tensor<float> c(Shape{n, n});
  auto product = [&] {
    gm::blocked_gemm<float>(n, n, n, gm::RowMajorA<float>{a.data(), n}, gm::RowMajorB<float>{b.data(), n}, c.data(),
                            n, false);
  };
  product();  // warm-up
  for (auto _ : state) {
    product();
    benchmark::DoNotOptimize(c.data());
  }
#if defined(_OPENMP)
  omp_set_num_threads(before);
#endif
  set_gflops(state, 2.0 * double(n) * double(n) * double(n));
}

// dst = src over 256 MiB, split over the OpenMP threads; GB/s counts bytes read + written.
void ceiling_copy(benchmark::State& state) {
  const index_t count = index_t{64} << 20;  // floats
  std::vector<float> src(static_cast<std::size_t>(count), 1.0f), dst(static_cast<std::size_t>(count), 0.0f);
  auto copy = [&] {
    cpu_detail::parallel_chunks(count, [&](index_t begin, index_t end) {
      std::memcpy(dst.data() + begin, src.data() + begin, static_cast<std::size_t>(end - begin) * sizeof(float));
    });
  };
  copy();  // warm-up
  for (auto _ : state) {
    copy();
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state, 2.0 * double(count) * sizeof(float));
}

}  // namespace

BENCHMARK(ceiling_gemm_f32)
    ->Name("ceiling/gemm_f32")
    ->ArgNames({"n", "threads"})
    ->Args({4096, 1})
    ->Args({4096, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(ceiling_copy)->Name("ceiling/copy")->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
