#pragma once
// Activation kernels: forward, backward (adds into dx), and the second-order pass
// (adds into dx and into the cotangent of the incoming gradient, dgy).
// ReLU is leaky ReLU with slope 0.
#include <cmath>

#include "sbgan/backend/cpu/elementwise.hpp"

namespace sbgan::kernels {

template <class T>
void leaky_relu_forward(const Tensor<T, cpu>& x, T slope, Tensor<T, cpu>& y) {
  const T* xs = x.data();
  generate(y, [xs, slope](index_t i) { return xs[i] > T(0) ? xs[i] : slope * xs[i]; });
}

// dx += dy · f'(x)
template <class T>
void leaky_relu_backward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, T slope,
                         Tensor<T, cpu>& dx) {
  const T *xs = x.data(), *g = dy.data();
  T* d = dx.data();
  cpu_detail::parallel_chunks(x.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) d[i] += xs[i] > T(0) ? g[i] : slope * g[i];
  });
}

// Second order: g_x = f'(x)·g_y is linear in g_y and f'' = 0 almost everywhere,
// so only the cotangent of g_y gets a term: dgy += f'(x)·w.
template <class T>
void leaky_relu_second(const Tensor<T, cpu>& x, const Tensor<T, cpu>& w, T slope,
                       Tensor<T, cpu>& dgy) {
  leaky_relu_backward(x, w, slope, dgy);
}

template <class T>
void tanh_forward(const Tensor<T, cpu>& x, Tensor<T, cpu>& y) {
  const T* xs = x.data();
  generate(y, [xs](index_t i) { return std::tanh(xs[i]); });
}

// dx += dy · (1 − y²)
template <class T>
void tanh_backward(const Tensor<T, cpu>& y, const Tensor<T, cpu>& dy, Tensor<T, cpu>& dx) {
  const T *ys = y.data(), *g = dy.data();
  T* d = dx.data();
  cpu_detail::parallel_chunks(y.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) d[i] += g[i] * (T(1) - ys[i] * ys[i]);
  });
}

// Second order of g_x = (1 − y²)·g_y against cotangent w:
//   dgy += (1 − y²)·w,   dx += w·g_y·d(1 − y²)/dx = −2·y·(1 − y²)·w·g_y.
template <class T>
void tanh_second(const Tensor<T, cpu>& y, const Tensor<T, cpu>& gy, const Tensor<T, cpu>& w,
                 Tensor<T, cpu>& dx, Tensor<T, cpu>& dgy) {
  const T *ys = y.data(), *g = gy.data(), *ws = w.data();
  T *d = dx.data(), *dg = dgy.data();
  cpu_detail::parallel_chunks(y.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      const T s = T(1) - ys[i] * ys[i];
      dg[i] += s * ws[i];
      d[i] += T(-2) * ys[i] * s * ws[i] * g[i];
    }
  });
}

}  // namespace sbgan::kernels
