#pragma once
// The Wasserstein losses of SB-GAN's ImprovedWGANLoss, without its gradient
// penalty (gradient_penalty.hpp; improved_wgan.hpp combines the two):
//   critic:     L_D = mean D(fake) − mean D(real) [+ ε_drift · mean D(real)²]
//   generator:  L_G = −mean D(fake)
// The means run over every element of the critic's output ([N, 1] for SB-GAN's
// critic, so over the batch). SB-GAN has no drift term (ε_drift = 0, the
// default); ProGAN uses ε_drift = 0.001 to keep the critic's outputs near zero.
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/losses/loss_result.hpp"

namespace sbgan {

struct WganOptions {
  double drift = 0;  // ε_drift
};

struct WganLoss {
  WganOptions options;

  WganLoss() = default;
  explicit WganLoss(const WganOptions& o) : options(o) {
    if (!(o.drift >= 0)) throw error("WganLoss: the drift weight must be non-negative");
  }

  template <class T, class B>
  PairLossGradient<T, B> critic(const Tensor<T, B>& d_real, const Tensor<T, B>& d_fake) const {
    require_elements(d_real, "D(real)");
    require_elements(d_fake, "D(fake)");
    const double n_real = static_cast<double>(d_real.numel()), n_fake = static_cast<double>(d_fake.numel());
    PairLossGradient<T, B> out{kernels::sum(d_fake) / n_fake - kernels::sum(d_real) / n_real,
                               full<T, B>(d_real.shape(), static_cast<T>(-1.0 / n_real)),
                               full<T, B>(d_fake.shape(), static_cast<T>(1.0 / n_fake))};
    if (options.drift > 0) {
      out.value += options.drift * kernels::dot(d_real, d_real) / n_real;
      kernels::axpy(static_cast<T>(2 * options.drift / n_real), d_real, out.grad_real);
    }
    return out;
  }

  template <class T, class B>
  static LossGradient<T, B> generator(const Tensor<T, B>& d_fake) {
    require_elements(d_fake, "D(fake)");
    const double n = static_cast<double>(d_fake.numel());
    return {-kernels::sum(d_fake) / n, full<T, B>(d_fake.shape(), static_cast<T>(-1.0 / n))};
  }

 private:
  template <class T, class B>
  static void require_elements(const Tensor<T, B>& t, const char* what) {
    if (t.numel() == 0) throw shape_error(std::string("WganLoss: ") + what + " is empty");
  }
};

}  // namespace sbgan
