#pragma once
// ProgressiveLayoutGenerator: SB-GAN's progressive layout generator G_SB (reference
// §3): z [N, latent] -> a K-class softmax layout [N, K, h, w].
//
// The largest architecture is fixed at construction: an initial block (level 0,
// h0 x aspect·h0) and up-blocks doubling the resolution, all built at once, so the
// type and the parameter set are the same at every phase of training. Run-time
// state chooses the phase:
//   set_active_blocks(s)  blocks 0..s−1 run; the output is block s−1's toSeg head,
//                         at h0·2^(s−1) x aspect·h0·2^(s−1);
//   set_alpha(α)          with α < 1 and s ≥ 2, the ProGAN fade-in
//                           (1 − α)·toSeg_{s−2}(upsample(features_{s−2})) + α·toSeg_{s−1}(features_{s−1}),
//                         a blend of two softmax maps; α = 1 (the default) is the plain
//                         output. With one active block there is no earlier
//                         resolution to fade from and α has no effect.
// (SB-GAN's official training never calls the fade — it hard-codes it off — but
// its generator has it, and ProGAN training uses it.)
//
// Parameter names follow the reference state dict: blocks.0.fc1.weight,
// blocks.0.conv2.*, blocks.0.to_mask.*, blocks.<i>.conv1.*, blocks.<i>.conv2.*,
// blocks.<i>.to_mask.* — every block, active or not.
// Generator-side: first order only.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "sbgan/blocks/progan_chain.hpp"
#include "sbgan/blocks/progan_fade.hpp"
#include "sbgan/blocks/progan_generator_blocks.hpp"
#include "sbgan/blocks/progan_to_seg.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/nearest_upsample.hpp"

namespace sbgan {

struct ProgressiveLayoutGeneratorOptions {
  index_t latent = 512;           // z's size (the reference hard-codes 512)
  std::vector<index_t> channels;  // feature channels of block i, lowest resolution first
  index_t classes = 0;            // K
  index_t base_height = 4;        // block 0's map is base_height x aspect·base_height
  index_t aspect = 1;             // width / height: 2 for Cityscapes

  // The reference network for layouts whose short side grows to max_resolution:
  // log2(max_resolution) − 1 blocks, block i with min(512, 2^(12−i)) channels.
  static ProgressiveLayoutGeneratorOptions reference(index_t max_resolution, index_t classes, index_t aspect = 1) {
    if (max_resolution < 4 || (max_resolution & (max_resolution - 1)) != 0)
      throw error("ProgressiveLayoutGenerator: max_resolution must be a power of two of at least 4, got " +
                  std::to_string(max_resolution));
    ProgressiveLayoutGeneratorOptions o;
    o.classes = classes;
    o.aspect = aspect;
    for (index_t i = 0, r = 4; r <= max_resolution; ++i, r *= 2) o.channels.push_back(std::min<index_t>(512, index_t{1} << (12 - i)));
    return o;
  }
};

template <class T, class B = cpu, PixelNormForm Form = PixelNormForm::official>
class ProgressiveLayoutGenerator : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  using initial_block = ProGanInitialBlock<T, B, Form>;
  using up_block = ProGanUpBlock<T, B, Form>;
  using to_seg_head = ProGanToSeg<T, B>;

  struct context {
    index_t active = 0;    // blocks run
    bool fading = false;   // whether the coarse branch was blended in
    T alpha = T(1);        // its weight was 1 − alpha
    Shape input_shape;
    typename initial_block::context initial;
    std::vector<typename up_block::context> ups;  // blocks 1..active−1
    typename to_seg_head::context fine;           // toSeg of the last active block
    typename NearestUpsample<T, B>::context coarse_upsample;
    typename to_seg_head::context coarse;         // toSeg of the block before it, upsampled
    tensor output;
  };

  ProgressiveLayoutGenerator(const ProgressiveLayoutGeneratorOptions& o, Generator& init)
      : options_(checked(o)),
        initial_({o.latent, o.channels[0], o.classes, o.base_height, o.aspect * o.base_height}, init),
        active_(static_cast<index_t>(o.channels.size())) {
    ups_.reserve(o.channels.size() - 1);
    for (std::size_t i = 1; i < o.channels.size(); ++i) ups_.emplace_back(ProGanUpBlockOptions{o.channels[i - 1], o.channels[i], o.classes}, init);
  }

  [[nodiscard]] const ProgressiveLayoutGeneratorOptions& options() const { return options_; }
  [[nodiscard]] index_t blocks() const { return static_cast<index_t>(options_.channels.size()); }
  [[nodiscard]] index_t active_blocks() const { return active_; }
  // Runs blocks 0..s−1 (1 ≤ s ≤ blocks()); all blocks are active after construction.
  void set_active_blocks(index_t s) {
    if (s < 1 || s > blocks())
      throw error(describe() + ": active blocks must be in [1, " + std::to_string(blocks()) + "], got " +
                  std::to_string(s));
    active_ = s;
  }
  [[nodiscard]] T alpha() const { return alpha_; }
  void set_alpha(T alpha) {
    FadeIn::check_alpha(static_cast<double>(alpha), describe());
    alpha_ = alpha;
  }
  [[nodiscard]] bool fading() const { return active_ >= 2 && alpha_ < T(1); }

  // The layout's size at the current resolution.
  [[nodiscard]] index_t height() const { return options_.base_height << (active_ - 1); }
  [[nodiscard]] index_t width() const { return options_.aspect * height(); }
  [[nodiscard]] Shape output_shape(index_t batch) const { return Shape{batch, options_.classes, height(), width()}; }

  initial_block& initial() { return initial_; }
  // Block i ≥ 1.
  up_block& up(index_t i) { return ups_.at(static_cast<std::size_t>(i - 1)); }
  // Block i's toSeg head.
  to_seg_head& to_seg(index_t i) { return i == 0 ? initial_.to_seg() : up(i).to_seg(); }

  context forward(const tensor& z) {
    if (z.shape().rank() != 2 || z.shape()[1] != options_.latent)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.latent) + "]", z.shape());
    context ctx;
    ctx.active = active_;
    ctx.fading = fading();
    ctx.alpha = ctx.fading ? alpha_ : T(1);
    ctx.input_shape = z.shape();
    ctx.initial = initial_.forward(z);
    ctx.ups.reserve(static_cast<std::size_t>(active_ - 1));
    for (index_t i = 1; i < active_; ++i) ctx.ups.push_back(up(i).forward(features(ctx, i - 1)));
    ctx.fine = to_seg(active_ - 1).forward(features(ctx, active_ - 1));
    if (ctx.fading) {
      ctx.coarse_upsample = upsample_.forward(features(ctx, active_ - 2));
      ctx.coarse = to_seg(active_ - 2).forward(ctx.coarse_upsample.output);
      ctx.output = FadeIn::blend(ctx.alpha, ctx.coarse.output, ctx.fine.output);
    } else {
      ctx.output = ctx.fine.output;
    }
    return ctx;
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    const index_t last = ctx.active - 1;
    // g[i]: the gradient reaching block i's features.
    std::vector<tensor> g;
    for (index_t i = 0; i <= last; ++i) g.push_back(zeros_like(features(ctx, i)));
    if (ctx.fading) {
      to_seg(last).backward(ctx.fine, FadeIn::branch_gradient(ctx.alpha, dy), g.back(), grads);
      tensor g_up = zeros_like(ctx.coarse_upsample.output);
      to_seg(last - 1).backward(ctx.coarse, FadeIn::branch_gradient(T(1) - ctx.alpha, dy), g_up, grads);
      upsample_.backward(ctx.coarse_upsample, g_up, g[static_cast<std::size_t>(last - 1)], grads);
    } else {
      to_seg(last).backward(ctx.fine, dy, g.back(), grads);
    }
    for (index_t i = last; i >= 1; --i)
      up(i).backward(ctx.ups[static_cast<std::size_t>(i - 1)], g[static_cast<std::size_t>(i)],
                     g[static_cast<std::size_t>(i - 1)], grads);
    initial_.backward(ctx.initial, g[0], dx, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    progan_detail::visit_prefixed(initial_, "blocks.0.", f);
    for (index_t i = 1; i < blocks(); ++i) progan_detail::visit_prefixed(up(i), "blocks." + std::to_string(i) + ".", f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProgressiveLayoutGenerator(" + std::to_string(options_.classes) + " classes, " +
           std::to_string(blocks()) + " blocks, " + std::to_string(active_) + " active)";
  }

 private:
  static const ProgressiveLayoutGeneratorOptions& checked(const ProgressiveLayoutGeneratorOptions& o) {
    if (o.channels.empty() || o.latent <= 0 || o.classes <= 0 || o.base_height <= 0 || o.aspect <= 0)
      throw error("ProgressiveLayoutGenerator: needs at least one block, and positive latent, classes, base_height, aspect");
    for (index_t c : o.channels)
      if (c <= 0) throw error("ProgressiveLayoutGenerator: channels must be positive");
    return o;
  }

  // Block i's output features in a context.
  static const tensor& features(const context& ctx, index_t i) {
    return i == 0 ? ctx.initial.output : ctx.ups[static_cast<std::size_t>(i - 1)].output;
  }

  ProgressiveLayoutGeneratorOptions options_;
  initial_block initial_;
  std::vector<up_block> ups_;
  NearestUpsample<T, B> upsample_{2};  // the fade-in's coarse branch
  index_t active_;
  T alpha_ = T(1);
};

}  // namespace sbgan
