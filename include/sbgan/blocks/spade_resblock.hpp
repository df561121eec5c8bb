#pragma once
// SpadeResBlock<Norm>: the reference's SPADEResnetBlock(fin, fout) under the
// official options ('spectralspadesyncbatch3x3': spectral norm on the block's
// convs, SPADE over a parameter-free Norm, 3×3 SPADE kernels).
//
//   fmid = min(fin, fout)
//   x_s  = conv_s(norm_s(x, seg))   if fin ≠ fout (1×1, no bias), else x
//   h    = conv_0(LReLU(norm_0(x, seg)))     3×3 pad 1, fin → fmid
//   h    = conv_1(LReLU(norm_1(h, seg)))     3×3 pad 1, fmid → fout
//   out  = x_s + h
// conv_0, conv_1 and conv_s are spectrally normalized; LReLU has slope 0.2 and is
// fused into norm_0's and norm_1's modulation pass (SpadeNormOptions::leaky_relu_slope).
//
// detach_layout reproduces the SB-GAN fork, which hands every block seg.detach():
// no gradient reaches the layout and backward leaves dsegmap untouched. Otherwise
// the three SPADE norms' layout gradients add into dsegmap.
//
// Names as the reference's state dict: "conv_0.weight_orig", "conv_0.bias",
// "norm_0.mlp_shared.0.weight", ...; buffers "conv_0.weight_u", "conv_0.weight_v",
// "norm_0.param_free_norm.running_mean", ...
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/spade_norm.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/conv2d.hpp"
#include "sbgan/layers/spectral_norm.hpp"

namespace sbgan {

struct SpadeResBlockOptions {
  index_t in_channels = 0;     // fin
  index_t out_channels = 0;    // fout
  index_t label_channels = 0;  // channels of the layout
  index_t hidden = 128;        // the SPADE norms' hidden width
  bool detach_layout = false;  // true in the SB-GAN fork: no layout gradient
  double negative_slope = 0.2;
  SpectralNormOptions spectral = {};
};

template <Layer Norm>
class SpadeResBlock {
 public:
  using value_type = typename Norm::value_type;
  using backend = typename Norm::backend;
  using T = value_type;
  using B = backend;
  using tensor = Tensor<T, B>;
  using Spade = SpadeNorm<Norm>;
  using Conv = SpectralNorm<Conv2d<T, B>>;

  struct context {
    Shape segmap_shape;
    std::optional<typename Spade::context> norm_s;
    std::optional<typename Conv::context> conv_s;
    typename Spade::context norm_0, norm_1;  // outputs after the leaky ReLU
    typename Conv::context conv_0, conv_1;  // outputs released: backward reads their shapes only
    Shape input_shape;
    tensor output;
  };

  SpadeResBlock(const SpadeResBlockOptions& options, Generator& init)
      : options_(checked(options)),
        conv_0_(Conv2d<T, B>({options.in_channels, middle(), 3, 1, 1}, init), init, options.spectral),
        conv_1_(Conv2d<T, B>({middle(), options.out_channels, 3, 1, 1}, init), init, options.spectral),
        norm_0_(spade_options(options.in_channels, options.negative_slope), init),
        norm_1_(spade_options(middle(), options.negative_slope), init) {
    if (learned_shortcut()) {
      conv_s_.emplace(Conv2d<T, B>({options.in_channels, options.out_channels, 1, 1, 0, false}, init), init,
                      options.spectral);
      norm_s_.emplace(spade_options(options.in_channels, std::nullopt), init);
    }
  }

  [[nodiscard]] const SpadeResBlockOptions& options() const { return options_; }
  [[nodiscard]] bool learned_shortcut() const { return options_.in_channels != options_.out_channels; }
  [[nodiscard]] index_t middle() const { return std::min(options_.in_channels, options_.out_channels); }

  Conv& conv_0() { return conv_0_; }
  Conv& conv_1() { return conv_1_; }
  Conv& conv_s() { return conv_s_.value(); }  // throws std::bad_optional_access without a learned shortcut
  Spade& norm_0() { return norm_0_; }
  Spade& norm_1() { return norm_1_; }
  Spade& norm_s() { return norm_s_.value(); }

  void set_training(bool training) {
    conv_0_.set_training(training);
    conv_1_.set_training(training);
    norm_0_.set_training(training);
    norm_1_.set_training(training);
    if (learned_shortcut()) {
      conv_s_->set_training(training);
      norm_s_->set_training(training);
    }
  }

  context forward(const tensor& x, const tensor& segmap) {
    check_inputs(x, segmap);  // before any sub-layer updates its statistics or u
    context ctx;
    ctx.segmap_shape = segmap.shape();
    ctx.input_shape = x.shape();
    if (learned_shortcut()) {
      ctx.norm_s = norm_s_->forward(x, segmap);
      ctx.conv_s = conv_s_->forward(ctx.norm_s->output);
    }
    ctx.norm_0 = norm_0_.forward(x, segmap);
    ctx.conv_0 = conv_0_.forward(ctx.norm_0.output);
    ctx.norm_1 = norm_1_.forward(ctx.conv_0.output, segmap);
    ctx.conv_0.output.release_storage();  // norm_1 keeps x̂, not its input
    ctx.conv_1 = conv_1_.forward(ctx.norm_1.output);
    ctx.output = tensor(ctx.conv_1.output.shape());
    kernels::add(learned_shortcut() ? ctx.conv_s->output : x, ctx.conv_1.output, ctx.output);
    ctx.conv_1.output.release_storage();
    if (learned_shortcut()) ctx.conv_s->output.release_storage();
    return ctx;
  }

  // forward(x, segmap).output without the context: every intermediate is dropped as
  // soon as it has been read, and the sum is taken in place.
  tensor infer(const tensor& x, const tensor& segmap) {
    check_inputs(x, segmap);
    tensor h = conv_0_.infer(norm_0_.infer(x, segmap));
    h = conv_1_.infer(norm_1_.infer(h, segmap));
    const tensor shortcut = learned_shortcut() ? conv_s_->infer(norm_s_->infer(x, segmap)) : x;
    kernels::add(shortcut, h, h);
    return h;
  }

  // dx += Jₓᵀ·dy and, unless the layout is detached, dsegmap += J_segᵀ·dy.
  void backward(const context& ctx, const tensor& dy, tensor& dx, tensor& dsegmap, ParamGrads grads) {
    check_gradients(ctx, dy, dx);
    expect_shape(describe(), "layout gradient", ctx.segmap_shape, dsegmap.shape());
    propagate(ctx, dy, dx, options_.detach_layout ? nullptr : &dsegmap, grads);
  }

  // The layout held constant, whatever detach_layout says.
  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    check_gradients(ctx, dy, dx);
    propagate(ctx, dy, dx, nullptr, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    each_part([&](std::string_view prefix, auto& part) {
      part.visit_parameters([&](std::string_view name, auto& p) { f(std::string(prefix) + std::string(name), p); });
    });
  }

  template <class F>
  void visit_buffers(F&& f) {
    each_part([&](std::string_view prefix, auto& part) {
      part.visit_buffers([&](std::string_view name, auto& t) { f(std::string(prefix) + std::string(name), t); });
    });
  }

  [[nodiscard]] std::string describe() const {
    return "SpadeResBlock(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.out_channels) +
           ", layout " + std::to_string(options_.label_channels) + ")";
  }

 private:
  static const SpadeResBlockOptions& checked(const SpadeResBlockOptions& o) {
    if (o.in_channels <= 0 || o.out_channels <= 0 || o.label_channels <= 0 || o.hidden <= 0)
      throw error("SpadeResBlock: channel counts must be positive");
    return o;
  }

  // The shortcut's norm has no activation after it; the main path's end with the LReLU.
  SpadeNormOptions spade_options(index_t channels, std::optional<double> leaky_relu_slope) const {
    return {channels, options_.label_channels, options_.hidden, 3, leaky_relu_slope};
  }

  // The sub-modules in the reference's registration order, with their prefixes.
  template <class F>
  void each_part(F&& f) {
    f("conv_0.", conv_0_);
    f("conv_1.", conv_1_);
    if (conv_s_) f("conv_s.", *conv_s_);
    f("norm_0.", norm_0_);
    f("norm_1.", norm_1_);
    if (norm_s_) f("norm_s.", *norm_s_);
  }

  void check_inputs(const tensor& x, const tensor& segmap) const {
    if (x.shape().rank() != 4 || x.shape().c() != options_.in_channels)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.in_channels) + ", H, W]", x.shape());
    if (segmap.shape().rank() != 4 || segmap.shape().n() != x.shape().n() ||
        segmap.shape().c() != options_.label_channels)
      throw shape_error(describe(), "layout",
                        "[" + std::to_string(x.shape().n()) + ", " + std::to_string(options_.label_channels) +
                            ", H, W]",
                        segmap.shape());
  }

  void check_gradients(const context& ctx, const tensor& dy, tensor& dx) const {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
  }

  void spade_backward(Spade& norm, const typename Spade::context& ctx, const tensor& dy, tensor& dx, tensor* dsegmap,
                      ParamGrads grads) {
    if (dsegmap)
      norm.backward(ctx, dy, dx, *dsegmap, grads);
    else
      norm.backward(ctx, dy, dx, grads);
  }

  // Each gradient map goes as soon as the layer that reads it has run.
  void propagate(const context& ctx, const tensor& dy, tensor& dx, tensor* dsegmap, ParamGrads grads) {
    // Main path, from the output back to x.
    tensor d_conv0 = zeros<T, B>(ctx.conv_0.output.shape());
    {
      tensor d_norm1 = zeros<T, B>(ctx.norm_1.output.shape());
      conv_1_.backward(ctx.conv_1, dy, d_norm1, grads);
      spade_backward(norm_1_, ctx.norm_1, d_norm1, d_conv0, dsegmap, grads);
    }
    {
      tensor d_norm0 = zeros<T, B>(ctx.norm_0.output.shape());
      conv_0_.backward(ctx.conv_0, d_conv0, d_norm0, grads);
      d_conv0 = tensor();
      spade_backward(norm_0_, ctx.norm_0, d_norm0, dx, dsegmap, grads);
    }
    // Shortcut.
    if (learned_shortcut()) {
      tensor d_norm_s = zeros<T, B>(ctx.norm_s->output.shape());
      conv_s_->backward(*ctx.conv_s, dy, d_norm_s, grads);
      spade_backward(*norm_s_, *ctx.norm_s, d_norm_s, dx, dsegmap, grads);
    } else {
      kernels::axpy(T(1), dy, dx);
    }
  }

  SpadeResBlockOptions options_;
  Conv conv_0_;
  Conv conv_1_;
  std::optional<Conv> conv_s_;
  Spade norm_0_;
  Spade norm_1_;
  std::optional<Spade> norm_s_;
};

}  // namespace sbgan
