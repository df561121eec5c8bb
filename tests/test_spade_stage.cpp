// Stage 2, the SPADE trainer: the G step touches only G, the D step only D, bad
// shapes are refused by name; and on a tiny problem (each class a fixed colour with
// mild noise) G learns to paint layouts in their classes' colours.
#include <catch2/catch.hpp>
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <sbgan/layers/batch_norm.hpp>
#include <sbgan/models/spade_generator.hpp>
#include <sbgan/train/spade_stage.hpp>

using namespace sbgan;

namespace {

constexpr index_t classes = 3;
constexpr index_t size = 32;  // 'normal' (5 upsamplings) starts at 1x1
constexpr std::array<std::array<float, 3>, classes> colours{{{-0.6f, 0.2f, 0.8f}, {0.3f, 0.3f, 0.3f}, {0.8f, -0.6f, -0.4f}}};

using Gen = SpadeGenerator<BatchNorm<float>>;
using Disc = MultiscaleDiscriminator<float>;

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

MultiscaleDiscriminatorOptions tiny_discriminator(index_t input_channels = classes + 3) {
  return {PatchDiscriminatorOptions::official(input_channels, 8), 2};
}

struct Batch {
  Tensor<float> layouts, images;
};

// One-hot layouts (class 0 above a random horizon, class 1 below it, a class-2
// rectangle on it) and images painting each class in its colour plus ±0.05 noise.
Batch scenes(Generator& gen, index_t n) {
  const auto u = gen.uniform<float>(Shape{n, 4});
  const auto noise = gen.uniform<float>(Shape{n, 3, size, size});
  Batch b{zeros<float>(Shape{n, classes, size, size}), zeros<float>(Shape{n, 3, size, size})};
  for (index_t s = 0; s < n; ++s) {
    const auto horizon = static_cast<index_t>((0.3f + 0.4f * u[s * 4]) * float(size));
    const index_t box_h = 6 + static_cast<index_t>(u[s * 4 + 3] * 6), box_w = 10;
    const index_t top = std::min(size - box_h, horizon + static_cast<index_t>(u[s * 4 + 1] * float(size - horizon)));
    const auto left = static_cast<index_t>(u[s * 4 + 2] * float(size - box_w));
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

std::map<std::string, Tensor<float>> snapshot(auto& net) {
  std::map<std::string, Tensor<float>> out;
  net.visit_parameters([&](std::string_view name, Parameter<float>& p) { out[std::string(name)] = clone(p.value); });
  return out;
}

bool unchanged(auto& net, const std::map<std::string, Tensor<float>>& before) {
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

// Mean |G(layout) − image| and the mean distance (over classes, RGB Euclidean) of
// each class's mean generated colour from the class colour.
struct Fit {
  double reconstruction = 0, colour_distance = 0;
};

Fit fit(Gen& g, const Batch& b) {
  const auto out = g.forward(b.layouts).output;
  Fit f;
  for (index_t i = 0; i < out.numel(); ++i) f.reconstruction += std::abs(double(out[i]) - double(b.images[i]));
  f.reconstruction /= double(out.numel());
  const Shape& s = out.shape();
  for (index_t k = 0; k < classes; ++k) {
    std::array<double, 3> sum{};
    double count = 0;
    for (index_t n = 0; n < s.n(); ++n)
      for (index_t i = 0; i < s.h(); ++i)
        for (index_t j = 0; j < s.w(); ++j)
          if (b.layouts(n, k, i, j) == 1) {
            ++count;
            for (index_t c = 0; c < 3; ++c) sum[static_cast<std::size_t>(c)] += out(n, c, i, j);
          }
    double d2 = 0;
    for (std::size_t c = 0; c < 3; ++c) {
      const double e = sum[c] / count - colours[static_cast<std::size_t>(k)][c];
      d2 += e * e;
    }
    f.colour_distance += std::sqrt(d2) / double(classes);
  }
  return f;
}

}  // namespace

TEST_CASE("stage 2: each step updates only its own network; bad shapes are refused", "[train][spade-stage]") {
  Generator init(21), data(22);
  Gen g(tiny_generator(), init);
  Disc d(tiny_discriminator(), init);
  SpadeStage stage(g, d);
  CHECK(stage.generator_optimizer().group(0).lr == Approx(1e-4));
  CHECK(stage.discriminator_optimizer().group(0).lr == Approx(4e-4));
  CHECK(stage.generator_optimizer().group(0).beta1 == 0.0);
  CHECK(stage.discriminator_optimizer().group(0).beta2 == 0.9);

  const auto b = scenes(data, 2);
  const auto g_before = snapshot(g), d_before = snapshot(d);
  SpadeStepStats stats;
  stage.generator_step(b.layouts, b.images, stats);
  CHECK(grads_zero(d));       // D was crossed with ParamGrads::skip
  CHECK(unchanged(d, d_before));
  CHECK_FALSE(unchanged(g, g_before));
  CHECK(std::isfinite(stats.g_gan));
  CHECK(stats.g_feat > 0);
  CHECK(stats.g_vgg == 0.0);  // no perceptual loss given

  const auto g_after = snapshot(g);
  stage.discriminator_step(b.layouts, b.images, stats);
  CHECK(grads_zero(g));  // the fake was detached
  CHECK(unchanged(g, g_after));
  CHECK_FALSE(unchanged(d, d_before));
  CHECK(stats.d_fake >= 0);
  CHECK(stats.d_real >= 0);

  // Wrong shapes: named, and nothing is updated.
  const auto g_now = snapshot(g), d_now = snapshot(d);
  CHECK_THROWS_WITH(stage.step(zeros<float>(Shape{2, 4, size, size}), b.images),
                    Catch::Contains("layouts") && Catch::Contains("[2, 3, 32, 32]"));
  CHECK_THROWS_WITH(stage.step(b.layouts, zeros<float>(Shape{2, 3, 16, 16})), Catch::Contains("real images"));
  CHECK_THROWS_WITH(stage.step(b.layouts, zeros<float>(Shape{1, 3, size, size})), Catch::Contains("real images"));
  CHECK_THROWS_AS(stage.step(zeros<float>(Shape{3, size, size}), b.images), shape_error);
  CHECK(unchanged(g, g_now));
  CHECK(unchanged(d, d_now));

  // A discriminator that does not take concat(layout, image) is refused up front.
  Disc unconditional(tiny_discriminator(3), init);
  CHECK_THROWS_WITH(SpadeStage(g, unconditional), Catch::Contains("input channels"));

  // The TTUR split under a new base rate and under the reference's linear decay.
  stage.set_learning_rate(1e-3);
  CHECK(stage.generator_optimizer().group(0).lr == Approx(5e-4));
  CHECK(stage.discriminator_optimizer().group(0).lr == Approx(2e-3));
  LinearDecaySchedule schedule({.lr = 2e-4, .niter = 1, .niter_decay = 2});
  CHECK_FALSE(stage.end_epoch(schedule, 1));
  CHECK(stage.end_epoch(schedule, 2));
  CHECK(stage.generator_optimizer().group(0).lr == Approx(0.5e-4));
  CHECK(stage.discriminator_optimizer().group(0).lr == Approx(2e-4));
}

TEST_CASE("stage 2 learns to paint layouts in their classes' colours", "[train][spade-stage][learning]") {
  Generator init(31), data(32), held_out(33);
  Gen g(tiny_generator(), init);
  Disc d(tiny_discriminator(), init);
  SpadeStage stage(g, d, {.lr = 1e-3});
  const auto eval = scenes(held_out, 8);

  // Evaluated in training mode throughout (batch statistics), as the steps run.
  const Fit before = fit(g, eval);
  SpadeStepStats last;
  for (int it = 0; it < 300; ++it) {
    const auto b = scenes(data, 4);
    last = stage.step(b.layouts, b.images);
  }
  const Fit after = fit(g, eval);
  WARN("held-out mean |G(layout) - image| " << before.reconstruction << " -> " << after.reconstruction
                                           << "; class mean-colour distance " << before.colour_distance << " -> "
                                           << after.colour_distance << "; last step g_gan " << last.g_gan
                                           << " g_feat " << last.g_feat << " d_fake " << last.d_fake << " d_real "
                                           << last.d_real);
  CHECK(after.reconstruction < 0.6 * before.reconstruction);
  CHECK(after.colour_distance < 0.5 * before.colour_distance);
  CHECK(after.colour_distance < 0.2);
}
