#pragma once
// SPADE's VGG perceptual loss (VGGLoss in SPADE's models/networks/loss.py):
//   L(x, y) = Σᵢ wᵢ · mean |φᵢ(x) − φᵢ(y)|,   w = 1/32, 1/16, 1/8, 1/4, 1,
// where φ₁…φ₅ are VGG19's relu1_1 … relu5_1 features and y (the real image) is
// detached: only x, the generated image, gets a gradient. The network is frozen
// (its weights come from a file and are never trained), so no parameter gradients
// are computed. Images go in as they are, in [-1, 1]: SPADE does not apply
// ImageNet's mean/std before VGG. The trainer multiplies by λ_vgg = 10.
//
// Without a weight file the loss is off: load_vgg_perceptual_loss() returns a
// disabled setup and a message for the program to print.
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/models/vgg19.hpp"

namespace sbgan {

template <class T, class B = cpu>
class VGGPerceptualLoss {
 public:
  using value_type = T;
  using backend = B;
  using tensor = Tensor<T, B>;
  using network_type = VGG19<T, B>;
  static constexpr std::array<double, network_type::slice_count> weights{1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0};

  // The loss value and ∂loss/∂x.
  struct result {
    double value = 0;
    tensor grad;
  };

  explicit VGGPerceptualLoss(network_type network) : network_(std::move(network)) {}

  // The loss and a fresh gradient with respect to x.
  result evaluate(const tensor& x, const tensor& y) {
    result r{0, zeros<T, B>(x.shape())};
    r.value = accumulate(x, y, T(1), r.grad);
    return r;
  }

  // Adds scale·∂loss/∂x into dx (the trainer's λ_vgg goes in scale) and returns the
  // unscaled loss.
  double accumulate(const tensor& x, const tensor& y, T scale, tensor& dx) {
    check_inputs(x, y);
    expect_shape(describe(), "gradient of x", x.shape(), dx.shape());
    const auto target = network_.features(y);
    const auto ctx = network_.forward(x);
    std::array<tensor, network_type::slice_count> d_features;
    double value = 0;
    for (std::size_t i = 0; i < network_type::slice_count; ++i) {
      const tensor& f = ctx.features[i];
      const double count = static_cast<double>(f.numel());
      value += weights[i] * kernels::l1_distance_sum(f, target[i]) / count;
      d_features[i] = zeros<T, B>(f.shape());
      kernels::l1_distance_backward(f, target[i], static_cast<T>(static_cast<double>(scale) * weights[i] / count),
                                    d_features[i]);
    }
    network_.backward(ctx, d_features, dx, ParamGrads::skip);
    return value;
  }

  // The loss alone, for logging and evaluation.
  double value(const tensor& x, const tensor& y) {
    check_inputs(x, y);
    const auto fx = network_.features(x);
    const auto fy = network_.features(y);
    double v = 0;
    for (std::size_t i = 0; i < network_type::slice_count; ++i)
      v += weights[i] * kernels::l1_distance_sum(fx[i], fy[i]) / static_cast<double>(fx[i].numel());
    return v;
  }

  network_type& network() { return network_; }
  [[nodiscard]] std::string describe() const { return "VGGPerceptualLoss(" + network_.describe() + ")"; }

 private:
  void check_inputs(const tensor& x, const tensor& y) const {
    expect_shape(describe(), "target y (shaped like x)", x.shape(), y.shape());
  }

  network_type network_;
};

// The perceptual loss of a run: present when weights were given, and a line that
// says which.
template <class T, class B = cpu>
struct PerceptualLossSetup {
  std::optional<VGGPerceptualLoss<T, B>> loss;
  std::string message;
  [[nodiscard]] bool enabled() const { return loss.has_value(); }
};

inline constexpr const char* vgg_weights_missing_message = "VGG19 weights not given: perceptual loss disabled";

// An empty path turns the loss off (with vgg_weights_missing_message). A path that
// is given must be a readable VGG19 weight file: a typo is an error, not a quietly
// disabled loss.
template <class T, class B = cpu>
PerceptualLossSetup<T, B> load_vgg_perceptual_loss(const std::filesystem::path& weights_file,
                                                   const VGG19Options& options = {}) {
  if (weights_file.empty()) return {std::nullopt, vgg_weights_missing_message};
  Generator unused_init(0);  // every weight is replaced by the file's
  VGG19<T, B> network(options, unused_init);
  network.load_weights(weights_file);
  return {VGGPerceptualLoss<T, B>(std::move(network)),
          "VGG19 perceptual loss enabled, weights from " + weights_file.string()};
}

}  // namespace sbgan
