#pragma once
// NearestUpsample: nearest-neighbour upsampling by an integer factor (2 in
// SB-GAN's generators). Linear in x, so the second-order pass only maps the
// cotangent: dgy += upsample(w).
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class NearestUpsample : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    Shape input_shape;
    tensor output;
  };

  explicit NearestUpsample(index_t scale = 2) : scale_(scale) {
    if (scale < 1) throw error("NearestUpsample: scale must be at least 1");
  }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() != 4) throw shape_error(describe(), "input", "[N, C, H, W]", in);
    return Shape{in.n(), in.c(), in.h() * scale_, in.w() * scale_};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::resize_nearest(x, y);
    return {x.shape(), y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    kernels::resize_nearest_backward(dy, dx);
  }

  void backward_second(const context& ctx, const tensor&, const tensor& w, tensor&, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "second-order cotangent", ctx.input_shape, w.shape());
    tensor w_up(ctx.output.shape());
    kernels::resize_nearest(w, w_up);
    kernels::axpy(T(1), w_up, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const { return "NearestUpsample(x" + std::to_string(scale_) + ")"; }

 private:
  index_t scale_;
};

}  // namespace sbgan
