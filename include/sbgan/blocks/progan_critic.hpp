#pragma once
// ProgressiveCritic: SB-GAN's progressive layout critic D_SB (reference §4): a
// K-channel layout [N, K, h, w] -> one score per sample [N, 1].
//
// The largest architecture is fixed at construction. Blocks are listed from the
// highest resolution down, as in the reference (list index j; level S−1−j, where
// level 0 is the base map h0 x aspect·h0): blocks 0..S−2 halve the map, block S−1
// is the final block. Run-time state chooses the phase:
//   set_active_blocks(s)  the layout enters block j = S−s through its fromSeg head
//                         and runs blocks j..S−1; it must be
//                         h0·2^(s−1) x aspect·h0·2^(s−1);
//   set_alpha(α)          with α < 1 and s ≥ 2, the ProGAN fade-in: the features
//                         entering block j+1 are
//                           α·block_j(fromSeg_j(x)) + (1 − α)·fromSeg_{j+1}(avgpool(x));
//                         α = 1 (the default) is the plain critic. With one active
//                         block α has no effect.
// Optional minibatch stddev before the final block's first convolution
// (ProgressiveCriticOptions::minibatch_group; off in the official code).
//
// Second order, for WGAN-GP: the critic is a chain entry -> blocks j+1..S−2 ->
// final, where the entry is fromSeg_j (s = 1), fromSeg_j then block_j, or the
// blend of the two branches above. The pass runs Sequential's three sweeps over
// that chain: the input gradient of every stage under gy, a forward sweep mapping
// the cotangent w through the stages (each adding its direct terms), and a reverse
// sweep carrying the direct terms back with ordinary backward passes. The blend is
// linear in its branches, so each branch runs its own pass with gy scaled by its
// weight, and the cotangents they return are blended with the same weights.
//
// Parameter names follow the reference state dict: blocks.<j>.from_mask.*,
// blocks.<j>.conv1.*, blocks.<j>.conv2.*, and blocks.<S−1>.fc3.* — every block,
// active or not.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/progan_chain.hpp"
#include "sbgan/blocks/progan_critic_blocks.hpp"
#include "sbgan/blocks/progan_fade.hpp"
#include "sbgan/blocks/progan_from_seg.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/avg_pool2d.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct ProgressiveCriticOptions {
  index_t classes = 0;            // K, the layout's channels
  std::vector<index_t> channels;  // per level, lowest resolution first: what the
                                  // level's fromSeg head makes and its block takes;
                                  // the block at level i > 0 maps channels[i] to
                                  // channels[i−1], the final block keeps channels[0]
  index_t base_height = 4;        // the final block's map is base_height x aspect·base_height
  index_t aspect = 1;             // width / height: 2 for Cityscapes
  index_t minibatch_group = 0;    // minibatch-stddev group size before the final
                                  // block; 0: none (the official code), ProGAN: 4

  // The reference critic for layouts whose short side grows to max_resolution:
  // log2(max_resolution) − 1 levels, level i with min(512, 2^(12−i)) channels.
  static ProgressiveCriticOptions reference(index_t max_resolution, index_t classes, index_t aspect = 1) {
    if (max_resolution < 4 || (max_resolution & (max_resolution - 1)) != 0)
      throw error("ProgressiveCritic: max_resolution must be a power of two of at least 4, got " +
                  std::to_string(max_resolution));
    ProgressiveCriticOptions o;
    o.classes = classes;
    o.aspect = aspect;
    for (index_t i = 0, r = 4; r <= max_resolution; ++i, r *= 2)
      o.channels.push_back(std::min<index_t>(512, index_t{1} << (12 - i)));
    return o;
  }
};

template <class T, class B = cpu>
class ProgressiveCritic : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  using block_type = ProGanCriticBlock<T, B>;
  using final_block_type = ProGanCriticFinalBlock<T, B>;
  using from_seg_head = ProGanFromSeg<T, B>;

  struct context {
    index_t entry = 0;     // list index of the first active block
    bool fading = false;
    T alpha = T(1);        // the fine branch's weight when fading
    Shape input_shape;
    typename from_seg_head::context head;              // fromSeg_entry(x)
    typename block_type::context entry_block;          // block_entry (unless it is the final block)
    typename AvgPool2d<T, B>::context pool;            // the coarse branch: avgpool(x) ...
    typename from_seg_head::context coarse_head;       // ... through fromSeg_{entry+1}
    tensor entry_output;                               // features entering the trunk
    std::vector<typename block_type::context> trunk;   // blocks entry+1..S−2
    typename final_block_type::context final;
    tensor output;
  };

  // Weights are drawn block by block in list order, the final block last.
  ProgressiveCritic(const ProgressiveCriticOptions& o, Generator& init)
      : options_(checked(o)),
        blocks_(make_blocks(o, init)),
        final_({o.classes, o.channels[0], o.base_height, o.aspect, o.minibatch_group}, init),
        active_(static_cast<index_t>(o.channels.size())) {}

  [[nodiscard]] const ProgressiveCriticOptions& options() const { return options_; }
  [[nodiscard]] index_t blocks() const { return static_cast<index_t>(options_.channels.size()); }
  [[nodiscard]] index_t active_blocks() const { return active_; }
  // Runs the last s blocks (1 ≤ s ≤ blocks()); all are active after construction.
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

  // The layout size the current phase takes.
  [[nodiscard]] index_t height() const { return options_.base_height << (active_ - 1); }
  [[nodiscard]] index_t width() const { return options_.aspect * height(); }
  [[nodiscard]] Shape input_shape(index_t batch) const { return Shape{batch, options_.classes, height(), width()}; }

  // Block j of the list (highest resolution first); j < blocks() − 1.
  block_type& block(index_t j) { return blocks_.at(static_cast<std::size_t>(j)); }
  final_block_type& final_block() { return final_; }
  // Block j's fromSeg head.
  from_seg_head& from_seg(index_t j) { return j == last() ? final_.from_seg() : block(j).from_seg(); }

  context forward(const tensor& x) {
    const Shape& s = x.shape();
    if (s.rank() != 4 || !(s == input_shape(s.n())))
      throw shape_error(describe(), "input",
                        "[N, " + std::to_string(options_.classes) + ", " + std::to_string(height()) + ", " +
                            std::to_string(width()) + "]",
                        s);
    context ctx;
    ctx.entry = blocks() - active_;
    ctx.fading = fading();
    ctx.alpha = ctx.fading ? alpha_ : T(1);
    ctx.input_shape = s;
    const index_t j = ctx.entry;
    ctx.head = from_seg(j).forward(x);
    if (j == last()) {
      ctx.entry_output = ctx.head.output;
    } else {
      ctx.entry_block = block(j).forward(ctx.head.output);
      if (ctx.fading) {
        ctx.pool = pool_.forward(x);
        ctx.coarse_head = from_seg(j + 1).forward(ctx.pool.output);
        ctx.entry_output = FadeIn::blend(ctx.alpha, ctx.coarse_head.output, ctx.entry_block.output);
      } else {
        ctx.entry_output = ctx.entry_block.output;
      }
    }
    tensor h = ctx.entry_output;
    for (index_t k = j + 1; k < last(); ++k) {
      ctx.trunk.push_back(block(k).forward(h));
      h = ctx.trunk.back().output;
    }
    ctx.final = final_.forward(h);
    ctx.output = ctx.final.output;
    return ctx;
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    tensor g = zeros_like(trunk_input(ctx, stages(ctx) - 1));
    final_.backward(ctx.final, dy, g, grads);
    for (std::size_t k = ctx.trunk.size(); k-- > 0;) {
      tensor g_in = zeros_like(trunk_input(ctx, static_cast<index_t>(k)));
      trunk_block(ctx, k).backward(ctx.trunk[k], g, g_in, grads);
      g = g_in;
    }
    entry_backward(ctx, g, dx, grads);
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                       ParamGrads grads) {
    progan_detail::expect_second_order_shapes(describe(), ctx.input_shape, ctx.output.shape(), gy, w, dx, dgy);
    // Stages after the entry: trunk blocks 0..n−2, the final block n−1; stage k's
    // input is trunk_input(ctx, k).
    const index_t n = stages(ctx);
    // 1. The gradient reaching every stage's input under gy, without parameter terms.
    std::vector<tensor> g(static_cast<std::size_t>(n) + 1);
    g[static_cast<std::size_t>(n)] = gy;
    for (index_t k = n - 1; k >= 0; --k) {
      g[static_cast<std::size_t>(k)] = zeros_like(trunk_input(ctx, k));
      stage_backward(ctx, k, g[static_cast<std::size_t>(k) + 1], g[static_cast<std::size_t>(k)], ParamGrads::skip);
    }
    // 2. Forward sweep: the entry turns w into the cotangent of g[0]; stage k turns
    //    that of its input gradient into that of its output gradient, adding its
    //    direct x term into a[k] and its θ terms into the parameters.
    tensor cotangent = zeros_like(trunk_input(ctx, 0));
    entry_second(ctx, g[0], w, dx, cotangent, grads);
    std::vector<tensor> a(static_cast<std::size_t>(n));
    for (index_t k = 0; k < n; ++k) {
      const auto ku = static_cast<std::size_t>(k);
      a[ku] = zeros_like(trunk_input(ctx, k));
      tensor next = k + 1 < n ? zeros_like(trunk_input(ctx, k + 1)) : zeros_like(gy);
      stage_second(ctx, k, g[ku + 1], cotangent, a[ku], next, grads);
      cotangent = next;
    }
    kernels::axpy(T(1), cotangent, dgy);
    // 3. Reverse sweep: the direct terms reach earlier stages, the entry and x.
    for (index_t k = n - 1; k >= 1; --k)
      stage_backward(ctx, k - 1, a[static_cast<std::size_t>(k)], a[static_cast<std::size_t>(k) - 1], grads);
    entry_backward(ctx, a[0], dx, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    for (index_t j = 0; j < last(); ++j) progan_detail::visit_prefixed(block(j), "blocks." + std::to_string(j) + ".", f);
    progan_detail::visit_prefixed(final_, "blocks." + std::to_string(last()) + ".", f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProgressiveCritic(" + std::to_string(options_.classes) + " classes, " + std::to_string(blocks()) +
           " blocks, " + std::to_string(active_) + " active)";
  }

 private:
  static const ProgressiveCriticOptions& checked(const ProgressiveCriticOptions& o) {
    if (o.channels.empty() || o.classes <= 0 || o.base_height <= 0 || o.aspect <= 0 || o.minibatch_group < 0)
      throw error("ProgressiveCritic: needs at least one level, and positive classes, base_height, aspect");
    for (index_t c : o.channels)
      if (c <= 0) throw error("ProgressiveCritic: channels must be positive");
    return o;
  }

  static std::vector<block_type> make_blocks(const ProgressiveCriticOptions& o, Generator& init) {
    const std::size_t levels = o.channels.size();
    std::vector<block_type> blocks;
    blocks.reserve(levels - 1);
    for (std::size_t j = 0; j + 1 < levels; ++j) {
      const std::size_t level = levels - 1 - j;
      blocks.emplace_back(ProGanCriticBlockOptions{o.classes, o.channels[level], o.channels[level - 1]}, init);
    }
    return blocks;
  }
  [[nodiscard]] index_t last() const { return blocks() - 1; }

  // Stages after the entry: the trunk blocks, then the final block.
  static index_t stages(const context& ctx) { return static_cast<index_t>(ctx.trunk.size()) + 1; }
  // Stage k's input: the entry's output for k = 0, else stage k−1's output.
  static const tensor& trunk_input(const context& ctx, index_t k) {
    return k == 0 ? ctx.entry_output : ctx.trunk[static_cast<std::size_t>(k - 1)].output;
  }
  block_type& trunk_block(const context& ctx, std::size_t k) { return block(ctx.entry + 1 + static_cast<index_t>(k)); }

  void stage_backward(const context& ctx, index_t k, const tensor& dy, tensor& dx, ParamGrads grads) {
    if (k + 1 == stages(ctx))
      final_.backward(ctx.final, dy, dx, grads);
    else
      trunk_block(ctx, static_cast<std::size_t>(k)).backward(ctx.trunk[static_cast<std::size_t>(k)], dy, dx, grads);
  }

  void stage_second(const context& ctx, index_t k, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                    ParamGrads grads) {
    if (k + 1 == stages(ctx))
      final_.backward_second(ctx.final, gy, w, dx, dgy, grads);
    else
      trunk_block(ctx, static_cast<std::size_t>(k))
          .backward_second(ctx.trunk[static_cast<std::size_t>(k)], gy, w, dx, dgy, grads);
  }

  // The entry: fromSeg_j alone (j the final block), fromSeg_j then block_j, or the
  // fade-in blend of that with fromSeg_{j+1}(avgpool(x)).
  void entry_backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    const index_t j = ctx.entry;
    if (j == last()) {
      from_seg(j).backward(ctx.head, dy, dx, grads);
      return;
    }
    if (!ctx.fading) {
      progan_detail::chain_backward(from_seg(j), ctx.head, block(j), ctx.entry_block, dy, dx, grads);
      return;
    }
    progan_detail::chain_backward(from_seg(j), ctx.head, block(j), ctx.entry_block,
                                  FadeIn::branch_gradient(ctx.alpha, dy), dx, grads);
    progan_detail::chain_backward(pool_, ctx.pool, from_seg(j + 1), ctx.coarse_head,
                                  FadeIn::branch_gradient(T(1) - ctx.alpha, dy), dx, grads);
  }

  void entry_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                    ParamGrads grads) {
    const index_t j = ctx.entry;
    if (j == last()) {
      from_seg(j).backward_second(ctx.head, gy, w, dx, dgy, grads);
      return;
    }
    if (!ctx.fading) {
      progan_detail::chain_backward_second(from_seg(j), ctx.head, block(j), ctx.entry_block, gy, w, dx, dgy, grads);
      return;
    }
    // Q = ⟨α·J_fineᵀ·gy + (1 − α)·J_coarseᵀ·gy, w⟩: each branch with its share of gy;
    // ∂Q/∂gy = α·J_fine·w + (1 − α)·J_coarse·w.
    tensor fine_dgy = zeros_like(dgy);
    progan_detail::chain_backward_second(from_seg(j), ctx.head, block(j), ctx.entry_block,
                                         FadeIn::branch_gradient(ctx.alpha, gy), w, dx, fine_dgy, grads);
    kernels::axpy(ctx.alpha, fine_dgy, dgy);
    tensor coarse_dgy = zeros_like(dgy);
    progan_detail::chain_backward_second(pool_, ctx.pool, from_seg(j + 1), ctx.coarse_head,
                                         FadeIn::branch_gradient(T(1) - ctx.alpha, gy), w, dx, coarse_dgy, grads);
    kernels::axpy(T(1) - ctx.alpha, coarse_dgy, dgy);
  }

  ProgressiveCriticOptions options_;
  std::vector<block_type> blocks_;           // list indices 0..S−2
  final_block_type final_;                   // list index S−1
  AvgPool2d<T, B> pool_ = AvgPool2d<T, B>::halve();  // the fade-in's coarse branch
  index_t active_;
  T alpha_ = T(1);
};

}  // namespace sbgan
