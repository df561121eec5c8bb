#pragma once
// 2-D convolution on the CPU, as a GEMM per batch entry. Weights are [C_out, C_in, kH, kW]
// as in PyTorch; a 1x1 stride-1 unpadded convolution multiplies the input directly.
// Two paths compute the same thing:
//   - fast (default): sbgan's blocked GEMM (gemm/blocked_gemm.hpp) with an AVX-512
//     micro-kernel; the forward packs im2col panels straight from the input
//     (gemm/im2col_packing.hpp), so no column matrix is ever materialised; 3×3
//     stride-1 convolutions with 32+ channels each way (forward, and the input
//     gradient, itself such a convolution) run as Winograd F(2×2, 3×3) on the same
//     GEMM (gemm/winograd_3x3.hpp), 2.25× fewer multiply-adds, and their weight
//     gradient as its dual F(3×3, 2×2) (gemm/winograd_3x3_weight_gradient.hpp);
//     up to four output channels run as direct loops instead (conv_few_outputs.hpp);
//   - reference (SBGAN_REFERENCE_KERNELS=1): explicit im2col + Eigen's GEMM.
//   forward:          y  = W ⋆ x + b            (assigns y)
//   backward_data:    dx += Wᵀ ⋆ dy            (col2im adds)
//   backward_weights: dW += dy · colᵀ, db += Σ dy
#include <vector>

#include "sbgan/backend/cpu/conv_few_outputs.hpp"
#include "sbgan/backend/cpu/eigen_maps.hpp"
#include "sbgan/backend/cpu/gemm/blocked_gemm.hpp"
#include "sbgan/backend/cpu/gemm/im2col_packing.hpp"
#include "sbgan/backend/cpu/gemm/winograd_3x3.hpp"
#include "sbgan/backend/cpu/gemm/winograd_3x3_weight_gradient.hpp"
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/backend/cpu/reference_kernels.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::kernels {

namespace conv_cpu {

// col[(c·kH + i)·kW + j, oh·W_out + ow] = x[c, oh·sH − pH + i, ow·sW − pW + j] (0 outside).
template <class T>
void im2col(const T* x, index_t channels, index_t h, index_t w, const Window2d& g, T* col) {
  const index_t oh = g.out_h(h), ow = g.out_w(w);
  const index_t rows = channels * g.kernel_h * g.kernel_w;
  cpu_detail::parallel_for(
      rows,
      [&](index_t r) {
        const index_t j = r % g.kernel_w;
        const index_t i = (r / g.kernel_w) % g.kernel_h;
        const index_t c = r / (g.kernel_w * g.kernel_h);
        const T* xc = x + c * h * w;
        T* out = col + r * oh * ow;
        for (index_t y = 0; y < oh; ++y) {
          const index_t iy = y * g.stride_h - g.pad_h + i;
          T* row = out + y * ow;
          if (iy < 0 || iy >= h) {
            for (index_t xo = 0; xo < ow; ++xo) row[xo] = T(0);
            continue;
          }
          const T* src = xc + iy * w;
          for (index_t xo = 0; xo < ow; ++xo) {
            const index_t ix = xo * g.stride_w - g.pad_w + j;
            row[xo] = (ix >= 0 && ix < w) ? src[ix] : T(0);
          }
        }
      },
      oh * ow);
}

// x[c, ·] += scatter of the col columns [p0, p1) (output pixels), which col holds
// with leading dimension ld; channels are independent, so they run in parallel.
template <class T>
void col2im_add(const T* col, index_t ld, index_t p0, index_t p1, index_t channels, index_t h, index_t w,
                const Window2d& g, T* x) {
  const index_t ow = g.out_w(w);
  cpu_detail::parallel_for(
      channels,
      [&](index_t c) {
        T* xc = x + c * h * w;
        for (index_t i = 0; i < g.kernel_h; ++i)
          for (index_t j = 0; j < g.kernel_w; ++j) {
            const T* row = col + ((c * g.kernel_h + i) * g.kernel_w + j) * ld - p0;  // indexed by pixel
            for (index_t y = p0 / ow; y * ow < p1; ++y) {
              const index_t iy = y * g.stride_h - g.pad_h + i;
              if (iy < 0 || iy >= h) continue;
              T* dst = xc + iy * w;
              const index_t begin = std::max(p0, y * ow), end = std::min(p1, (y + 1) * ow);
              for (index_t q = begin; q < end; ++q) {
                const index_t ix = (q - y * ow) * g.stride_w - g.pad_w + j;
                if (ix >= 0 && ix < w) dst[ix] += row[q];
              }
            }
          }
      },
      g.kernel_h * g.kernel_w * (p1 - p0));
}
template <class T>
void col2im_add(const T* col, index_t channels, index_t h, index_t w, const Window2d& g, T* x) {
  const index_t p = g.out_h(h) * g.out_w(w);
  col2im_add(col, p, 0, p, channels, h, w, g, x);
}

// The GEMM operand for one batch entry: the input itself for a pointwise
// convolution, otherwise its im2col matrix, built in a buffer reused across entries.
template <class T>
class Columns {
 public:
  Columns(index_t channels, index_t h, index_t w, const Window2d& g)
      : channels_(channels), h_(h), w_(w), g_(g),
        buffer_(g.is_pointwise() ? 0 : static_cast<std::size_t>(channels * g.kernel_h * g.kernel_w * g.out_h(h) * g.out_w(w))) {}

  const T* of(const T* x) {
    if (g_.is_pointwise()) return x;
    im2col(x, channels_, h_, w_, g_, buffer_.data());
    return buffer_.data();
  }

 private:
  index_t channels_, h_, w_;
  Window2d g_;
  std::vector<T> buffer_;
};

// Which GEMM a convolution runs on: sbgan's blocked GEMM (the default) or the
// reference path, explicit im2col + Eigen (SBGAN_REFERENCE_KERNELS=1). Tests call
// both through the functions below and compare.
enum class Gemm { blocked, eigen };
inline Gemm default_gemm() { return cpu_detail::reference_kernels_requested() ? Gemm::eigen : Gemm::blocked; }

// The blocked GEMM's operands for one batch entry.
namespace blocked {
namespace gm = cpu_detail::gemm;

// y_b = W·im2col(x_b): im2col packed on the fly.
template <class T>
void forward(const T* weight, const T* xb, index_t cin, index_t h, index_t w, index_t cout, const Window2d& g,
             T* yb) {
  const index_t k = cin * g.kernel_h * g.kernel_w, p = g.out_h(h) * g.out_w(w);
  const gm::RowMajorA<T> pack_weight{weight, k};
  if (g.is_pointwise())
    gm::blocked_gemm<T>(cout, p, k, pack_weight, gm::RowMajorB<T>{xb, p}, yb, p, false);
  else
    gm::blocked_gemm<T>(cout, p, k, pack_weight, gm::Im2colB<T>{xb, h, w, g}, yb, p, false);
}

// A stride-1 convolution's input gradient is itself a stride-1 convolution: of dy with
// the weights transposed (in/out channels swapped) and flipped, padded by k − 1 − p:
//   dx[c, y, x] = Σ_{o,i,j} W[o, c, i, j] · dy[o, y + p − i, x + p − j].
// It then needs neither the column matrix nor col2im.
inline bool data_gradient_is_a_convolution(const Window2d& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_h < g.kernel_h && g.pad_w < g.kernel_w;
}
inline Window2d data_gradient_window(const Window2d& g) {
  return Window2d{g.kernel_h, g.kernel_w, 1, 1, g.kernel_h - 1 - g.pad_h, g.kernel_w - 1 - g.pad_w};
}
// flipped[c, o, kH−1−i, kW−1−j] = weight[o, c, i, j]. A tensor, not a std::vector:
// value-initialising 37 MB of 1024×1024 3×3 weights faulted in and cleared fresh
// pages on every backward pass (most of the SPADE generator's page faults, W4).
template <class T>
Tensor<T, cpu> transposed_flipped_weight(const T* weight, index_t cout, index_t cin, index_t kh, index_t kw) {
  Tensor<T, cpu> flipped(Shape{cin, cout, kh, kw});
  for (index_t o = 0; o < cout; ++o)
    for (index_t c = 0; c < cin; ++c)
      for (index_t i = 0; i < kh; ++i)
        for (index_t j = 0; j < kw; ++j)
          flipped[((c * cout + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)] = weight[((o * cin + c) * kh + i) * kw + j];
  return flipped;
}

}  // namespace blocked

// y = conv(x, weight) + bias; bias may be null. y must be [N, C_out, H_out, W_out].
template <class T>
void forward(Gemm gemm, const Tensor<T, cpu>& x, const Tensor<T, cpu>& weight, const Tensor<T, cpu>* bias,
             const Window2d& g, Tensor<T, cpu>& y) {
  const index_t n = x.shape().n(), cin = x.shape().c(), h = x.shape().h(), w = x.shape().w();
  const index_t cout = weight.shape()[0];
  const index_t p = g.out_h(h) * g.out_w(w);
  const index_t k = cin * g.kernel_h * g.kernel_w;
  Columns<T> columns(cin, h, w, gemm == Gemm::blocked ? Window2d{} : g);  // the blocked path needs no buffer
  namespace gm = cpu_detail::gemm;
  const bool winograd = gemm == Gemm::blocked && gm::winograd_applies(g, cin, cout, g.out_h(h), g.out_w(w));
  const Tensor<T, cpu> filters = winograd ? gm::winograd_filters(weight.data(), cout, cin) : Tensor<T, cpu>();
  for (index_t b = 0; b < n; ++b) {
    const T* xb = x.data() + b * cin * h * w;
    auto ym = cpu_detail::matrix(y.data() + b * cout * p, cout, p);
    if (winograd)
      gm::winograd_3x3(filters, xb, cin, h, w, cout, g, ym.data(), false);
    else if (gemm == Gemm::blocked && few_outputs_apply(cout))
      few_outputs_forward(xb, cin, h, w, weight.data(), cout, g, ym.data());
    else if (gemm == Gemm::blocked)
      blocked::forward(weight.data(), xb, cin, h, w, cout, g, ym.data());
    else
      ym.noalias() = cpu_detail::matrix(weight.data(), cout, k) * cpu_detail::matrix(columns.of(xb), k, p);
    if (bias) {
      const T* bs = bias->data();
      cpu_detail::parallel_for(
          cout, [&](index_t o) { ym.row(o).array() += bs[o]; }, p);
    }
  }
}

// Output pixels per column-matrix chunk of a strided input gradient: about 4 MiB of
// col (k rows), a multiple of the micro-kernel's width, all of p when that is less.
template <class T>
index_t col_chunk_pixels(index_t k, index_t p) {
  constexpr index_t nr = cpu_detail::gemm::Tile<T>::cols;
  const index_t fit = (index_t{4} << 20) / (k * static_cast<index_t>(sizeof(T)));
  return std::min(p, std::max<index_t>(1, fit / nr) * nr);
}

// dx += convᵀ(dy, weight)
template <class T>
void backward_data(Gemm gemm, const Tensor<T, cpu>& dy, const Tensor<T, cpu>& weight, const Window2d& g,
                   Tensor<T, cpu>& dx) {
  const index_t n = dx.shape().n(), cin = dx.shape().c(), h = dx.shape().h(), w = dx.shape().w();
  const index_t cout = weight.shape()[0];
  const index_t oh = g.out_h(h), ow = g.out_w(w), p = oh * ow;
  const index_t k = cin * g.kernel_h * g.kernel_w;
  namespace gm = cpu_detail::gemm;
  if (gemm == Gemm::blocked && !g.is_pointwise() && blocked::data_gradient_is_a_convolution(g)) {
    const auto flipped = blocked::transposed_flipped_weight(weight.data(), cout, cin, g.kernel_h, g.kernel_w);
    const Window2d gt = blocked::data_gradient_window(g);
    const index_t kt = cout * g.kernel_h * g.kernel_w;
    if (gm::winograd_applies(gt, cout, cin, h, w)) {
      const Tensor<T, cpu> filters = gm::winograd_filters(flipped.data(), cin, cout);
      for (index_t b = 0; b < n; ++b)
        gm::winograd_3x3(filters, dy.data() + b * cout * p, cout, oh, ow, cin, gt, dx.data() + b * cin * h * w, true);
      return;
    }
    for (index_t b = 0; b < n; ++b)
      gm::blocked_gemm<T>(cin, h * w, kt, gm::RowMajorA<T>{flipped.data(), kt},
                          gm::Im2colB<T>{dy.data() + b * cout * p, oh, ow, gt}, dx.data() + b * cin * h * w, h * w,
                          true);
    return;
  }
  const auto wm = cpu_detail::matrix(weight.data(), cout, k);
  // The blocked path makes col a few output pixels at a time: a whole column matrix
  // (80 MB for a 38 → 64 4×4 stride-2 layer at 256×512) was fresh pages to clear and
  // left cache before col2im read it back.
  const index_t chunk = gemm == Gemm::blocked ? col_chunk_pixels<T>(k, p) : p;
  Tensor<T, cpu> col(Shape{g.is_pointwise() ? 0 : k * chunk});  // written whole before it is read
  for (index_t b = 0; b < n; ++b) {
    const T* dyb = dy.data() + b * cout * p;
    T* dxb = dx.data() + b * cin * h * w;
    if (gemm == Gemm::blocked) {
      // col = Wᵀ·dy (or dx += Wᵀ·dy for a pointwise convolution), then col2im
      const gm::TransposedA<T> pack_weight_t{weight.data(), k};
      if (g.is_pointwise()) {
        gm::blocked_gemm<T>(k, p, cout, pack_weight_t, gm::RowMajorB<T>{dyb, p}, dxb, p, true);
      } else {
        for (index_t p0 = 0; p0 < p; p0 += chunk) {
          const index_t pc = std::min(chunk, p - p0);
          gm::blocked_gemm<T>(k, pc, cout, pack_weight_t, gm::RowMajorB<T>{dyb + p0, p}, col.data(), pc, false);
          col2im_add(col.data(), pc, p0, p0 + pc, cin, h, w, g, dxb);
        }
      }
    } else if (g.is_pointwise()) {
      cpu_detail::matrix(dxb, cin, p).noalias() += wm.transpose() * cpu_detail::matrix(dyb, cout, p);
    } else {
      cpu_detail::matrix(col.data(), k, p).noalias() = wm.transpose() * cpu_detail::matrix(dyb, cout, p);
      col2im_add(col.data(), cin, h, w, g, dxb);
    }
  }
}

// dbias += Σ dy over batch and space
template <class T>
void bias_gradient_add(const Tensor<T, cpu>& dy, Tensor<T, cpu>& dbias) {
  const index_t n = dy.shape().n(), cout = dy.shape().c(), p = dy.shape().h() * dy.shape().w();
  T* db = dbias.data();
  for (index_t b = 0; b < n; ++b)
    for (index_t o = 0; o < cout; ++o) db[o] += cpu_detail::matrix(dy.data() + b * cout * p, cout, p).row(o).sum();
}

// dweight += dy · im2col(x)ᵀ; dbias += Σ dy over batch and space (dbias may be null).
template <class T>
void backward_weights(Gemm gemm, const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, const Window2d& g,
                      Tensor<T, cpu>& dweight, Tensor<T, cpu>* dbias) {
  const index_t n = x.shape().n(), cin = x.shape().c(), h = x.shape().h(), w = x.shape().w();
  const index_t cout = dweight.shape()[0];
  const index_t p = g.out_h(h) * g.out_w(w);
  const index_t k = cin * g.kernel_h * g.kernel_w;
  auto dwm = cpu_detail::matrix(dweight.data(), cout, k);
  namespace gm = cpu_detail::gemm;
  if (gemm == Gemm::blocked && few_outputs_apply(cout)) {
    few_outputs_weight_gradient_add(x.data(), n, cin, h, w, dy.data(), cout, g, dweight.data());
    if (dbias) bias_gradient_add(dy, *dbias);
    return;
  }
  if (gemm == Gemm::blocked && gm::winograd_applies(g, cin, cout, g.out_h(h), g.out_w(w))) {
    Tensor<T, cpu> products(Shape{16, gm::winograd_plane(cin * cout)});
    for (index_t b = 0; b < n; ++b)
      gm::winograd_weight_products(x.data() + b * cin * h * w, cin, h, w, dy.data() + b * cout * p, cout, g,
                                   products.data(), b > 0);
    gm::winograd_weight_gradient_add(products.data(), cout, cin, dweight.data());
    if (dbias) bias_gradient_add(dy, *dbias);
    return;
  }
  Columns<T> columns(cin, h, w, gemm == Gemm::blocked ? Window2d{} : g);  // the blocked path needs no buffer
  for (index_t b = 0; b < n; ++b) {
    const T* xb = x.data() + b * cin * h * w;
    const auto dym = cpu_detail::matrix(dy.data() + b * cout * p, cout, p);
    if (gemm == Gemm::blocked) {  // dW += dy·colᵀ, im2col packed on the fly
      const gm::RowMajorA<T> pack_dy{dym.data(), p};
      if (g.is_pointwise())
        gm::blocked_gemm<T>(cout, k, p, pack_dy, gm::TransposedB<T>{xb, p}, dwm.data(), k, true);
      else
        gm::blocked_gemm<T>(cout, k, p, pack_dy, gm::TransposedIm2colB<T>{{xb, h, w, g}}, dwm.data(), k, true);
    } else {
      dwm.noalias() += dym * cpu_detail::matrix(columns.of(xb), k, p).transpose();
    }
  }
  if (dbias) bias_gradient_add(dy, *dbias);
}

}  // namespace conv_cpu

// y = conv(x, weight) + bias; bias may be null. y must be [N, C_out, H_out, W_out].
template <class T>
void conv2d_forward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& weight, const Tensor<T, cpu>* bias,
                    const Window2d& g, Tensor<T, cpu>& y) {
  conv_cpu::forward(conv_cpu::default_gemm(), x, weight, bias, g, y);
}

// dx += convᵀ(dy, weight)
template <class T>
void conv2d_backward_data(const Tensor<T, cpu>& dy, const Tensor<T, cpu>& weight, const Window2d& g,
                          Tensor<T, cpu>& dx) {
  conv_cpu::backward_data(conv_cpu::default_gemm(), dy, weight, g, dx);
}

// dweight += dy · im2col(x)ᵀ; dbias += Σ dy over batch and space (dbias may be null).
template <class T>
void conv2d_backward_weights(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, const Window2d& g,
                             Tensor<T, cpu>& dweight, Tensor<T, cpu>* dbias) {
  conv_cpu::backward_weights(conv_cpu::default_gemm(), x, dy, g, dweight, dbias);
}

}  // namespace sbgan::kernels
