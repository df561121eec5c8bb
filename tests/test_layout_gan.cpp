// Stage 1, the progressive layout GAN, learns: on structured synthetic layouts
// (sky above a random horizon, road below it, cars on the road) the generated
// layouts' class frequencies and vertical placement approach the data's.
// Also: the schedule walks levels and phases as the reference does, and layout
// statistics compute what they claim.
#include <catch2/catch.hpp>
#include <sbgan/blocks/progan_critic.hpp>
#include <sbgan/blocks/progan_generator.hpp>
#include <sbgan/metrics/layout_statistics.hpp>
#include <sbgan/train/layout_gan_stage.hpp>

using namespace sbgan;

namespace {

constexpr index_t classes = 3;  // 0 sky, 1 road, 2 car

// One-hot layouts [n, 3, h, w]: the horizon between 30% and 60% of the height,
// sky above, road below, one car (a quarter of the height, a quarter of the width)
// standing on the road.
Tensor<float> street_layouts(Generator& gen, index_t n, index_t h, index_t w) {
  const auto u = gen.uniform<float>(Shape{n, 3});
  auto out = zeros<float>(Shape{n, classes, h, w});
  for (index_t s = 0; s < n; ++s) {
    const index_t horizon = static_cast<index_t>((0.3f + 0.3f * u[s * 3]) * float(h));
    const index_t car_h = std::max<index_t>(1, h / 4), car_w = std::max<index_t>(1, w / 4);
    const index_t car_top = std::min(h - car_h, horizon + static_cast<index_t>(u[s * 3 + 1] * float(h - horizon)));
    const index_t car_left = static_cast<index_t>(u[s * 3 + 2] * float(w - car_w));
    for (index_t i = 0; i < h; ++i)
      for (index_t j = 0; j < w; ++j) {
        index_t k = i < horizon ? 0 : 1;
        if (i >= car_top && i < car_top + car_h && j >= car_left && j < car_left + car_w) k = 2;
        out(s, k, i, j) = 1;
      }
  }
  return out;
}

template <class G>
LayoutStatistics generated_statistics(G& generator, GumbelSoftmaxST<float>& sampler, Generator& gen, index_t n) {
  LayoutStatistics stats(classes);
  auto p = generator.forward(gen.normal<float>(Shape{n, generator.options().latent})).output;
  stats.add(sampler.forward(p).output);
  return stats;
}

}  // namespace

TEST_CASE("layout statistics: frequencies, mean rows, distances", "[metrics]") {
  Generator gen(1);
  LayoutStatistics s(classes);
  s.add(street_layouts(gen, 4, 8, 16));
  const auto f = s.frequencies();
  CHECK(f[0] + f[1] + f[2] == Approx(1.0));
  const auto rows = s.mean_rows();
  CHECK(rows[0] < rows[1]);  // sky above road
  CHECK(total_variation({0.5, 0.5, 0.0}, {0.0, 0.5, 0.5}) == Approx(0.5));
  CHECK(vertical_placement_error(s, s) == 0.0);
  LayoutStatistics empty(classes);
  CHECK(vertical_placement_error(empty, s) == 1.0);  // no class drawn at all
  CHECK_THROWS_AS(s.add(zeros<float>(Shape{1, 4, 2, 2})), shape_error);
}

TEST_CASE("stage 1 walks the reference schedule", "[train][layout-gan]") {
  Generator init(2), rng(3);
  ProgressiveLayoutGenerator<float> g({.latent = 8, .channels = {8, 8, 8}, .classes = classes, .base_height = 2, .aspect = 2},
                                      init);
  ProgressiveCritic<float> d({.classes = classes, .channels = {8, 8, 8}, .base_height = 2, .aspect = 2}, init);
  GumbelSoftmaxST<float> sampler(Generator(4));
  LayoutGanStage stage(g, sampler, d, {.batch = {4, 4, 2}, .images_per_phase = 8, .fade_in = true}, rng);
  std::vector<std::tuple<index_t, int, float>> seen;  // level, phase, α of each step
  Generator data(5);
  while (!stage.finished()) {
    const auto [level, phase] = std::pair{stage.position().level, stage.position().phase};
    stage.step(street_layouts(data, stage.batch_size(), stage.height(), stage.width()));
    seen.emplace_back(level, phase, g.alpha());
    CHECK(d.alpha() == g.alpha());
  }
  // Level 1: stabilize only (8/4 = 2 steps); level 2: fade 2 + stabilize 2; level 3
  // (batch 2): fade 4 + stabilize 4.
  REQUIRE(seen.size() == 2 + 4 + 8);
  CHECK(seen[0] == std::tuple<index_t, int, float>{1, 1, 1.0f});
  CHECK(seen[2] == std::tuple<index_t, int, float>{2, 0, 0.0f});
  CHECK(seen[3] == std::tuple<index_t, int, float>{2, 0, 0.5f});
  CHECK(seen[4] == std::tuple<index_t, int, float>{2, 1, 1.0f});
  CHECK(seen[7] == std::tuple<index_t, int, float>{3, 0, 0.25f});
  CHECK(seen[13] == std::tuple<index_t, int, float>{3, 1, 1.0f});
  CHECK(stage.position().step == 14);
  CHECK_THROWS_AS(stage.step(street_layouts(data, 2, 8, 16)), sbgan::error);
  // A batch of the wrong resolution is refused with the expected shape named.
  LayoutGanStage fresh(g, sampler, d, {.batch = {4, 4, 2}, .images_per_phase = 8}, rng);
  CHECK_THROWS_WITH(fresh.step(street_layouts(data, 4, 4, 8)), Catch::Contains("[4, 3, 2, 4]"));
}

TEST_CASE("stage 1 learns the class frequencies and placement of the data", "[train][layout-gan][learning]") {
  Generator init(11), rng(12), data(13), eval(14);
  ProgressiveLayoutGenerator<float> g({.latent = 16, .channels = {16, 16}, .classes = classes, .base_height = 4, .aspect = 2},
                                      init);
  ProgressiveCritic<float> d({.classes = classes, .channels = {16, 16}, .base_height = 4, .aspect = 2}, init);
  GumbelSoftmaxST<float> sampler(Generator(15));
  LayoutGanStage stage(g, sampler, d, {.batch = {16, 16}, .images_per_phase = 16 * 200}, rng);

  LayoutStatistics real(classes);
  real.add(street_layouts(data, 256, 8, 16));
  g.set_active_blocks(2);
  const auto before = generated_statistics(g, sampler, eval, 256);
  const double tv_before = total_variation(before.frequencies(), real.frequencies());
  const double rows_before = vertical_placement_error(before, real);

  while (!stage.finished()) stage.step(street_layouts(data, stage.batch_size(), stage.height(), stage.width()));

  const auto after = generated_statistics(g, sampler, eval, 256);
  const double tv_after = total_variation(after.frequencies(), real.frequencies());
  const double rows_after = vertical_placement_error(after, real);
  WARN("class-frequency TV distance " << tv_before << " -> " << tv_after << "; vertical placement error "
                                      << rows_before << " -> " << rows_after);
  CHECK(tv_after < 0.1);
  CHECK(tv_after < 0.5 * tv_before);
  CHECK(rows_after < 0.1);
  CHECK(rows_after < 0.5 * rows_before);
}
