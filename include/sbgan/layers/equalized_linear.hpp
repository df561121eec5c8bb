#pragma once
// EqualizedLinear: ProGAN's equalized-learning-rate fully connected layer.
//
// The stored weight [F_out, F_in] is drawn N(0, 1) and multiplied at run time by
// c = gain/√F_in; the bias starts at 0 and is not scaled. "weight" and "bias" are
// the stored tensors, as in the reference state dicts. A rank-4 input is
// flattened per sample, as x.view(N, -1) does.
//
//   y = x·(c·W)ᵀ + b,   dx += dy·(c·W),   dW += c·dyᵀ·x,   db += Σ_n dy
// Second order: ∂Q/∂x = 0, ∂Q/∂gy = w·(c·W)ᵀ, ∂Q/∂W = c·gyᵀ·w, ∂Q/∂b = 0.
#include <cmath>
#include <numbers>
#include <sstream>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct EqualizedLinearOptions {
  index_t in_features = 0;
  index_t out_features = 0;
  double gain = std::numbers::sqrt2;
  bool bias = true;
};

template <class T, class B = cpu>
class EqualizedLinear : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;
    tensor output;
  };

  EqualizedLinear(const EqualizedLinearOptions& options, Generator& init)
      : options_(options), weight_(Shape{options.out_features, options.in_features}) {
    if (options.in_features <= 0 || options.out_features <= 0 || !(options.gain > 0))
      throw error(describe() + ": feature counts and gain must be positive");
    scale_ = static_cast<T>(options.gain / std::sqrt(static_cast<double>(options.in_features)));
    init.normal(weight_.value);
    if (options.bias) bias_ = Parameter<T, B>(Shape{options.out_features});  // zeros
  }

  [[nodiscard]] const EqualizedLinearOptions& options() const { return options_; }
  // The run-time weight multiplier gain/√fan_in.
  [[nodiscard]] T scale() const { return scale_; }
  Parameter<T, B>& weight() { return weight_; }
  Parameter<T, B>& bias() { return bias_; }
  [[nodiscard]] bool has_bias() const { return options_.bias; }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() < 2 || in.per_sample() != options_.in_features)
      throw shape_error(describe(), "input",
                        "[N, " + std::to_string(options_.in_features) + "] (or [N, C, H, W] with C·H·W = " +
                            std::to_string(options_.in_features) + ")",
                        in);
    return Shape{in.n(), options_.out_features};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::linear_forward(x, scaled_weight(), options_.bias ? &bias_.value : nullptr, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::linear_backward_data(dy, scaled_weight(), dx);
    if (grads == ParamGrads::accumulate) add_weight_gradient(ctx.input, dy, options_.bias ? &bias_.grad : nullptr);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads grads) {
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "output-gradient cotangent", ctx.output.shape(), dgy.shape());
    tensor w_mapped(ctx.output.shape());
    kernels::linear_forward(w, scaled_weight(), static_cast<const tensor*>(nullptr), w_mapped);
    kernels::axpy(T(1), w_mapped, dgy);
    if (grads == ParamGrads::accumulate) add_weight_gradient(w, gy, nullptr);
  }

  template <class F>
  void visit_parameters(F&& f) {
    f("weight", weight_);
    if (options_.bias) f("bias", bias_);
  }

  [[nodiscard]] std::string describe() const {
    std::ostringstream gain;
    gain << options_.gain;
    return "EqualizedLinear(" + std::to_string(options_.in_features) + "->" + std::to_string(options_.out_features) +
           ", gain " + gain.str() + ")";
  }

 private:
  tensor scaled_weight() const {
    tensor w = clone(weight_.value);
    kernels::scale(w, scale_);
    return w;
  }

  // weight.grad += c·dyᵀ·x; the bias gradient (when given) is unscaled.
  void add_weight_gradient(const tensor& x, const tensor& dy, tensor* dbias) {
    tensor dw = zeros<T, B>(weight_.value.shape());
    kernels::linear_backward_weights(x, dy, dw, dbias);
    kernels::axpy(scale_, dw, weight_.grad);
  }

  EqualizedLinearOptions options_;
  T scale_{};
  Parameter<T, B> weight_;
  Parameter<T, B> bias_;
};

}  // namespace sbgan
