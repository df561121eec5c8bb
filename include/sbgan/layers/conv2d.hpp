#pragma once
// Conv2d: y = W ⋆ x + b, PyTorch's layout and default initialisation
// (weights and bias uniform in ±1/√fan_in).
//
// Second order: gₓ = Wᵀ ⋆ gy is bilinear in (W, gy) and does not depend on x, so
// for Q = ⟨gₓ, w⟩:  ∂Q/∂x = 0,  ∂Q/∂gy = W ⋆ w,  ∂Q/∂W = weight-gradient(w, gy),
// ∂Q/∂b = 0 — the same three convolutions as the first-order pass, on swapped
// operands.
#include <cmath>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/window.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct Conv2dOptions {
  index_t in_channels = 0;
  index_t out_channels = 0;
  index_t kernel = 3;
  index_t stride = 1;
  index_t padding = 0;
  bool bias = true;
};

template <class T, class B = cpu>
class Conv2d : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;
    tensor output;
  };

  Conv2d(const Conv2dOptions& options, Generator& init)
      : options_(options),
        window_(Window2d::square(options.kernel, options.stride, options.padding)),
        weight_(Shape{options.out_channels, options.in_channels, options.kernel, options.kernel}) {
    if (options.in_channels <= 0 || options.out_channels <= 0 || options.kernel <= 0 || options.stride <= 0 ||
        options.padding < 0)
      throw error(describe() + ": channels, kernel and stride must be positive, padding non-negative");
    const T bound = T(1) / std::sqrt(static_cast<T>(options.in_channels * options.kernel * options.kernel));
    init.uniform(weight_.value, -bound, bound);
    if (options.bias) {
      bias_ = Parameter<T, B>(Shape{options.out_channels});
      init.uniform(bias_.value, -bound, bound);
    }
  }

  [[nodiscard]] const Conv2dOptions& options() const { return options_; }
  Parameter<T, B>& weight() { return weight_; }
  Parameter<T, B>& bias() { return bias_; }
  [[nodiscard]] bool has_bias() const { return options_.bias; }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() != 4 || in.c() != options_.in_channels)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.in_channels) + ", H, W]", in);
    if (!window_.fits(in.h(), in.w()))
      throw shape_error(describe(), "input", "[N, C, H, W] with H, W at least the kernel minus padding", in);
    return Shape{in.n(), options_.out_channels, window_.out_h(in.h()), window_.out_w(in.w())};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::conv2d_forward(x, weight_.value, options_.bias ? &bias_.value : nullptr, window_, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::conv2d_backward_data(dy, weight_.value, window_, dx);
    if (grads == ParamGrads::accumulate)
      kernels::conv2d_backward_weights(ctx.input, dy, window_, weight_.grad, options_.bias ? &bias_.grad : nullptr);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads grads) {
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    tensor w_conv(ctx.output.shape());
    kernels::conv2d_forward(w, weight_.value, static_cast<const tensor*>(nullptr), window_, w_conv);
    kernels::axpy(T(1), w_conv, dgy);
    if (grads == ParamGrads::accumulate)
      kernels::conv2d_backward_weights(w, gy, window_, weight_.grad, static_cast<tensor*>(nullptr));
  }

  template <class F>
  void visit_parameters(F&& f) {
    f("weight", weight_);
    if (options_.bias) f("bias", bias_);
  }

  [[nodiscard]] std::string describe() const {
    return "Conv2d(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.out_channels) + ", " +
           window_.str() + ")";
  }

 private:
  Conv2dOptions options_;
  Window2d window_;
  Parameter<T, B> weight_;
  Parameter<T, B> bias_;
};

}  // namespace sbgan
