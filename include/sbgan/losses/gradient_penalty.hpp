#pragma once
// The exact WGAN-GP gradient penalty, as SB-GAN's ImprovedWGANLoss computes it:
//   x̂ₙ = αₙ·realₙ + (1 − αₙ)·fakeₙ,  αₙ ~ U[0, 1) per sample (torch.rand(n))
//   gₙ = ∇ₓ Σ D(x̂) at sample n,     ‖gₙ‖ over all of its C·H·W entries
//   GP = λ · mean_n (‖gₙ‖ − 1)²
// and its gradient with respect to the critic's parameters, through the
// second-order pass (never approximated; approx_gradient_penalty.hpp holds the
// explicitly named finite-difference fallback).
//
// No ε: the reference takes grad.norm(2, dim=1) as it is. Where a sample's input
// gradient is exactly zero the norm has no derivative; we use PyTorch's choice
// (norm's backward gives 0 there), so that sample adds λ/N to the value and
// nothing to any gradient, and no NaN can arise.
//
// The reference detaches real and fake; their gradients are returned only when
// options.input_gradients asks for them (∂GP/∂real = α·∂GP/∂x̂, ∂GP/∂fake =
// (1 − α)·∂GP/∂x̂).
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/losses/input_gradient_penalty.hpp"
#include "sbgan/losses/loss_result.hpp"

namespace sbgan {

struct GradientPenaltyOptions {
  double lambda = 10;            // λ (SB-GAN: 10)
  bool input_gradients = false;  // also return ∂GP/∂real and ∂GP/∂fake
};

template <SecondOrderLayer Critic>
class GradientPenalty {
 public:
  using T = typename Critic::value_type;
  using B = typename Critic::backend;
  using tensor = Tensor<T, B>;

  GradientPenalty() = default;
  explicit GradientPenalty(const GradientPenaltyOptions& options) : options_(options) {
    if (!(options.lambda >= 0)) throw error(describe() + ": lambda must be non-negative");
  }

  [[nodiscard]] const GradientPenaltyOptions& options() const { return options_; }

  // Draws α per sample from gen (uniform in [0, 1)) and applies the penalty: returns
  // its value and adds its gradient into the critic's parameter grads (unless
  // grads is skip).
  PenaltyResult<T, B> apply(Critic& critic, const tensor& real, const tensor& fake, Generator& gen,
                            ParamGrads grads = ParamGrads::accumulate) const {
    check_inputs(real, fake);
    tensor alpha(Shape{real.shape().n()});
    gen.uniform(alpha);
    return apply(critic, real, fake, alpha, grads);
  }

  // The same with given interpolation weights α: [N].
  PenaltyResult<T, B> apply(Critic& critic, const tensor& real, const tensor& fake, const tensor& alpha,
                            ParamGrads grads = ParamGrads::accumulate) const {
    check_inputs(real, fake);
    expect_shape(describe(), "alpha", Shape{real.shape().n()}, alpha.shape());
    tensor mixed(real.shape());
    kernels::per_sample_lerp(real, fake, alpha, mixed);
    const double lambda = options_.lambda;
    auto pass = penalise_input_gradient(
        critic, mixed,
        [lambda](const std::vector<double>& squared) {
          NormPenalty p;
          const double n = static_cast<double>(squared.size());
          for (double sq : squared) {
            const double norm = std::sqrt(sq);
            p.value += lambda * (norm - 1) * (norm - 1) / n;
            // ∂/∂gₙ of λ/N·(‖gₙ‖ − 1)² = λ/N·2(‖gₙ‖ − 1)/‖gₙ‖ · gₙ; 0 at gₙ = 0.
            p.coefficients.push_back(norm > 0 ? lambda * 2 * (norm - 1) / (norm * n) : 0.0);
          }
          return p;
        },
        grads, options_.input_gradients);

    PenaltyResult<T, B> out;
    out.value = pass.value;
    out.gradient_norms = std::move(pass.gradient_norms);
    out.alpha = alpha;
    if (options_.input_gradients) {
      out.grad_real = zeros<T, B>(real.shape());
      out.grad_fake = zeros<T, B>(fake.shape());
      kernels::per_sample_lerp_backward(pass.grad_input, alpha, out.grad_real, out.grad_fake);
    }
    return out;
  }

  [[nodiscard]] std::string describe() const {
    std::ostringstream s;
    s << "GradientPenalty(lambda " << options_.lambda << ")";
    return s.str();
  }

 private:
  void check_inputs(const tensor& real, const tensor& fake) const {
    expect_penalty_batch(describe(), "real", real.shape());
    expect_shape(describe(), "fake (like real)", real.shape(), fake.shape());
  }

  GradientPenaltyOptions options_;
};

}  // namespace sbgan
