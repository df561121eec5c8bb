#pragma once
// AvgPool2d: average pooling; padding is never counted in the divisor
// (count_include_pad=False). The two forms SB-GAN uses have named constructors.
// Linear in x, so the second-order pass only maps the cotangent: dgy += pool(w).
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/window.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class AvgPool2d : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    Shape input_shape;
    tensor output;
  };

  explicit AvgPool2d(const Window2d& window) : window_(window) {
    if (window.kernel_h < 1 || window.kernel_w < 1 || window.stride_h < 1 || window.stride_w < 1 ||
        window.pad_h < 0 || window.pad_w < 0 || 2 * window.pad_h > window.kernel_h || 2 * window.pad_w > window.kernel_w)
      throw error("AvgPool2d(" + window.str() + "): kernel and stride must be positive, padding at most half the kernel");
  }
  // 2x2, stride 2: the ProGAN critic's downsampling.
  static AvgPool2d halve() { return AvgPool2d(Window2d::square(2, 2, 0)); }
  // 3x3, stride 2, pad 1: the multiscale discriminator's downsampling.
  static AvgPool2d downsample3x3() { return AvgPool2d(Window2d::square(3, 2, 1)); }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() != 4 || !window_.fits(in.h(), in.w()))
      throw shape_error(describe(), "input", "[N, C, H, W] with H, W at least the window", in);
    return Shape{in.n(), in.c(), window_.out_h(in.h()), window_.out_w(in.w())};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::avg_pool2d_forward(x, window_, y);
    return {x.shape(), y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    kernels::avg_pool2d_backward(dy, window_, dx);
  }

  void backward_second(const context& ctx, const tensor&, const tensor& w, tensor&, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "second-order cotangent", ctx.input_shape, w.shape());
    tensor w_pooled(ctx.output.shape());
    kernels::avg_pool2d_forward(w, window_, w_pooled);
    kernels::axpy(T(1), w_pooled, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "AvgPool2d(" + window_.str() + ")"; }

 private:
  Window2d window_;
};

}  // namespace sbgan
