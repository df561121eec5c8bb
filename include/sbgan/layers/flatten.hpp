#pragma once
// Flatten: [N, C, H, W] -> [N, C·H·W], a view of the same memory (torch's
// x.view(N, -1)). Having it as a layer keeps Sequential's parameter names equal
// to a PyTorch nn.Sequential of the same modules.
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class Flatten : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    Shape input_shape;
    tensor output;
  };

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    if (x.shape().rank() < 1) throw shape_error(describe(), "input", "[N, ...]", x.shape());
    return {x.shape(), x.reshaped(Shape{x.shape().n(), x.shape().per_sample()})};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    kernels::axpy(T(1), dy.reshaped(ctx.input_shape), dx);
  }

  void backward_second(const context& ctx, const tensor&, const tensor& w, tensor&, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "second-order cotangent", ctx.input_shape, w.shape());
    kernels::axpy(T(1), w.reshaped(ctx.output.shape()), dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "Flatten"; }
};

}  // namespace sbgan
