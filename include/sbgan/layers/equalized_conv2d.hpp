#pragma once
// EqualizedConv2d: ProGAN's equalized-learning-rate convolution.
//
// The stored weight is drawn N(0, 1) and multiplied at run time by
// c = gain/√fan_in (fan_in = C_in·kH·kW), so every layer's weights see updates of
// the same relative size under Adam; the bias starts at 0 and is not scaled.
// "weight" and "bias" are the stored tensors, as in the reference state dicts.
// The window may be non-square: the ProGAN critic's last block strides (1, aspect).
//
//   y = (c·W) ⋆ x + b,   dx += (c·W)ᵀ ⋆ dy,   dW += c·(dy ⋆ x),   db += Σ dy
// Second order, as for Conv2d with the weight c·W: ∂Q/∂x = 0, ∂Q/∂gy = (c·W) ⋆ w,
// ∂Q/∂W = c·(gy ⋆ w), ∂Q/∂b = 0.
// The existing convolution kernels run on a scaled copy of the weight (the weight
// is small next to the activations it multiplies).
#include <cmath>
#include <numbers>
#include <sstream>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/window.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct EqualizedConv2dOptions {
  index_t in_channels = 0;
  index_t out_channels = 0;
  Window2d window{};                   // kernel, stride, padding (default 1x1)
  double gain = std::numbers::sqrt2;   // ProGAN's default, for layers followed by leaky ReLU
  bool bias = true;
};

template <class T, class B = cpu>
class EqualizedConv2d : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;
    tensor output;
  };

  EqualizedConv2d(const EqualizedConv2dOptions& options, Generator& init)
      : options_(options),
        weight_(Shape{options.out_channels, options.in_channels, options.window.kernel_h, options.window.kernel_w}) {
    const Window2d& g = options.window;
    if (options.in_channels <= 0 || options.out_channels <= 0 || g.kernel_h <= 0 || g.kernel_w <= 0 ||
        g.stride_h <= 0 || g.stride_w <= 0 || g.pad_h < 0 || g.pad_w < 0 || !(options.gain > 0))
      throw error(describe() + ": channels, kernel, stride and gain must be positive, padding non-negative");
    scale_ = static_cast<T>(options.gain / std::sqrt(static_cast<double>(fan_in())));
    init.normal(weight_.value);
    if (options.bias) bias_ = Parameter<T, B>(Shape{options.out_channels});  // zeros
  }

  [[nodiscard]] const EqualizedConv2dOptions& options() const { return options_; }
  [[nodiscard]] index_t fan_in() const {
    return options_.in_channels * options_.window.kernel_h * options_.window.kernel_w;
  }
  // The run-time weight multiplier gain/√fan_in.
  [[nodiscard]] T scale() const { return scale_; }
  Parameter<T, B>& weight() { return weight_; }
  Parameter<T, B>& bias() { return bias_; }
  [[nodiscard]] bool has_bias() const { return options_.bias; }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    const Window2d& g = options_.window;
    if (in.rank() != 4 || in.c() != options_.in_channels)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.in_channels) + ", H, W]", in);
    if (!g.fits(in.h(), in.w()))
      throw shape_error(describe(), "input", "[N, C, H, W] with H, W at least the kernel minus padding", in);
    return Shape{in.n(), options_.out_channels, g.out_h(in.h()), g.out_w(in.w())};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::conv2d_forward(x, scaled_weight(), options_.bias ? &bias_.value : nullptr, options_.window, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::conv2d_backward_data(dy, scaled_weight(), options_.window, dx);
    if (grads == ParamGrads::accumulate) add_weight_gradient(ctx.input, dy, options_.bias ? &bias_.grad : nullptr);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads grads) {
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "output-gradient cotangent", ctx.output.shape(), dgy.shape());
    tensor w_conv(ctx.output.shape());
    kernels::conv2d_forward(w, scaled_weight(), static_cast<const tensor*>(nullptr), options_.window, w_conv);
    kernels::axpy(T(1), w_conv, dgy);
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
    return "EqualizedConv2d(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.out_channels) +
           ", " + options_.window.str() + ", gain " + gain.str() + ")";
  }

 private:
  tensor scaled_weight() const {
    tensor w = clone(weight_.value);
    kernels::scale(w, scale_);
    return w;
  }

  // weight.grad += c·(dy ⋆ x); the bias gradient (when given) is unscaled.
  void add_weight_gradient(const tensor& x, const tensor& dy, tensor* dbias) {
    tensor dw = zeros<T, B>(weight_.value.shape());
    kernels::conv2d_backward_weights(x, dy, options_.window, dw, dbias);
    kernels::axpy(scale_, dw, weight_.grad);
  }

  EqualizedConv2dOptions options_;
  T scale_{};
  Parameter<T, B> weight_;
  Parameter<T, B> bias_;
};

}  // namespace sbgan
