#pragma once
// Mean and biased variance (divided by the count, as normalization layers use):
// per channel over (N, H, W) for batch norm, per (n, c) over (H, W) for instance
// norm. Two passes, accumulated in double, so float statistics stay accurate on
// large images.
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// mean, var: [C]
template <class T>
void channel_moments(const Tensor<T, cpu>& x, Tensor<T, cpu>& mean, Tensor<T, cpu>& var) {
  const index_t n = x.shape().n(), c = x.shape().c(), hw = x.shape().h() * x.shape().w();
  const T* xs = x.data();
  cpu_detail::parallel_for(
      c,
      [&](index_t ch) {
        double s = 0;
        for (index_t b = 0; b < n; ++b) {
          const T* p = xs + (b * c + ch) * hw;
          for (index_t i = 0; i < hw; ++i) s += p[i];
        }
        const double m = s / static_cast<double>(n * hw);
        double v = 0;
        for (index_t b = 0; b < n; ++b) {
          const T* p = xs + (b * c + ch) * hw;
          for (index_t i = 0; i < hw; ++i) v += (p[i] - m) * (p[i] - m);
        }
        mean[ch] = static_cast<T>(m);
        var[ch] = static_cast<T>(v / static_cast<double>(n * hw));
      },
      n * hw);
}

// mean, var: [N, C]
template <class T>
void instance_moments(const Tensor<T, cpu>& x, Tensor<T, cpu>& mean, Tensor<T, cpu>& var) {
  const index_t planes = x.shape().n() * x.shape().c(), hw = x.shape().h() * x.shape().w();
  const T* xs = x.data();
  cpu_detail::parallel_for(
      planes,
      [&](index_t pl) {
        const T* p = xs + pl * hw;
        double s = 0;
        for (index_t i = 0; i < hw; ++i) s += p[i];
        const double m = s / static_cast<double>(hw);
        double v = 0;
        for (index_t i = 0; i < hw; ++i) v += (p[i] - m) * (p[i] - m);
        mean[pl] = static_cast<T>(m);
        var[pl] = static_cast<T>(v / static_cast<double>(hw));
      },
      hw);
}

}  // namespace sbgan::kernels
