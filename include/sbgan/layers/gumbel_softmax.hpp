#pragma once
// GumbelSoftmaxST: the straight-through Gumbel-softmax sampler that turns the layout
// generator's per-pixel class probabilities p [N, K, H, W] into a one-hot layout
// (reference §3.3):
//   ℓ = log(p + ε),   y_soft = softmax_c((ℓ + g)/τ),   output = one-hot(argmax_c y_soft)
// The output is exactly one-hot. backward is the gradient of ⟨y_soft, dy⟩ with respect
// to p with the noise held fixed, which is what the reference's
// y_hard − stopgrad(y_soft) + y_soft back-propagates. (That sum's value is the same
// one-hot: fl(fl(1 − s) + s) = 1 and (0 − s) + s = 0 for s in [0, 1].)
//
// Noise: g is Generator::gumbel's stream, −log(−log u) with u uniform in the open
// (0, 1) of philox::to_unit_open. The reference draws −log(E + 1e-10), E ~ Exp(1); its
// 1e-10 only keeps log(0) away when the sampler returns E = 0, which cannot happen
// here (E = −log u ≥ 6e-8), and keeping Generator::gumbel's definition lets the CPU,
// a GPU and Generator::gumbel itself produce the same noise from one state.
//
// The layer owns its Generator: layers are values (Sequential holds them by value and
// they can be copied), a reference would tie the sampler's lifetime to someone else's
// generator, and a generator shared with other layers would make this noise depend on
// how many draws they made. generator() exposes (seed, stream, offset) for checkpoints.
// A copy of the layer copies the generator too, so the copy repeats the same noise.
//
// Modes: sample (Gumbel noise, straight-through gradient) and argmax (one-hot(argmax p),
// no noise drawn, no gradient: the reference's inference sampler). set_training(bool)
// switches them together with the rest of a model; set_mode picks one explicitly, which
// a trainer needs because the reference also uses the noise-free sampler during
// training (the fake layouts of D2 pre-training). The last call wins.
//
// Since τ > 0 does not move the argmax, τ changes only the gradient, never the sample.
#include <sstream>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct GumbelSoftmaxOptions {
  double temperature = 1.0;  // τ, the reference's --T
  double epsilon = 1e-5;     // ε in log(p + ε)
};

enum class GumbelSoftmaxMode {
  sample,  // Gumbel noise; one-hot forward, straight-through backward (training)
  argmax   // one-hot(argmax p) without noise (inference)
};

template <class T, class B = cpu>
class GumbelSoftmaxST : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;        // p, for the 1/(p + ε) of the logarithm
    tensor soft;         // y_soft; empty after an argmax-mode forward
    T temperature = 1;   // τ of this forward (set_temperature may change it later)
    tensor output;       // the one-hot sample
  };

  explicit GumbelSoftmaxST(Generator noise, const GumbelSoftmaxOptions& options = {})
      : noise_(noise), epsilon_(static_cast<T>(options.epsilon)) {
    set_temperature(options.temperature);
    if (!(options.epsilon >= 0)) throw error(describe() + ": epsilon must be non-negative");
  }

  [[nodiscard]] T temperature() const { return temperature_; }
  [[nodiscard]] T epsilon() const { return epsilon_; }
  // For temperature schedules; contexts keep the τ of their own forward.
  void set_temperature(double tau) {
    if (!(tau > 0)) throw error("GumbelSoftmaxST: temperature must be positive, got " + std::to_string(tau));
    temperature_ = static_cast<T>(tau);
  }

  [[nodiscard]] GumbelSoftmaxMode mode() const { return mode_; }
  void set_mode(GumbelSoftmaxMode mode) { mode_ = mode; }
  void set_training(bool training) { mode_ = training ? GumbelSoftmaxMode::sample : GumbelSoftmaxMode::argmax; }

  // The noise source; its (seed, stream, offset) is the state a checkpoint stores.
  Generator& generator() { return noise_; }
  [[nodiscard]] const Generator& generator() const { return noise_; }

  // Sample mode: draws p.numel() Gumbel values (Generator::gumbel's blocks for that
  // shape). Argmax mode: draws nothing.
  context forward(const tensor& p) {
    check_input(p.shape());
    if (mode_ == GumbelSoftmaxMode::argmax) {
      tensor hard(p.shape());
      kernels::one_hot_argmax_channels(p, hard);
      return {p, tensor(), temperature_, hard};
    }
    tensor soft(p.shape()), hard(p.shape());
    kernels::gumbel_softmax_st_forward(p, noise_.take(philox::blocks_for_uniform(static_cast<std::uint64_t>(p.numel()))),
                                       temperature_, epsilon_, soft, hard);
    return {p, soft, temperature_, hard};
  }

  // A sample with the Gumbel noise given (shape of p), in either mode and without
  // touching the generator: how tests reproduce a reference run exactly.
  context forward_with_noise(const tensor& p, const tensor& noise) {
    check_input(p.shape());
    expect_shape(describe(), "noise", p.shape(), noise.shape());
    tensor soft(p.shape()), hard(p.shape());
    kernels::gumbel_softmax_st_forward(p, noise, temperature_, epsilon_, soft, hard);
    return {p, soft, temperature_, hard};
  }

  // dp += ∂⟨y_soft, dy⟩/∂p. No parameters, so `grads` has nothing to act on.
  void backward(const context& ctx, const tensor& dy, tensor& dp, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dp.shape());
    if (ctx.soft.empty())
      throw error(describe() + ": backward needs a sampled forward; an argmax-mode forward has no gradient");
    kernels::gumbel_softmax_st_backward(ctx.input, ctx.soft, dy, ctx.temperature, epsilon_, dp);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const {
    std::ostringstream s;
    s << "GumbelSoftmaxST(tau " << temperature_ << ", eps " << epsilon_ << ", "
      << (mode_ == GumbelSoftmaxMode::sample ? "sample" : "argmax") << ")";
    return s.str();
  }

 private:
  void check_input(const Shape& s) const {
    if (s.rank() != 4 || s.c() < 1) throw shape_error(describe(), "input", "[N, K, H, W] with K >= 1", s);
  }

  Generator noise_;
  T epsilon_;
  T temperature_ = 1;
  GumbelSoftmaxMode mode_ = GumbelSoftmaxMode::sample;
};

}  // namespace sbgan
