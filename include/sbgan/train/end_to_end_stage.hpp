#pragma once
// Stage 3 of SB-GAN (reference §8): end-to-end fine-tuning of the layout GAN
// (G_SB, D_SB), SPADE (G, D_SPD) and the unconditional image discriminator D2.
//
//   D2 pre-training (§8.2), pretrain_d2_step(real):
//           ŝ = one-hot(argmax G_SB(z)) (no Gumbel), upsampled ×scaling;
//           fake = SPADE-G(ŝ↑) (train mode, detached); D2 runs once on
//           [fake; real]; loss = hinge D fake + hinge D real; D2 alone is updated.
//           finish_d2_pretraining() then clears D2's Adam state, as the reference
//           re-creates that optimizer.
//   G step (§8.3), with ŝ = ST-Gumbel(G_SB(z)) at G_SB's resolution:
//           λ_pgan·(−mean D_SB(ŝ))                         (ImprovedWganLoss, weight λ_pgan)
//         + λ_D2·hinge G(D2(SPADE-G(upsample(ŝ))))        (D2 on [fake; real], fake half)
//         + hinge G(D_SPD([s, SPADE-G(s)])) + feature matching (+ λ_vgg·VGG)
//           on the real layout s (SPADE's own G loss, as stage 2 computes it).
//           The D2 term reaches SPADE-G's weights and, through SPADE-G's layout
//           gradient (only the fc head's path, the fork's seg.detach()), the
//           upsample and the straight-through Gumbel, G_SB. Every discriminator
//           is crossed with ParamGrads::skip; G_SB and SPADE-G are stepped.
//   D step, with a fresh ŝ = ST-Gumbel(G_SB(z')) (detached):
//           λ_pgan·[mean D_SB(ŝ) − mean D_SB(s↓) + 10·GP]  (s↓: s subsampled with
//                                                          stride `scaling`)
//         + hinge D fake + hinge D real on D_SPD with SPADE-G(s) (detached)
//         + λ_D2·(hinge D fake + hinge D real) on D2 with SPADE-G(upsample(ŝ));
//           D_SB, D_SPD and D2 are stepped.
//
// Optimizers (§8.4), all fresh: G_SB and D_SB Adam (0, 0.99) at lr_pgan; SPADE-G
// Adam (0, 0.9) at 1e-4, D_SPD (0, 0.9) at 4e-4; D2 (0, 0.99) at 2e-4. The phase is
// fixed to "stabilize": every step sets G_SB's and D_SB's fade α to 1 and puts the
// networks in training mode; the caller picks G_SB's and D_SB's active blocks.
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/multiscale_discriminator.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/losses/feature_matching.hpp"
#include "sbgan/losses/hinge.hpp"
#include "sbgan/losses/improved_wgan.hpp"
#include "sbgan/losses/vgg_perceptual.hpp"
#include "sbgan/models/layout_generator.hpp"
#include "sbgan/optim/adam.hpp"
#include "sbgan/train/spade_stage.hpp"

namespace sbgan {

template <class T, class B = cpu>
struct EndToEndOptions {
  double lr_pgan = 1e-5;     // G_SB and D_SB: 1e-5 Cityscapes, 1e-4 ADE-Indoor
  double lr_spade_g = 1e-4;  // SPADE's TTUR split of --lr 2e-4
  double lr_spade_d = 4e-4;
  double lr_d2 = 2e-4;       // --lr
  double lambda_pgan = 10;   // the layout GAN's loss weight (critic loss and GP included)
  double lambda_gp = 10;     // the gradient penalty's own weight inside the critic loss
  double lambda_d2 = 0.1;    // the D2 terms, G and D side
  double lambda_feat = 10;
  double lambda_vgg = 10;
  index_t scaling = 1;       // image size / G_SB's layout size (1: G_SB works at image size)
  VGGPerceptualLoss<T, B>* vgg = nullptr;  // null: no perceptual term
};

// Every loss term as it enters its network's loss (weights applied).
struct EndToEndStepStats {
  double g_layout = 0;   // λ_pgan·(−mean D_SB(ŝ))
  double g_d2 = 0;       // λ_D2·hinge G through D2 (fake from fake)
  double g_gan = 0;      // hinge G through D_SPD (fake from real)
  double g_feat = 0;     // feature matching on D_SPD
  double g_vgg = 0;      // λ_vgg·VGG; 0 when off
  double d_layout = 0;   // λ_pgan·(critic difference + λ_gp·GP)
  double d_layout_penalty = 0;  // its λ_pgan·λ_gp·GP part
  double d_spade_fake = 0;
  double d_spade_real = 0;
  double d2_fake = 0;    // λ_D2·hinge D fake
  double d2_real = 0;    // λ_D2·hinge D real
  [[nodiscard]] double generator_loss() const { return g_layout + g_d2 + g_gan + g_feat + g_vgg; }
  [[nodiscard]] double discriminator_loss() const { return d_layout + d_spade_fake + d_spade_real + d2_fake + d2_real; }
};

struct D2PretrainStats {
  double d_fake = 0;
  double d_real = 0;
  [[nodiscard]] double loss() const { return d_fake + d_real; }
};

template <class LayoutGen, class Critic, class SpadeG, class Discriminator>
class EndToEndStage {
 public:
  using T = typename Discriminator::value_type;
  using B = typename Discriminator::backend;
  using tensor = Tensor<T, B>;
  using options_type = EndToEndOptions<T, B>;

  EndToEndStage(LayoutGen& g_sb, Critic& d_sb, SpadeG& spade_g, Discriminator& d_spade, Discriminator& d2,
                Generator& rng, const options_type& options = {})
      : g_sb_(g_sb), d_sb_(d_sb), spade_g_(spade_g), d_spade_(d_spade), d2_(d2), rng_(rng),
        options_(checked(options)),
        opt_g_sb_({options.lr_pgan, 0.0, 0.99, 1e-8}), opt_d_sb_({options.lr_pgan, 0.0, 0.99, 1e-8}),
        opt_spade_g_({options.lr_spade_g, 0.0, 0.9, 1e-8}), opt_spade_d_({options.lr_spade_d, 0.0, 0.9, 1e-8}),
        opt_d2_({options.lr_d2, 0.0, 0.99, 1e-8}),
        layout_loss_(ImprovedWganOptions{options.lambda_gp, 0.0, options.lambda_pgan}),
        feature_matching_(FeatureMatchingOptions{options.lambda_feat}) {
    const auto& g = spade_g.options();
    const index_t k = g.label_channels;
    if (g_sb.classes() != k || d_sb.options().classes != k)
      throw error("EndToEndStage: G_SB makes " + std::to_string(g_sb.classes()) + " classes and D_SB takes " +
                  std::to_string(d_sb.options().classes) + "; the SPADE generator takes " + std::to_string(k));
    check_input_channels(d_spade, k + g.image_channels, "D_SPADE", "concat(layout, image)");
    check_input_channels(d2, g.image_channels, "D2", "the image");
    if (g.height % options.scaling != 0 || g.width % options.scaling != 0)
      throw error("EndToEndStage: scaling " + std::to_string(options.scaling) + " does not divide the image size " +
                  std::to_string(g.height) + "x" + std::to_string(g.width));
    opt_g_sb_.add(g_sb_);
    opt_d_sb_.add(d_sb_);
    opt_spade_g_.add(spade_g_);
    opt_spade_d_.add(d_spade_);
    opt_d2_.add(d2_);
  }

  [[nodiscard]] const options_type& options() const { return options_; }
  [[nodiscard]] Adam<T, B>& layout_generator_optimizer() { return opt_g_sb_; }
  [[nodiscard]] Adam<T, B>& layout_critic_optimizer() { return opt_d_sb_; }
  [[nodiscard]] Adam<T, B>& image_generator_optimizer() { return opt_spade_g_; }
  [[nodiscard]] Adam<T, B>& image_discriminator_optimizer() { return opt_spade_d_; }
  [[nodiscard]] Adam<T, B>& d2_optimizer() { return opt_d2_; }

  // G_SB's layout size, which step() and pretrain_d2_step() expect ×scaling to
  // give the image size.
  [[nodiscard]] index_t layout_height() const {
    return g_sb_.network().options().base_height << (g_sb_.network().active_blocks() - 1);
  }
  [[nodiscard]] index_t layout_width() const { return g_sb_.network().options().aspect * layout_height(); }

  // One D2 pre-training iteration on real images [N, C, H, W] in [-1, 1].
  D2PretrainStats pretrain_d2_step(const tensor& real) {
    check_images(real);
    set_training();
    const index_t n = real.shape().n();
    const LayoutSampling before = g_sb_.sampling();
    g_sb_.set_sampling(LayoutSampling::inference);
    tensor layout;
    try {
      layout = g_sb_.forward(g_sb_.sample_latent(n, rng_)).output;
    } catch (...) {
      g_sb_.set_sampling(before);
      throw;
    }
    g_sb_.set_sampling(before);
    const tensor fake = spade_g_.forward(upsample(layout)).output;  // detached
    D2PretrainStats stats;
    d2_discriminator_pass(fake, real, 1.0, stats.d_fake, stats.d_real);
    opt_d2_.step();
    opt_d2_.zero_grad();
    return stats;
  }

  // The reference re-creates D2's optimizer after pre-training: fresh Adam state,
  // the rate back at lr_d2.
  void finish_d2_pretraining() {
    opt_d2_.visit_state([](std::string_view, AdamState<T, B>& s) {
      s.step = 0;
      s.exp_avg = zeros_like(s.exp_avg);
      s.exp_avg_sq = zeros_like(s.exp_avg_sq);
    });
    opt_d2_.set_lr(options_.lr_d2);
  }

  // One iteration: real layouts [N, K, H, W] (one-hot) and images [N, C, H, W].
  EndToEndStepStats step(const tensor& layouts, const tensor& real) {
    EndToEndStepStats stats;
    generator_step(layouts, real, stats);
    discriminator_step(layouts, real, stats);
    return stats;
  }

  // The two halves of step(), for callers (and tests) that need them apart.
  void generator_step(const tensor& layouts, const tensor& real, EndToEndStepStats& stats) {
    check_batch(layouts, real);
    set_training();
    const index_t n = layouts.shape().n();

    // The layout term through D_SB (whose grads stay untouched).
    auto g_ctx = g_sb_.forward(g_sb_.sample_latent(n, rng_));
    const tensor& layout = g_ctx.output;
    const auto pro = layout_loss_.generator_loss(d_sb_, layout);
    stats.g_layout = pro.value;
    tensor d_layout = clone(pro.grad);

    // Fake from fake: λ_D2·hinge G through D2, back through SPADE-G into the layout.
    {
      const tensor upsampled = upsample(layout);
      auto fff = spade_g_.forward(upsampled);
      auto d_ctx = d2_.forward(detail::concat_batch(fff.output, real));
      const std::size_t scales = d_ctx.scales.size();
      std::vector<tensor> fake_preds;
      for (std::size_t i = 0; i < scales; ++i) fake_preds.push_back(detail::split_batch(d_ctx.scales[i].output).first);
      const auto gan = HingeLoss::generator(fake_preds);
      stats.g_d2 = options_.lambda_d2 * gan.value;
      std::vector<std::vector<tensor>> d_out(scales);
      for (std::size_t i = 0; i < scales; ++i) {
        tensor g = clone(gan.grads[i]);
        kernels::scale(g, static_cast<T>(options_.lambda_d2));
        d_out[i].resize(d_ctx.scales[i].features.size());
        d_out[i].back() = detail::concat_batch(g, zeros_like(g));
      }
      tensor d_input = zeros<T, B>(Shape{2 * n, real.shape().c(), real.shape().h(), real.shape().w()});
      d2_.backward(d_ctx, d_out, d_input, ParamGrads::skip);
      const tensor d_fake = detail::split_batch(d_input).first;
      tensor d_upsampled = zeros_like(upsampled);
      spade_g_.backward(fff, d_fake, d_upsampled, ParamGrads::accumulate);
      upsample_backward(d_upsampled, d_layout);
    }

    // Fake from real: SPADE's G loss on the real layouts.
    spade_generator_pass(layouts, real, stats);

    tensor dz = zeros<T, B>(Shape{n, g_sb_.latent()});
    g_sb_.backward(g_ctx, d_layout, dz, ParamGrads::accumulate);
    opt_g_sb_.step();
    opt_spade_g_.step();
    opt_g_sb_.zero_grad();
    opt_spade_g_.zero_grad();
  }

  void discriminator_step(const tensor& layouts, const tensor& real, EndToEndStepStats& stats) {
    check_batch(layouts, real);
    set_training();
    const index_t n = layouts.shape().n();
    const tensor layout = g_sb_.forward(g_sb_.sample_latent(n, rng_)).output;  // detached

    // The layout critic on real layouts picked with stride `scaling`.
    tensor real_small = layouts;
    if (options_.scaling != 1) {
      real_small = tensor(Shape{n, layouts.shape().c(), layout_height(), layout_width()});
      kernels::resize_nearest(layouts, real_small);  // integer ratio: src = dst·scaling
    }
    const auto critic = layout_loss_.discriminator_loss(d_sb_, real_small, layout, rng_);
    stats.d_layout = critic.value;
    stats.d_layout_penalty = critic.penalty;

    // D_SPADE on the real layouts.
    {
      const tensor fake = spade_g_.forward(layouts).output;
      const tensor d_input = detail::concat_batch(conditional_input(layouts, fake), conditional_input(layouts, real));
      auto d_ctx = d_spade_.forward(d_input);
      std::tie(stats.d_spade_fake, stats.d_spade_real) =
          detail::hinge_discriminator_pass(d_spade_, d_ctx, d_input.shape(), 1.0);
    }

    // D2 on SPADE-G(upsample(ŝ)).
    const tensor fake = spade_g_.forward(upsample(layout)).output;
    d2_discriminator_pass(fake, real, options_.lambda_d2, stats.d2_fake, stats.d2_real);

    opt_d_sb_.step();
    opt_d2_.step();
    opt_spade_d_.step();
    opt_d_sb_.zero_grad();
    opt_d2_.zero_grad();
    opt_spade_d_.zero_grad();
  }

 private:
  static const options_type& checked(const options_type& o) {
    if (!(o.lr_pgan >= 0) || !(o.lr_spade_g >= 0) || !(o.lr_spade_d >= 0) || !(o.lr_d2 >= 0))
      throw error("EndToEndStage: learning rates must be non-negative");
    if (!(o.lambda_pgan >= 0) || !(o.lambda_gp >= 0) || !(o.lambda_d2 >= 0) || !(o.lambda_feat >= 0) ||
        !(o.lambda_vgg >= 0))
      throw error("EndToEndStage: loss weights must be non-negative");
    if (o.scaling < 1) throw error("EndToEndStage: scaling must be at least 1, got " + std::to_string(o.scaling));
    return o;
  }

  static void check_input_channels(Discriminator& d, index_t expected, const char* name, const char* what) {
    for (int i = 0; i < d.scale_count(); ++i)
      if (d.scale(i).options().input_channels != expected)
        throw error(std::string("EndToEndStage: ") + name + " takes " +
                    std::to_string(d.scale(i).options().input_channels) + " input channels; " + what + " has " +
                    std::to_string(expected));
  }

  void check_images(const tensor& real) const {
    const Shape& s = real.shape();
    if (s.rank() != 4 || s.n() < 1)
      throw shape_error("EndToEndStage", "real images", spade_g_.output_shape(1).str() + " with N >= 1", s);
    expect_shape("EndToEndStage", "real images", spade_g_.output_shape(s.n()), s);
    check_layout_size();
  }

  void check_batch(const tensor& layouts, const tensor& real) const {
    const auto& g = spade_g_.options();
    const Shape& s = layouts.shape();
    if (s.rank() != 4 || s.n() < 1)
      throw shape_error("EndToEndStage", "real layouts",
                        "[N, " + std::to_string(g.label_channels) + ", " + std::to_string(g.height) + ", " +
                            std::to_string(g.width) + "]",
                        s);
    expect_shape("EndToEndStage", "real layouts", Shape{s.n(), g.label_channels, g.height, g.width}, s);
    expect_shape("EndToEndStage", "real images (one per layout)", spade_g_.output_shape(s.n()), real.shape());
    check_layout_size();
  }

  void check_layout_size() const {
    const auto& g = spade_g_.options();
    const index_t h = layout_height(), w = layout_width();
    if (h * options_.scaling != g.height || w * options_.scaling != g.width)
      throw error("EndToEndStage: G_SB makes " + std::to_string(h) + "x" + std::to_string(w) +
                  " layouts, which scaling " + std::to_string(options_.scaling) + " does not bring to the image size " +
                  std::to_string(g.height) + "x" + std::to_string(g.width));
    if (d_sb_.active_blocks() != g_sb_.network().active_blocks())
      throw error("EndToEndStage: G_SB runs " + std::to_string(g_sb_.network().active_blocks()) +
                  " blocks but D_SB " + std::to_string(d_sb_.active_blocks()));
  }

  void set_training() {
    g_sb_.set_training(true);
    g_sb_.network().set_alpha(T(1));
    d_sb_.set_alpha(T(1));
    spade_g_.set_training(true);
    d_spade_.set_training(true);
    d2_.set_training(true);
  }

  tensor upsample(const tensor& layout) const {
    if (options_.scaling == 1) return layout;
    const Shape& s = layout.shape();
    tensor out(Shape{s.n(), s.c(), s.h() * options_.scaling, s.w() * options_.scaling});
    kernels::resize_nearest(layout, out);
    return out;
  }

  void upsample_backward(const tensor& d_upsampled, tensor& d_layout) const {
    if (options_.scaling == 1)
      kernels::axpy(T(1), d_upsampled, d_layout);
    else
      kernels::resize_nearest_backward(d_upsampled, d_layout);
  }

  // SPADE's G loss on real layouts (stage 2's generator step, without the update):
  // adds into SPADE-G's grads, D_SPADE crossed with skip.
  void spade_generator_pass(const tensor& layouts, const tensor& real, EndToEndStepStats& stats) {
    const auto terms = detail::spade_generator_pass(spade_g_, d_spade_, feature_matching_, options_.vgg,
                                                    options_.lambda_vgg, layouts, real);
    stats.g_gan = terms.gan;
    stats.g_feat = terms.feat;
    stats.g_vgg = terms.vgg;
  }

  // D2 on [fake; real]: weight·(hinge D fake + hinge D real) into D2's grads.
  void d2_discriminator_pass(const tensor& fake, const tensor& real, double weight, double& d_fake, double& d_real) {
    const tensor d_input = detail::concat_batch(fake, real);
    auto d_ctx = d2_.forward(d_input);
    std::tie(d_fake, d_real) = detail::hinge_discriminator_pass(d2_, d_ctx, d_input.shape(), weight);
  }

  LayoutGen& g_sb_;
  Critic& d_sb_;
  SpadeG& spade_g_;
  Discriminator& d_spade_;
  Discriminator& d2_;
  Generator& rng_;
  options_type options_;
  Adam<T, B> opt_g_sb_, opt_d_sb_, opt_spade_g_, opt_spade_d_, opt_d2_;
  ImprovedWganLoss<Critic> layout_loss_;
  FeatureMatchingLoss feature_matching_;
};

}  // namespace sbgan
