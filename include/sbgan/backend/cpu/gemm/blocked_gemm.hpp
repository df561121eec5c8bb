#pragma once
// A cache-blocked GEMM in the Goto/BLIS shape: C[M×N] (+)= A[M×K]·B[K×N], C row-major.
//   for each NC-wide column block, each KC-deep slice:  pack B (kc × nc)
//     for each MC-tall row block:                       pack A (mc × kc)
//       for each NR-wide panel of B, each MR-tall panel of A: micro_kernel
// A B panel (KC·NR values) stays in L1 while every A panel of the row block passes
// over it; the packed A block (MC·KC) stays in L2. The operands arrive as packers
// (packing.hpp, im2col_packing.hpp), so a convolution never materialises im2col.
//
// Threads split C into disjoint column ranges (or row ranges when C is narrow), each
// running the serial loop nest with its own packing buffers; no synchronisation
// inside, no atomics, and each element of C is summed in the same order whatever
// the thread count, so results do not depend on it.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "sbgan/backend/cpu/gemm/micro_kernel.hpp"
#include "sbgan/backend/cpu/gemm/packing.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace sbgan::cpu_detail::gemm {

// Block sizes in values of T: a B panel of KC·NR·sizeof(T) = 32 KiB stays in L1 beside
// the A panel streaming past it, the A block MC·KC·sizeof(T) ≈ 300 KiB in L2, NC
// bounds the packed B block (L3). Measured on the 2-core AVX-512 Xeon (48 KiB L1d,
// 2 MiB L2), W1's 256-channel 3x3 convolution on 2 threads, forward / weight
// gradient: KC = 256 → 42 / 38 ms, 384 → 43 / 41, 512 → 45 / 48, 768 → 45 / 49.
// (An AMD EPYC with a 32 KiB L1d had preferred 512 for a 4096³ product, measured
// while the micro-kernel still spent a port on register broadcasts.)
template <class T>
struct Blocking {
  static constexpr index_t kc = 32768 / (Tile<T>::cols * static_cast<index_t>(sizeof(T)));
  static constexpr index_t mc = Tile<T>::rows * 24;
  static constexpr index_t nc = Tile<T>::cols * 128;
};

// A growable 64-byte-aligned buffer per thread, kept for the thread's lifetime so a
// training loop's steady state packs without allocating.
template <class T>
T* packing_buffer(int which, index_t count) {
  struct Buffer {
    T* data = nullptr;
    index_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffers[2];
  Buffer& b = buffers[which];
  if (b.size < count) {
    std::free(b.data);
    b.data = nullptr;
    b.size = 0;
    const std::size_t bytes = (static_cast<std::size_t>(count) * sizeof(T) + 63) / 64 * 64;
    b.data = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!b.data) throw std::bad_alloc();
    b.size = count;
  }
  return b.data;
}

// The loop nest on rows [i0, i0 + m) and columns [j0, j0 + n) of C (C points at C[0,0]).
template <class T, class PackA, class PackB>
void gemm_serial(index_t i0, index_t m, index_t j0, index_t n, index_t k, const PackA& pack_a,
                 const PackB& pack_b, T* c, index_t ldc, bool accumulate) {
  constexpr index_t MR = Tile<T>::rows, NR = Tile<T>::cols;
  constexpr index_t KC = Blocking<T>::kc, MC = Blocking<T>::mc, NC = Blocking<T>::nc;
  const index_t kc_max = std::min(KC, k);
  T* a_block = packing_buffer<T>(0, (std::min(MC, m) + MR - 1) / MR * MR * kc_max);
  T* b_block = packing_buffer<T>(1, (std::min(NC, n) + NR - 1) / NR * NR * kc_max);
  for (index_t jc = 0; jc < n; jc += NC) {
    const index_t nc = std::min(NC, n - jc);
    for (index_t pc = 0; pc < k; pc += KC) {
      const index_t kc = std::min(KC, k - pc);
      const bool add = accumulate || pc > 0;
      pack_b(pc, j0 + jc, kc, nc, b_block);
      for (index_t ic = 0; ic < m; ic += MC) {
        const index_t mc = std::min(MC, m - ic);
        pack_a(i0 + ic, pc, mc, kc, a_block);
        for (index_t jr = 0; jr < nc; jr += NR) {
          const T* b_panel = b_block + jr * kc;
          for (index_t ir = 0; ir < mc; ir += MR) {
            T* c_tile = c + (i0 + ic + ir) * ldc + j0 + jc + jr;
            micro_kernel<T>(kc, a_block + ir * kc, b_panel, c_tile, ldc, std::min(MR, mc - ir),
                            std::min(NR, nc - jr), add);
          }
        }
      }
    }
  }
}

// C[M×N] = A·B, or C += A·B when accumulate. k == 0 leaves C (or zeroes it).
template <class T, class PackA, class PackB>
void blocked_gemm(index_t m, index_t n, index_t k, const PackA& pack_a, const PackB& pack_b, T* c, index_t ldc,
                  bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (index_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  constexpr index_t MR = Tile<T>::rows, NR = Tile<T>::cols;
#if defined(_OPENMP)
  // Threads only pay off past a few hundred thousand multiply-adds (fork/join costs
  // microseconds); then split the wider dimension into tile-aligned ranges.
  constexpr index_t min_parallel_macs = index_t{1} << 18;
  const index_t col_tiles = (n + NR - 1) / NR, row_tiles = (m + MR - 1) / MR;
  if (m * n * k >= min_parallel_macs && !omp_in_parallel() && omp_get_max_threads() > 1 &&
      (col_tiles > 1 || row_tiles > 1)) {
    const bool split_columns = col_tiles >= 2 * row_tiles || row_tiles < 2;
#pragma omp parallel
    {
      const index_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const index_t tiles = split_columns ? col_tiles : row_tiles;
      const index_t begin = tiles * t / threads, end = tiles * (t + 1) / threads;
      if (begin < end) {
        if (split_columns) {
          const index_t j0 = begin * NR, j1 = std::min(n, end * NR);
          gemm_serial<T>(0, m, j0, j1 - j0, k, pack_a, pack_b, c, ldc, accumulate);
        } else {
          const index_t i0 = begin * MR, i1 = std::min(m, end * MR);
          gemm_serial<T>(i0, i1 - i0, 0, n, k, pack_a, pack_b, c, ldc, accumulate);
        }
      }
    }
    return;
  }
#endif
  gemm_serial<T>(0, m, 0, n, k, pack_a, pack_b, c, ldc, accumulate);
}

}  // namespace sbgan::cpu_detail::gemm
