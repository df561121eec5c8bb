#pragma once
// Tanh: y = tanh(x). Its second derivative is not zero, so the second-order pass
// has an x term: ∂Q/∂x = −2·y·(1 − y²)·w·gy, and ∂Q/∂gy = (1 − y²)·w.
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class Tanh : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor output;
  };

  context forward(const tensor& x) {
    tensor y(x.shape());
    kernels::tanh_forward(x, y);
    return {y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
    kernels::tanh_backward(ctx.output, dy, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.output.shape(), w.shape());
    kernels::tanh_second(ctx.output, gy, w, dx, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "Tanh"; }
};

}  // namespace sbgan
