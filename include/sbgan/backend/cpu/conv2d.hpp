#pragma once
// 2-D convolution on the CPU, as im2col + GEMM (Eigen), per batch entry.
// Weights are [C_out, C_in, kH, kW] as in PyTorch; a 1x1 stride-1 unpadded
// convolution skips im2col and multiplies the input directly.
//   forward:          y  = W ⋆ x + b            (assigns y)
//   backward_data:    dx += Wᵀ ⋆ dy            (col2im adds)
//   backward_weights: dW += dy · colᵀ, db += Σ dy
#include <vector>

#include "sbgan/backend/cpu/eigen_maps.hpp"
#include "sbgan/backend/cpu/parallel.hpp"
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

// x[c, ·] += scatter of col rows; channels are independent, so they run in parallel.
template <class T>
void col2im_add(const T* col, index_t channels, index_t h, index_t w, const Window2d& g, T* x) {
  const index_t oh = g.out_h(h), ow = g.out_w(w);
  cpu_detail::parallel_for(
      channels,
      [&](index_t c) {
        T* xc = x + c * h * w;
        for (index_t i = 0; i < g.kernel_h; ++i)
          for (index_t j = 0; j < g.kernel_w; ++j) {
            const T* row = col + ((c * g.kernel_h + i) * g.kernel_w + j) * oh * ow;
            for (index_t y = 0; y < oh; ++y) {
              const index_t iy = y * g.stride_h - g.pad_h + i;
              if (iy < 0 || iy >= h) continue;
              T* dst = xc + iy * w;
              const T* src = row + y * ow;
              for (index_t xo = 0; xo < ow; ++xo) {
                const index_t ix = xo * g.stride_w - g.pad_w + j;
                if (ix >= 0 && ix < w) dst[ix] += src[xo];
              }
            }
          }
      },
      g.kernel_h * g.kernel_w * oh * ow);
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

}  // namespace conv_cpu

// y = conv(x, weight) + bias; bias may be null. y must be [N, C_out, H_out, W_out].
template <class T>
void conv2d_forward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& weight, const Tensor<T, cpu>* bias,
                    const Window2d& g, Tensor<T, cpu>& y) {
  const index_t n = x.shape().n(), cin = x.shape().c(), h = x.shape().h(), w = x.shape().w();
  const index_t cout = weight.shape()[0];
  const index_t oh = g.out_h(h), ow = g.out_w(w), p = oh * ow;
  const index_t k = cin * g.kernel_h * g.kernel_w;
  const auto wm = cpu_detail::matrix(weight.data(), cout, k);
  conv_cpu::Columns<T> columns(cin, h, w, g);
  for (index_t b = 0; b < n; ++b) {
    const T* cols = columns.of(x.data() + b * cin * h * w);
    auto ym = cpu_detail::matrix(y.data() + b * cout * p, cout, p);
    ym.noalias() = wm * cpu_detail::matrix(cols, k, p);
    if (bias) {
      const T* bs = bias->data();
      cpu_detail::parallel_for(
          cout, [&](index_t o) { ym.row(o).array() += bs[o]; }, p);
    }
  }
}

// dx += convᵀ(dy, weight)
template <class T>
void conv2d_backward_data(const Tensor<T, cpu>& dy, const Tensor<T, cpu>& weight, const Window2d& g,
                          Tensor<T, cpu>& dx) {
  const index_t n = dx.shape().n(), cin = dx.shape().c(), h = dx.shape().h(), w = dx.shape().w();
  const index_t cout = weight.shape()[0];
  const index_t p = g.out_h(h) * g.out_w(w);
  const index_t k = cin * g.kernel_h * g.kernel_w;
  const auto wm = cpu_detail::matrix(weight.data(), cout, k);
  std::vector<T> col(g.is_pointwise() ? 0 : static_cast<std::size_t>(k * p));
  for (index_t b = 0; b < n; ++b) {
    const auto dym = cpu_detail::matrix(dy.data() + b * cout * p, cout, p);
    T* dxb = dx.data() + b * cin * h * w;
    if (g.is_pointwise()) {
      cpu_detail::matrix(dxb, cin, p).noalias() += wm.transpose() * dym;
    } else {
      auto colm = cpu_detail::matrix(col.data(), k, p);
      colm.noalias() = wm.transpose() * dym;
      conv_cpu::col2im_add(col.data(), cin, h, w, g, dxb);
    }
  }
}

// dweight += dy · im2col(x)ᵀ; dbias += Σ dy over batch and space (dbias may be null).
template <class T>
void conv2d_backward_weights(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, const Window2d& g,
                             Tensor<T, cpu>& dweight, Tensor<T, cpu>* dbias) {
  const index_t n = x.shape().n(), cin = x.shape().c(), h = x.shape().h(), w = x.shape().w();
  const index_t cout = dweight.shape()[0];
  const index_t p = g.out_h(h) * g.out_w(w);
  const index_t k = cin * g.kernel_h * g.kernel_w;
  auto dwm = cpu_detail::matrix(dweight.data(), cout, k);
  conv_cpu::Columns<T> columns(cin, h, w, g);
  for (index_t b = 0; b < n; ++b) {
    const T* cols = columns.of(x.data() + b * cin * h * w);
    const auto dym = cpu_detail::matrix(dy.data() + b * cout * p, cout, p);
    dwm.noalias() += dym * cpu_detail::matrix(cols, k, p).transpose();
    if (dbias) {
      T* db = dbias->data();
      for (index_t o = 0; o < cout; ++o) db[o] += dym.row(o).sum();
    }
  }
}

}  // namespace sbgan::kernels
