#pragma once
// MinibatchStddev: ProGAN's minibatch standard deviation, which lets a critic see
// the variety of a batch. The batch is split into groups of G = min(group_size, N)
// samples (N must be a multiple of G); for each group, the standard deviation over
// the group of every feature (biased variance, ε = 1e-8 inside the root) is
// averaged over C, H, W into one scalar, appended as one more channel and
// replicated over H, W: [N, C, H, W] -> [N, C + 1, H, W].
//
// Groups are formed as ProGAN's reshape to [G, M, C, H, W] forms them: with
// M = N/G, group m holds samples m, m + M, …, m + (G−1)·M (not consecutive ones).
//
// It sits in a critic, so it has a second-order pass; the stddev is not linear in
// x, so that pass has an x term (derived in backend/cpu/minibatch_stddev.hpp).
#include <algorithm>
#include <sstream>
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <class T, class B = cpu>
class MinibatchStddev : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  struct context {
    tensor input;
    index_t group = 0;  // the group size used
    tensor output;
  };

  explicit MinibatchStddev(index_t group_size = 4, double epsilon = 1e-8)
      : group_size_(group_size), epsilon_(epsilon) {
    if (group_size < 1 || !(epsilon >= 0))
      throw error(describe() + ": group size must be positive, epsilon non-negative");
  }

  [[nodiscard]] index_t group_size() const { return group_size_; }
  // The group size for a batch of n: min(group_size, n).
  [[nodiscard]] index_t group_for(index_t n) const { return std::min(group_size_, n); }

  [[nodiscard]] Shape output_shape(const Shape& in) const {
    if (in.rank() != 4 || in.numel() == 0)
      throw shape_error(describe(), "input", "[N, C, H, W], non-empty", in);
    if (in.n() % group_for(in.n()) != 0)
      throw shape_error(describe(), "input",
                        "[N, C, H, W] with N a multiple of the group size " + std::to_string(group_for(in.n())), in);
    return Shape{in.n(), in.c() + 1, in.h(), in.w()};
  }

  static constexpr bool backward_reads_output = false;  // only its shape

  context forward(const tensor& x) {
    tensor y(output_shape(x.shape()));
    const index_t group = group_for(x.shape().n());
    kernels::minibatch_stddev_forward(x, group, epsilon_, y);
    return {x, group, y};
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input.shape(), dx.shape());
    kernels::minibatch_stddev_backward(ctx.input, dy, ctx.group, epsilon_, dx);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy, ParamGrads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.input.shape(), w.shape());
    expect_shape(describe(), "input-gradient term", ctx.input.shape(), dx.shape());
    expect_shape(describe(), "output-gradient cotangent", ctx.output.shape(), dgy.shape());
    kernels::minibatch_stddev_second(ctx.input, gy, w, ctx.group, epsilon_, dx, dgy);
  }

  template <class F>
  void visit_parameters(F&&) {}

  [[nodiscard]] std::string describe() const {
    std::ostringstream s;
    s << "MinibatchStddev(group " << group_size_ << ", epsilon " << epsilon_ << ")";
    return s.str();
  }

 private:
  index_t group_size_;
  double epsilon_;
};

}  // namespace sbgan
