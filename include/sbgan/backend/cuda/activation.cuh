#pragma once
// Activation kernels on the device, mirroring sbgan/backend/cpu/activation.hpp:
// forward, backward (adds into dx) and the second-order pass (adds into dx and into
// dgy), one thread per element. ReLU is leaky ReLU with slope 0.
#include <cmath>

#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void leaky_relu_forward(const Tensor<T, cuda>& x, T slope, Tensor<T, cuda>& y) {
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(y.numel(), [=] __device__(index_t i) { ys[i] = xs[i] > T(0) ? xs[i] : slope * xs[i]; });
}

// dx += dy · f'(x)
template <class T>
void leaky_relu_backward(const Tensor<T, cuda>& x, const Tensor<T, cuda>& dy, T slope, Tensor<T, cuda>& dx) {
  const T *xs = x.data(), *g = dy.data();
  T* d = dx.data();
  cuda_detail::launch(x.numel(), [=] __device__(index_t i) { d[i] += xs[i] > T(0) ? g[i] : slope * g[i]; });
}

// Second order: f'' = 0 almost everywhere, so only dgy gets a term, dgy += f'(x)·w.
template <class T>
void leaky_relu_second(const Tensor<T, cuda>& x, const Tensor<T, cuda>& w, T slope, Tensor<T, cuda>& dgy) {
  leaky_relu_backward(x, w, slope, dgy);
}

template <class T>
void tanh_forward(const Tensor<T, cuda>& x, Tensor<T, cuda>& y) {
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(y.numel(), [=] __device__(index_t i) { ys[i] = std::tanh(xs[i]); });
}

// dx += dy · (1 − y²)
template <class T>
void tanh_backward(const Tensor<T, cuda>& y, const Tensor<T, cuda>& dy, Tensor<T, cuda>& dx) {
  const T *ys = y.data(), *g = dy.data();
  T* d = dx.data();
  cuda_detail::launch(y.numel(), [=] __device__(index_t i) { d[i] += g[i] * (T(1) - ys[i] * ys[i]); });
}

// Second order of g_x = (1 − y²)·g_y against cotangent w, both outputs in one pass:
//   dgy += (1 − y²)·w,   dx += −2·y·(1 − y²)·w·g_y.
template <class T>
void tanh_second(const Tensor<T, cuda>& y, const Tensor<T, cuda>& gy, const Tensor<T, cuda>& w, Tensor<T, cuda>& dx,
                 Tensor<T, cuda>& dgy) {
  const T *ys = y.data(), *g = gy.data(), *ws = w.data();
  T *d = dx.data(), *dg = dgy.data();
  cuda_detail::launch(y.numel(), [=] __device__(index_t i) {
    const T s = T(1) - ys[i] * ys[i];
    dg[i] += s * ws[i];
    d[i] += T(-2) * ys[i] * s * ws[i] * g[i];
  });
}

}  // namespace sbgan::kernels
