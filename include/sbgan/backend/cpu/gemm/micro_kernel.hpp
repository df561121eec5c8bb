#pragma once
// The register-tile kernel of the blocked GEMM (blocked_gemm.hpp): C[MR×NR] (+)= A·B
// over one packed A micro-panel (MR rows, k-major) and one packed B micro-panel
// (NR columns, k-major). Per k it loads NR/lanes vectors of B, broadcasts each of the
// MR values of A and issues MR·NR/lanes fused multiply-adds into accumulators that
// never leave the registers.
//
// Written with GCC/Clang vector types, so one source serves every instruction set:
// with AVX-512 a vector is one zmm register (float: 12×32 tile = 24 accumulators of
// the 32 registers), with AVX2 one ymm (6×16), otherwise SSE. The FMA is spelled with
// intrinsics where the target has it, because -std=c++20 keeps GCC from contracting
// a*b+c on its own.
#include <cstring>

#include "sbgan/core/shape.hpp"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace sbgan::cpu_detail::gemm {

#if defined(__AVX512F__)
inline constexpr int vector_bytes = 64;
inline constexpr int tile_rows = 12;
#elif defined(__AVX__)
inline constexpr int vector_bytes = 32;
inline constexpr int tile_rows = 6;
#else
inline constexpr int vector_bytes = 16;
inline constexpr int tile_rows = 4;
#endif

template <class T>
struct simd;
template <>
struct simd<float> {
  typedef float vec __attribute__((vector_size(vector_bytes), may_alias));
};
template <>
struct simd<double> {
  typedef double vec __attribute__((vector_size(vector_bytes), may_alias));
};

// The register tile: MR rows by NR columns, NR two vectors wide.
template <class T>
struct Tile {
  static constexpr index_t lanes = vector_bytes / static_cast<index_t>(sizeof(T));
  static constexpr index_t rows = tile_rows;      // MR
  static constexpr index_t cols = 2 * lanes;      // NR
};

template <class T>
inline typename simd<T>::vec fused_multiply_add(typename simd<T>::vec a, typename simd<T>::vec b,
                                               typename simd<T>::vec c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) return _mm512_fmadd_ps(a, b, c);
  else return _mm512_fmadd_pd(a, b, c);
#elif defined(__FMA__) && defined(__AVX__)
  if constexpr (sizeof(T) == 4) return _mm256_fmadd_ps(a, b, c);
  else return _mm256_fmadd_pd(a, b, c);
#else
  return a * b + c;
#endif
}

// All lanes = *p. With AVX/AVX-512 one broadcast load, which runs on a load port
// (or folds into the FMA as an embedded broadcast): written as vec{} + *p, GCC must
// keep an add (+0 + −0 is +0) and a register broadcast, and the broadcast competes
// with the FMAs for their port; that cost the kernel about a third of its speed.
template <class T>
inline typename simd<T>::vec broadcast(const T* p) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) return _mm512_set1_ps(*p);
  else return _mm512_set1_pd(*p);
#elif defined(__AVX__)
  if constexpr (sizeof(T) == 4) return _mm256_set1_ps(*p);
  else return _mm256_set1_pd(*p);
#else
  typename simd<T>::vec v;
  for (index_t l = 0; l < Tile<T>::lanes; ++l) v[l] = *p;
  return v;
#endif
}

template <class T>
inline typename simd<T>::vec load_unaligned(const T* p) {
  typename simd<T>::vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
inline void store_unaligned(T* p, typename simd<T>::vec v) {
  std::memcpy(p, &v, sizeof v);
}

// C[0:m, 0:n] = (accumulate ? C : 0) + Σ_k a[k·MR + i]·b[k·NR + j], for m ≤ MR, n ≤ NR.
// a and b are packed panels (64-byte aligned, zero-padded past m and n).
template <class T>
void micro_kernel(index_t kc, const T* __restrict a, const T* __restrict b, T* __restrict c, index_t ldc,
                  index_t m, index_t n, bool accumulate) {
  using vec = typename simd<T>::vec;
  constexpr index_t MR = Tile<T>::rows, L = Tile<T>::lanes;
  a = static_cast<const T*>(__builtin_assume_aligned(a, 64));
  b = static_cast<const T*>(__builtin_assume_aligned(b, 64));
  vec acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (index_t i = 0; i < MR; ++i) acc0[i] = acc1[i] = vec{};
  for (index_t k = 0; k < kc; ++k) {
    const vec b0 = *reinterpret_cast<const vec*>(b);
    const vec b1 = *reinterpret_cast<const vec*>(b + L);
#pragma GCC unroll 16
    for (index_t i = 0; i < MR; ++i) {
      const vec ai = broadcast<T>(a + i);
      acc0[i] = fused_multiply_add<T>(ai, b0, acc0[i]);
      acc1[i] = fused_multiply_add<T>(ai, b1, acc1[i]);
    }
    a += MR;
    b += 2 * L;
  }
  if (m == MR && n == 2 * L) {
#pragma GCC unroll 16
    for (index_t i = 0; i < MR; ++i) {
      T* row = c + i * ldc;
      if (accumulate) {
        store_unaligned<T>(row, load_unaligned<T>(row) + acc0[i]);
        store_unaligned<T>(row + L, load_unaligned<T>(row + L) + acc1[i]);
      } else {
        store_unaligned<T>(row, acc0[i]);
        store_unaligned<T>(row + L, acc1[i]);
      }
    }
    return;
  }
  // An edge tile: through a buffer, then only the valid part.
  alignas(64) T tile[MR][2 * L];
  for (index_t i = 0; i < MR; ++i) {
    std::memcpy(&tile[i][0], &acc0[i], sizeof(vec));
    std::memcpy(&tile[i][L], &acc1[i], sizeof(vec));
  }
  for (index_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (accumulate)
      for (index_t j = 0; j < n; ++j) row[j] += tile[i][j];
    else
      for (index_t j = 0; j < n; ++j) row[j] = tile[i][j];
  }
}

}  // namespace sbgan::cpu_detail::gemm
