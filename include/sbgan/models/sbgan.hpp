#pragma once
// SBGAN<Traits>: the five networks of SB-GAN built from one SBGanConfig (reference
// §1, §3, §4, §6, §7):
//   G_SB      LayoutGenerator: z -> softmax layout -> Gumbel-softmax one-hot
//   D_SB      ProgressiveCritic on K-channel layouts
//   G_SPADE   SpadeGenerator: layout -> image in [-1, 1]
//   D_SPADE   conditional MultiscaleDiscriminator on concat(layout, image), K + 3 channels
//   D2        unconditional MultiscaleDiscriminator on images, 3 channels
// Compile-time choices are the Traits (scalar, backend, pixel-norm form, SPADE
// norm); run-time sizes come from the config, whose pixel_norm and spade.norm must
// name the same choices (a program switches on them to pick the instantiation).
//
// Names: each network's reference state-dict keys behind a prefix. The reference
// keeps them in separate files: G_SB and D_SB in the stage-1 checkpoint
// <iter>.pth ('G' and 'D'), G_SPADE and D_SPADE in <epoch>_net_G.pth and
// <epoch>_net_D.pth, D2 in <iter>_net_D2.pth.
//
// Initialisation: G_SB and D_SB as ProGAN (N(0, 1) stored weights, built so);
// G_SPADE, D_SPADE and D2 by init_spade_reference (xavier 0.02 as the reference ran
// it; see models/init.hpp). Weights are drawn from `init` in the order G_SB, D_SB,
// G_SPADE, D_SPADE, D2, then the three xavier passes; the Gumbel noise has its own
// generator, init's seed on stream init.stream() + 1.
#include <string>
#include <string_view>
#include <type_traits>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/multiscale_discriminator.hpp"
#include "sbgan/blocks/progan_critic.hpp"
#include "sbgan/layers/batch_norm.hpp"
#include "sbgan/layers/instance_norm.hpp"
#include "sbgan/models/config.hpp"
#include "sbgan/models/init.hpp"
#include "sbgan/models/layout_generator.hpp"
#include "sbgan/models/spade_generator.hpp"

namespace sbgan {

template <class T = float, class B = cpu, PixelNormForm Form = PixelNormForm::official,
          SpadeNormKind Norm = SpadeNormKind::batch>
struct SBGanTraits {
  using value_type = T;
  using backend = B;
  static constexpr PixelNormForm pixel_norm = Form;
  static constexpr SpadeNormKind spade_norm = Norm;
  using spade_norm_layer = std::conditional_t<Norm == SpadeNormKind::batch, BatchNorm<T, B>, InstanceNorm<T, B>>;
};

template <class Traits = SBGanTraits<>>
class SBGAN {
 public:
  using value_type = typename Traits::value_type;
  using backend = typename Traits::backend;
  using T = value_type;
  using B = backend;
  using tensor = Tensor<T, B>;
  using layout_generator_type = LayoutGenerator<T, B, Traits::pixel_norm>;
  using layout_critic_type = ProgressiveCritic<T, B>;
  using image_generator_type = SpadeGenerator<typename Traits::spade_norm_layer>;
  using discriminator_type = MultiscaleDiscriminator<T, B>;

  static constexpr std::string_view g_sb_prefix = "G_SB.";
  static constexpr std::string_view d_sb_prefix = "D_SB.";
  static constexpr std::string_view g_spade_prefix = "G_SPADE.";
  static constexpr std::string_view d_spade_prefix = "D_SPADE.";
  static constexpr std::string_view d2_prefix = "D2.";

  SBGAN(const SBGanConfig& config, Generator& init)
      : config_(checked(config)),
        g_sb_(layout_generator_options(config_), init, Generator(init.seed(), init.stream() + 1),
              GumbelSoftmaxOptions{config_.layout_gan.temperature, config_.layout_gan.gumbel_epsilon}),
        d_sb_(layout_critic_options(config_), init),
        g_spade_(config_.spade_generator_options(), init),
        d_spade_({config_.patch_options(config_.classes + 3), config_.spade.discriminator_scales}, init),
        d2_({config_.patch_options(3), config_.spade.discriminator_scales}, init) {
    init_spade_reference(g_spade_, init);
    init_spade_reference(d_spade_, init);
    init_spade_reference(d2_, init);
  }

  [[nodiscard]] const SBGanConfig& config() const { return config_; }
  layout_generator_type& g_sb() { return g_sb_; }
  layout_critic_type& d_sb() { return d_sb_; }
  image_generator_type& g_spade() { return g_spade_; }
  discriminator_type& d_spade() { return d_spade_; }
  discriminator_type& d2() { return d2_; }

  // The layouts' short side; G_SB and D_SB run the blocks for it (no fade).
  [[nodiscard]] index_t layout_resolution() const { return 4 << (d_sb_.active_blocks() - 1); }
  void set_layout_resolution(index_t r) {
    const auto schedule = config_.layout_gan.resolutions();
    for (std::size_t i = 0; i < schedule.size(); ++i)
      if (schedule[i] == r) {
        g_sb_.network().set_active_blocks(static_cast<index_t>(i) + 1);
        d_sb_.set_active_blocks(static_cast<index_t>(i) + 1);
        return;
      }
    throw error(describe() + ": layout resolution " + std::to_string(r) + " is not in the schedule 4.." +
                std::to_string(config_.layout_gan.max_resolution));
  }

  // Training: Gumbel sampling, batch statistics, spectral-norm power iterations.
  void set_training(bool training) {
    g_sb_.set_training(training);
    g_spade_.set_training(training);
    d_spade_.set_training(training);
    d2_.set_training(training);
  }

  template <class F>
  void visit_parameters(F&& f) {
    each_network([&](std::string_view prefix, auto& net) {
      net.visit_parameters([&](std::string_view name, auto& p) { f(std::string(prefix) + std::string(name), p); });
    });
  }

  template <class F>
  void visit_buffers(F&& f) {
    each_network([&](std::string_view prefix, auto& net) {
      sbgan::visit_buffers(net, [&](std::string_view name, auto& t) { f(std::string(prefix) + std::string(name), t); });
    });
  }

  // z ~ N(0, I) for G_SB.
  tensor sample_latent(index_t batch, Generator& g) const { return g_sb_.sample_latent(batch, g); }

  // G_SB's layouts for `batch` fresh latents, in the given mode (G_SB's mode is
  // restored afterwards). The context keeps z's shape, p and the one-hot layout.
  typename layout_generator_type::context sample_layouts(index_t batch, Generator& g, LayoutSampling sampling) {
    const LayoutSampling before = g_sb_.sampling();
    g_sb_.set_sampling(sampling);
    try {
      auto ctx = g_sb_.forward(sample_latent(batch, g));
      g_sb_.set_sampling(before);
      return ctx;
    } catch (...) {
      g_sb_.set_sampling(before);
      throw;
    }
  }

  // A layout at G_SB's resolution nearest-upsampled to the image size (×scaling);
  // a layout already at the image size is returned as it is.
  tensor upsample_layout(const tensor& layout) const {
    const Shape target = image_layout_shape(layout.shape());
    if (layout.shape() == target) return layout;
    tensor out(target);
    kernels::resize_nearest(layout, out);
    return out;
  }
  // d_layout += the gradient of upsample_layout.
  void upsample_layout_backward(const tensor& d_upsampled, tensor& d_layout) const {
    expect_shape(describe(), "upsampled layout gradient", image_layout_shape(d_layout.shape()), d_upsampled.shape());
    if (d_upsampled.shape() == d_layout.shape())
      kernels::axpy(T(1), d_upsampled, d_layout);
    else
      kernels::resize_nearest_backward(d_upsampled, d_layout);
  }

  // G_SPADE's image for a layout at any power-of-two fraction of the image size.
  tensor synthesize(const tensor& layout) { return g_spade_.infer(upsample_layout(layout)); }

  [[nodiscard]] std::string describe() const { return "SBGAN(" + config_.name + ")"; }

 private:
  static const SBGanConfig& checked(const SBGanConfig& c) {
    c.validate();
    if (c.layout_gan.pixel_norm != Traits::pixel_norm)
      throw config_error("config key layout_gan.pixel_norm is '" + config_detail::enum_name(c.layout_gan.pixel_norm) +
                         "' but this SBGAN was compiled for '" + config_detail::enum_name(Traits::pixel_norm) + "'");
    if (c.spade.norm != Traits::spade_norm)
      throw config_error("config key spade.norm is '" + config_detail::enum_name(c.spade.norm) +
                         "' but this SBGAN was compiled for '" + config_detail::enum_name(Traits::spade_norm) + "'");
    return c;
  }

  static ProgressiveLayoutGeneratorOptions layout_generator_options(const SBGanConfig& c) {
    ProgressiveLayoutGeneratorOptions o;
    o.latent = c.layout_gan.latent;
    o.channels = c.layout_gan.channels();
    o.classes = c.classes;
    o.aspect = c.aspect();
    return o;
  }

  static ProgressiveCriticOptions layout_critic_options(const SBGanConfig& c) {
    ProgressiveCriticOptions o;
    o.classes = c.classes;
    o.channels = c.layout_gan.channels();
    o.aspect = c.aspect();
    o.minibatch_group = c.layout_gan.minibatch_stddev_group;
    return o;
  }

  Shape image_layout_shape(const Shape& layout) const {
    const index_t h = config_.height, w = config_.width;
    if (layout.rank() != 4 || layout.c() != config_.classes || layout.h() < 1 || h % layout.h() != 0 ||
        layout.w() * (h / layout.h()) != w)
      throw shape_error(describe(), "layout",
                        "[N, " + std::to_string(config_.classes) + ", " + std::to_string(h) + "/s, " +
                            std::to_string(w) + "/s] for an integer s",
                        layout);
    return Shape{layout.n(), layout.c(), h, w};
  }

  template <class F>
  void each_network(F&& f) {
    f(g_sb_prefix, g_sb_);
    f(d_sb_prefix, d_sb_);
    f(g_spade_prefix, g_spade_);
    f(d_spade_prefix, d_spade_);
    f(d2_prefix, d2_);
  }

  SBGanConfig config_;
  layout_generator_type g_sb_;
  layout_critic_type d_sb_;
  image_generator_type g_spade_;
  discriminator_type d_spade_;
  discriminator_type d2_;
};

}  // namespace sbgan
