#pragma once
// SPADE's modulation on the device, mirroring sbgan/backend/cpu/modulation.hpp:
//   forward:  out = x̂·(1 + γ) + β                          (assigns)
//   backward: dx̂ = dy·(1 + γ),  dγ = dy·x̂   (dβ = dy)        (assigns)
// and the variant fused with the following leaky ReLU (see the CPU file for why the
// backward's mask from the stored output equals leaky_relu_backward's mask on a):
//   forward:  a = x̂·(1 + γ) + β,  out = a > 0 ? a : slope·a   (assigns)
//   backward: dβ = out > 0 ? dy : slope·dy,  dx̂ = dβ·(1 + γ),  dγ = dβ·x̂   (assigns)
// One thread per element; each backward writes all its outputs in the same pass.
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

namespace cuda_detail_modulation {
// Negative (or NaN) slopes would flip the sign of out against a and break the mask.
template <class T>
void require_mask_preserving_slope(const char* kernel, T slope) {
  if (!(slope >= T(0))) throw error(std::string(kernel) + ": the slope must be non-negative");
}
}  // namespace cuda_detail_modulation

template <class T>
void modulate_leaky_relu(const Tensor<T, cuda>& normalized, const Tensor<T, cuda>& gamma,
                         const Tensor<T, cuda>& beta, T slope, Tensor<T, cuda>& out) {
  cuda_detail::same_size("modulate_leaky_relu", normalized, gamma);
  cuda_detail::same_size("modulate_leaky_relu", normalized, beta);
  cuda_detail::same_size("modulate_leaky_relu", normalized, out);
  cuda_detail_modulation::require_mask_preserving_slope("modulate_leaky_relu", slope);
  const T *xs = normalized.data(), *gs = gamma.data(), *bs = beta.data();
  T* o = out.data();
  cuda_detail::launch(out.numel(), [=] __device__(index_t i) {
    const T a = xs[i] * (T(1) + gs[i]) + bs[i];
    o[i] = a > T(0) ? a : slope * a;
  });
}

// output is modulate_leaky_relu's; d_beta is the gradient at the pre-activation a.
template <class T>
void modulate_leaky_relu_backward(const Tensor<T, cuda>& normalized, const Tensor<T, cuda>& gamma,
                                  const Tensor<T, cuda>& output, const Tensor<T, cuda>& dy, T slope,
                                  Tensor<T, cuda>& d_normalized, Tensor<T, cuda>& d_gamma, Tensor<T, cuda>& d_beta) {
  constexpr const char* name = "modulate_leaky_relu_backward";
  cuda_detail::same_size(name, normalized, gamma);
  cuda_detail::same_size(name, normalized, output);
  cuda_detail::same_size(name, normalized, dy);
  cuda_detail::same_size(name, normalized, d_normalized);
  cuda_detail::same_size(name, normalized, d_gamma);
  cuda_detail::same_size(name, normalized, d_beta);
  cuda_detail_modulation::require_mask_preserving_slope(name, slope);
  const T *xs = normalized.data(), *gs = gamma.data(), *ys = output.data(), *g = dy.data();
  T *dx = d_normalized.data(), *dg = d_gamma.data(), *db = d_beta.data();
  cuda_detail::launch(normalized.numel(), [=] __device__(index_t i) {
    const T da = ys[i] > T(0) ? g[i] : slope * g[i];
    db[i] = da;
    dx[i] = da * (T(1) + gs[i]);
    dg[i] = da * xs[i];
  });
}

}  // namespace sbgan::kernels
