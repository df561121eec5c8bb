#pragma once
// SPADE's spatially-varying modulation of a normalized activation x̂ by γ and β
// (all the same shape):
//   forward:  out = x̂·(1 + γ) + β                          (assigns)
//   backward: dx̂ = dy·(1 + γ),  dγ = dy·x̂   (dβ = dy)        (assigns)
#include "sbgan/backend/cpu/elementwise.hpp"

namespace sbgan::kernels {

template <class T>
void modulate(const Tensor<T, cpu>& normalized, const Tensor<T, cpu>& gamma, const Tensor<T, cpu>& beta,
              Tensor<T, cpu>& out) {
  cpu_detail_ew::same_size("modulate", normalized, gamma);
  cpu_detail_ew::same_size("modulate", normalized, beta);
  cpu_detail_ew::same_size("modulate", normalized, out);
  const T *xs = normalized.data(), *gs = gamma.data(), *bs = beta.data();
  generate(out, [=](index_t i) { return xs[i] * (T(1) + gs[i]) + bs[i]; });
}

template <class T>
void modulate_backward(const Tensor<T, cpu>& normalized, const Tensor<T, cpu>& gamma, const Tensor<T, cpu>& dy,
                       Tensor<T, cpu>& d_normalized, Tensor<T, cpu>& d_gamma) {
  cpu_detail_ew::same_size("modulate_backward", normalized, gamma);
  cpu_detail_ew::same_size("modulate_backward", normalized, dy);
  cpu_detail_ew::same_size("modulate_backward", normalized, d_normalized);
  cpu_detail_ew::same_size("modulate_backward", normalized, d_gamma);
  const T *xs = normalized.data(), *gs = gamma.data(), *g = dy.data();
  generate(d_normalized, [=](index_t i) { return g[i] * (T(1) + gs[i]); });
  generate(d_gamma, [=](index_t i) { return g[i] * xs[i]; });
}

}  // namespace sbgan::kernels
