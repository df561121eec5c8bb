// Exact resume of a training run: stage 1 interrupted by a checkpoint and resumed
// into freshly built objects ends bitwise equal to the uninterrupted run of the
// same seed (networks, optimizer state, every random stream, schedule position).
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <sbgan/blocks/progan_critic.hpp>
#include <sbgan/blocks/progan_generator.hpp>
#include <sbgan/train/checkpoint.hpp>
#include <sbgan/train/layout_gan_stage.hpp>

using namespace sbgan;

namespace {

constexpr index_t classes = 3;

// Random one-hot layouts from the data stream.
Tensor<float> random_layouts(Generator& data, index_t n, index_t h, index_t w) {
  const auto u = data.uniform<float>(Shape{n, 1, h, w});
  auto out = zeros<float>(Shape{n, classes, h, w});
  for (index_t s = 0; s < n; ++s)
    for (index_t i = 0; i < h; ++i)
      for (index_t j = 0; j < w; ++j) out(s, std::min<index_t>(classes - 1, index_t(u(s, 0, i, j) * classes)), i, j) = 1;
  return out;
}

// Everything a stage-1 run consists of, built from one seed.
struct Run {
  Generator init, rng, data;
  ProgressiveLayoutGenerator<float> g;
  ProgressiveCritic<float> d;
  GumbelSoftmaxST<float> sampler;
  LayoutGanStage<ProgressiveLayoutGenerator<float>, ProgressiveCritic<float>> stage;
  std::int64_t level = 0, phase = 0, step_in_phase = 0, step = 0;

  explicit Run(std::uint64_t seed)
      : init(seed), rng(seed, 1), data(seed, 2),
        g({.latent = 8, .channels = {8, 8}, .classes = classes, .base_height = 2, .aspect = 2}, init),
        d({.classes = classes, .channels = {8, 8}, .base_height = 2, .aspect = 2}, init),
        sampler(Generator(seed, 3)),
        stage(g, sampler, d, {.batch = {4, 4}, .images_per_phase = 24, .fade_in = true}, rng) {}

  void steps(int n) {
    for (int i = 0; i < n; ++i) stage.step(random_layouts(data, stage.batch_size(), stage.height(), stage.width()));
  }

  // The checkpoint registry of this run.
  train::CheckpointState checkpoint() {
    train::CheckpointState state("resume-test", R"({"classes": 3})");
    state.add_network("G_SB", g);
    state.add_network("D_SB", d);
    state.add_optimizer("G_SB", stage.generator_optimizer());
    state.add_optimizer("D_SB", stage.critic_optimizer());
    state.add_generator("rng", rng);
    state.add_generator("data", data);
    state.add_generator("gumbel", sampler.generator());
    state.add_value("level", level);
    state.add_value("phase", phase);
    state.add_value("step_in_phase", step_in_phase);
    state.add_value("step", step);
    return state;
  }
  void save(const std::filesystem::path& path) {
    const auto p = stage.position();
    level = p.level, phase = p.phase, step_in_phase = p.step_in_phase, step = p.step;
    checkpoint().save(path);
  }
  void load(const std::filesystem::path& path) {
    checkpoint().load(path);
    stage.set_position({level, static_cast<int>(phase), step_in_phase, step});
  }
};

template <class L>
std::vector<float> flat_parameters(L& layer) {
  std::vector<float> all;
  layer.visit_parameters([&](std::string_view, Parameter<float>& p) { all.insert(all.end(), p.value.begin(), p.value.end()); });
  return all;
}

}  // namespace

TEST_CASE("stage 1 interrupted and resumed from a checkpoint ends bitwise equal to the uninterrupted run",
          "[train][checkpoint][resume]") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sbgan-resume-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
                     ".safetensors");
  Run uninterrupted(7);
  uninterrupted.steps(14);  // level 1 (6 steps), level 2's fade (6) and into its stabilize phase

  Run interrupted(7);
  interrupted.steps(8);  // inside level 2's fade phase, α between 0 and 1
  CHECK(interrupted.stage.position().level == 2);
  CHECK(interrupted.stage.position().phase == 0);
  interrupted.save(path);

  Run resumed(99);  // other seeds: everything must come from the checkpoint
  resumed.load(path);
  std::filesystem::remove(path);
  CHECK(resumed.stage.position().step == 8);
  resumed.steps(6);

  CHECK(resumed.stage.position().step == uninterrupted.stage.position().step);
  CHECK(flat_parameters(resumed.g) == flat_parameters(uninterrupted.g));
  CHECK(flat_parameters(resumed.d) == flat_parameters(uninterrupted.d));
  CHECK(resumed.rng.offset() == uninterrupted.rng.offset());
  CHECK(resumed.data.offset() == uninterrupted.data.offset());
  CHECK(resumed.sampler.generator().offset() == uninterrupted.sampler.generator().offset());
  // And the resumed run really differs from a run of its own seed.
  Run other(99);
  other.steps(14);
  CHECK(flat_parameters(other.g) != flat_parameters(uninterrupted.g));
}
