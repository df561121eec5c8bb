#pragma once
// ChannelSoftmax: softmax over the channel axis at every pixel (torch's
// nn.Softmax2d), which turns the ProGAN toSeg head's logits into a per-pixel
// class distribution.
//   backward:  dx += y ⊙ (dy − ⟨y, dy⟩)
//   second order (backend/cpu/softmax_second.hpp): dgy += J·w, dx += J·q with
//   J = diag(y) − y·yᵀ and q = ∂Q/∂y, so it may sit in a critic as well.
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class ChannelSoftmax : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor output;  // the Jacobian needs only y
  };

  context forward(const tensor& x) {
    if (x.shape().rank() != 4 || x.shape().c() < 1)
      throw shape_error(describe(), "input", "[N, C, H, W] with C at least 1", x.shape());
    tensor y(x.shape());
    kernels::softmax_channels(x, y);
    return {y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
    kernels::softmax_channels_backward(ctx.output, dy, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.output.shape(), w.shape());
    expect_shape(describe(), "input-gradient term", ctx.output.shape(), dx.shape());
    expect_shape(describe(), "output-gradient cotangent", ctx.output.shape(), dgy.shape());
    kernels::softmax_channels_second(ctx.output, gy, w, dx, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "ChannelSoftmax"; }
};

}  // namespace sbgan
