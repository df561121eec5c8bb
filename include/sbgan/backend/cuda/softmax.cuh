#pragma once
// Softmax over the channel axis of an NCHW tensor on the device, mirroring
// sbgan/backend/cpu/softmax.hpp. One thread per pixel walks its channels; adjacent
// threads hold adjacent pixels, so every channel step is a coalesced access.
//   forward:  y = exp(x − max) / Σ exp(x − max)
//   backward: dx += y ⊙ (dy − Σ_c y·dy)
#include <cmath>

#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void softmax_channels(const Tensor<T, cuda>& x, Tensor<T, cuda>& y) {
  const index_t n = x.shape().n(), c = x.shape().c(), hw = x.shape().h() * x.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(n * hw, [=] __device__(index_t pix) {
    const index_t off = (pix / hw) * c * hw + pix % hw;
    const T* xp = xs + off;
    T* yp = ys + off;
    T m = xp[0];
    for (index_t ch = 1; ch < c; ++ch) m = m < xp[ch * hw] ? xp[ch * hw] : m;  // std::max's rule
    T s = 0;
    for (index_t ch = 0; ch < c; ++ch) s += (yp[ch * hw] = std::exp(xp[ch * hw] - m));
    const T inv = T(1) / s;
    for (index_t ch = 0; ch < c; ++ch) yp[ch * hw] *= inv;
  });
}

template <class T>
void softmax_channels_backward(const Tensor<T, cuda>& y, const Tensor<T, cuda>& dy, Tensor<T, cuda>& dx) {
  const index_t n = y.shape().n(), c = y.shape().c(), hw = y.shape().h() * y.shape().w();
  const T *ys = y.data(), *gs = dy.data();
  T* ds = dx.data();
  cuda_detail::launch(n * hw, [=] __device__(index_t pix) {
    const index_t off = (pix / hw) * c * hw + pix % hw;
    T dotp = 0;
    for (index_t ch = 0; ch < c; ++ch) dotp += ys[off + ch * hw] * gs[off + ch * hw];
    for (index_t ch = 0; ch < c; ++ch) ds[off + ch * hw] += ys[off + ch * hw] * (gs[off + ch * hw] - dotp);
  });
}

}  // namespace sbgan::kernels
