#pragma once
// Direct convolution for a handful of output channels (a patch discriminator's last
// layer, 512 → 1 with a 4×4 kernel). As a GEMM its M = C_out fills one row of the
// micro-kernel's tiles while the whole K×P im2col operand is packed: 8192 × 2244
// floats (72 MB of traffic) for 37 MFLOP, 25 ms forward and 33 ms weight gradient
// at 34×66 on 2 cores. Direct loops read each input row a few times from L1/L2.
//   forward:          y[o, oh, ow]  = Σ_{c,i,j} W[o,c,i,j] · x[c, oh·sH − pH + i, ow·sW − pW + j]
//   weight gradient:  dW[o,c,i,j] += Σ_{n,oh,ow} dy[n,o,oh,ow] · x[n, c, oh·sH − pH + i, ow·sW − pW + j]
// (The input gradient is already cheap: its GEMM has K = C_out·kH·kW, M = C_in.)
#include <algorithm>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/shape.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::kernels::conv_cpu {

inline constexpr index_t few_outputs_max = 4;
inline bool few_outputs_apply(index_t cout) { return cout <= few_outputs_max; }

namespace few_outputs_detail {
// The outputs o in [0, n) whose input o·s − p + j lies in [0, size).
struct ValidRange {
  index_t begin, end;
};
inline ValidRange valid_range(index_t n, index_t size, index_t stride, index_t pad, index_t j) {
  // o·s ≥ p − j  and  o·s ≤ size − 1 + p − j
  const index_t lo_num = pad - j, hi_num = size - 1 + pad - j;
  const index_t lo = lo_num <= 0 ? 0 : (lo_num + stride - 1) / stride;
  const index_t hi = hi_num < 0 ? 0 : std::min(n, hi_num / stride + 1);
  return {std::min(lo, hi), hi};
}

// Σ_{o ∈ [lo, hi)} a[o] · b[o·stride + off], in lanes independent sums so that the
// compiler vectorizes it without reassociating (which strict IEEE forbids).
template <class T>
T strided_dot(const T* a, const T* b, index_t lo, index_t hi, index_t stride, index_t off) {
  constexpr index_t lanes = 16;
  T acc[lanes] = {};
  index_t o = lo;
  if (stride == 1) {
    for (; o + lanes <= hi; o += lanes)
      for (index_t l = 0; l < lanes; ++l) acc[l] += a[o + l] * b[o + l + off];
  }
  T sum = 0;
  for (; o < hi; ++o) sum += a[o] * b[o * stride + off];
  for (index_t l = 0; l < lanes; ++l) sum += acc[l];
  return sum;
}
}  // namespace few_outputs_detail

// One batch entry; assigns y [C_out, H_out, W_out]. A task owns a band of output
// rows, so the band's rows of y and its input rows per channel stay in L1. Each
// group of channels sums into a zeroed partial band first: one running sum over
// all C_in·kH·kW terms (8192 for 512 → 1, 4×4) had 3-8× the float error of the
// GEMM's register-blocked sums; groups of 16 channels bring it level.
template <class T>
void few_outputs_forward(const T* x, index_t cin, index_t h, index_t w, const T* weight, index_t cout,
                         const Window2d& g, T* y) {
  using few_outputs_detail::valid_range;
  const index_t oh_n = g.out_h(h), ow_n = g.out_w(w), kh = g.kernel_h, kw = g.kernel_w;
  constexpr index_t band = 4, channel_group = 16;
  const index_t bands = (oh_n + band - 1) / band;
  cpu_detail::parallel_for(
      cout * bands,
      [&](index_t task) {
        const index_t o = task / bands, oh_begin = task % bands * band, oh_end = std::min(oh_n, oh_begin + band);
        T* out_o = y + o * oh_n * ow_n;
        std::fill(out_o + oh_begin * ow_n, out_o + oh_end * ow_n, T(0));
        std::vector<T> partial(static_cast<std::size_t>((oh_end - oh_begin) * ow_n));
        for (index_t c0 = 0; c0 < cin; c0 += channel_group) {
          std::fill(partial.begin(), partial.end(), T(0));
          for (index_t c = c0; c < std::min(cin, c0 + channel_group); ++c) {
            const T* in = x + c * h * w;
            const T* wc = weight + (o * cin + c) * kh * kw;
            for (index_t oh = oh_begin; oh < oh_end; ++oh) {
              T* acc = partial.data() + (oh - oh_begin) * ow_n;
              for (index_t i = 0; i < kh; ++i) {
                const index_t ih = oh * g.stride_h - g.pad_h + i;
                if (ih < 0 || ih >= h) continue;
                const T* row = in + ih * w;
                for (index_t j = 0; j < kw; ++j) {
                  const auto [b, e] = valid_range(ow_n, w, g.stride_w, g.pad_w, j);
                  const T v = wc[i * kw + j];
                  const index_t off = j - g.pad_w;  // input column of output column 0
                  if (g.stride_w == 1) {
                    for (index_t ow = b; ow < e; ++ow) acc[ow] += v * row[ow + off];
                  } else {
                    for (index_t ow = b; ow < e; ++ow) acc[ow] += v * row[ow * g.stride_w + off];
                  }
                }
              }
            }
          }
          T* out = out_o + oh_begin * ow_n;
          for (std::size_t k = 0; k < partial.size(); ++k) out[k] += partial[k];
        }
      },
      cin * kh * kw * band * ow_n);
}

// dW += Σ over the batch; x is [N, C_in, H, W], dy [N, C_out, H_out, W_out].
template <class T>
void few_outputs_weight_gradient_add(const T* x, index_t n, index_t cin, index_t h, index_t w, const T* dy,
                                     index_t cout, const Window2d& g, T* dweight) {
  using few_outputs_detail::strided_dot;
  using few_outputs_detail::valid_range;
  const index_t oh_n = g.out_h(h), ow_n = g.out_w(w), kh = g.kernel_h, kw = g.kernel_w;
  cpu_detail::parallel_for(
      cout * cin,
      [&](index_t task) {
        const index_t o = task / cin, c = task % cin;
        T* dw = dweight + task * kh * kw;  // [o, c] is row o·C_in + c of [C_out, C_in·kH·kW]
        for (index_t b = 0; b < n; ++b) {
          const T* in = x + (b * cin + c) * h * w;
          const T* grad = dy + (b * cout + o) * oh_n * ow_n;
          for (index_t i = 0; i < kh; ++i)
            for (index_t j = 0; j < kw; ++j) {
              const auto [lo, hi] = valid_range(ow_n, w, g.stride_w, g.pad_w, j);
              T sum = 0;
              for (index_t oh = 0; oh < oh_n; ++oh) {
                const index_t ih = oh * g.stride_h - g.pad_h + i;
                if (ih < 0 || ih >= h) continue;
                sum += strided_dot(grad + oh * ow_n, in + ih * w, lo, hi, g.stride_w, j - g.pad_w);
              }
              dw[i * kw + j] += sum;
            }
        }
      },
      n * kh * kw * oh_n * ow_n);
}

}  // namespace sbgan::kernels::conv_cpu
