#pragma once
// Stage 2 of SB-GAN (reference §6.3–6.5): SPADE trained on ground-truth layouts.
// The SPADE generator G_SPD maps a one-hot layout to an image; the conditional
// multiscale discriminator D_SPD sees concat(layout, image). One G step then one D
// step per iteration, as SPADE's pix2pix_trainer runs them:
//
//   G step  fake = G(layout); D runs once on the batch [concat(layout, fake);
//           concat(layout, real)] (fakes first, split in half afterwards, as
//           pix2pix_model.discriminate does, so D's spectral norms run one power
//           iteration per step as in the reference);
//           loss_G = hinge G (averaged over scales)
//                  + feature matching (λ_feat/num_D per term, real features constant)
//                  + λ_vgg·VGG(fake, real) when a perceptual loss is given.
//           The gradient crosses D with ParamGrads::skip, so D's grads stay zero.
//   D step  fake = G(layout) again (generate_fake under no_grad: a fresh forward,
//           detached); loss_D = hinge D fake + hinge D real (each averaged over
//           scales, not halved); backward into D only.
//
// The trainer owns two Adam optimizers with SPADE's TTUR: G lr = lr/2, D lr = 2·lr,
// betas (0, 0.9) hard-coded as in the reference. The caller puts the networks in
// training mode (step() does it too, since sampling may have switched them).
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/multiscale_discriminator.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/losses/feature_matching.hpp"
#include "sbgan/losses/hinge.hpp"
#include "sbgan/losses/vgg_perceptual.hpp"
#include "sbgan/optim/adam.hpp"
#include "sbgan/optim/schedule.hpp"

namespace sbgan {

template <class T, class B = cpu>
struct SpadeStageOptions {
  double lr = 2e-4;        // SPADE's --lr: G gets lr/2, D gets lr·2 (TTUR)
  double beta1 = 0.0;      // hard-coded in the reference whenever TTUR is on
  double beta2 = 0.9;
  double lambda_feat = 10;
  double lambda_vgg = 10;
  VGGPerceptualLoss<T, B>* vgg = nullptr;  // null: no perceptual term (no VGG19 weights)
};

// Every loss term as it enters its network's loss (weights applied).
struct SpadeStepStats {
  double g_gan = 0;   // hinge G, averaged over scales
  double g_feat = 0;  // feature matching, λ_feat/num_D per term
  double g_vgg = 0;   // λ_vgg·VGG; 0 when off
  double d_fake = 0;
  double d_real = 0;
  [[nodiscard]] double generator_loss() const { return g_gan + g_feat + g_vgg; }
  [[nodiscard]] double discriminator_loss() const { return d_fake + d_real; }
};

namespace detail {

// concat along the batch: NCHW is contiguous, so [N, C, H, W] viewed as
// [1, N·C, H, W] turns a batch concatenation into a channel one.
template <class T, class B>
Tensor<T, B> concat_batch(const Tensor<T, B>& first, const Tensor<T, B>& second) {
  const Shape& a = first.shape();
  const Shape& b = second.shape();
  Tensor<T, B> out(Shape{a.n() + b.n(), a.c(), a.h(), a.w()});
  auto flat = out.reshaped(Shape{1, (a.n() + b.n()) * a.c(), a.h(), a.w()});
  kernels::concat_channels(std::vector<Tensor<T, B>>{first.reshaped(Shape{1, a.n() * a.c(), a.h(), a.w()}),
                                                     second.reshaped(Shape{1, b.n() * b.c(), b.h(), b.w()})},
                           flat);
  return out;
}

// The two halves of a batch of 2N, as fresh tensors.
template <class T, class B>
std::pair<Tensor<T, B>, Tensor<T, B>> split_batch(const Tensor<T, B>& x) {
  const Shape& s = x.shape();
  const index_t half = s.n() / 2;
  std::pair<Tensor<T, B>, Tensor<T, B>> out{zeros<T, B>(Shape{half, s.c(), s.h(), s.w()}),
                                            zeros<T, B>(Shape{half, s.c(), s.h(), s.w()})};
  const Shape flat_half{1, half * s.c(), s.h(), s.w()};
  std::vector<Tensor<T, B>> parts{out.first.reshaped(flat_half), out.second.reshaped(flat_half)};
  kernels::split_channels_add(x.reshaped(Shape{1, s.n() * s.c(), s.h(), s.w()}), parts);
  return out;
}

// The weighted terms of SPADE's generator loss.
struct SpadeGeneratorTerms {
  double gan = 0, feat = 0, vgg = 0;
};

// SPADE's generator loss on real layouts (stage 2's G step, and stage 3's "fake
// from real" term): G, then the conditional D once on [fake; real], hinge +
// feature matching (+ λ_vgg·VGG when given), back-propagated into G's parameter
// grads with D crossed by ParamGrads::skip. The optimizer step is the caller's.
template <class SpadeG, class Discriminator, class T, class B>
SpadeGeneratorTerms spade_generator_pass(SpadeG& generator, Discriminator& discriminator,
                                         const FeatureMatchingLoss& feature_matching, VGGPerceptualLoss<T, B>* vgg,
                                         double lambda_vgg, const Tensor<T, B>& layouts, const Tensor<T, B>& real) {
  using tensor = Tensor<T, B>;
  auto g_ctx = generator.forward(layouts);
  const tensor& fake = g_ctx.output;
  const tensor d_input = detail::concat_batch(conditional_input(layouts, fake), conditional_input(layouts, real));
  auto d_ctx = discriminator.forward(d_input);
  const std::size_t scales = d_ctx.scales.size();

  ScaleOutputs<T, B> fake_out(scales), real_out(scales);
  std::vector<tensor> fake_preds;
  for (std::size_t i = 0; i < scales; ++i) {
    for (const auto& f : d_ctx.scales[i].features) {
      auto halves = detail::split_batch(f);
      fake_out[i].push_back(std::move(halves.first));
      real_out[i].push_back(std::move(halves.second));
    }
    fake_preds.push_back(fake_out[i].back());
  }
  const auto gan = HingeLoss::generator(fake_preds);
  auto feat = feature_matching(fake_out, real_out);  // grads on the fake half only
  SpadeGeneratorTerms terms{gan.value, feat.value, 0.0};

  // Gradients on D's outputs for the whole 2N batch: the fake half carries the
  // losses, the real half nothing (its features are constants).
  std::vector<std::vector<tensor>> d_out(scales);
  for (std::size_t i = 0; i < scales; ++i) {
    kernels::axpy(T(1), gan.grads[i], feat.grad_fake[i].back());
    for (const auto& g : feat.grad_fake[i]) d_out[i].push_back(detail::concat_batch(g, zeros_like(g)));
  }
  tensor d_input_grad = zeros_like(d_input);
  discriminator.backward(d_ctx, d_out, d_input_grad, ParamGrads::skip);

  const auto halves = detail::split_batch(d_input_grad);
  tensor d_layout = zeros_like(layouts);  // the layouts are data: their gradient is dropped
  tensor d_fake = zeros_like(fake);
  conditional_input_backward(halves.first, d_layout, d_fake);
  if (vgg != nullptr) terms.vgg = lambda_vgg * vgg->accumulate(fake, real, static_cast<T>(lambda_vgg), d_fake);
  generator.backward(g_ctx, d_fake, ParamGrads::accumulate);
  return terms;
}

// The hinge D loss on a [fake; real] batch already run through `d`, ×weight,
// back-propagated into d's parameter grads; returns the weighted fake and real terms.
template <class Discriminator>
std::pair<double, double> hinge_discriminator_pass(Discriminator& d, const typename Discriminator::context& d_ctx,
                                                   const Shape& input, double weight) {
  using T = typename Discriminator::value_type;
  using B = typename Discriminator::backend;
  const std::size_t scales = d_ctx.scales.size();
  std::vector<Tensor<T, B>> fake_preds, real_preds;
  for (std::size_t i = 0; i < scales; ++i) {
    auto halves = split_batch(d_ctx.scales[i].output);
    fake_preds.push_back(std::move(halves.first));
    real_preds.push_back(std::move(halves.second));
  }
  const auto fake = HingeLoss::discriminator_fake(fake_preds);
  const auto real = HingeLoss::discriminator_real(real_preds);
  std::vector<std::vector<Tensor<T, B>>> d_out(scales);
  for (std::size_t i = 0; i < scales; ++i) {
    d_out[i].resize(d_ctx.scales[i].features.size());  // empty: no gradient on the intermediate features
    d_out[i].back() = concat_batch(fake.grads[i], real.grads[i]);
    if (weight != 1.0) kernels::scale(d_out[i].back(), static_cast<T>(weight));
  }
  auto d_input = zeros<T, B>(input);  // the inputs are constants; computed and dropped
  d.backward(d_ctx, d_out, d_input, ParamGrads::accumulate);
  return {weight * fake.value, weight * real.value};
}

}  // namespace detail

template <class SpadeG, class Discriminator>
class SpadeStage {
 public:
  using T = typename Discriminator::value_type;
  using B = typename Discriminator::backend;
  using tensor = Tensor<T, B>;
  using options_type = SpadeStageOptions<T, B>;

  SpadeStage(SpadeG& generator, Discriminator& discriminator, const options_type& options = {})
      : generator_(generator), discriminator_(discriminator), options_(checked(options)),
        opt_g_({options.lr / 2, options.beta1, options.beta2, 1e-8}),
        opt_d_({options.lr * 2, options.beta1, options.beta2, 1e-8}),
        feature_matching_(FeatureMatchingOptions{options.lambda_feat}) {
    const auto& g = generator.options();
    const index_t expected = g.label_channels + g.image_channels;
    for (int i = 0; i < discriminator.scale_count(); ++i)
      if (discriminator.scale(i).options().input_channels != expected)
        throw error("SpadeStage: the discriminator takes " +
                    std::to_string(discriminator.scale(i).options().input_channels) +
                    " input channels; concat(layout, image) has " + std::to_string(expected));
    opt_g_.add(generator_);
    opt_d_.add(discriminator_);
  }

  [[nodiscard]] const options_type& options() const { return options_; }
  [[nodiscard]] Adam<T, B>& generator_optimizer() { return opt_g_; }
  [[nodiscard]] Adam<T, B>& discriminator_optimizer() { return opt_d_; }

  // A new base rate with the TTUR split, as the reference's update_learning_rate.
  void set_learning_rate(double lr) {
    if (!(lr >= 0)) throw error("SpadeStage: the learning rate must be non-negative");
    opt_g_.set_lr(lr / 2);
    opt_d_.set_lr(lr * 2);
  }
  // The reference's end-of-epoch hook; returns whether the rates changed.
  bool end_epoch(LinearDecaySchedule& schedule, int epoch) { return schedule.apply(epoch, opt_g_, opt_d_); }

  // One iteration: layouts [N, K, H, W] (one-hot), real images [N, C, H, W] in [-1, 1].
  SpadeStepStats step(const tensor& layouts, const tensor& real) {
    SpadeStepStats stats;
    generator_step(layouts, real, stats);
    discriminator_step(layouts, real, stats);
    return stats;
  }

  // The two halves of step(), for callers (and tests) that need them apart.
  void generator_step(const tensor& layouts, const tensor& real, SpadeStepStats& stats) {
    check_batch(layouts, real);
    set_training();
    const auto terms = detail::spade_generator_pass(generator_, discriminator_, feature_matching_, options_.vgg,
                                                    options_.lambda_vgg, layouts, real);
    stats.g_gan = terms.gan;
    stats.g_feat = terms.feat;
    stats.g_vgg = terms.vgg;
    opt_g_.step();
    opt_g_.zero_grad();
  }

  void discriminator_step(const tensor& layouts, const tensor& real, SpadeStepStats& stats) {
    check_batch(layouts, real);
    set_training();
    const tensor fake = generator_.forward(layouts).output;  // detached: nothing flows back into G
    const tensor d_input = detail::concat_batch(conditional_input(layouts, fake), conditional_input(layouts, real));
    auto d_ctx = discriminator_.forward(d_input);
    std::tie(stats.d_fake, stats.d_real) = detail::hinge_discriminator_pass(discriminator_, d_ctx, d_input.shape(), 1.0);
    opt_d_.step();
    opt_d_.zero_grad();
  }

 private:
  static const options_type& checked(const options_type& o) {
    if (!(o.lr >= 0)) throw error("SpadeStage: the learning rate must be non-negative");
    if (!(o.lambda_feat >= 0) || !(o.lambda_vgg >= 0)) throw error("SpadeStage: loss weights must be non-negative");
    return o;
  }

  void check_batch(const tensor& layouts, const tensor& real) const {
    const auto& g = generator_.options();
    const Shape& s = layouts.shape();
    if (s.rank() != 4 || s.n() < 1)
      throw shape_error("SpadeStage", "layouts", "[N, " + std::to_string(g.label_channels) + ", " +
                                                     std::to_string(g.height) + ", " + std::to_string(g.width) + "]",
                        s);
    expect_shape("SpadeStage", "layouts", Shape{s.n(), g.label_channels, g.height, g.width}, s);
    expect_shape("SpadeStage", "real images (one per layout)", generator_.output_shape(s.n()), real.shape());
  }

  void set_training() {
    generator_.set_training(true);
    discriminator_.set_training(true);
  }

  SpadeG& generator_;
  Discriminator& discriminator_;
  options_type options_;
  Adam<T, B> opt_g_, opt_d_;
  FeatureMatchingLoss feature_matching_;
};

}  // namespace sbgan
