#pragma once
// MaxPool2d: the maximum of each window (padding never wins; PyTorch's rules,
// floor output size). VGG downsamples with the 2x2 stride-2 form, `halve()`.
// Second order: piecewise linear in x, so the pass only maps the cotangent,
// dgy += w gathered at each window's arg-max.
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/window.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class MaxPool2d : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;  // backward finds each window's arg-max again from it
    tensor output;
  };

  explicit MaxPool2d(const Window2d& window) : window_(window) {
    if (window.kernel_h < 1 || window.kernel_w < 1 || window.stride_h < 1 || window.stride_w < 1 ||
        window.pad_h < 0 || window.pad_w < 0 || 2 * window.pad_h > window.kernel_h || 2 * window.pad_w > window.kernel_w)
      throw error("MaxPool2d(" + window.str() + "): kernel and stride must be positive, padding at most half the kernel");
  }
  // 2x2, stride 2: VGG's downsampling.
  static MaxPool2d halve() { return MaxPool2d(Window2d::square(2, 2, 0)); }

  [[nodiscard]] const Window2d& window() const { return window_; }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() != 4 || !window_.fits(in.h(), in.w()))
      throw shape_error(describe(), "input", "[N, C, H, W] with H, W at least the window", in);
    return Shape{in.n(), in.c(), window_.out_h(in.h()), window_.out_w(in.w())};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::max_pool2d_forward(x, window_, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::max_pool2d_backward(ctx.input, dy, window_, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    expect_shape(describe(), "output-gradient cotangent", ctx.output.shape(), dgy.shape());
    kernels::max_pool2d_second(ctx.input, w, window_, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "MaxPool2d(" + window_.str() + ")"; }

 private:
  Window2d window_;
};

}  // namespace sbgan
