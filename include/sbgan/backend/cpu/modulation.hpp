#pragma once
// SPADE's spatially-varying modulation of a normalized activation x̂ by γ and β
// (all the same shape):
//   forward:  out = x̂·(1 + γ) + β                          (assigns)
//   backward: dx̂ = dy·(1 + γ),  dγ = dy·x̂   (dβ = dy)        (assigns)
// and the same fused with the leaky ReLU that follows it in SPADE's residual block
// (one pass instead of two over a full tensor each way):
//   forward:  a = x̂·(1 + γ) + β,  out = a > 0 ? a : slope·a   (assigns)
//   backward: dβ = out > 0 ? dy : slope·dy,  dx̂ = dβ·(1 + γ),  dγ = dβ·x̂   (assigns)
// The expressions are those of modulate followed by leaky_relu_forward, so the
// result is bit-identical to the two passes. For slope ≥ 0, out > 0 exactly when
// a > 0 (a ≤ 0 gives slope·a ≤ 0, ±0 or NaN), so the backward's mask from the
// stored output is leaky_relu_backward's mask on a, a == 0 and NaN included.
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

namespace cpu_detail_modulation {
// Negative (or NaN) slopes would flip the sign of out against a and break the mask.
template <class T>
void require_mask_preserving_slope(const char* kernel, T slope) {
  if (!(slope >= T(0))) throw error(std::string(kernel) + ": the slope must be non-negative");
}
}  // namespace cpu_detail_modulation

template <class T>
void modulate_leaky_relu(const Tensor<T, cpu>& normalized, const Tensor<T, cpu>& gamma, const Tensor<T, cpu>& beta,
                         T slope, Tensor<T, cpu>& out) {
  cpu_detail_ew::same_size("modulate_leaky_relu", normalized, gamma);
  cpu_detail_ew::same_size("modulate_leaky_relu", normalized, beta);
  cpu_detail_ew::same_size("modulate_leaky_relu", normalized, out);
  cpu_detail_modulation::require_mask_preserving_slope("modulate_leaky_relu", slope);
  const T *xs = normalized.data(), *gs = gamma.data(), *bs = beta.data();
  generate(out, [=](index_t i) {
    const T a = xs[i] * (T(1) + gs[i]) + bs[i];
    return a > T(0) ? a : slope * a;
  });
}

// output is modulate_leaky_relu's; d_beta is the gradient at the pre-activation a.
template <class T>
void modulate_leaky_relu_backward(const Tensor<T, cpu>& normalized, const Tensor<T, cpu>& gamma,
                                  const Tensor<T, cpu>& output, const Tensor<T, cpu>& dy, T slope,
                                  Tensor<T, cpu>& d_normalized, Tensor<T, cpu>& d_gamma, Tensor<T, cpu>& d_beta) {
  constexpr const char* name = "modulate_leaky_relu_backward";
  cpu_detail_ew::same_size(name, normalized, gamma);
  cpu_detail_ew::same_size(name, normalized, output);
  cpu_detail_ew::same_size(name, normalized, dy);
  cpu_detail_ew::same_size(name, normalized, d_normalized);
  cpu_detail_ew::same_size(name, normalized, d_gamma);
  cpu_detail_ew::same_size(name, normalized, d_beta);
  cpu_detail_modulation::require_mask_preserving_slope(name, slope);
  const T *xs = normalized.data(), *gs = gamma.data(), *ys = output.data(), *g = dy.data();
  T *dx = d_normalized.data(), *dg = d_gamma.data(), *db = d_beta.data();
  cpu_detail::parallel_chunks(normalized.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      const T da = ys[i] > T(0) ? g[i] : slope * g[i];
      db[i] = da;
      dx[i] = da * (T(1) + gs[i]);
      dg[i] = da * xs[i];
    }
  });
}

}  // namespace sbgan::kernels
