#pragma once
// PixelNorm: normalizes each pixel's feature vector by its mean square over the
// channels (ProGAN's generator), in one of two forms chosen at compile time:
//   PixelNormForm::paper     y = x·rsqrt(mean_c x² + ε)   (the ProGAN paper)
//   PixelNormForm::official  y = x / (mean_c x² + ε)      (SB-GAN's code: no root, so
//                                                        a feature of RMS s leaves
//                                                        with RMS ≈ 1/s)
// ε = 1e-8. Accepts [N, C, H, W], or [N, C] for a latent vector.
// A generator-side layer: no second-order pass.
#include <sstream>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu, PixelNormForm Form = PixelNormForm::official>
class PixelNorm : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;
    tensor output;
  };
  static constexpr PixelNormForm form = Form;

  explicit PixelNorm(double epsilon = 1e-8) : epsilon_(epsilon) {
    if (!(epsilon >= 0)) throw error(describe() + ": epsilon must be non-negative");
  }

  [[nodiscard]] double epsilon() const { return epsilon_; }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    const Shape& s = x.shape();
    if ((s.rank() != 2 && s.rank() != 4) || s.numel() == 0)
      throw shape_error(describe(), "input", "[N, C, H, W] or [N, C], non-empty", s);
    tensor y(s);
    kernels::pixel_norm_forward<Form>(x, epsilon_, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::pixel_norm_backward<Form>(ctx.input, dy, epsilon_, dx);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const {
    std::ostringstream s;
    s << "PixelNorm(" << (Form == PixelNormForm::paper ? "x·rsqrt(mean x² + " : "x/(mean x² + ") << epsilon_
      << "))";
    return s.str();
  }

 private:
  double epsilon_;
};

}  // namespace sbgan
