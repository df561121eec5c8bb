#pragma once
// SpadeGenerator<Norm>: the reference's SPADEGenerator (reference §6.2) without the
// VAE: the layout is its only input.
//
//   x = fc(nearest-resize(seg, sh x sw))          plain 3x3 conv, K -> 16·nf
//   x = head_0(x, seg)                            16nf -> 16nf, at sh x sw
//   x = up(x); x = G_middle_0(x, seg)             16nf -> 16nf
//   x = up(x) only for 'more'; x = G_middle_1(x, seg)
//   x = up(x); x = up_0(x, seg)                   16nf -> 8nf
//   x = up(x); x = up_1(x, seg)                   8nf -> 4nf
//   x = up(x); x = up_2(x, seg)                   4nf -> 2nf
//   x = up(x); x = up_3(x, seg)                   2nf -> nf
//   image = tanh(conv_img(LReLU_0.2(x)))          plain 3x3 conv, nf -> 3
// up = nearest x2; 'normal' has 5 of them, 'more' 6. The start size is SPADE's
// compute_latent_vector_size: sw = width / 2^ups, sh = round(sw / aspect) (Python's
// round, ties to even); the output must come out at exactly height x width.
//
// Norm is the SPADE norms' parameter-free normalization, chosen at compile time:
// BatchNorm<T, B> (the official 'spectralspadesyncbatch3x3') or InstanceNorm<T, B>.
// With detach_layout (the SB-GAN fork, the default) every res block sees the layout
// detached, so the image's gradient reaches the layout only through fc: the nearest
// downsample passes it to one layout pixel per (H/sh) x (W/sw) cell.
//
// A Layer over the layout: forward(seg) -> context, backward(ctx, d_image, d_seg,
// grads) adds into d_seg (and the parameter grads); backward(ctx, d_image, grads)
// holds the layout constant (real layouts in stage 2) and skips its gradient.
// infer(seg) -> image is forward's output without the context (sampling, W3): it
// holds one block's maps at a time, a fraction of what a context keeps.
// Names as the reference's state dict: fc.weight, head_0.conv_0.weight_orig,
// head_0.norm_0.mlp_shared.0.weight, ..., conv_img.bias; buffers
// head_0.conv_0.weight_u, head_0.norm_0.param_free_norm.running_mean, ...
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/spade_resblock.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/conv2d.hpp"
#include "sbgan/layers/leaky_relu.hpp"
#include "sbgan/layers/nearest_upsample.hpp"
#include "sbgan/layers/tanh.hpp"

namespace sbgan {

// SPADE's num_upsampling_layers.
enum class SpadeUpsampling {
  normal,  // 5 upsamplings: ADE-Indoor
  more     // 6: an extra one between G_middle_0 and G_middle_1 (Cityscapes)
};

inline int spade_upsampling_count(SpadeUpsampling u) { return u == SpadeUpsampling::more ? 6 : 5; }

struct SpadeGeneratorOptions {
  index_t label_channels = 0;  // semantic_nc (K)
  index_t nf = 64;             // ngf
  index_t hidden = 128;        // the SPADE norms' hidden width (128 in the reference)
  index_t height = 256;        // output image size; width is SPADE's crop_size
  index_t width = 512;
  SpadeUpsampling upsampling = SpadeUpsampling::more;
  bool detach_layout = true;   // the SB-GAN fork's seg.detach() in every res block
  index_t image_channels = 3;
  SpectralNormOptions spectral = {};

  // SPADE's compute_latent_vector_size: the map fc produces.
  [[nodiscard]] index_t start_width() const { return width >> spade_upsampling_count(upsampling); }
  [[nodiscard]] index_t start_height() const {
    // round(sw / aspect) with aspect = width / height, ties to even as Python rounds.
    const index_t num = start_width() * height, den = width;
    if (den <= 0) return 0;
    index_t q = num / den;
    const index_t twice_rest = 2 * (num % den);
    if (twice_rest > den || (twice_rest == den && q % 2 == 1)) ++q;
    return q;
  }
};

// Throws sbgan::error unless the options describe a generator whose output comes out
// at exactly height x width.
inline void check_spade_generator_options(const SpadeGeneratorOptions& o) {
  const std::string what = "SpadeGenerator: ";
  if (o.label_channels <= 0 || o.nf <= 0 || o.hidden <= 0 || o.image_channels <= 0)
    throw error(what + "label_channels, nf, hidden and image_channels must be positive");
  if (o.height <= 0 || o.width <= 0) throw error(what + "height and width must be positive");
  const int ups = spade_upsampling_count(o.upsampling);
  if (o.start_width() < 1 || o.start_height() < 1 || (o.start_width() << ups) != o.width ||
      (o.start_height() << ups) != o.height)
    throw error(what + "a " + std::to_string(o.height) + "x" + std::to_string(o.width) + " image with " +
                std::to_string(ups) + " upsamplings would start at " + std::to_string(o.start_height()) + "x" +
                std::to_string(o.start_width()) + "; height and width must be multiples of " +
                std::to_string(index_t{1} << ups));
}

template <Layer Norm>
class SpadeGenerator {
 public:
  using value_type = typename Norm::value_type;
  using backend = typename Norm::backend;
  using T = value_type;
  using B = backend;
  using tensor = Tensor<T, B>;
  using block_type = SpadeResBlock<Norm>;
  using Upsample = NearestUpsample<T, B>;

  static constexpr std::size_t block_count = 7;
  static constexpr std::array<const char*, block_count> block_names{"head_0", "G_middle_0", "G_middle_1", "up_0",
                                                                     "up_1",   "up_2",       "up_3"};

  struct context {
    Shape segmap_shape;
    Shape start_shape;                                    // the downsampled layout fc read
    typename Conv2d<T, B>::context fc;
    std::vector<typename block_type::context> blocks;     // in block_names order
    std::vector<typename Upsample::context> ups;          // ups[i]: before block i (empty when none)
    typename LeakyReLU<T, B>::context act;
    typename Conv2d<T, B>::context conv_img;
    typename Tanh<T, B>::context tanh;
    tensor output;
  };

  SpadeGenerator(const SpadeGeneratorOptions& options, Generator& init)
      : options_(checked(options)),
        fc_({options.label_channels, 16 * options.nf, 3, 1, 1}, init),
        conv_img_({options.nf, options.image_channels, 3, 1, 1}, init) {
    const std::array<index_t, block_count + 1> widths{16, 16, 16, 16, 8, 4, 2, 1};
    blocks_.reserve(block_count);
    for (std::size_t i = 0; i < block_count; ++i)
      blocks_.emplace_back(SpadeResBlockOptions{widths[i] * options.nf, widths[i + 1] * options.nf,
                                                options.label_channels, options.hidden, options.detach_layout, 0.2,
                                                options.spectral},
                           init);
  }

  [[nodiscard]] const SpadeGeneratorOptions& options() const { return options_; }
  Conv2d<T, B>& fc() { return fc_; }
  Conv2d<T, B>& conv_img() { return conv_img_; }
  block_type& block(std::size_t i) { return blocks_.at(i); }
  [[nodiscard]] Shape output_shape(index_t batch) const {
    return Shape{batch, options_.image_channels, options_.height, options_.width};
  }

  // Whether a nearest x2 upsampling runs before block i.
  [[nodiscard]] bool upsamples_before(std::size_t i) const {
    if (i == 0) return false;
    if (i == 2) return options_.upsampling == SpadeUpsampling::more;
    return true;
  }

  void set_training(bool training) {
    for (auto& b : blocks_) b.set_training(training);
  }

  // seg: [N, K, H, W], any H, W (every block resizes it to its own map).
  context forward(const tensor& seg) {
    check_layout(seg.shape());
    const Shape& s = seg.shape();
    context ctx;
    ctx.segmap_shape = s;
    ctx.start_shape = Shape{s.n(), s.c(), options_.start_height(), options_.start_width()};
    tensor start(ctx.start_shape);
    kernels::resize_nearest(seg, start);
    ctx.fc = fc_.forward(start);
    // No backward here reads its own output (the blocks keep x̂, the activation its
    // output), so each map's context handle is released once its consumer has run:
    // only the handles the consumers kept pin memory.
    tensor* produced = &ctx.fc.output;
    const auto consumed = [&](tensor& next) {
      produced->release_storage();
      produced = &next;
    };
    tensor x = ctx.fc.output;
    ctx.ups.resize(block_count);
    ctx.blocks.reserve(block_count);  // no reallocation: `produced` stays valid
    for (std::size_t i = 0; i < block_count; ++i) {
      if (upsamples_before(i)) {
        ctx.ups[i] = upsample_.forward(x);
        consumed(ctx.ups[i].output);
        x = ctx.ups[i].output;
      }
      ctx.blocks.push_back(blocks_[i].forward(x, seg));
      consumed(ctx.blocks.back().output);
      x = ctx.blocks.back().output;
    }
    ctx.act = activation_.forward(x);
    x = tensor();
    produced->release_storage();
    ctx.conv_img = conv_img_.forward(ctx.act.output);
    ctx.tanh = tanh_.forward(ctx.conv_img.output);
    ctx.conv_img.output.release_storage();
    ctx.output = ctx.tanh.output;
    return ctx;
  }

  // The image alone (inference): forward(seg).output, with each layer's context and
  // each intermediate map dropped as soon as the next layer has read it, so memory
  // holds about one block's maps at a time instead of every layer's.
  tensor infer(const tensor& seg) {
    check_layout(seg.shape());
    tensor x;
    {
      tensor start(Shape{seg.shape().n(), seg.shape().c(), options_.start_height(), options_.start_width()});
      kernels::resize_nearest(seg, start);
      x = sbgan::infer(fc_, start);
    }
    for (std::size_t i = 0; i < block_count; ++i) {
      if (upsamples_before(i)) x = sbgan::infer(upsample_, x);
      x = blocks_[i].infer(x, seg);
    }
    x = sbgan::infer(activation_, x);
    x = sbgan::infer(conv_img_, x);
    return sbgan::infer(tanh_, x);
  }

  // d_seg += J_segᵀ·d_image (only the fc path when the layout is detached), and the
  // parameter grads with ParamGrads::accumulate.
  void backward(const context& ctx, const tensor& d_image, tensor& d_seg, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), d_image.shape());
    expect_shape(describe(), "layout gradient", ctx.segmap_shape, d_seg.shape());
    propagate(ctx, d_image, &d_seg, grads);
  }

  // The layout held constant: parameter grads only (nothing to return otherwise).
  void backward(const context& ctx, const tensor& d_image, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), d_image.shape());
    propagate(ctx, d_image, nullptr, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    each_part([&](const std::string& prefix, auto& part) {
      part.visit_parameters([&](std::string_view name, auto& p) { f(prefix + std::string(name), p); });
    });
  }

  template <class F>
  void visit_buffers(F&& f) {
    each_part([&](const std::string& prefix, auto& part) {
      sbgan::visit_buffers(part, [&](std::string_view name, auto& t) { f(prefix + std::string(name), t); });
    });
  }

  [[nodiscard]] std::string describe() const {
    return "SpadeGenerator(layout " + std::to_string(options_.label_channels) + ", nf " + std::to_string(options_.nf) +
           ", " + std::to_string(options_.height) + "x" + std::to_string(options_.width) + ", " +
           (options_.upsampling == SpadeUpsampling::more ? "more" : "normal") + ")";
  }

 private:
  static const SpadeGeneratorOptions& checked(const SpadeGeneratorOptions& o) {
    check_spade_generator_options(o);
    return o;
  }

  void check_layout(const Shape& s) const {
    if (s.rank() != 4 || s.c() != options_.label_channels || s.n() < 1)
      throw shape_error(describe(), "layout", "[N, " + std::to_string(options_.label_channels) + ", H, W]", s);
  }

  template <class F>
  void each_part(F&& f) {
    f("fc.", fc_);
    for (std::size_t i = 0; i < block_count; ++i) f(std::string(block_names[i]) + ".", blocks_[i]);
    f("conv_img.", conv_img_);
  }

  void propagate(const context& ctx, const tensor& d_image, tensor* d_seg, ParamGrads grads) {
    tensor d_conv = zeros_like(ctx.conv_img.output);
    tanh_.backward(ctx.tanh, d_image, d_conv, grads);
    tensor d_act = zeros_like(ctx.act.output);
    conv_img_.backward(ctx.conv_img, d_conv, d_act, grads);
    tensor g = zeros_like(ctx.blocks.back().output);
    activation_.backward(ctx.act, d_act, g, grads);
    for (std::size_t i = block_count; i-- > 0;) {
      const auto& bctx = ctx.blocks[i];
      tensor g_in = zeros<T, B>(bctx.input_shape);
      if (d_seg)
        blocks_[i].backward(bctx, g, g_in, *d_seg, grads);
      else
        blocks_[i].backward(bctx, g, g_in, grads);
      if (upsamples_before(i)) {
        tensor g_low = zeros<T, B>(ctx.ups[i].input_shape);
        upsample_.backward(ctx.ups[i], g_in, g_low, grads);
        g = g_low;
      } else {
        g = g_in;
      }
    }
    if (d_seg) {
      tensor d_start = zeros<T, B>(ctx.start_shape);
      fc_.backward(ctx.fc, g, d_start, grads);
      kernels::resize_nearest_backward(d_start, *d_seg);
    } else if (grads == ParamGrads::accumulate) {
      tensor d_start = zeros<T, B>(ctx.start_shape);
      fc_.backward(ctx.fc, g, d_start, grads);
    }
  }

  SpadeGeneratorOptions options_;
  Conv2d<T, B> fc_;
  std::vector<block_type> blocks_;
  Conv2d<T, B> conv_img_;
  Upsample upsample_{2};
  LeakyReLU<T, B> activation_{T(0.2)};
  Tanh<T, B> tanh_;
};

}  // namespace sbgan
