#pragma once
// Packers: how the blocked GEMM (blocked_gemm.hpp) reads its operands. Each copies a
// block of A (mc × kc) or B (kc × nc) into the micro-kernel's panel layout:
//   A: ⌈mc/MR⌉ panels, each k-major with MR values per k (rows past mc are zero);
//   B: ⌈nc/NR⌉ panels, each k-major with NR values per k (columns past nc are zero).
// A packer is any callable pack(i0, k0, mc, kc, dst) for A, pack(k0, j0, kc, nc, dst)
// for B, in the operand's own coordinates, so sub-problems only shift i0/j0 and the
// same GEMM serves plain matrices, transposed ones and convolutions' implicit im2col
// (im2col_packing.hpp).
#include <algorithm>

#include "sbgan/backend/cpu/gemm/micro_kernel.hpp"

namespace sbgan::cpu_detail::gemm {

// A[i, k] = data[i·ld + k] (row-major).
template <class T>
struct RowMajorA {
  const T* data;
  index_t ld;
  void operator()(index_t i0, index_t k0, index_t mc, index_t kc, T* dst) const {
    constexpr index_t MR = Tile<T>::rows;
    for (index_t p = 0; p < mc; p += MR) {
      const index_t rows = std::min(MR, mc - p);
      for (index_t r = 0; r < rows; ++r) {
        const T* src = data + (i0 + p + r) * ld + k0;
        for (index_t k = 0; k < kc; ++k) dst[k * MR + r] = src[k];
      }
      for (index_t r = rows; r < MR; ++r)
        for (index_t k = 0; k < kc; ++k) dst[k * MR + r] = T(0);
      dst += MR * kc;
    }
  }
};

// A[i, k] = data[k·ld + i]: the transpose of a row-major matrix.
template <class T>
struct TransposedA {
  const T* data;
  index_t ld;
  void operator()(index_t i0, index_t k0, index_t mc, index_t kc, T* dst) const {
    constexpr index_t MR = Tile<T>::rows;
    for (index_t p = 0; p < mc; p += MR) {
      const index_t rows = std::min(MR, mc - p);
      for (index_t k = 0; k < kc; ++k) {
        const T* src = data + (k0 + k) * ld + i0 + p;
        T* out = dst + k * MR;
        for (index_t r = 0; r < rows; ++r) out[r] = src[r];
        for (index_t r = rows; r < MR; ++r) out[r] = T(0);
      }
      dst += MR * kc;
    }
  }
};

// B[k, j] = data[k·ld + j] (row-major).
template <class T>
struct RowMajorB {
  const T* data;
  index_t ld;
  void operator()(index_t k0, index_t j0, index_t kc, index_t nc, T* dst) const {
    constexpr index_t NR = Tile<T>::cols;
    for (index_t q = 0; q < nc; q += NR) {
      const index_t cols = std::min(NR, nc - q);
      for (index_t k = 0; k < kc; ++k) {
        const T* src = data + (k0 + k) * ld + j0 + q;
        T* out = dst + k * NR;
        for (index_t j = 0; j < cols; ++j) out[j] = src[j];
        for (index_t j = cols; j < NR; ++j) out[j] = T(0);
      }
      dst += NR * kc;
    }
  }
};

// B[k, j] = data[j·ld + k]: the transpose of a row-major matrix. Reads run along
// the source's rows (contiguous); writes stride by NR within one panel.
template <class T>
struct TransposedB {
  const T* data;
  index_t ld;
  void operator()(index_t k0, index_t j0, index_t kc, index_t nc, T* dst) const {
    constexpr index_t NR = Tile<T>::cols;
    for (index_t q = 0; q < nc; q += NR) {
      const index_t cols = std::min(NR, nc - q);
      for (index_t j = 0; j < cols; ++j) {
        const T* src = data + (j0 + q + j) * ld + k0;
        for (index_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k];
      }
      for (index_t j = cols; j < NR; ++j)
        for (index_t k = 0; k < kc; ++k) dst[k * NR + j] = T(0);
      dst += NR * kc;
    }
  }
};

}  // namespace sbgan::cpu_detail::gemm
