#pragma once
// The hinge GAN loss as SPADE's GANLoss(gan_mode='hinge') computes it:
//   D on real:  −mean(min(d − 1, 0)) = mean(relu(1 − d))
//   D on fake:  −mean(min(−d − 1, 0)) = mean(relu(1 + d))
//   G:          −mean(d)
// each a mean over all patch outputs of one prediction map. With a multiscale
// discriminator the per-scale losses are summed and divided by the number of
// scales; the discriminator's loss is D_real + D_fake, not halved (SPADE's
// pix2pix_model adds the two entries).
//
// At a kink (d = 1 for real, d = −1 for fake) the gradient is half the one-sided
// value: torch.min splits a tie between its operands, and so do we.
#include <string>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/losses/loss_result.hpp"

namespace sbgan {

struct HingeLoss {
  template <class T, class B>
  static LossGradient<T, B> discriminator_real(const Tensor<T, B>& pred) {
    return margin(pred, T(-1), 1.0, "discriminator_real");
  }
  template <class T, class B>
  static LossGradient<T, B> discriminator_fake(const Tensor<T, B>& pred) {
    return margin(pred, T(1), 1.0, "discriminator_fake");
  }
  template <class T, class B>
  static LossGradient<T, B> generator(const Tensor<T, B>& pred) {
    return negative_mean(pred, 1.0, "generator");
  }

  // One prediction map per discriminator scale; the losses are averaged over scales.
  template <class T, class B>
  static MultiscaleLossGradient<T, B> discriminator_real(const std::vector<Tensor<T, B>>& preds) {
    return over_scales(preds, "discriminator_real", [](const Tensor<T, B>& p, double w) {
      return margin(p, T(-1), w, "discriminator_real");
    });
  }
  template <class T, class B>
  static MultiscaleLossGradient<T, B> discriminator_fake(const std::vector<Tensor<T, B>>& preds) {
    return over_scales(preds, "discriminator_fake", [](const Tensor<T, B>& p, double w) {
      return margin(p, T(1), w, "discriminator_fake");
    });
  }
  template <class T, class B>
  static MultiscaleLossGradient<T, B> generator(const std::vector<Tensor<T, B>>& preds) {
    return over_scales(preds, "generator",
                       [](const Tensor<T, B>& p, double w) { return negative_mean(p, w, "generator"); });
  }

 private:
  template <class T, class B>
  static void require_elements(const Tensor<T, B>& pred, const char* what) {
    if (pred.numel() == 0) throw shape_error(std::string("HingeLoss::") + what + ": the prediction map is empty");
  }

  // weight · mean(max(0, 1 + s·d)) and its gradient.
  template <class T, class B>
  static LossGradient<T, B> margin(const Tensor<T, B>& pred, T s, double weight, const char* what) {
    require_elements(pred, what);
    const double count = static_cast<double>(pred.numel());
    LossGradient<T, B> out{0, zeros<T, B>(pred.shape())};
    out.value = weight * kernels::hinge_sum(pred, s, static_cast<T>(weight / count), out.grad) / count;
    return out;
  }

  // −weight · mean(d) and its gradient.
  template <class T, class B>
  static LossGradient<T, B> negative_mean(const Tensor<T, B>& pred, double weight, const char* what) {
    require_elements(pred, what);
    const double count = static_cast<double>(pred.numel());
    return {-weight * kernels::sum(pred) / count, full<T, B>(pred.shape(), static_cast<T>(-weight / count))};
  }

  template <class T, class B, class F>
  static MultiscaleLossGradient<T, B> over_scales(const std::vector<Tensor<T, B>>& preds, const char* what,
                                                  F&& per_scale) {
    if (preds.empty()) throw error(std::string("HingeLoss::") + what + ": no discriminator scales given");
    const double weight = 1.0 / static_cast<double>(preds.size());
    MultiscaleLossGradient<T, B> out;
    for (const auto& p : preds) {
      auto one = per_scale(p, weight);
      out.value += one.value;
      out.grads.push_back(std::move(one.grad));
    }
    return out;
  }
};

}  // namespace sbgan
