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
  struct context {
    tensor input;
    tensor output;
  };

  explicit LeakyReLU(T negative_slope = T(0.2)) : slope_(negative_slope) {}

  [[nodiscard]] T negative_slope() const { return slope_; }

  context forward(const tensor& x) {
    tensor y(x.shape());
    kernels::leaky_relu_forward(x, slope_, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::leaky_relu_backward(ctx.input, dy, slope_, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    kernels::leaky_relu_second(ctx.input, w, slope_, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "LeakyReLU(" + std::to_string(slope_) + ")"; }

 private:
  T slope_;
};

}  // namespace sbgan
