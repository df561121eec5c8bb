#pragma once
// approx_gradient_penalty: the WGAN-GP penalty with its gradient APPROXIMATED by
// central differences, for critics that have no second-order pass. It is never
// the default; GradientPenalty (gradient_penalty.hpp) is exact and is what the
// library uses.
//
// The value is exact. The gradient uses the symmetry of second derivatives: with
// w = ∂GP/∂g fixed,
//   ∂GP/∂θ = ∂/∂θ ⟨∇ₓD(x̂), w⟩ ≈ ‖w‖/(2h) · (∇_θ ΣD(x̂ + h·u) − ∇_θ ΣD(x̂ − h·u)),  u = w/‖w‖
// and the same for ∂GP/∂x̂: two first-order passes instead of a second-order one.
// Its error is O(h²) where D is smooth plus rounding O(ε/h); across a kink of a
// piecewise-linear activation (leaky ReLU) within h of x̂ it is wrong outright.
// The default h is the cube root of T's machine epsilon.
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/passes.hpp"
#include "sbgan/losses/gradient_penalty.hpp"
#include "sbgan/losses/loss_result.hpp"

namespace sbgan {

// With given interpolation weights α: [N]. step = 0 picks the default h.
template <Layer Critic>
PenaltyResult<typename Critic::value_type, typename Critic::backend> approx_gradient_penalty(
    Critic& critic, const typename Critic::tensor& real, const typename Critic::tensor& fake,
    const typename Critic::tensor& alpha, const GradientPenaltyOptions& options = {},
    ParamGrads grads = ParamGrads::accumulate, double step = 0) {
  using T = typename Critic::value_type;
  using B = typename Critic::backend;
  const std::string who = "approx_gradient_penalty";
  expect_penalty_batch(who, "real", real.shape());
  expect_shape(who, "fake (like real)", real.shape(), fake.shape());
  expect_shape(who, "alpha", Shape{real.shape().n()}, alpha.shape());
  const double h = step > 0 ? step : std::cbrt(static_cast<double>(std::numeric_limits<T>::epsilon()));

  Tensor<T, B> mixed(real.shape());
  kernels::per_sample_lerp(real, fake, alpha, mixed);
  auto ctx = critic.forward(mixed);
  const auto ones = full<T, B>(ctx.output.shape(), T(1));
  const auto g = input_gradient(critic, ctx, ones, mixed.shape(), ParamGrads::skip);
  const std::vector<double> squared = kernels::per_sample_squared_norms(g);

  PenaltyResult<T, B> out;
  out.alpha = alpha;
  std::vector<double> coefficients;
  const double n = static_cast<double>(squared.size());
  for (double sq : squared) {
    const double norm = std::sqrt(sq);
    out.gradient_norms.push_back(norm);
    out.value += options.lambda * (norm - 1) * (norm - 1) / n;
    coefficients.push_back(norm > 0 ? options.lambda * 2 * (norm - 1) / (norm * n) : 0.0);
  }
  auto w = zeros<T, B>(g.shape());
  kernels::per_sample_axpy(std::span<const double>(coefficients), g, w);
  const double w_norm = std::sqrt(kernels::dot(w, w));

  auto grad_mixed = zeros<T, B>(mixed.shape());
  if (w_norm > 0 && (grads == ParamGrads::accumulate || options.input_gradients)) {
    for (const double side : {1.0, -1.0}) {
      auto shifted = clone(mixed);
      kernels::axpy(static_cast<T>(side * h / w_norm), w, shifted);
      auto c = critic.forward(shifted);
      critic.backward(c, full<T, B>(c.output.shape(), static_cast<T>(side * w_norm / (2 * h))), grad_mixed, grads);
    }
  }
  if (options.input_gradients) {
    out.grad_real = zeros<T, B>(real.shape());
    out.grad_fake = zeros<T, B>(fake.shape());
    kernels::per_sample_lerp_backward(grad_mixed, alpha, out.grad_real, out.grad_fake);
  }
  return out;
}

// α drawn per sample from gen (uniform in [0, 1)).
template <Layer Critic>
PenaltyResult<typename Critic::value_type, typename Critic::backend> approx_gradient_penalty(
    Critic& critic, const typename Critic::tensor& real, const typename Critic::tensor& fake, Generator& gen,
    const GradientPenaltyOptions& options = {}, ParamGrads grads = ParamGrads::accumulate, double step = 0) {
  typename Critic::tensor alpha(Shape{real.shape().n()});
  gen.uniform(alpha);
  return approx_gradient_penalty(critic, real, fake, alpha, options, grads, step);
}

}  // namespace sbgan
