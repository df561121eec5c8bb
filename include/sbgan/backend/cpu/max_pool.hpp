#pragma once
// Max pooling. Padding acts as −∞ (never selected), as in PyTorch; among equal
// values the first in row-major window order wins, and a NaN in a window wins over
// everything, which is PyTorch's CPU rule too. The backward pass recomputes the
// arg-max from the input instead of storing indices: one more sweep over a small
// window per output, and no integer tensor to carry on every backend.
#include <algorithm>
#include <cmath>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::kernels {

namespace max_pool_cpu {

struct span {
  index_t begin, end;
};
inline span clip(index_t out_index, index_t stride, index_t pad, index_t kernel, index_t size) {
  const index_t start = out_index * stride - pad;
  return {std::max<index_t>(start, 0), std::min<index_t>(start + kernel, size)};
}

// Offset (within the plane) of the maximum of window (i, j).
template <class T>
index_t arg_max(const T* plane, index_t w, span rows, span cols) {
  index_t best = rows.begin * w + cols.begin;
  T best_value = plane[best];
  for (index_t a = rows.begin; a < rows.end; ++a)
    for (index_t b = cols.begin; b < cols.end; ++b) {
      const T v = plane[a * w + b];
      if (v > best_value || (std::isnan(v) && !std::isnan(best_value))) {
        best_value = v;
        best = a * w + b;
      }
    }
  return best;
}

// Calls f(output offset, input offset of its maximum) for every output of a plane.
template <class T, class F>
void for_each_arg_max(const T* plane, index_t h, index_t w, index_t oh, index_t ow, const Window2d& g, F&& f) {
  for (index_t i = 0; i < oh; ++i) {
    const span rows = clip(i, g.stride_h, g.pad_h, g.kernel_h, h);
    for (index_t j = 0; j < ow; ++j) f(i * ow + j, arg_max(plane, w, rows, clip(j, g.stride_w, g.pad_w, g.kernel_w, w)));
  }
}

}  // namespace max_pool_cpu

// y = max over each window of x
template <class T>
void max_pool2d_forward(const Tensor<T, cpu>& x, const Window2d& g, Tensor<T, cpu>& y) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = y.shape().h(), ow = y.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cpu_detail::parallel_for(
      planes,
      [&](index_t pl) {
        const T* plane = xs + pl * h * w;
        T* out = ys + pl * oh * ow;
        max_pool_cpu::for_each_arg_max(plane, h, w, oh, ow, g, [&](index_t o, index_t at) { out[o] = plane[at]; });
      },
      oh * ow * g.kernel_h * g.kernel_w);
}

// dx += dy routed to the arg-max of each window (windows may overlap: outputs of
// one plane are summed in order, planes run in parallel).
template <class T>
void max_pool2d_backward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, const Window2d& g, Tensor<T, cpu>& dx) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = dy.shape().h(), ow = dy.shape().w();
  const T *xs = x.data(), *gs = dy.data();
  T* ds = dx.data();
  cpu_detail::parallel_for(
      planes,
      [&](index_t pl) {
        const T* grad = gs + pl * oh * ow;
        T* out = ds + pl * h * w;
        max_pool_cpu::for_each_arg_max(xs + pl * h * w, h, w, oh, ow, g,
                                       [&](index_t o, index_t at) { out[at] += grad[o]; });
      },
      oh * ow * g.kernel_h * g.kernel_w);
}

// Second order: gₓ = scatter of gy to the arg-max positions is linear in gy and
// locally constant in x, so only the cotangent of gy gets a term:
// dgy += w gathered at the arg-max of each window of x.
template <class T>
void max_pool2d_second(const Tensor<T, cpu>& x, const Tensor<T, cpu>& w_in, const Window2d& g, Tensor<T, cpu>& dgy) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = dgy.shape().h(), ow = dgy.shape().w();
  const T *xs = x.data(), *ws = w_in.data();
  T* ds = dgy.data();
  cpu_detail::parallel_for(
      planes,
      [&](index_t pl) {
        const T* cot = ws + pl * h * w;
        T* out = ds + pl * oh * ow;
        max_pool_cpu::for_each_arg_max(xs + pl * h * w, h, w, oh, ow, g,
                                       [&](index_t o, index_t at) { out[o] += cot[at]; });
      },
      oh * ow * g.kernel_h * g.kernel_w);
}

}  // namespace sbgan::kernels
