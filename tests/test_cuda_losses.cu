// Every loss, the optimizer and one full SB-GAN end-to-end iteration on the GPU
// against the CPU, on the same networks (built from one seed, then given the CPU's
// exact state) and the same inputs: values, input gradients and the gradients the
// penalties add into the critic's parameters through the second-order pass. Plain
// losses compare at cuda_reduction, Adam at cuda_elementwise, anything that runs a
// network at cuda_composed. Labelled `gpu`; without a GPU every case says so and passes.
#include <catch2/catch.hpp>
#include <sbgan/sbgan.hpp>

#include <string>
#include <vector>

#include "support/cuda_parity.hpp"
#include "support/module_parity.hpp"
#include "support/parity_inputs.hpp"

using namespace sbgan;
using test_support::cotangents;
using test_support::normal;
using test_support::on_both;
using test_support::one_hot_layout;
using test_support::require_parity;
using test_support::require_same_buffers;
using test_support::require_same_construction;
using test_support::require_same_gradients;
using test_support::require_same_parameters;
using test_support::twin;

namespace {

constexpr double elementwise = tolerance::cuda_elementwise;
constexpr double reduction = tolerance::cuda_reduction;
constexpr double composed = tolerance::cuda_composed;

template <class T>
void require_loss_parity(const std::string& what, const LossGradient<T, cpu>& host, const LossGradient<T, cuda>& device,
                         double tolerance) {
  require_parity(what + " value", host.value, device.value, tolerance);
  require_parity(what + " gradient", host.grad, device.grad, tolerance);
}

template <class T>
void require_loss_parity(const std::string& what, const MultiscaleLossGradient<T, cpu>& host,
                         const MultiscaleLossGradient<T, cuda>& device, double tolerance) {
  require_parity(what + " value", host.value, device.value, tolerance);
  REQUIRE(host.grads.size() == device.grads.size());
  for (std::size_t i = 0; i < host.grads.size(); ++i)
    require_parity(what + " gradient of scale " + std::to_string(i), host.grads[i], device.grads[i], tolerance);
}

void require_same_norms(const std::string& what, const std::vector<double>& host, const std::vector<double>& device,
                        double tolerance) {
  REQUIRE(host.size() == device.size());
  for (std::size_t i = 0; i < host.size(); ++i)
    require_parity(what + " gradient norm " + std::to_string(i), host[i], device[i], tolerance);
}

template <class T>
void require_optional_parity(const std::string& what, const Tensor<T, cpu>& host, const Tensor<T, cuda>& device,
                             double tolerance) {
  REQUIRE(host.empty() == device.empty());
  if (!host.empty()) require_parity(what, host, device, tolerance);
}

template <class T>
void require_penalty_parity(const std::string& what, const PenaltyResult<T, cpu>& host,
                            const PenaltyResult<T, cuda>& device, double tolerance) {
  require_parity(what + " value", host.value, device.value, tolerance);
  require_same_norms(what, host.gradient_norms, device.gradient_norms, tolerance);
  require_optional_parity(what + " alpha", host.alpha, device.alpha, elementwise);
  require_optional_parity(what + " d/dreal", host.grad_real, device.grad_real, tolerance);
  require_optional_parity(what + " d/dfake", host.grad_fake, device.grad_fake, tolerance);
}

// A small critic with every kind of second-order layer a penalty meets: [2, 3, 9, 13] -> [2, 1].
template <class B>
using Critic = Sequential<Conv2d<float, B>, LeakyReLU<float, B>, AvgPool2d<float, B>, Conv2d<float, B>,
                          LeakyReLU<float, B>, Flatten<float, B>, Linear<float, B>>;
const Shape critic_input{2, 3, 9, 13};

template <class B>
Critic<B> make_critic(Generator& g) {
  return Critic<B>{Conv2d<float, B>({3, 4, 3, 1, 1}, g), LeakyReLU<float, B>(0.2f), AvgPool2d<float, B>::halve(),
                   Conv2d<float, B>({4, 4, 3, 2, 1}, g), LeakyReLU<float, B>(0.2f), Flatten<float, B>(),
                   Linear<float, B>({4 * 2 * 3, 1}, g)};
}

// A smooth critic for the finite-difference penalty (no kink within its step).
template <class B>
using SmoothCritic = Sequential<Conv2d<float, B>, Tanh<float, B>, Flatten<float, B>, Linear<float, B>>;

template <class B>
SmoothCritic<B> make_smooth_critic(Generator& g) {
  return SmoothCritic<B>{Conv2d<float, B>({3, 2, 3, 2, 1}, g), Tanh<float, B>(), Flatten<float, B>(),
                         Linear<float, B>({2 * 5 * 7, 1}, g)};
}

}  // namespace

// --- losses of network outputs ---------------------------------------------------------

TEST_CASE("CUDA hinge and WGAN losses match the CPU", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  // Predictions straddle the hinge at ±1.
  const auto a = twin(normal(1, Shape{2, 1, 9, 13})), b = twin(normal(2, Shape{2, 1, 5, 7}));
  require_loss_parity("hinge D real", HingeLoss::discriminator_real(a.host), HingeLoss::discriminator_real(a.device),
                      reduction);
  require_loss_parity("hinge D fake", HingeLoss::discriminator_fake(a.host), HingeLoss::discriminator_fake(a.device),
                      reduction);
  require_loss_parity("hinge G", HingeLoss::generator(a.host), HingeLoss::generator(a.device), reduction);
  const std::vector<Tensor<float>> scales_h{a.host, b.host};
  const std::vector<Tensor<float, cuda>> scales_d{a.device, b.device};
  require_loss_parity("multiscale hinge D real", HingeLoss::discriminator_real(scales_h),
                      HingeLoss::discriminator_real(scales_d), reduction);
  require_loss_parity("multiscale hinge D fake", HingeLoss::discriminator_fake(scales_h),
                      HingeLoss::discriminator_fake(scales_d), reduction);
  require_loss_parity("multiscale hinge G", HingeLoss::generator(scales_h), HingeLoss::generator(scales_d), reduction);

  const auto real = twin(normal(3, Shape{4, 1})), fake = twin(normal(4, Shape{4, 1}));
  const WganLoss wgan({.drift = 0.001});
  const auto critic_h = wgan.critic(real.host, fake.host);
  const auto critic_d = wgan.critic(real.device, fake.device);
  require_parity("WGAN critic value", critic_h.value, critic_d.value, reduction);
  require_parity("WGAN d/dD(real)", critic_h.grad_real, critic_d.grad_real, reduction);
  require_parity("WGAN d/dD(fake)", critic_h.grad_fake, critic_d.grad_fake, reduction);
  require_loss_parity("WGAN generator", WganLoss::generator(fake.host), WganLoss::generator(fake.device), reduction);
}

TEST_CASE("CUDA feature matching matches the CPU", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  Generator gen(5);
  // Two scales of three outputs each; the last of each scale is the prediction.
  const std::vector<std::vector<Shape>> shapes{{{2, 4, 9, 13}, {2, 8, 5, 7}, {2, 1, 6, 8}},
                                               {{2, 4, 5, 7}, {2, 8, 3, 4}, {2, 1, 4, 5}}};
  ScaleOutputs<float, cpu> fake_h, real_h;
  ScaleOutputs<float, cuda> fake_d, real_d;
  for (const auto& scale : shapes) {
    std::vector<Tensor<float>> like;
    for (const auto& s : scale) like.emplace_back(s);
    auto fake = cotangents(gen, like), real = cotangents(gen, like);
    fake_h.push_back(fake.first);
    fake_d.push_back(fake.second);
    real_h.push_back(real.first);
    real_d.push_back(real.second);
  }
  const FeatureMatchingLoss loss({.lambda = 10});
  const auto h = loss(fake_h, real_h);
  const auto d = loss(fake_d, real_d);
  require_parity("feature matching value", h.value, d.value, reduction);
  REQUIRE(h.grad_fake.size() == d.grad_fake.size());
  for (std::size_t i = 0; i < h.grad_fake.size(); ++i)
    for (std::size_t j = 0; j < h.grad_fake[i].size(); ++j)
      require_parity("d/dfake " + std::to_string(i) + "." + std::to_string(j), h.grad_fake[i][j], d.grad_fake[i][j],
                     reduction);
}

// --- penalties on the critic's input gradient (second order) ---------------------------

TEST_CASE("CUDA exact WGAN-GP gradient penalty matches the CPU, parameter gradients included", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(6, []<class B>(B, Generator& g) { return make_critic<B>(g); });
  require_same_construction("critic", host, device);
  const auto real = twin(normal(7, critic_input)), fake = twin(normal(8, critic_input));
  const GradientPenalty<Critic<cpu>> gp_h({.lambda = 10, .input_gradients = true});
  const GradientPenalty<Critic<cuda>> gp_d({.lambda = 10, .input_gradients = true});

  // Interpolation weights drawn from one seed on each backend (uniform: exact).
  Generator alpha_h(9), alpha_d(9);
  zero_grad(host);
  zero_grad(device);
  require_penalty_parity("GP", gp_h.apply(host, real.host, fake.host, alpha_h),
                         gp_d.apply(device, real.device, fake.device, alpha_d), composed);
  require_same_gradients("GP", host, device, composed);

  // Given α, and ParamGrads::skip leaves the grads as they were.
  const auto alpha = twin(Generator(10).uniform<float>(Shape{2}));
  require_penalty_parity("GP, given alpha, skip",
                         gp_h.apply(host, real.host, fake.host, alpha.host, ParamGrads::skip),
                         gp_d.apply(device, real.device, fake.device, alpha.device, ParamGrads::skip), composed);
  require_same_gradients("GP after skip", host, device, composed);
}

TEST_CASE("CUDA R1 penalty on a patch discriminator matches the CPU", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(11, []<class B>(B, Generator& g) {
    return PatchDiscriminator<float, B>(PatchDiscriminatorOptions::official(3, 4), g);
  });
  require_same_construction("patch discriminator", host, device);
  const auto real = twin(normal(12, Shape{2, 3, 17, 19}));
  const R1Penalty<PatchDiscriminator<float, cpu>> r1_h({.gamma = 10, .input_gradient = true});
  const R1Penalty<PatchDiscriminator<float, cuda>> r1_d({.gamma = 10, .input_gradient = true});
  zero_grad(host);
  zero_grad(device);
  require_penalty_parity("R1", r1_h.apply(host, real.host), r1_d.apply(device, real.device), composed);
  require_same_gradients("R1", host, device, composed);
  require_same_buffers("R1", host, device, composed);  // the power iterations of its forward
}

TEST_CASE("CUDA improved WGAN loss (critic and generator sides) matches the CPU", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(13, []<class B>(B, Generator& g) { return make_critic<B>(g); });
  require_same_construction("critic", host, device);
  const auto real = twin(normal(14, critic_input)), fake = twin(normal(15, critic_input));
  const auto alpha = twin(Generator(16).uniform<float>(Shape{2}));
  const ImprovedWganOptions o{.lambda = 10, .drift = 0.001, .weight = 2};
  const ImprovedWganLoss<Critic<cpu>> loss_h(o);
  const ImprovedWganLoss<Critic<cuda>> loss_d(o);
  zero_grad(host);
  zero_grad(device);
  const auto h = loss_h.discriminator_loss(host, real.host, fake.host, alpha.host);
  const auto d = loss_d.discriminator_loss(device, real.device, fake.device, alpha.device);
  require_parity("L_D", h.value, d.value, composed);
  require_parity("L_D critic difference", h.critic_difference, d.critic_difference, composed);
  require_parity("L_D drift", h.drift, d.drift, composed);
  require_parity("L_D penalty", h.penalty, d.penalty, composed);
  require_same_norms("L_D", h.gradient_norms, d.gradient_norms, composed);
  require_same_gradients("L_D", host, device, composed);
  require_loss_parity("L_G", loss_h.generator_loss(host, fake.host), loss_d.generator_loss(device, fake.device),
                      composed);
}

TEST_CASE("CUDA input-gradient penalty machinery and the approximate penalty match the CPU", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(17, []<class B>(B, Generator& g) { return make_smooth_critic<B>(g); });
  require_same_construction("smooth critic", host, device);
  const auto x = twin(normal(18, critic_input));
  // A penalty of the squared norms: P = Σ ‖gₙ‖², ∂P/∂gₙ = 2·gₙ.
  const auto sum_of_squares = [](const std::vector<double>& squared) {
    NormPenalty p;
    for (double sq : squared) {
      p.value += sq;
      p.coefficients.push_back(2.0);
    }
    return p;
  };
  zero_grad(host);
  zero_grad(device);
  const auto h = penalise_input_gradient(host, x.host, sum_of_squares, ParamGrads::accumulate, true);
  const auto d = penalise_input_gradient(device, x.device, sum_of_squares, ParamGrads::accumulate, true);
  require_parity("input-gradient penalty value", h.value, d.value, composed);
  require_same_norms("input-gradient penalty", h.gradient_norms, d.gradient_norms, composed);
  require_parity("input-gradient penalty d/dx", h.grad_input, d.grad_input, composed);
  require_same_gradients("input-gradient penalty", host, device, composed);

  // Central differences amplify rounding by 1/step: a step of 0.05 on a smooth
  // critic keeps the CPU-vs-CUDA difference within cuda_composed.
  const auto real = twin(normal(19, critic_input)), fake = twin(normal(20, critic_input));
  const auto alpha = twin(Generator(21).uniform<float>(Shape{2}));
  const GradientPenaltyOptions o{.lambda = 10, .input_gradients = true};
  constexpr double step = 0.05;
  zero_grad(host);
  zero_grad(device);
  require_penalty_parity(
      "approximate GP", approx_gradient_penalty(host, real.host, fake.host, alpha.host, o, ParamGrads::accumulate, step),
      approx_gradient_penalty(device, real.device, fake.device, alpha.device, o, ParamGrads::accumulate, step),
      composed);
  require_same_gradients("approximate GP", host, device, composed);
}

TEST_CASE("CUDA VGG perceptual loss matches the CPU", "[gpu][cuda-losses]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(22, []<class B>(B, Generator& g) {
    return VGGPerceptualLoss<float, B>(VGG19<float, B>({.width_divisor = 32}, g));
  });
  require_same_construction("VGG19", host.network(), device.network());
  const auto x = twin(normal(23, Shape{2, 3, 16, 24})), y = twin(normal(24, Shape{2, 3, 16, 24}));
  const auto h = host.evaluate(x.host, y.host);
  const auto d = device.evaluate(x.device, y.device);
  require_parity("VGG loss", h.value, d.value, composed);
  require_parity("VGG loss d/dx", h.grad, d.grad, composed);
  require_parity("VGG loss value()", host.value(x.host, y.host), device.value(x.device, y.device), composed);
}

// --- the optimizer and a whole training iteration --------------------------------------

TEST_CASE("CUDA Adam matches the CPU over several steps", "[gpu][cuda-optim]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(25, []<class B>(B, Generator& g) { return Linear<float, B>({7, 5}, g); });
  require_same_construction("Linear", host, device);
  const AdamOptions o{.lr = 1e-2, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-8};
  Adam<float, cpu> adam_h(o);
  Adam<float, cuda> adam_d(o);
  adam_h.add(host);
  adam_d.add(device);
  Generator gen(26);
  for (int step = 1; step <= 3; ++step) {
    test_support::randomize_gradients(host, device, gen);
    adam_h.step();
    adam_d.step();
    require_same_parameters("Adam step " + std::to_string(step), host, device, elementwise);
  }
  std::vector<AdamState<float, cpu>*> state_h;
  std::vector<AdamState<float, cuda>*> state_d;
  adam_h.visit_state([&](std::string_view, AdamState<float, cpu>& s) { state_h.push_back(&s); });
  adam_d.visit_state([&](std::string_view, AdamState<float, cuda>& s) { state_d.push_back(&s); });
  REQUIRE(state_h.size() == state_d.size());
  for (std::size_t i = 0; i < state_h.size(); ++i) {
    CHECK(state_h[i]->step == state_d[i]->step);
    require_parity("exp_avg", state_h[i]->exp_avg, state_d[i]->exp_avg, elementwise);
    require_parity("exp_avg_sq", state_h[i]->exp_avg_sq, state_d[i]->exp_avg_sq, elementwise);
  }
  adam_d.zero_grad();
  adam_h.zero_grad();
  require_same_gradients("after zero_grad", host, device, 0.0);
}

namespace {

// The tiny SB-GAN of tests/test_end_to_end_stage.cpp: 3 classes, 32x32 images.
constexpr index_t classes = 3;
constexpr index_t size = 32;

template <class B>
struct TinySbgan {
  using LayoutG = LayoutGenerator<float, B>;
  using LayoutCritic = ProgressiveCritic<float, B>;
  using ImageG = SpadeGenerator<BatchNorm<float, B>>;
  using ImageD = MultiscaleDiscriminator<float, B>;
  using Stage = EndToEndStage<LayoutG, LayoutCritic, ImageG, ImageD>;

  Generator init;
  LayoutG g_sb;
  LayoutCritic d_sb;
  ImageG g;
  ImageD d_spade, d2;

  explicit TinySbgan(std::uint64_t seed)
      : init(seed),
        g_sb(layout_generator(), init, Generator(seed + 1000)),
        d_sb(layout_critic(), init),
        g(image_generator(), init),
        d_spade({PatchDiscriminatorOptions::official(classes + 3, 8), 2}, init),
        d2({PatchDiscriminatorOptions::official(3, 8), 2}, init) {}

  static ProgressiveLayoutGeneratorOptions layout_generator() {
    ProgressiveLayoutGeneratorOptions o;
    o.latent = 8;
    o.channels = {8, 8, 8, 8};  // 4, 8, 16, 32
    o.classes = classes;
    return o;
  }
  static ProgressiveCriticOptions layout_critic() {
    ProgressiveCriticOptions o;
    o.classes = classes;
    o.channels = {8, 8, 8, 8};
    return o;
  }
  static SpadeGeneratorOptions image_generator() {
    SpadeGeneratorOptions o;
    o.label_channels = classes;
    o.nf = 4;
    o.hidden = 8;
    o.height = size;
    o.width = size;
    o.upsampling = SpadeUpsampling::normal;
    return o;
  }
};

// f(name, host network, device network) for each of the five pairs.
template <class F>
void each_network(TinySbgan<cpu>& host, TinySbgan<cuda>& device, F&& f) {
  f("G_SB", host.g_sb, device.g_sb);
  f("D_SB", host.d_sb, device.d_sb);
  f("G_SPADE", host.g, device.g);
  f("D_SPADE", host.d_spade, device.d_spade);
  f("D2", host.d2, device.d2);
}

}  // namespace

TEST_CASE("CUDA SB-GAN end-to-end iteration matches the CPU: losses and updated parameters", "[gpu][cuda-train]") {
  REQUIRE_GPU_OR_SKIP();
  TinySbgan<cpu> host(1);
  TinySbgan<cuda> device(1);
  each_network(host, device, [](const std::string& name, auto& h, auto& d) { require_same_construction(name, h, d); });

  // Adam's first step moves each weight by about lr·sign(gradient), so a gradient
  // within rounding of zero may move the two backends' weights apart by 2·lr: small
  // rates keep that inside cuda_composed.
  constexpr double lr = 1e-5;
  Generator rng_h(12), rng_d(12);
  typename TinySbgan<cpu>::Stage stage_h(host.g_sb, host.d_sb, host.g, host.d_spade, host.d2, rng_h,
                                         {.lr_pgan = lr, .lr_spade_g = lr, .lr_spade_d = lr, .lr_d2 = lr});
  typename TinySbgan<cuda>::Stage stage_d(device.g_sb, device.d_sb, device.g, device.d_spade, device.d2, rng_d,
                                          {.lr_pgan = lr, .lr_spade_g = lr, .lr_spade_d = lr, .lr_d2 = lr});
  const auto layouts = twin(one_hot_layout(13, Shape{2, classes, size, size}));
  const auto images = twin(Generator(14).uniform<float>(Shape{2, 3, size, size}, -1.0f, 1.0f));

  const EndToEndStepStats h = stage_h.step(layouts.host, images.host);
  const EndToEndStepStats d = stage_d.step(layouts.device, images.device);
  require_parity("G loss: layout", h.g_layout, d.g_layout, composed);
  require_parity("G loss: D2", h.g_d2, d.g_d2, composed);
  require_parity("G loss: SPADE", h.g_gan, d.g_gan, composed);
  require_parity("G loss: feature matching", h.g_feat, d.g_feat, composed);
  require_parity("G loss: VGG", h.g_vgg, d.g_vgg, composed);
  require_parity("D loss: layout", h.d_layout, d.d_layout, composed);
  require_parity("D loss: layout penalty", h.d_layout_penalty, d.d_layout_penalty, composed);
  require_parity("D loss: SPADE fake", h.d_spade_fake, d.d_spade_fake, composed);
  require_parity("D loss: SPADE real", h.d_spade_real, d.d_spade_real, composed);
  require_parity("D loss: D2 fake", h.d2_fake, d.d2_fake, composed);
  require_parity("D loss: D2 real", h.d2_real, d.d2_real, composed);
  each_network(host, device, [](const std::string& name, auto& hn, auto& dn) {
    require_same_parameters(name + " after the step:", hn, dn, composed);
    require_same_buffers(name + " after the step:", hn, dn, composed);
  });
  CHECK(rng_h.offset() == rng_d.offset());
  CHECK(host.g_sb.sampler().generator().offset() == device.g_sb.sampler().generator().offset());
}
