// custom_variant: an SB-GAN variant of your own, built from the library's templates
// (docs/tutorial-custom-variant.md walks through it): K = 12 classes remapped from
// the procedural street scenes, instance-norm SPADE, and a layout critic trained
// with the hinge loss and R1 instead of stage 1's WGAN-GP.
//
//   custom_variant [--steps N] [--seed S]
//
// Prints how far G_SB's class frequencies are from the data's (total variation)
// as it trains; exits with status 3 unless training at least halved that distance.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include <sbgan/sbgan.hpp>

using namespace sbgan;
using T = float;
// Compile-time choices (SBGanTraits): scalar, backend, G_SB's pixel norm, SPADE's normalization.
using Model = SBGAN<SBGanTraits<T, cpu, PixelNormForm::official, SpadeNormKind::instance>>;

namespace {

// K = 12: the eleven classes the procedural streets draw keep a channel each; every
// other Cityscapes id (and 255) goes to channel 11, "void".
const data::LabelRemap street12 = [] {
  namespace id = data::cityscapes_id;
  data::LabelRemap remap{"street12", 12, {}};
  remap.table.fill(11);
  const int kept[] = {id::road, id::sidewalk, id::building, id::pole, id::traffic_light, id::traffic_sign,
                      id::vegetation, id::terrain, id::sky, id::person, id::car};
  for (int k = 0; k < 11; ++k) remap.table[static_cast<std::size_t>(kept[k])] = k;
  return remap;
}();

// Scenes first .. first+n−1 at h x w: one-hot layouts [n, K, h, w], images in [-1, 1].
std::pair<Tensor<T>, Tensor<T>> scenes(std::uint64_t seed, index_t first, index_t n, index_t h, index_t w) {
  Tensor<std::int32_t> ids(Shape{n, 1, h, w});
  Tensor<std::uint8_t> pixels(Shape{n, 3, h, w});
  for (index_t i = 0; i < n; ++i) {
    const data::Scene s = data::generate_procedural_scene(seed, first + i, h, w);
    std::copy(s.labels.begin(), s.labels.end(), ids.begin() + i * h * w);
    std::copy(s.image.begin(), s.image.end(), pixels.begin() + i * 3 * h * w);
  }
  return {data::one_hot<T>(street12.apply(ids, "scenes"), street12.num_classes), io::to_network_image(pixels)};
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 400;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--steps") steps = std::atoi(argv[i + 1]);
    else if (arg == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else return std::fprintf(stderr, "usage: custom_variant [--steps N] [--seed S]\n"), 2;
  }
  // Run-time sizes: the small demo config with our class count and SPADE norm
  // (both checked against the traits), 8x16 layouts and 64x128 images.
  SBGanConfig config = SBGanConfig::demo();
  config.name = "street12";
  config.classes = 12;
  config.spade.norm = SpadeNormKind::instance;
  config.height = 64;  // SPADE starts at 2x4; at 32x64, instance norm would see planes of 2 pixels
  config.width = 128;
  config.layout_gan.max_resolution = config.end2end.layout_resolution = 8;
  config.layout_gan.batch = {16, 16};
  Generator init(seed), rng(seed, 1);
  Model model(config, init);
  model.set_training(true);  // G_SB samples with Gumbel noise

  // The layout GAN: hinge loss, R1 on the real layouts, Adam with SPADE's TTUR.
  auto& G = model.g_sb();
  auto& D = model.d_sb();
  Adam<T> opt_g({.lr = 2e-4, .beta1 = 0, .beta2 = 0.99}), opt_d({.lr = 4e-4, .beta1 = 0, .beta2 = 0.99});
  opt_g.add(G);
  opt_d.add(D);
  const R1Penalty<Model::layout_critic_type> r1({.gamma = 1});
  const index_t batch = 16, h = 8, w = 16;
  LayoutStatistics data_stats(config.classes);
  data_stats.add(scenes(seed + 1, 0, 256, h, w).first);  // held-out scenes
  // Class-frequency total variation between 256 sampled layouts of G_SB and the data.
  const auto distance = [&] {
    Generator z(seed, 2);  // the same latents every time
    LayoutStatistics stats(config.classes);
    stats.add(model.sample_layouts(256, z, LayoutSampling::sample).output);
    return total_variation(stats.frequencies(), data_stats.frequencies());
  };
  const double before = distance();
  std::printf("step  D hinge  G hinge     R1  distance\n");
  for (int step = 1; step <= steps; ++step) {
    // G step: −mean D(G(z)), through a D whose parameter grads stay untouched.
    auto fake = G.forward(model.sample_latent(batch, rng));
    auto d_fake = D.forward(fake.output);
    const auto g_loss = HingeLoss::generator(d_fake.output);
    const auto d_layout = input_gradient(D, d_fake, g_loss.grad, fake.output.shape(), ParamGrads::skip);
    input_gradient(G, fake, d_layout, Shape{batch, G.latent()});
    opt_g.step();
    opt_g.zero_grad();
    // D step: hinge on real and detached fake layouts, plus R1 on the real ones.
    const Tensor<T> real = scenes(seed, step * batch, batch, h, w).first;
    const Tensor<T> detached = G.forward(model.sample_latent(batch, rng)).output;
    auto c_real = D.forward(real);
    auto c_fake = D.forward(detached);
    const auto l_real = HingeLoss::discriminator_real(c_real.output);
    const auto l_fake = HingeLoss::discriminator_fake(c_fake.output);
    input_gradient(D, c_real, l_real.grad, real.shape());
    input_gradient(D, c_fake, l_fake.grad, detached.shape());
    const double penalty = r1.apply(D, real).value;
    opt_d.step();
    opt_d.zero_grad();
    if (step % 100 == 0)
      std::printf("%4d%9.3f%9.3f%7.3f%10.4f\n", step, l_real.value + l_fake.value, g_loss.value, penalty, distance());
  }
  const double after = distance();
  std::printf("class-frequency distance to the data: %.4f before, %.4f after\n", before, after);

  // The instance-norm SPADE composes: one stage-2 step on real scenes, then G_SB -> SPADE.
  const auto [layouts, images] = scenes(seed, 1 << 30, 2, config.height, config.width);
  const SpadeStepStats s = SpadeStage(model.g_spade(), model.d_spade()).step(layouts, images);
  const Tensor<T> layout = model.sample_layouts(2, rng, LayoutSampling::inference).output;  // argmax, no noise
  std::printf("SPADE step: G loss %.3f, D loss %.3f; G_SB %s -> SPADE %s\n", s.generator_loss(), s.discriminator_loss(),
              layout.shape().str().c_str(), model.synthesize(layout).shape().str().c_str());
  if (!(after < 0.5 * before)) return std::fprintf(stderr, "the variant did not learn\n"), 3;
  return 0;
}
