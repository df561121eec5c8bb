#pragma once
// Work splitting for CPU kernels. OpenMP when the build enables it (the sbgan::sbgan
// target does), otherwise a plain loop. A small grain keeps tiny tensors on one
// thread, where fork/join would cost more than the work.
#include "sbgan/core/shape.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace sbgan::cpu_detail {

// Calls f(i) for i in [0, n); runs in parallel when n * cost_per_item is large.
template <class F>
void parallel_for(index_t n, F&& f, index_t cost_per_item = 1) {
#if defined(_OPENMP)
  constexpr index_t min_parallel_work = 32768;
  if (n > 1 && n * cost_per_item >= min_parallel_work && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  for (index_t i = 0; i < n; ++i) f(i);
}

// Calls f(begin, end) on contiguous chunks covering [0, n), one chunk per thread.
template <class F>
void parallel_chunks(index_t n, F&& f) {
#if defined(_OPENMP)
  constexpr index_t min_parallel_work = 32768;
  if (n >= min_parallel_work && !omp_in_parallel()) {
#pragma omp parallel
    {
      const index_t threads = omp_get_num_threads();
      const index_t t = omp_get_thread_num();
      const index_t chunk = (n + threads - 1) / threads;
      const index_t begin = t * chunk;
      const index_t end = begin + chunk < n ? begin + chunk : n;
      if (begin < end) f(begin, end);
    }
    return;
  }
#endif
  f(index_t{0}, n);
}

}  // namespace sbgan::cpu_detail
