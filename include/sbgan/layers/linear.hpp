#pragma once
// Linear: y = x·Wᵀ + b on [N, F_in] (a rank-4 input is flattened per sample, as
// x.view(N, -1) does). PyTorch's layout and default initialisation.
// Second order, as for Conv2d: ∂Q/∂gy = w·Wᵀ, ∂Q/∂W = gyᵀ·w, no x or bias term.
#include <cmath>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct LinearOptions {
  index_t in_features = 0;
  index_t out_features = 0;
  bool bias = true;
};

template <class T, class B = cpu>
class Linear : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;
    tensor output;
  };

  Linear(const LinearOptions& options, Generator& init)
      : options_(options), weight_(Shape{options.out_features, options.in_features}) {
    if (options.in_features <= 0 || options.out_features <= 0)
      throw error(describe() + ": feature counts must be positive");
    const T bound = T(1) / std::sqrt(static_cast<T>(options.in_features));
    init.uniform(weight_.value, -bound, bound);
    if (options.bias) {
      bias_ = Parameter<T, B>(Shape{options.out_features});
      init.uniform(bias_.value, -bound, bound);
    }
  }

  [[nodiscard]] const LinearOptions& options() const { return options_; }
  Parameter<T, B>& weight() { return weight_; }
  Parameter<T, B>& bias() { return bias_; }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() < 2 || in.per_sample() != options_.in_features)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.in_features) + "] (or [N, C, H, W] with C·H·W = " +
                                                 std::to_string(options_.in_features) + ")",
                        in);
    return Shape{in.n(), options_.out_features};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    kernels::linear_forward(x, weight_.value, options_.bias ? &bias_.value : nullptr, y);
    return {x, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::linear_backward_data(dy, weight_.value, dx);
    if (grads == ParamGrads::accumulate)
      kernels::linear_backward_weights(ctx.input, dy, weight_.grad, options_.bias ? &bias_.grad : nullptr);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& /*dx: no term*/, tensor& dgy,
                       ParamGrads grads) {
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    tensor w_mapped(ctx.output.shape());
    kernels::linear_forward(w, weight_.value, static_cast<const tensor*>(nullptr), w_mapped);
    kernels::axpy(T(1), w_mapped, dgy);
    if (grads == ParamGrads::accumulate)
      kernels::linear_backward_weights(w, gy, weight_.grad, static_cast<tensor*>(nullptr));
  }

  template <class F>
  void visit_parameters(F&& f) {
    f("weight", weight_);
    if (options_.bias) f("bias", bias_);
  }

  [[nodiscard]] std::string describe() const {
    return "Linear(" + std::to_string(options_.in_features) + "->" + std::to_string(options_.out_features) + ")";
  }

 private:
  LinearOptions options_;
  Parameter<T, B> weight_;
  Parameter<T, B> bias_;
};

}  // namespace sbgan
