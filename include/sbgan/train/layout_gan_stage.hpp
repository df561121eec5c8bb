#pragma once
// Stage 1 of SB-GAN (reference §5): the progressive layout GAN. G_SB (a
// progressive layout generator and the Gumbel-softmax straight-through sampler)
// against the progressive critic D_SB with the WGAN-GP critic loss, one G step then
// one D step per iteration, each with a fresh z.
//
// The schedule grows the resolution level by level: level 1 has one phase
// (stabilize), every later level a "fade" phase and a "stabilize" phase, each
// lasting images_per_phase / batch[level] iterations. With fade_in off (the
// official code, which hard-codes the fade away) the new block trains at full
// weight in both phases; with fade_in on (the paper, ProGAN) α rises linearly
// from 0 to 1 over the fade phase.
//
// The trainer owns the two Adam optimizers (lr 1e-3, β = (0, 0.99) by default);
// the caller feeds real one-hot layouts at the current resolution.
#include <cstdint>
#include <string>
#include <vector>

#include "sbgan/core/generator.hpp"
#include "sbgan/layers/gumbel_softmax.hpp"
#include "sbgan/losses/improved_wgan.hpp"
#include "sbgan/optim/adam.hpp"

namespace sbgan {

struct LayoutGanOptions {
  std::vector<index_t> batch;          // batch size per level (level 1 first)
  std::int64_t images_per_phase = 0;   // the reference: epochs × data-set size
  bool fade_in = false;                // official code: false
  index_t start_level = 1;
  AdamOptions generator_adam{1e-3, 0.0, 0.99, 1e-8};
  AdamOptions critic_adam{1e-3, 0.0, 0.99, 1e-8};
  ImprovedWganOptions loss{};          // λ = 10, no drift
};

// Where the schedule stands; a checkpoint stores it.
struct LayoutGanPosition {
  index_t level = 1;            // active blocks
  int phase = 1;                // 0: fade, 1: stabilize (level 1 has only stabilize)
  std::int64_t step_in_phase = 0;
  std::int64_t step = 0;        // iterations run in this stage
};

struct LayoutGanStepStats {
  double generator_loss = 0;
  double critic_loss = 0;
  double wasserstein = 0;  // mean D(real) − mean D(fake)
  double penalty = 0;
};

template <class LayoutNet, class Critic>
class LayoutGanStage {
 public:
  using T = typename Critic::value_type;
  using B = typename Critic::backend;
  using tensor = Tensor<T, B>;

  LayoutGanStage(LayoutNet& generator, GumbelSoftmaxST<T, B>& sampler, Critic& critic,
                 const LayoutGanOptions& options, Generator& rng)
      : generator_(generator), sampler_(sampler), critic_(critic), options_(options), rng_(rng),
        opt_g_(options.generator_adam), opt_d_(options.critic_adam), loss_(options.loss) {
    const auto levels = static_cast<index_t>(options.batch.size());
    if (levels != static_cast<index_t>(generator.options().channels.size()) || levels != critic.blocks())
      throw error("LayoutGanStage: the schedule has " + std::to_string(levels) + " levels, the generator " +
                  std::to_string(generator.options().channels.size()) + " and the critic " +
                  std::to_string(critic.blocks()));
    if (options.images_per_phase <= 0) throw error("LayoutGanStage: images_per_phase must be positive");
    for (index_t b : options.batch)
      if (b <= 0) throw error("LayoutGanStage: batch sizes must be positive");
    if (options.start_level < 1 || options.start_level > levels) throw error("LayoutGanStage: start level out of range");
    position_.level = options.start_level;
    position_.phase = options.start_level == 1 ? 1 : 0;
    opt_g_.add(generator_);
    opt_d_.add(critic_);
    apply_phase();
  }

  [[nodiscard]] const LayoutGanPosition& position() const { return position_; }
  void set_position(const LayoutGanPosition& p) {
    if (p.level < 1 || p.level > levels() || p.phase < 0 || p.phase > 1 || p.step_in_phase < 0)
      throw error("LayoutGanStage: invalid schedule position");
    position_ = p;
    apply_phase();
  }
  [[nodiscard]] bool finished() const { return position_.level > levels(); }
  [[nodiscard]] index_t levels() const { return static_cast<index_t>(options_.batch.size()); }
  [[nodiscard]] index_t batch_size() const {
    if (finished()) throw error("LayoutGanStage: the schedule is complete");
    return options_.batch[static_cast<std::size_t>(position_.level - 1)];
  }
  [[nodiscard]] std::int64_t steps_in_phase() const { return std::max<std::int64_t>(1, options_.images_per_phase / batch_size()); }
  // The resolution of the current level (what step() expects).
  [[nodiscard]] index_t height() const { return critic_.options().base_height << (position_.level - 1); }
  [[nodiscard]] index_t width() const { return critic_.options().aspect * height(); }
  [[nodiscard]] Adam<T, B>& generator_optimizer() { return opt_g_; }
  [[nodiscard]] Adam<T, B>& critic_optimizer() { return opt_d_; }

  // One iteration at the current resolution: `real` is a batch of one-hot layouts
  // [batch_size(), K, height(), width()].
  LayoutGanStepStats step(const tensor& real) {
    if (finished()) throw error("LayoutGanStage: the schedule is complete");
    apply_phase();  // the networks may have been switched in between (e.g. to sample)
    expect_shape("LayoutGanStage", "real layouts", Shape{batch_size(), critic_.options().classes, height(), width()},
                 real.shape());
    LayoutGanStepStats stats;
    const index_t n = real.shape().n(), latent = generator_.options().latent;

    // G step: −mean D(ST-Gumbel(G(z))), through a critic whose grads stay untouched.
    {
      const auto z = rng_.normal<T, B>(Shape{n, latent});
      auto c_gen = generator_.forward(z);
      auto c_sample = sampler_.forward(c_gen.output);
      const auto g = loss_.generator_loss(critic_, c_sample.output);
      stats.generator_loss = g.value;
      auto d_probabilities = zeros<T, B>(c_gen.output.shape());
      sampler_.backward(c_sample, g.grad, d_probabilities, ParamGrads::accumulate);
      auto dz = zeros<T, B>(z.shape());
      generator_.backward(c_gen, d_probabilities, dz, ParamGrads::accumulate);
      opt_g_.step();
      opt_g_.zero_grad();
    }
    // D step: a fresh detached fake; mean D(fake) − mean D(real) + λ·GP.
    {
      const auto z = rng_.normal<T, B>(Shape{n, latent});
      const auto fake = sampler_.forward(generator_.forward(z).output).output;
      const auto d = loss_.discriminator_loss(critic_, real, fake, rng_);
      stats.critic_loss = d.value;
      stats.wasserstein = -d.critic_difference;
      stats.penalty = d.penalty;
      opt_d_.step();
      opt_d_.zero_grad();
    }
    advance();
    return stats;
  }

 private:
  void advance() {
    ++position_.step;
    if (++position_.step_in_phase < steps_in_phase()) return;
    position_.step_in_phase = 0;
    if (position_.phase == 0) {
      position_.phase = 1;
    } else {
      ++position_.level;
      position_.phase = 0;
    }
  }

  void apply_phase() {
    generator_.set_active_blocks(position_.level);
    critic_.set_active_blocks(position_.level);
    const T alpha = (options_.fade_in && position_.phase == 0 && position_.level > 1)
                        ? static_cast<T>(double(position_.step_in_phase) / double(steps_in_phase()))
                        : T(1);
    generator_.set_alpha(alpha);
    critic_.set_alpha(alpha);
  }

  LayoutNet& generator_;
  GumbelSoftmaxST<T, B>& sampler_;
  Critic& critic_;
  LayoutGanOptions options_;
  Generator& rng_;
  Adam<T, B> opt_g_, opt_d_;
  ImprovedWganLoss<Critic> loss_;
  LayoutGanPosition position_;
};

}  // namespace sbgan
