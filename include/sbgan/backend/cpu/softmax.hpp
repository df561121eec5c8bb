#pragma once
// Softmax over the channel axis of an NCHW tensor, per pixel.
//   forward:  y = exp(x − max) / Σ exp(x − max)
//   backward: dx += y ⊙ (dy − Σ_c y·dy)
#include <algorithm>
#include <cmath>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void softmax_channels(const Tensor<T, cpu>& x, Tensor<T, cpu>& y) {
  const index_t n = x.shape().n(), c = x.shape().c(), hw = x.shape().h() * x.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cpu_detail::parallel_for(
      n * hw,
      [&](index_t pix) {
        const index_t b = pix / hw, i = pix % hw;
        const T* xp = xs + b * c * hw + i;
        T* yp = ys + b * c * hw + i;
        T m = xp[0];
        for (index_t ch = 1; ch < c; ++ch) m = std::max(m, xp[ch * hw]);
        T s = 0;
        for (index_t ch = 0; ch < c; ++ch) s += (yp[ch * hw] = std::exp(xp[ch * hw] - m));
        const T inv = T(1) / s;
        for (index_t ch = 0; ch < c; ++ch) yp[ch * hw] *= inv;
      },
      c);
}

template <class T>
void softmax_channels_backward(const Tensor<T, cpu>& y, const Tensor<T, cpu>& dy, Tensor<T, cpu>& dx) {
  const index_t n = y.shape().n(), c = y.shape().c(), hw = y.shape().h() * y.shape().w();
  const T *ys = y.data(), *gs = dy.data();
  T* ds = dx.data();
  cpu_detail::parallel_for(
      n * hw,
      [&](index_t pix) {
        const index_t off = (pix / hw) * c * hw + pix % hw;
        T dotp = 0;
        for (index_t ch = 0; ch < c; ++ch) dotp += ys[off + ch * hw] * gs[off + ch * hw];
        for (index_t ch = 0; ch < c; ++ch) ds[off + ch * hw] += ys[off + ch * hw] * (gs[off + ch * hw] - dotp);
      },
      c);
}

}  // namespace sbgan::kernels
