#pragma once
// SPADE's modulation on the device, mirroring sbgan/backend/cpu/modulation.hpp
// (the CPU has no variant fused with an activation, so neither does this file):
//   forward:  out = x̂·(1 + γ) + β                          (assigns)
//   backward: dx̂ = dy·(1 + γ),  dγ = dy·x̂   (dβ = dy)        (assigns)
// One thread per element; the backward writes both outputs in the same pass.
#include "sbgan/backend/cuda/elementwise.cuh"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void modulate(const Tensor<T, cuda>& normalized, const Tensor<T, cuda>& gamma, const Tensor<T, cuda>& beta,
              Tensor<T, cuda>& out) {
  cuda_detail::same_size("modulate", normalized, gamma);
  cuda_detail::same_size("modulate", normalized, beta);
  cuda_detail::same_size("modulate", normalized, out);
  const T *xs = normalized.data(), *gs = gamma.data(), *bs = beta.data();
  T* o = out.data();
  cuda_detail::launch(out.numel(), [=] __device__(index_t i) { o[i] = xs[i] * (T(1) + gs[i]) + bs[i]; });
}

template <class T>
void modulate_backward(const Tensor<T, cuda>& normalized, const Tensor<T, cuda>& gamma, const Tensor<T, cuda>& dy,
                       Tensor<T, cuda>& d_normalized, Tensor<T, cuda>& d_gamma) {
  cuda_detail::same_size("modulate_backward", normalized, gamma);
  cuda_detail::same_size("modulate_backward", normalized, dy);
  cuda_detail::same_size("modulate_backward", normalized, d_normalized);
  cuda_detail::same_size("modulate_backward", normalized, d_gamma);
  const T *xs = normalized.data(), *gs = gamma.data(), *g = dy.data();
  T *dx = d_normalized.data(), *dg = d_gamma.data();
  cuda_detail::launch(normalized.numel(), [=] __device__(index_t i) {
    dx[i] = g[i] * (T(1) + gs[i]);
    dg[i] = g[i] * xs[i];
  });
}

}  // namespace sbgan::kernels
