#pragma once
// LeakyReLU: y = x for x > 0, slope·x otherwise.
// Second order: gₓ = f'(x)·gy with f'' = 0 almost everywhere, so the pass only
// maps the cotangent, dgy += f'(x)·w, reusing the forward's sign mask.
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class LeakyReLU : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  // With a slope ≥ 0, y > 0 exactly where x > 0 (x = 0 and NaN included), so the
  // output alone carries the mask and the input is kept only for a negative slope:
  // the pre-activation of a conv → LReLU pair is not pinned until backward.
  struct context {
    Shape input_shape;
    tensor input;  // empty unless the slope is negative
    tensor output;
  };

  explicit LeakyReLU(T negative_slope = T(0.2)) : slope_(negative_slope) {}

  [[nodiscard]] T negative_slope() const { return slope_; }

  context forward(const tensor& x) {
    tensor y(x.shape());
    kernels::leaky_relu_forward(x, slope_, y);
    return {x.shape(), slope_ < T(0) ? x : tensor(), y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    kernels::leaky_relu_backward(mask_source(ctx), dy, slope_, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.input_shape, w.shape());
    kernels::leaky_relu_second(mask_source(ctx), w, slope_, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "LeakyReLU(" + std::to_string(slope_) + ")"; }

 private:
  // What leaky_relu_backward reads the sign of: the output unless the slope is negative.
  const tensor& mask_source(const context& ctx) const { return slope_ < T(0) ? ctx.input : ctx.output; }

  T slope_;
};

}  // namespace sbgan
