#pragma once
// SPADE's discriminator feature-matching loss (GAN_Feat_loss in pix2pix_model):
//   Σ over scales i, Σ over intermediate outputs j of
//       L1(f_ij(fake), f_ij(real)) · λ_feat / num_D
// where L1 is the mean absolute difference over all elements (nn.L1Loss) and the
// real features are constants (detached). Each scale's outputs are given as the
// discriminator returns them, [f0, f1, ..., prediction]; the last one, the
// prediction, is excluded, as in SPADE.
//
// The gradient mirrors the input's structure: one tensor per output of every
// scale, zero for the predictions, so it can be added to the adversarial
// loss's gradient and back-propagated through the discriminator in one pass.
// sign(0) = 0 where fake and real features are equal, as PyTorch's L1Loss.
#include <string>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"

namespace sbgan {

struct FeatureMatchingOptions {
  double lambda = 10;  // λ_feat
};

template <class T, class B = cpu>
using ScaleOutputs = std::vector<std::vector<Tensor<T, B>>>;  // [scale][output]

template <class T, class B = cpu>
struct FeatureMatchingGradient {
  double value = 0;
  ScaleOutputs<T, B> grad_fake;  // ∂loss/∂(fake output j of scale i); zero for the predictions
};

struct FeatureMatchingLoss {
  FeatureMatchingOptions options;

  FeatureMatchingLoss() = default;
  explicit FeatureMatchingLoss(const FeatureMatchingOptions& o) : options(o) {
    if (!(o.lambda >= 0)) throw error("FeatureMatchingLoss: lambda must be non-negative");
  }

  template <class T, class B>
  FeatureMatchingGradient<T, B> operator()(const ScaleOutputs<T, B>& fake, const ScaleOutputs<T, B>& real) const {
    check(fake, real);
    const double per_scale = options.lambda / static_cast<double>(fake.size());
    FeatureMatchingGradient<T, B> out;
    out.grad_fake.resize(fake.size());
    for (std::size_t i = 0; i < fake.size(); ++i) {
      for (std::size_t j = 0; j < fake[i].size(); ++j) {
        out.grad_fake[i].push_back(zeros<T, B>(fake[i][j].shape()));
        if (j + 1 == fake[i].size()) break;  // the prediction
        const double count = static_cast<double>(fake[i][j].numel());
        const double weight = per_scale / count;
        out.value += weight * kernels::l1_distance_sum(fake[i][j], real[i][j]);
        kernels::l1_distance_backward(fake[i][j], real[i][j], static_cast<T>(weight), out.grad_fake[i][j]);
      }
    }
    return out;
  }

 private:
  template <class T, class B>
  static void check(const ScaleOutputs<T, B>& fake, const ScaleOutputs<T, B>& real) {
    const std::string who = "FeatureMatchingLoss";
    if (fake.empty()) throw error(who + ": no discriminator scales given");
    if (fake.size() != real.size())
      throw error(who + ": " + std::to_string(fake.size()) + " scales of fake outputs but " +
                  std::to_string(real.size()) + " of real ones");
    for (std::size_t i = 0; i < fake.size(); ++i) {
      if (fake[i].size() != real[i].size())
        throw error(who + ": scale " + std::to_string(i) + " has " + std::to_string(fake[i].size()) +
                    " fake outputs but " + std::to_string(real[i].size()) + " real ones");
      if (fake[i].empty()) throw error(who + ": scale " + std::to_string(i) + " has no outputs");
      for (std::size_t j = 0; j + 1 < fake[i].size(); ++j) {
        const std::string what = "scale " + std::to_string(i) + " output " + std::to_string(j);
        if (fake[i][j].numel() == 0) throw shape_error(who + ": " + what + " is empty");
        expect_shape(who, "real " + what + " (like fake)", fake[i][j].shape(), real[i][j].shape());
      }
    }
  }
};

}  // namespace sbgan
