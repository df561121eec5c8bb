// Stage 3, end-to-end fine-tuning: the G step touches only G_SB and SPADE-G, the D
// step only D_SB, D_SPADE and D2, D2 pre-training only D2; G_SB gets a gradient
// through D2 -> SPADE-G -> the layout; bad shapes are refused by name; a short run
// stays finite and D2 pre-training separates real images from generated ones.
#include <catch2/catch.hpp>
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <sbgan/blocks/progan_critic.hpp>
#include <sbgan/layers/batch_norm.hpp>
#include <sbgan/models/layout_generator.hpp>
#include <sbgan/models/spade_generator.hpp>
#include <sbgan/train/end_to_end_stage.hpp>

using namespace sbgan;

namespace {

constexpr index_t classes = 3;
constexpr index_t size = 32;  // 'normal' (5 upsamplings) starts at 1x1; G_SB: 4 -> 32, so scaling 1
constexpr std::array<std::array<float, 3>, classes> colours{{{-0.6f, 0.2f, 0.8f}, {0.3f, 0.3f, 0.3f}, {0.8f, -0.6f, -0.4f}}};

using LayoutG = LayoutGenerator<float>;
using Critic = ProgressiveCritic<float>;
using Gen = SpadeGenerator<BatchNorm<float>>;
using Disc = MultiscaleDiscriminator<float>;
using Stage = EndToEndStage<LayoutG, Critic, Gen, Disc>;

SpadeGeneratorOptions tiny_generator() {
  SpadeGeneratorOptions o;
  o.label_channels = classes;
  o.nf = 4;
  o.hidden = 8;
  o.height = size;
  o.width = size;
  o.upsampling = SpadeUpsampling::normal;
  return o;
}

ProgressiveLayoutGeneratorOptions tiny_layout_generator() {
  ProgressiveLayoutGeneratorOptions o;
  o.latent = 8;
  o.channels = {8, 8, 8, 8};  // 4, 8, 16, 32
  o.classes = classes;
  return o;
}

ProgressiveCriticOptions tiny_critic() {
  ProgressiveCriticOptions o;
  o.classes = classes;
  o.channels = {8, 8, 8, 8};
  return o;
}

MultiscaleDiscriminatorOptions tiny_discriminator(index_t input_channels) {
  return {PatchDiscriminatorOptions::official(input_channels, 8), 2};
}

// The five networks of a tiny SB-GAN.
struct Nets {
  Generator init;
  LayoutG g_sb;
  Critic d_sb;
  Gen g;
  Disc d_spade, d2;
  explicit Nets(std::uint64_t seed)
      : init(seed), g_sb(tiny_layout_generator(), init, Generator(seed + 1000)), d_sb(tiny_critic(), init),
        g(tiny_generator(), init), d_spade(tiny_discriminator(classes + 3), init), d2(tiny_discriminator(3), init) {}
};

struct Batch {
  Tensor<float> layouts, images;
};

// One-hot layouts (class 0 above a random horizon, class 1 below it, a class-2
// rectangle on it) and images painting each class in its colour plus ±0.05 noise.
Batch scenes(Generator& gen, index_t n) {
  const auto u = gen.uniform<float>(Shape{n, 3});
  const auto noise = gen.uniform<float>(Shape{n, 3, size, size});
  Batch b{zeros<float>(Shape{n, classes, size, size}), zeros<float>(Shape{n, 3, size, size})};
  for (index_t s = 0; s < n; ++s) {
    const auto horizon = static_cast<index_t>((0.3f + 0.4f * u[s * 3]) * float(size));
    const index_t box_h = 8, box_w = 10;
    const index_t top = std::min(size - box_h, horizon + static_cast<index_t>(u[s * 3 + 1] * float(size - horizon)));
    const auto left = static_cast<index_t>(u[s * 3 + 2] * float(size - box_w));
    for (index_t i = 0; i < size; ++i)
      for (index_t j = 0; j < size; ++j) {
        index_t k = i < horizon ? 0 : 1;
        if (i >= top && i < top + box_h && j >= left && j < left + box_w) k = 2;
        b.layouts(s, k, i, j) = 1;
        for (index_t c = 0; c < 3; ++c)
          b.images(s, c, i, j) = colours[static_cast<std::size_t>(k)][static_cast<std::size_t>(c)] +
                                 0.1f * (noise(s, c, i, j) - 0.5f);
      }
  }
  return b;
}

using Snapshot = std::map<std::string, Tensor<float>>;

Snapshot snapshot(auto& net) {
  Snapshot out;
  net.visit_parameters([&](std::string_view name, Parameter<float>& p) { out[std::string(name)] = clone(p.value); });
  return out;
}

bool unchanged(auto& net, const Snapshot& before) {
  bool same = true;
  net.visit_parameters([&](std::string_view name, Parameter<float>& p) {
    const auto& b = before.at(std::string(name));
    for (index_t i = 0; i < b.numel(); ++i) same = same && b[i] == p.value[i];
  });
  return same;
}

bool grads_zero(auto& net) {
  bool zero = true;
  net.visit_parameters([&](std::string_view, Parameter<float>& p) {
    for (index_t i = 0; i < p.grad.numel(); ++i) zero = zero && p.grad[i] == 0.0f;
  });
  return zero;
}

struct All {
  Snapshot g_sb, d_sb, g, d_spade, d2;
};
All snapshot_all(Nets& n) { return {snapshot(n.g_sb), snapshot(n.d_sb), snapshot(n.g), snapshot(n.d_spade), snapshot(n.d2)}; }

bool all_grads_zero(Nets& n) {
  return grads_zero(n.g_sb) && grads_zero(n.d_sb) && grads_zero(n.g) && grads_zero(n.d_spade) && grads_zero(n.d2);
}

}  // namespace

TEST_CASE("stage 3: the optimizers are the reference's", "[train][end-to-end]") {
  Nets n(1);
  Generator rng(2);
  Stage stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d2, rng, {.lr_pgan = 1e-4});
  CHECK(stage.layout_generator_optimizer().group(0).lr == Approx(1e-4));
  CHECK(stage.layout_critic_optimizer().group(0).lr == Approx(1e-4));
  CHECK(stage.layout_generator_optimizer().group(0).beta2 == 0.99);
  CHECK(stage.layout_critic_optimizer().group(0).beta1 == 0.0);
  CHECK(stage.image_generator_optimizer().group(0).lr == Approx(1e-4));
  CHECK(stage.image_discriminator_optimizer().group(0).lr == Approx(4e-4));
  CHECK(stage.image_generator_optimizer().group(0).beta2 == 0.9);
  CHECK(stage.image_discriminator_optimizer().group(0).beta2 == 0.9);
  CHECK(stage.d2_optimizer().group(0).lr == Approx(2e-4));
  CHECK(stage.d2_optimizer().group(0).beta1 == 0.0);
  CHECK(stage.d2_optimizer().group(0).beta2 == 0.99);
  CHECK(stage.options().lambda_pgan == 10.0);
  CHECK(stage.options().lambda_d2 == Approx(0.1));
  CHECK(stage.layout_height() == size);
  CHECK(stage.layout_width() == size);
}

TEST_CASE("stage 3: each step updates only its own networks; bad shapes are refused", "[train][end-to-end]") {
  Nets n(11);
  Generator rng(12), data(13);
  Stage stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d2, rng, {.lr_pgan = 1e-4});
  const auto b = scenes(data, 2);

  // G step: G_SB and SPADE-G move, every discriminator is crossed with skip.
  const All before = snapshot_all(n);
  EndToEndStepStats stats;
  stage.generator_step(b.layouts, b.images, stats);
  CHECK_FALSE(unchanged(n.g_sb, before.g_sb));
  CHECK_FALSE(unchanged(n.g, before.g));
  CHECK(unchanged(n.d_sb, before.d_sb));
  CHECK(unchanged(n.d_spade, before.d_spade));
  CHECK(unchanged(n.d2, before.d2));
  CHECK(all_grads_zero(n));
  CHECK(std::isfinite(stats.g_layout));
  CHECK(std::isfinite(stats.g_d2));
  CHECK(stats.g_feat > 0);
  CHECK(stats.g_vgg == 0.0);

  // D step: D_SB, D_SPADE and D2 move; the fakes are detached.
  const All after_g = snapshot_all(n);
  stage.discriminator_step(b.layouts, b.images, stats);
  CHECK(unchanged(n.g_sb, after_g.g_sb));
  CHECK(unchanged(n.g, after_g.g));
  CHECK_FALSE(unchanged(n.d_sb, after_g.d_sb));
  CHECK_FALSE(unchanged(n.d_spade, after_g.d_spade));
  CHECK_FALSE(unchanged(n.d2, after_g.d2));
  CHECK(all_grads_zero(n));
  CHECK(stats.d_layout_penalty >= 0);
  CHECK(stats.d_spade_fake >= 0);
  CHECK(stats.d_spade_real >= 0);
  CHECK(stats.d2_fake >= 0);
  CHECK(stats.d2_real >= 0);
  CHECK(std::isfinite(stats.discriminator_loss()));

  // D2 pre-training: D2 alone, and G_SB's sampling mode is restored.
  const All after_d = snapshot_all(n);
  n.g_sb.set_sampling(LayoutSampling::sample);
  const auto pre = stage.pretrain_d2_step(b.images);
  CHECK(n.g_sb.sampling() == LayoutSampling::sample);
  CHECK_FALSE(unchanged(n.d2, after_d.d2));
  CHECK(unchanged(n.g_sb, after_d.g_sb));
  CHECK(unchanged(n.d_sb, after_d.d_sb));
  CHECK(unchanged(n.g, after_d.g));
  CHECK(unchanged(n.d_spade, after_d.d_spade));
  CHECK(all_grads_zero(n));
  CHECK(pre.d_fake >= 0);
  CHECK(pre.d_real >= 0);
  stage.finish_d2_pretraining();
  bool fresh = true;
  stage.d2_optimizer().visit_state([&](std::string_view, AdamState<float>& s) {
    fresh = fresh && s.step == 0;
    for (index_t i = 0; i < s.exp_avg.numel(); ++i) fresh = fresh && s.exp_avg[i] == 0.0f && s.exp_avg_sq[i] == 0.0f;
  });
  CHECK(fresh);

  // Wrong shapes: named, and nothing is updated.
  const All now = snapshot_all(n);
  CHECK_THROWS_WITH(stage.step(zeros<float>(Shape{2, 4, size, size}), b.images),
                    Catch::Contains("real layouts") && Catch::Contains("[2, 3, 32, 32]"));
  CHECK_THROWS_WITH(stage.step(b.layouts, zeros<float>(Shape{2, 3, 16, 16})), Catch::Contains("real images"));
  CHECK_THROWS_WITH(stage.step(b.layouts, zeros<float>(Shape{1, 3, size, size})), Catch::Contains("real images"));
  CHECK_THROWS_AS(stage.step(zeros<float>(Shape{3, size, size}), b.images), shape_error);
  CHECK_THROWS_WITH(stage.pretrain_d2_step(zeros<float>(Shape{2, 4, size, size})), Catch::Contains("real images"));
  n.g_sb.network().set_active_blocks(3);  // 16x16 layouts: scaling 1 does not reach 32x32
  n.d_sb.set_active_blocks(3);
  CHECK_THROWS_WITH(stage.step(b.layouts, b.images), Catch::Contains("G_SB makes 16x16"));
  n.g_sb.network().set_active_blocks(4);
  CHECK_THROWS_WITH(stage.step(b.layouts, b.images), Catch::Contains("D_SB 3"));
  n.d_sb.set_active_blocks(4);
  CHECK(unchanged(n.g_sb, now.g_sb));
  CHECK(unchanged(n.d_sb, now.d_sb));
  CHECK(unchanged(n.g, now.g));
  CHECK(unchanged(n.d_spade, now.d_spade));
  CHECK(unchanged(n.d2, now.d2));

  // Networks that do not fit together are refused up front.
  CHECK_THROWS_WITH(Stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d_spade, rng), Catch::Contains("D2 takes 6"));
  CHECK_THROWS_WITH(Stage(n.g_sb, n.d_sb, n.g, n.d2, n.d2, rng), Catch::Contains("D_SPADE takes 3"));
  CHECK_THROWS_WITH(Stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d2, rng, {.scaling = 3}), Catch::Contains("scaling 3"));
  CHECK_THROWS_WITH(Stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d2, rng, {.scaling = 0}), Catch::Contains("scaling"));
}

TEST_CASE("stage 3: G_SB gets a gradient through D2, SPADE-G and the layout", "[train][end-to-end]") {
  // With λ_pgan = 0 the only path into G_SB is D2 -> SPADE-G -> fc -> Gumbel ST;
  // with λ_D2 = 0 as well G_SB's gradient is exactly zero and Adam leaves it.
  const auto g_sb_moves = [](double lambda_d2) {
    Nets n(21);
    Generator rng(22), data(23);
    Stage stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d2, rng, {.lr_pgan = 1e-3, .lambda_pgan = 0, .lambda_d2 = lambda_d2});
    const auto b = scenes(data, 2);
    const auto before = snapshot(n.g_sb);
    EndToEndStepStats stats;
    stage.generator_step(b.layouts, b.images, stats);
    CHECK(stats.g_layout == 0.0);
    return !unchanged(n.g_sb, before);
  };
  CHECK_FALSE(g_sb_moves(0.0));
  CHECK(g_sb_moves(0.1));
}

TEST_CASE("stage 3: a short run stays finite; D2 pre-training separates real from fake", "[train][end-to-end][learning]") {
  Nets n(31);
  Generator rng(32), data(33);
  Stage stage(n.g_sb, n.d_sb, n.g, n.d_spade, n.d2, rng, {.lr_pgan = 1e-4});

  // D2 pre-training on a fixed real batch: the hinge loss falls.
  const auto fixed = scenes(data, 2);
  double first = 0, last = 0;
  constexpr int pretrain = 40, window = 5;
  for (int it = 0; it < pretrain; ++it) {
    const double loss = stage.pretrain_d2_step(fixed.images).loss();
    REQUIRE(std::isfinite(loss));
    if (it < window) first += loss / window;
    if (it >= pretrain - window) last += loss / window;
  }
  stage.finish_d2_pretraining();
  WARN("D2 pre-training hinge loss " << first << " -> " << last);
  CHECK(last < 0.8 * first);

  bool finite = true;
  EndToEndStepStats stats;
  for (int it = 0; it < 100; ++it) {
    const auto b = scenes(data, 2);
    stats = stage.step(b.layouts, b.images);
    for (double v : {stats.g_layout, stats.g_d2, stats.g_gan, stats.g_feat, stats.d_layout, stats.d_spade_fake,
                     stats.d_spade_real, stats.d2_fake, stats.d2_real})
      finite = finite && std::isfinite(v);
  }
  WARN("last step: G " << stats.generator_loss() << " (layout " << stats.g_layout << ", D2 " << stats.g_d2
                       << ", SPADE " << stats.g_gan << ", feat " << stats.g_feat << "), D "
                       << stats.discriminator_loss() << " (layout " << stats.d_layout << ", SPADE "
                       << stats.d_spade_fake + stats.d_spade_real << ", D2 " << stats.d2_fake + stats.d2_real << ")");
  CHECK(finite);
  bool params_finite = true;
  const auto check = [&](auto& net) {
    net.visit_parameters([&](std::string_view, Parameter<float>& p) {
      for (index_t i = 0; i < p.value.numel(); ++i) params_finite = params_finite && std::isfinite(p.value[i]);
    });
  };
  check(n.g_sb);
  check(n.d_sb);
  check(n.g);
  check(n.d_spade);
  check(n.d2);
  CHECK(params_finite);
}
