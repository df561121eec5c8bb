#pragma once
// Implicit im2col: packs the convolution's column matrix straight from the input
// image into the GEMM's B panels, so the 9·C·H·W-float im2col buffer (75 MB for a
// 256-channel 64×128 map) is never written or read back.
//   B[k, n] = x[c, oh·sH − pH + i, ow·sW − pW + j]   (0 outside the image)
//   with k = (c·kH + i)·kW + j and n = oh·W_out + ow.
// For one k, the columns of a panel that share an output row read one input row, and
// the valid ones form one contiguous range of ow: zeros, a (strided) copy, zeros.
#include <algorithm>

#include "sbgan/backend/cpu/gemm/micro_kernel.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::cpu_detail::gemm {

template <class T>
struct Im2colB {
  const T* x;  // one image, [C, H, W]
  index_t h, w;
  Window2d g;

  void operator()(index_t k0, index_t j0, index_t kc, index_t nc, T* dst) const {
    constexpr index_t NR = Tile<T>::cols;
    for (index_t q = 0; q < nc; q += NR) {
      const index_t cols = std::min(NR, nc - q);
      for (index_t kk = 0; kk < kc; ++kk) {
        T* out = dst + kk * NR;
        row(k0 + kk, j0 + q, cols, out);
        for (index_t t = cols; t < NR; ++t) out[t] = T(0);
      }
      dst += NR * kc;
    }
  }

  // out[0:count] = B[k, n0 : n0 + count], crossing output rows as needed.
  void row(index_t k, index_t n0, index_t count, T* out) const {
    const index_t out_w = g.out_w(w), taps = g.kernel_h * g.kernel_w;
    const index_t c = k / taps, i = (k % taps) / g.kernel_w, j = k % g.kernel_w;
    index_t n = n0, written = 0;
    while (written < count) {
      const index_t oh = n / out_w, ow = n % out_w;
      const index_t run = std::min(count - written, out_w - ow);  // columns left in this output row
      fill_run(c, oh, ow, run, i, j, out + written);
      written += run;
      n += run;
    }
  }

 private:
  // out[0:run] = x[c, oh·sH − pH + i, (ow0 + t)·sW − pW + j] for t < run.
  void fill_run(index_t c, index_t oh, index_t ow0, index_t run, index_t i, index_t j, T* out) const {
    const index_t iy = oh * g.stride_h - g.pad_h + i;
    if (iy < 0 || iy >= h) {
      std::fill(out, out + run, T(0));
      return;
    }
    // ix = ow·sW − pW + j lies in [0, w) for ow in [lo, hi).
    const index_t shift = g.pad_w - j;  // ix = ow·sW − shift
    const index_t lo = shift <= 0 ? 0 : (shift + g.stride_w - 1) / g.stride_w;
    const index_t hi = (w - 1 + shift) < 0 ? 0 : (w - 1 + shift) / g.stride_w + 1;
    const index_t begin = std::clamp(lo - ow0, index_t{0}, run);
    const index_t end = std::clamp(hi - ow0, begin, run);
    const T* src = x + (c * h + iy) * w;
    for (index_t t = 0; t < begin; ++t) out[t] = T(0);
    if (g.stride_w == 1) {
      const T* s = src + (ow0 + begin) - shift;
      for (index_t t = begin; t < end; ++t) out[t] = s[t - begin];
    } else {
      for (index_t t = begin; t < end; ++t) out[t] = src[(ow0 + t) * g.stride_w - shift];
    }
    for (index_t t = end; t < run; ++t) out[t] = T(0);
  }
};

// The transpose, for the weight gradient dW += dy·colᵀ: B[n, k] = im2col[k, n]. Each
// column of a panel is one im2col row segment, built contiguously and then spread
// into the panel with stride NR.
template <class T>
struct TransposedIm2colB {
  Im2colB<T> columns;

  void operator()(index_t k0, index_t j0, index_t kc, index_t nc, T* dst) const {
    constexpr index_t NR = Tile<T>::cols;
    constexpr index_t chunk = 256;
    alignas(64) T segment[chunk];
    for (index_t q = 0; q < nc; q += NR) {
      const index_t cols = std::min(NR, nc - q);
      for (index_t jj = 0; jj < cols; ++jj)
        for (index_t s = 0; s < kc; s += chunk) {
          const index_t len = std::min(chunk, kc - s);
          columns.row(j0 + q + jj, k0 + s, len, segment);
          for (index_t t = 0; t < len; ++t) dst[(s + t) * NR + jj] = segment[t];
        }
      for (index_t jj = cols; jj < NR; ++jj)
        for (index_t kk = 0; kk < kc; ++kk) dst[kk * NR + jj] = T(0);
      dst += NR * kc;
    }
  }
};

}  // namespace sbgan::cpu_detail::gemm
