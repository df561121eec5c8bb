#pragma once
// BatchNorm without affine parameters (torch.nn.BatchNorm2d(C, affine=False)):
//  - training: per channel over N, H, W with the biased batch variance; the
//    running statistics move by momentum towards the batch mean and the UNBIASED
//    batch variance (M/(M − 1) times the biased one, M = N·H·W), and
//    num_batches_tracked counts the update, as PyTorch does;
//  - evaluation: the running statistics, so y is affine in x.
// Buffers, named as PyTorch's: running_mean [C] (starts at 0), running_var [C]
// (starts at 1), num_batches_tracked [1]. The count is kept in a tensor of the
// layer's scalar type so that every buffer of a network shares one type and
// backend; it is exact up to 2^24 batches in float (PyTorch stores int64).
//
// SPADE's generator uses it; the second-order pass exists too (same algebra as
// instance norm with a channel as the group, or a per-channel scale in evaluation).
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct BatchNormOptions {
  index_t channels = 0;
  double eps = 1e-5;
  double momentum = 0.1;
};

template <class T, class B = cpu>
class BatchNorm : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    bool batch_statistics = true;  // training mode when forward ran
    tensor invstd;                 // [C]
    tensor output;                 // the normalized x, which backward reads instead of x
  };

  explicit BatchNorm(const BatchNormOptions& options)
      : options_(options),
        running_mean_(zeros<T, B>(Shape{options.channels})),
        running_var_(full<T, B>(Shape{options.channels}, T(1))),
        num_batches_tracked_(zeros<T, B>(Shape{1})) {
    if (options.channels <= 0 || !(options.eps >= 0) || !(options.momentum >= 0 && options.momentum <= 1))
      throw error(describe() + ": channels must be positive, eps non-negative, momentum in [0, 1]");
  }

  [[nodiscard]] const BatchNormOptions& options() const { return options_; }
  [[nodiscard]] bool training() const { return training_; }
  void set_training(bool training) { training_ = training; }

  tensor& running_mean() { return running_mean_; }
  tensor& running_var() { return running_var_; }
  tensor& num_batches_tracked() { return num_batches_tracked_; }

  context forward(const tensor& x) {
    const Shape in = x.shape();
    if (in.rank() != 4 || in.c() != options_.channels)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.channels) + ", H, W]", in);
    const Shape stats{options_.channels};
    tensor invstd(stats), y(in);
    if (training_) {
      const index_t count = in.n() * in.h() * in.w();
      if (count < 2)
        throw shape_error(describe(), "input in training",
                          "[N, " + std::to_string(options_.channels) + ", H, W] with N·H·W > 1", in);
      tensor mean(stats), var(stats);
      kernels::channel_moments(x, mean, var);
      kernels::inverse_std(var, static_cast<T>(options_.eps), invstd);
      kernels::normalize_forward(x, kernels::NormalizeOver::channel, mean, invstd, y);
      const T momentum = static_cast<T>(options_.momentum);
      kernels::running_average(mean, momentum, T(1), running_mean_);
      kernels::running_average(var, momentum, static_cast<T>(double(count) / double(count - 1)), running_var_);
      kernels::add_scalar(num_batches_tracked_, T(1));
    } else {
      kernels::inverse_std(running_var_, static_cast<T>(options_.eps), invstd);
      kernels::normalize_forward(x, kernels::NormalizeOver::channel, running_mean_, invstd, y);
    }
    return {training_, invstd, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
    if (ctx.batch_statistics)
      kernels::normalize_backward(ctx.output, dy, kernels::NormalizeOver::channel, ctx.invstd, dx);
    else
      kernels::normalize_fixed_backward(dy, kernels::NormalizeOver::channel, ctx.invstd, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.output.shape(), w.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
    expect_shape(describe(), "output gradient cotangent", ctx.output.shape(), dgy.shape());
    if (ctx.batch_statistics)
      kernels::normalize_second(ctx.output, gy, w, kernels::NormalizeOver::channel, ctx.invstd, dx, dgy);
    else  // linear in x: no x term, and Jₓ·w is the same per-channel scale
      kernels::normalize_fixed_backward(w, kernels::NormalizeOver::channel, ctx.invstd, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  template <class F>
  void visit_buffers(F&& f) {
    f("running_mean", running_mean_);
    f("running_var", running_var_);
    f("num_batches_tracked", num_batches_tracked_);
  }

  [[nodiscard]] std::string describe() const { return "BatchNorm(" + std::to_string(options_.channels) + ")"; }

 private:
  BatchNormOptions options_;
  bool training_ = true;  // PyTorch modules start in training mode
  tensor running_mean_;
  tensor running_var_;
  tensor num_batches_tracked_;
};

}  // namespace sbgan
