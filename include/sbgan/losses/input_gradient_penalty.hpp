#pragma once
// The machinery shared by the penalties on the critic's input gradient (WGAN-GP,
// R1): a penalty P(g) of g = ∇ₓ Σ D(x), whose derivative with respect to each
// sample's gradient is a multiple of it, ∂P/∂gₙ = cₙ·gₙ (true of any function of
// the per-sample norms ‖gₙ‖).
//
// With w = ∂P/∂g, the second-order pass of Q = ⟨Jₓᵀ·1, w⟩ gives the exact
// derivatives of P: ∂P/∂θ into the critic's parameter grads and ∂P/∂x — the
// double backward that torch.autograd.grad(create_graph=True) performs.
#include <cmath>
#include <string>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/passes.hpp"

namespace sbgan {

// A penalty of the per-sample squared norms: its value, and the coefficients cₙ
// of ∂P/∂gₙ = cₙ·gₙ.
struct NormPenalty {
  double value = 0;
  std::vector<double> coefficients;
};

template <class Tensor>
struct InputGradientPenalty {
  double value = 0;
  std::vector<double> gradient_norms;
  Tensor grad_input;  // ∂P/∂x when asked for, else empty
};

// Runs the critic at x and penalises its input gradient with `penalty`, a function
// from the per-sample squared norms (std::vector<double>) to a NormPenalty. Adds
// ∂P/∂θ into the critic's parameter grads when grads is accumulate; returns ∂P/∂x
// when want_grad_input.
template <SecondOrderLayer Critic, class Penalty>
InputGradientPenalty<typename Critic::tensor> penalise_input_gradient(Critic& critic, const typename Critic::tensor& x,
                                                                      Penalty&& penalty, ParamGrads grads,
                                                                      bool want_grad_input) {
  using T = typename Critic::value_type;
  using B = typename Critic::backend;
  auto ctx = critic.forward(x);
  const auto ones = full<T, B>(ctx.output.shape(), T(1));
  // g = ∇ₓ Σ D(x): the inner gradient, without parameter terms.
  const auto g = input_gradient(critic, ctx, ones, x.shape(), ParamGrads::skip);
  const std::vector<double> squared = kernels::per_sample_squared_norms(g);
  const NormPenalty p = penalty(squared);

  InputGradientPenalty<typename Critic::tensor> out;
  out.value = p.value;
  out.gradient_norms.reserve(squared.size());
  for (double s : squared) out.gradient_norms.push_back(std::sqrt(s));
  if (grads == ParamGrads::skip && !want_grad_input) return out;

  auto w = zeros<T, B>(g.shape());
  kernels::per_sample_axpy(std::span<const double>(p.coefficients), g, w);
  auto second = second_order_gradients(critic, ctx, ones, w, grads);
  if (want_grad_input) out.grad_input = second.dx;
  return out;
}

// Shape checks shared by the penalties: a batch of at least one sample.
inline void expect_penalty_batch(const std::string& who, const std::string& what, const Shape& s) {
  if (s.rank() < 2 || s.n() < 1 || s.numel() == 0)
    throw shape_error(who, what, "[N, ...] with N >= 1 and at least one feature", s);
}

}  // namespace sbgan
