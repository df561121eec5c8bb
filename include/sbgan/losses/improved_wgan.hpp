#pragma once
// SB-GAN's ImprovedWGANLoss (modules/gan_loss.py) as one type over a critic:
//   critic:     L_D = mean D(fake) − mean D(real) + λ·GP   [+ ε_drift·mean D(real)²]
//   generator:  L_G = −mean D(fake)
// both multiplied by `weight` (stage 3 scales the whole layout loss, penalty
// included, by λ_pgan = 10). It runs the critic itself: discriminator_loss adds
// ∂L_D/∂θ into the critic's parameter grads (the real and fake passes and the
// exact penalty), generator_loss returns ∂L_G/∂fake and leaves the critic's
// grads alone (G's step through a frozen critic).
//
// The reference has no drift term (drift = 0 reproduces it); real and fake are
// treated as constants, as the reference detaches them.
#include <string>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/losses/gradient_penalty.hpp"
#include "sbgan/losses/input_gradient_penalty.hpp"
#include "sbgan/losses/loss_result.hpp"
#include "sbgan/losses/wgan.hpp"

namespace sbgan {

struct ImprovedWganOptions {
  double lambda = 10;  // weight of the gradient penalty
  double drift = 0;    // ε_drift; SB-GAN: none
  double weight = 1;   // multiplies the whole loss and every gradient
};

template <SecondOrderLayer Critic>
class ImprovedWganLoss {
 public:
  using T = typename Critic::value_type;
  using B = typename Critic::backend;
  using tensor = Tensor<T, B>;

  // The critic's loss and its parts, each as it enters `value` (weight included).
  struct CriticLoss {
    double value = 0;
    double critic_difference = 0;  // weight·(mean D(fake) − mean D(real)), the negated Wasserstein estimate
    double drift = 0;              // weight·ε_drift·mean D(real)²
    double penalty = 0;            // weight·λ·GP
    std::vector<double> gradient_norms;
    tensor alpha;
  };

  ImprovedWganLoss() = default;
  explicit ImprovedWganLoss(const ImprovedWganOptions& options)
      : options_(options), wgan_(WganOptions{options.drift}),
        penalty_(GradientPenaltyOptions{options.lambda * options.weight, false}) {
    if (!(options.weight >= 0)) throw error("ImprovedWganLoss: weight must be non-negative");
  }

  [[nodiscard]] const ImprovedWganOptions& options() const { return options_; }

  // α drawn per sample from gen.
  CriticLoss discriminator_loss(Critic& critic, const tensor& real, const tensor& fake, Generator& gen) const {
    return critic_loss(critic, real, fake, [&](const tensor& r, const tensor& f) {
      return penalty_.apply(critic, r, f, gen);
    });
  }

  // Given interpolation weights α: [N].
  CriticLoss discriminator_loss(Critic& critic, const tensor& real, const tensor& fake, const tensor& alpha) const {
    expect_penalty_batch("ImprovedWganLoss", "real", real.shape());
    expect_shape("ImprovedWganLoss", "alpha", Shape{real.shape().n()}, alpha.shape());
    return critic_loss(critic, real, fake, [&](const tensor& r, const tensor& f) {
      return penalty_.apply(critic, r, f, alpha);
    });
  }

  // L_G and ∂L_G/∂fake, to back-propagate into the generator.
  LossGradient<T, B> generator_loss(Critic& critic, const tensor& fake) const {
    auto ctx = critic.forward(fake);
    auto loss = WganLoss::generator(ctx.output);
    kernels::scale(loss.grad, static_cast<T>(options_.weight));
    return {options_.weight * loss.value, input_gradient(critic, ctx, loss.grad, fake.shape(), ParamGrads::skip)};
  }

 private:
  template <class Penalise>
  CriticLoss critic_loss(Critic& critic, const tensor& real, const tensor& fake, Penalise&& penalise) const {
    // Every check before the first pass adds into the critic's grads.
    expect_penalty_batch("ImprovedWganLoss", "real", real.shape());
    expect_shape("ImprovedWganLoss", "fake (like real)", real.shape(), fake.shape());
    auto c_real = critic.forward(real);
    auto c_fake = critic.forward(fake);
    auto w = wgan_.critic(c_real.output, c_fake.output);
    // The drift part of w.value, recomputed alone for the report.
    const double drift =
        options_.drift > 0 ? options_.drift * kernels::dot(c_real.output, c_real.output) / double(c_real.output.numel())
                           : 0.0;
    const T weight = static_cast<T>(options_.weight);
    auto scratch = zeros<T, B>(real.shape());
    kernels::scale(w.grad_real, weight);
    kernels::scale(w.grad_fake, weight);
    critic.backward(c_real, w.grad_real, scratch, ParamGrads::accumulate);
    critic.backward(c_fake, w.grad_fake, scratch, ParamGrads::accumulate);
    auto gp = penalise(real, fake);

    CriticLoss out;
    out.drift = options_.weight * drift;
    out.critic_difference = options_.weight * (w.value - drift);
    out.penalty = gp.value;
    out.value = out.critic_difference + out.drift + out.penalty;
    out.gradient_norms = std::move(gp.gradient_norms);
    out.alpha = gp.alpha;
    return out;
  }

  ImprovedWganOptions options_;
  WganLoss wgan_;
  GradientPenalty<Critic> penalty_;
};

}  // namespace sbgan
