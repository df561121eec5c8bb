#pragma once
// The blocks of SB-GAN's progressive critic D_SB (reference §4), each with its own
// fromSeg head ("from_mask": 1x1 equalized conv, gain 1, then leaky ReLU) through
// which the layout enters when the block is the first one active.
//
// ProGanCriticBlock: EqualizedConv 3x3 (pad 1) C_in->C_in -> leaky ReLU ->
//   EqualizedConv 3x3 C_in->C_out -> leaky ReLU -> AvgPool 2x2, halving the map.
//   Parameters: from_mask.*, conv1.*, conv2.*
// ProGanCriticFinalBlock, on the base map h0 x aspect·h0:
//   [minibatch stddev, optional: ProGAN has it, the official code does not] ->
//   EqualizedConv 3x3, stride (1, aspect), pad 1 (C (+1) -> C): h0 x h0 ->
//   leaky ReLU -> EqualizedConv h0 x h0, valid (C -> C): 1x1 -> leaky ReLU ->
//   flatten -> EqualizedLinear C -> 1 (gain √2, as the reference; ProGAN uses 1).
//   Parameters: from_mask.*, conv1.*, conv2.*, fc3.*
// Leaky ReLU slope 0.2, convolution gain √2. Both are second-order layers: a
// critic of WGAN-GP differentiates its input gradient.
#include <numbers>
#include <optional>
#include <string>

#include "sbgan/blocks/progan_chain.hpp"
#include "sbgan/blocks/progan_from_seg.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/avg_pool2d.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/equalized_conv2d.hpp"
#include "sbgan/layers/equalized_linear.hpp"
#include "sbgan/layers/flatten.hpp"
#include "sbgan/layers/leaky_relu.hpp"
#include "sbgan/layers/minibatch_stddev.hpp"
#include "sbgan/layers/sequential.hpp"

namespace sbgan {

namespace progan_detail {
// Throws unless the second-order pass's tensors match the pass that made ctx.
template <class Tensor>
void expect_second_order_shapes(const std::string& who, const Shape& in, const Shape& out, const Tensor& gy,
                                const Tensor& w, const Tensor& dx, const Tensor& dgy) {
  expect_shape(who, "output gradient", out, gy.shape());
  expect_shape(who, "second-order cotangent", in, w.shape());
  expect_shape(who, "input-gradient term", in, dx.shape());
  expect_shape(who, "output-gradient cotangent", out, dgy.shape());
}
}  // namespace progan_detail

struct ProGanCriticBlockOptions {
  index_t classes = 0;  // K, the fromSeg head's input
  index_t in_channels = 0;
  index_t out_channels = 0;
};

template <class T, class B = cpu>
class ProGanCriticBlock : public layer_types<T, B> {
  using body_type = Sequential<EqualizedConv2d<T, B>, LeakyReLU<T, B>, EqualizedConv2d<T, B>, LeakyReLU<T, B>,
                               AvgPool2d<T, B>>;

 public:
  using tensor = Tensor<T, B>;
  using context = typename body_type::context;

  ProGanCriticBlock(const ProGanCriticBlockOptions& o, Generator& init)
      : options_(checked(o)),
        from_seg_(o.classes, o.in_channels, init),
        body_(EqualizedConv2d<T, B>({o.in_channels, o.in_channels, Window2d::square(3, 1, 1)}, init),
              LeakyReLU<T, B>(T(0.2)),
              EqualizedConv2d<T, B>({o.in_channels, o.out_channels, Window2d::square(3, 1, 1)}, init),
              LeakyReLU<T, B>(T(0.2)), AvgPool2d<T, B>::halve()) {}

  [[nodiscard]] const ProGanCriticBlockOptions& options() const { return options_; }
  ProGanFromSeg<T, B>& from_seg() { return from_seg_; }
  EqualizedConv2d<T, B>& conv1() { return body_.template get<0>(); }
  EqualizedConv2d<T, B>& conv2() { return body_.template get<2>(); }

  context forward(const tensor& x) {
    if (x.shape().rank() != 4 || x.shape().c() != options_.in_channels || x.shape().h() < 2 || x.shape().w() < 2)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.in_channels) + ", H, W] with H, W at least 2",
                        x.shape());
    return body_.forward(x);
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    body_.backward(ctx, dy, dx, grads);  // checks dy and dx before writing
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                       ParamGrads grads) {
    progan_detail::expect_second_order_shapes(describe(), ctx.input_shape, ctx.output.shape(), gy, w, dx, dgy);
    body_.backward_second(ctx, gy, w, dx, dgy, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    progan_detail::visit_prefixed(from_seg_, "from_mask.", f);
    progan_detail::visit_prefixed(conv1(), "conv1.", f);
    progan_detail::visit_prefixed(conv2(), "conv2.", f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProGanCriticBlock(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.out_channels) +
           ")";
  }

 private:
  static const ProGanCriticBlockOptions& checked(const ProGanCriticBlockOptions& o) {
    if (o.classes <= 0 || o.in_channels <= 0 || o.out_channels <= 0)
      throw error("ProGanCriticBlock: classes and channels must be positive");
    return o;
  }

  ProGanCriticBlockOptions options_;
  ProGanFromSeg<T, B> from_seg_;
  body_type body_;
};

struct ProGanCriticFinalBlockOptions {
  index_t classes = 0;          // K, the fromSeg head's input
  index_t channels = 0;         // C, in and out of both convolutions
  index_t height = 4;           // h0: the input is h0 x aspect·h0, the second conv h0 x h0
  index_t aspect = 1;           // the first conv's horizontal stride
  index_t minibatch_group = 0;  // minibatch-stddev group size; 0: no such layer
};

template <class T, class B = cpu>
class ProGanCriticFinalBlock : public layer_types<T, B> {
  using body_type = Sequential<EqualizedConv2d<T, B>, LeakyReLU<T, B>, EqualizedConv2d<T, B>, LeakyReLU<T, B>,
                               Flatten<T, B>, EqualizedLinear<T, B>>;
  using stddev_type = MinibatchStddev<T, B>;

 public:
  using tensor = Tensor<T, B>;
  struct context {
    typename stddev_type::context stddev;  // when the block has the layer
    typename body_type::context body;
    tensor output;
  };

  ProGanCriticFinalBlock(const ProGanCriticFinalBlockOptions& o, Generator& init)
      : options_(checked(o)),
        from_seg_(o.classes, o.channels, init),
        body_(EqualizedConv2d<T, B>({o.channels + (o.minibatch_group > 0 ? 1 : 0), o.channels,
                                     Window2d{3, 3, 1, o.aspect, 1, 1}},
                                    init),
              LeakyReLU<T, B>(T(0.2)),
              EqualizedConv2d<T, B>({o.channels, o.channels, Window2d::square(o.height)}, init),
              LeakyReLU<T, B>(T(0.2)), Flatten<T, B>(),
              EqualizedLinear<T, B>({o.channels, 1, std::numbers::sqrt2}, init)) {
    if (o.minibatch_group > 0) stddev_.emplace(o.minibatch_group);
  }

  [[nodiscard]] const ProGanCriticFinalBlockOptions& options() const { return options_; }
  [[nodiscard]] bool has_minibatch_stddev() const { return stddev_.has_value(); }
  ProGanFromSeg<T, B>& from_seg() { return from_seg_; }
  EqualizedConv2d<T, B>& conv1() { return body_.template get<0>(); }
  EqualizedConv2d<T, B>& conv2() { return body_.template get<2>(); }
  EqualizedLinear<T, B>& fc3() { return body_.template get<5>(); }

  [[nodiscard]] Shape input_shape(index_t batch) const {
    return Shape{batch, options_.channels, options_.height, options_.aspect * options_.height};
  }

  context forward(const tensor& x) {
    const Shape& s = x.shape();
    if (s.rank() != 4 || !(s == input_shape(s.n())))
      throw shape_error(describe(), "input",
                        "[N, " + std::to_string(options_.channels) + ", " + std::to_string(options_.height) + ", " +
                            std::to_string(options_.aspect * options_.height) + "]",
                        s);
    context ctx;
    if (stddev_) {
      ctx.stddev = stddev_->forward(x);
      ctx.body = body_.forward(ctx.stddev.output);
    } else {
      ctx.body = body_.forward(x);
    }
    ctx.output = ctx.body.output;
    return ctx;
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", input_of(ctx), dx.shape());
    if (stddev_)
      progan_detail::chain_backward(*stddev_, ctx.stddev, body_, ctx.body, dy, dx, grads);
    else
      body_.backward(ctx.body, dy, dx, grads);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                       ParamGrads grads) {
    progan_detail::expect_second_order_shapes(describe(), input_of(ctx), ctx.output.shape(), gy, w, dx, dgy);
    if (stddev_)
      progan_detail::chain_backward_second(*stddev_, ctx.stddev, body_, ctx.body, gy, w, dx, dgy, grads);
    else
      body_.backward_second(ctx.body, gy, w, dx, dgy, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    progan_detail::visit_prefixed(from_seg_, "from_mask.", f);
    progan_detail::visit_prefixed(conv1(), "conv1.", f);
    progan_detail::visit_prefixed(conv2(), "conv2.", f);
    progan_detail::visit_prefixed(fc3(), "fc3.", f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProGanCriticFinalBlock(" + std::to_string(options_.channels) + " channels on " +
           std::to_string(options_.height) + "x" + std::to_string(options_.aspect * options_.height) +
           (options_.minibatch_group > 0 ? ", minibatch stddev group " + std::to_string(options_.minibatch_group) : "") +
           ")";
  }

 private:
  static const ProGanCriticFinalBlockOptions& checked(const ProGanCriticFinalBlockOptions& o) {
    if (o.classes <= 0 || o.channels <= 0 || o.height <= 0 || o.aspect <= 0 || o.minibatch_group < 0)
      throw error("ProGanCriticFinalBlock: classes, channels, height and aspect must be positive");
    return o;
  }

  Shape input_of(const context& ctx) const {
    return stddev_ ? ctx.stddev.input.shape() : ctx.body.input_shape;
  }

  ProGanCriticFinalBlockOptions options_;
  ProGanFromSeg<T, B> from_seg_;
  body_type body_;
  std::optional<stddev_type> stddev_;
};

}  // namespace sbgan
