#pragma once
// InstanceNorm: y = (x − μ)/√(var + ε) per (n, c) over H, W, biased variance, no
// affine parameters and no running statistics (torch.nn.InstanceNorm2d's
// defaults). It sits in the patch discriminator, so it has the second-order pass:
// the Jacobian of a plane is r·(I − 11ᵀ/M − y·yᵀ/M), and the pass differentiates
// it once more in x (backend/cpu/normalization.hpp has the algebra).
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct InstanceNormOptions {
  index_t channels = 0;  // 0 accepts any channel count (no parameters depend on it)
  double eps = 1e-5;
};

template <class T, class B = cpu>
class InstanceNorm : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor invstd;  // [N, C]
    tensor output;  // the normalized x, which backward reads instead of x
  };

  explicit InstanceNorm(const InstanceNormOptions& options = {}) : options_(options) {
    if (options.channels < 0 || !(options.eps >= 0)) throw error(describe() + ": channels and eps must not be negative");
  }

  [[nodiscard]] const InstanceNormOptions& options() const { return options_; }

  context forward(const tensor& x) {
    check_input(x.shape());
    const Shape stats{x.shape().n(), x.shape().c()};
    tensor mean(stats), var(stats), invstd(stats), y(x.shape());
    kernels::instance_moments(x, mean, var);
    kernels::inverse_std(var, static_cast<T>(options_.eps), invstd);
    kernels::normalize_forward(x, kernels::NormalizeOver::instance, mean, invstd, y);
    return {invstd, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
    kernels::normalize_backward(ctx.output, dy, kernels::NormalizeOver::instance, ctx.invstd, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.output.shape(), w.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
    expect_shape(describe(), "output gradient cotangent", ctx.output.shape(), dgy.shape());
    kernels::normalize_second(ctx.output, gy, w, kernels::NormalizeOver::instance, ctx.invstd, dx, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const {
    return "InstanceNorm(" + (options_.channels > 0 ? std::to_string(options_.channels) : std::string("any")) + ")";
  }

 private:
  void check_input(const Shape& in) const {
    const std::string c = options_.channels > 0 ? std::to_string(options_.channels) : "C";
    if (in.rank() != 4 || (options_.channels > 0 && in.c() != options_.channels))
      throw shape_error(describe(), "input", "[N, " + c + ", H, W]", in);
    // One value per plane has no variance; PyTorch refuses it too.
    if (in.h() * in.w() < 2) throw shape_error(describe(), "input", "[N, " + c + ", H, W] with H·W > 1", in);
  }

  InstanceNormOptions options_;
};

}  // namespace sbgan
