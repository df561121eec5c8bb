#pragma once
// The blocks of SB-GAN's progressive layout generator (reference §3), each with its
// own toSeg head ("to_mask") that turns its features into a K-class layout.
//
// ProGanInitialBlock: z [N, latent] -> pixel norm -> EqualizedLinear to C·h0·w0
//   (gain √2/4) -> reshape to [N, C, h0, w0] (channel-major) -> leaky ReLU ->
//   pixel norm -> EqualizedConv 3x3 (pad 1) -> leaky ReLU -> pixel norm.
//   Parameters: fc1.*, conv2.*, to_mask.*
// ProGanUpBlock: nearest x2 -> EqualizedConv 3x3 -> leaky ReLU -> pixel norm ->
//   EqualizedConv 3x3 -> leaky ReLU -> pixel norm.
//   Parameters: conv1.*, conv2.*, to_mask.*
// Leaky ReLU slope 0.2, convolution gain √2. Generator-side: first order only
// (pixel norm has no second-order pass). The pixel-norm form is a template
// argument; the official code's form is the default.
#include <numbers>
#include <string>

#include "sbgan/blocks/progan_chain.hpp"
#include "sbgan/blocks/progan_to_seg.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/equalized_conv2d.hpp"
#include "sbgan/layers/equalized_linear.hpp"
#include "sbgan/layers/leaky_relu.hpp"
#include "sbgan/layers/nearest_upsample.hpp"
#include "sbgan/layers/pixel_norm.hpp"
#include "sbgan/layers/sequential.hpp"

namespace sbgan {

struct ProGanInitialBlockOptions {
  index_t latent = 512;    // z's size
  index_t channels = 512;  // feature channels out
  index_t classes = 0;     // K, the toSeg head's output
  index_t height = 4;      // the first feature map, h0 x w0
  index_t width = 4;
};

template <class T, class B = cpu, PixelNormForm Form = PixelNormForm::official>
class ProGanInitialBlock : public layer_types<T, B> {
  using head_type = Sequential<PixelNorm<T, B, Form>, EqualizedLinear<T, B>>;
  using tail_type = Sequential<LeakyReLU<T, B>, PixelNorm<T, B, Form>, EqualizedConv2d<T, B>, LeakyReLU<T, B>,
                               PixelNorm<T, B, Form>>;

 public:
  using tensor = Tensor<T, B>;
  struct context {
    typename head_type::context head;  // pixel norm and fc1, output [N, C·h0·w0]
    typename tail_type::context tail;  // on the reshaped map
    tensor output;
  };

  ProGanInitialBlock(const ProGanInitialBlockOptions& o, Generator& init)
      : options_(checked(o)),
        head_(PixelNorm<T, B, Form>(),
              EqualizedLinear<T, B>({o.latent, o.channels * o.height * o.width, std::numbers::sqrt2 / 4}, init)),
        tail_(LeakyReLU<T, B>(T(0.2)), PixelNorm<T, B, Form>(),
              EqualizedConv2d<T, B>({o.channels, o.channels, Window2d::square(3, 1, 1)}, init), LeakyReLU<T, B>(T(0.2)),
              PixelNorm<T, B, Form>()),
        to_seg_(o.channels, o.classes, init) {}

  [[nodiscard]] const ProGanInitialBlockOptions& options() const { return options_; }
  EqualizedLinear<T, B>& fc1() { return head_.template get<1>(); }
  EqualizedConv2d<T, B>& conv2() { return tail_.template get<2>(); }
  ProGanToSeg<T, B>& to_seg() { return to_seg_; }

  [[nodiscard]] Shape output_shape(index_t batch) const {
    return Shape{batch, options_.channels, options_.height, options_.width};
  }

  context forward(const tensor& z) {
    if (z.shape().rank() != 2 || z.shape()[1] != options_.latent)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.latent) + "]", z.shape());
    context ctx;
    ctx.head = head_.forward(z);
    ctx.tail = tail_.forward(ctx.head.output.reshaped(output_shape(z.shape().n())));
    ctx.output = ctx.tail.output;
    return ctx;
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.head.input_shape, dx.shape());
    tensor g = zeros_like(ctx.tail.output);
    tail_.backward(ctx.tail, dy, g, grads);
    head_.backward(ctx.head, g.reshaped(ctx.head.output.shape()), dx, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    progan_detail::visit_prefixed(fc1(), "fc1.", f);
    progan_detail::visit_prefixed(conv2(), "conv2.", f);
    progan_detail::visit_prefixed(to_seg_, "to_mask.", f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProGanInitialBlock(latent " + std::to_string(options_.latent) + "->" + std::to_string(options_.channels) +
           "x" + std::to_string(options_.height) + "x" + std::to_string(options_.width) + ")";
  }

 private:
  static const ProGanInitialBlockOptions& checked(const ProGanInitialBlockOptions& o) {
    if (o.latent <= 0 || o.channels <= 0 || o.classes <= 0 || o.height <= 0 || o.width <= 0)
      throw error("ProGanInitialBlock: latent, channels, classes and map size must be positive");
    return o;
  }

  ProGanInitialBlockOptions options_;
  head_type head_;
  tail_type tail_;
  ProGanToSeg<T, B> to_seg_;
};

struct ProGanUpBlockOptions {
  index_t in_channels = 0;
  index_t out_channels = 0;
  index_t classes = 0;  // K, the toSeg head's output
};

template <class T, class B = cpu, PixelNormForm Form = PixelNormForm::official>
class ProGanUpBlock : public layer_types<T, B> {
  using body_type = Sequential<NearestUpsample<T, B>, EqualizedConv2d<T, B>, LeakyReLU<T, B>, PixelNorm<T, B, Form>,
                               EqualizedConv2d<T, B>, LeakyReLU<T, B>, PixelNorm<T, B, Form>>;

 public:
  using tensor = Tensor<T, B>;
  using context = typename body_type::context;

  ProGanUpBlock(const ProGanUpBlockOptions& o, Generator& init)
      : options_(checked(o)),
        body_(NearestUpsample<T, B>(2),
              EqualizedConv2d<T, B>({o.in_channels, o.out_channels, Window2d::square(3, 1, 1)}, init),
              LeakyReLU<T, B>(T(0.2)), PixelNorm<T, B, Form>(),
              EqualizedConv2d<T, B>({o.out_channels, o.out_channels, Window2d::square(3, 1, 1)}, init),
              LeakyReLU<T, B>(T(0.2)), PixelNorm<T, B, Form>()),
        to_seg_(o.out_channels, o.classes, init) {}

  [[nodiscard]] const ProGanUpBlockOptions& options() const { return options_; }
  EqualizedConv2d<T, B>& conv1() { return body_.template get<1>(); }
  EqualizedConv2d<T, B>& conv2() { return body_.template get<4>(); }
  ProGanToSeg<T, B>& to_seg() { return to_seg_; }

  context forward(const tensor& x) {
    if (x.shape().rank() != 4 || x.shape().c() != options_.in_channels)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.in_channels) + ", H, W]", x.shape());
    return body_.forward(x);
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    body_.backward(ctx, dy, dx, grads);  // checks dy and dx before writing
  }

  template <class F>
  void visit_parameters(F&& f) {
    progan_detail::visit_prefixed(conv1(), "conv1.", f);
    progan_detail::visit_prefixed(conv2(), "conv2.", f);
    progan_detail::visit_prefixed(to_seg_, "to_mask.", f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProGanUpBlock(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.out_channels) + ")";
  }

 private:
  static const ProGanUpBlockOptions& checked(const ProGanUpBlockOptions& o) {
    if (o.in_channels <= 0 || o.out_channels <= 0 || o.classes <= 0)
      throw error("ProGanUpBlock: channels and classes must be positive");
    return o;
  }

  ProGanUpBlockOptions options_;
  body_type body_;
  ProGanToSeg<T, B> to_seg_;
};

}  // namespace sbgan
