// SBGanTrainer: the three stages end to end on the procedural scenes, exact resume
// across every kind of interruption, refused checkpoints, reading a model back,
// and learning on the demo config.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <sbgan/data/open_dataset.hpp>
#include <sbgan/metrics/frechet_distance.hpp>
#include <sbgan/metrics/scene_evaluation.hpp>
#include <sbgan/models/sbgan.hpp>
#include <sbgan/train/model_checkpoint.hpp>
#include <sbgan/train/sbgan_trainer.hpp>

using namespace sbgan;
namespace fs = std::filesystem;

namespace {

// All three stages in 32 steps: stage 1 12 (4 + 2·4), stage 2 8, stage 3 4 + 8.
SBGanConfig tiny_config() {
  SBGanConfig c = SBGanConfig::demo();
  c.name = "tiny";
  c.dataset_size = 16;
  c.layout_gan.latent = 8;
  c.layout_gan.max_resolution = 8;
  c.layout_gan.fmap_base = 32;
  c.layout_gan.fmap_max = 16;
  c.layout_gan.epochs_per_phase = 1;
  c.layout_gan.batch = {4, 4};
  c.spade.nf = 2;
  c.spade.hidden = 8;
  c.spade.ndf = 4;
  c.spade.batch = 4;
  c.end2end.layout_resolution = 8;  // scaling 4
  c.end2end.batch = 4;
  c.validate();
  return c;
}

std::shared_ptr<const data::SceneDataset> scenes_for(const SBGanConfig& c) {
  return data::open_dataset("procedural", {static_cast<std::int32_t>(c.classes), c.height, c.width, c.dataset_size, c.seed});
}

struct TempDir {
  fs::path path;
  // The process id keeps concurrent test runs (a sanitizer build beside the
  // plain one) out of each other's directories.
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("sbgan-test-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

train::TrainerOptions<float, cpu> quiet_options(const fs::path& out) {
  train::TrainerOptions<float, cpu> o;
  o.out = out;
  o.checkpoint_every = 0;
  o.sample_every = 5;  // grids mid-run must not change the run
  o.log_every = 3;
  o.print = false;
  o.keep_checkpoints = 2;
  return o;
}

// Every parameter and buffer, and the trainer's random streams.
template <class Model, class Trainer>
std::vector<double> run_state(Model& model, Trainer& trainer) {
  std::vector<double> all;
  model.visit_parameters([&](const std::string&, auto& p) { all.insert(all.end(), p.value.begin(), p.value.end()); });
  model.visit_buffers([&](const std::string&, auto& t) { all.insert(all.end(), t.begin(), t.end()); });
  all.push_back(double(trainer.rng().offset()));
  all.push_back(double(model.g_sb().sampler().generator().offset()));
  return all;
}

}  // namespace

TEST_CASE("trainer: a run interrupted anywhere and resumed ends bitwise equal to the uninterrupted run",
          "[train][trainer][resume]") {
  const SBGanConfig cfg = tiny_config();
  const auto set = scenes_for(cfg);

  TempDir whole("trainer-whole");
  Generator init_a(cfg.seed, 1);
  SBGAN<> a(cfg, init_a);
  train::SBGanTrainer ta(a, set, quiet_options(whole.path));
  ta.run();
  REQUIRE(ta.finished());
  CHECK(ta.progress().step == 32);
  const auto expected = run_state(a, ta);

  // Stops inside stage 1 (level 2's fade), at the stage 1/2 boundary, inside
  // stage 2, inside D2's warm-up, inside the joint phase.
  TempDir parts("trainer-parts");
  std::vector<double> resumed;
  const std::vector<std::int64_t> stops{6, 12, 15, 22, 27, -1};
  for (std::int64_t stop : stops) {
    // After the first part, other weights: everything must come from the checkpoint.
    Generator init(stop == stops.front() ? cfg.seed : cfg.seed + 99, 1);
    SBGAN<> b(cfg, init);
    auto options = quiet_options(parts.path);
    options.stop_at_step = stop;
    train::SBGanTrainer tb(b, set, options);
    const auto from = tb.resume();
    CHECK(from.has_value() == (stop != stops.front()));
    tb.run();
    if (stop < 0) {
      REQUIRE(tb.finished());
      resumed = run_state(b, tb);
    } else {
      CHECK(tb.stopped());
      CHECK(tb.progress().step == stop);
    }
  }
  REQUIRE(resumed.size() == expected.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) differing += resumed[i] != expected[i];
  CHECK(differing == 0);

  // The run wrote its log, its grids and kept the newest checkpoints only.
  CHECK(fs::exists(whole.path / "log.csv"));
  CHECK(fs::exists(whole.path / "samples" / "step-000000005.png"));
  CHECK(train::list_checkpoints(whole.path / "checkpoints").size() == 2);
  std::ifstream log(parts.path / "log.csv");
  std::string header;
  std::getline(log, header);
  CHECK(header.rfind("stage,phase,step,stage_step,seconds,images_per_s,G,D", 0) == 0);
}

TEST_CASE("trainer: a checkpoint of another config is refused by name and nothing changes", "[train][trainer][errors]") {
  const SBGanConfig cfg = tiny_config();
  const auto set = scenes_for(cfg);
  TempDir dir("trainer-other-config");
  {
    Generator init(cfg.seed, 1);
    SBGAN<> model(cfg, init);
    auto options = quiet_options(dir.path);
    options.stop_at_step = 2;
    train::SBGanTrainer t(model, set, options);
    t.run();
  }
  SBGanConfig other = cfg;
  other.spade.lambda_feat = 5;  // same name, same shapes, another config
  Generator init(other.seed, 7);
  SBGAN<> model(other, init);
  train::SBGanTrainer t(model, set, quiet_options(dir.path));
  try {
    t.resume();
    FAIL("the checkpoint of another config was accepted");
  } catch (const train::checkpoint_error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("checkpoint-000000000002") && Catch::Contains("spade/lambda_feat"));
  }
  CHECK(t.progress().step == 0);

  // A data set of another K is refused at construction.
  SBGanConfig k35 = cfg;
  k35.classes = 35;
  Generator init35(0, 1);
  SBGAN<> wide(k35, init35);
  CHECK_THROWS_WITH(train::SBGanTrainer(wide, set, quiet_options(dir.path)), Catch::Contains("K = 20"));
}

TEST_CASE("load_networks reads a training checkpoint's weights and its config back", "[train][trainer]") {
  const SBGanConfig cfg = tiny_config();
  const auto set = scenes_for(cfg);
  TempDir dir("trainer-load");
  Generator init(cfg.seed, 1);
  SBGAN<> trained(cfg, init);
  auto options = quiet_options(dir.path);
  options.last_stage = 2;
  train::SBGanTrainer t(trained, set, options);
  t.run();
  CHECK(t.stopped());
  CHECK(t.progress().stage == 3);

  const auto path = *train::latest_checkpoint(dir.path / "checkpoints");
  const io::TensorArchive archive = io::read_safetensors(path);
  const SBGanConfig read = train::checkpoint_config(archive, path.string());
  CHECK(to_json(read) == to_json(cfg));
  Generator other(5, 1);
  SBGAN<> fresh(read, other);
  train::load_networks(fresh, archive, path.string());
  std::vector<float> x, y;
  trained.visit_parameters([&](const std::string&, auto& p) { x.insert(x.end(), p.value.begin(), p.value.end()); });
  fresh.visit_parameters([&](const std::string&, auto& p) { y.insert(y.end(), p.value.begin(), p.value.end()); });
  CHECK(x == y);
}

TEST_CASE("Frechet distance: closed forms and invariances", "[metrics]") {
  // Diagonal covariances: d² = ‖Δμ‖² + Σ (√a − √b)².
  GaussianStatistics p{Eigen::Vector2d(1, 2), Eigen::Vector2d(4, 9).asDiagonal()};
  GaussianStatistics q{Eigen::Vector2d(0, 0), Eigen::Vector2d(1, 16).asDiagonal()};
  CHECK(frechet_distance(p, q) == Approx(5 + 1 + 1).epsilon(1e-12));
  CHECK(frechet_distance(p, p) == Approx(0).margin(1e-12));
  // Rotating both covariances together changes nothing, even when they do not commute.
  Eigen::Matrix2d a, b, r;
  a << 2, 0.5, 0.5, 1;
  b << 1, -0.3, -0.3, 3;
  const double t = 0.7;
  r << std::cos(t), -std::sin(t), std::sin(t), std::cos(t);
  using G = GaussianStatistics;
  const double direct = frechet_distance(G{Eigen::Vector2d::Zero(), a}, G{Eigen::Vector2d::Zero(), b});
  const double rotated = frechet_distance(G{Eigen::Vector2d::Zero(), r * a * r.transpose()},
                                          G{Eigen::Vector2d::Zero(), r * b * r.transpose()});
  CHECK(rotated == Approx(direct).epsilon(1e-12));
  // For 2x2 matrices tr(√M) = √(tr M + 2√det M), M = AB (the eigenvalues are real).
  const Eigen::Matrix2d m = a * b;
  const double trace_sqrt = std::sqrt(m.trace() + 2 * std::sqrt(m.determinant()));
  CHECK(direct == Approx(a.trace() + b.trace() - 2 * trace_sqrt).epsilon(1e-12));
  // Sample statistics: the unbiased covariance.
  Eigen::MatrixXd f(3, 1);
  f << 1, 2, 6;
  CHECK(gaussian_statistics(f).covariance(0, 0) == Approx(7.0));
  CHECK_THROWS_WITH(gaussian_statistics(Eigen::MatrixXd(1, 3)), Catch::Contains("at least 2 samples"));
  CHECK_THROWS_WITH(frechet_distance(p, GaussianStatistics{Eigen::Vector3d::Zero(), Eigen::Matrix3d::Identity()}),
                    Catch::Contains("feature sizes differ"));
}

TEST_CASE("trainer: the demo config learns the data's layouts and SPADE learns to paint them",
          "[train][trainer][learning]") {
  // The demo config's networks at two layout levels (4x8, 8x16; scaling 4), 100
  // steps per phase, then one SPADE epoch of 16 steps: 316 steps.
  SBGanConfig cfg = SBGanConfig::demo();
  cfg.name = "demo-short";
  cfg.dataset_size = 64;
  cfg.layout_gan.max_resolution = 8;
  cfg.layout_gan.batch = {16, 16};
  cfg.layout_gan.epochs_per_phase = 25;  // 1600 images, 100 steps per phase
  cfg.end2end.layout_resolution = 8;
  cfg.spade.epochs = 1;
  cfg.validate();
  const auto set = scenes_for(cfg);
  Generator init(cfg.seed, 1);
  SBGAN<> model(cfg, init);

  const LayoutStatistics real = data_layout_statistics(*set, 8, 16);
  const RealPairs pairs = real_pairs(*set, 16, cfg.height, cfg.width);
  auto layouts_now = [&] {
    model.set_layout_resolution(8);
    Generator g(3, 4);
    return compare_layouts(generated_layout_statistics(model, 128, g), real);
  };
  const LayoutComparison before = layouts_now();
  const double recon_before = reconstruction_error(model, pairs);

  TempDir dir("trainer-learns");
  auto options = quiet_options(dir.path);
  options.sample_every = 0;
  options.last_stage = 2;
  train::SBGanTrainer trainer(model, set, options);
  trainer.run();
  CHECK(trainer.progress().step == 316);

  const LayoutComparison after = layouts_now();
  const double recon_after = reconstruction_error(model, pairs);
  WARN("class-frequency TV " << before.total_variation << " -> " << after.total_variation << "; placement error "
                             << before.placement_error << " -> " << after.placement_error << "; SPADE |G(s) - x| "
                             << recon_before << " -> " << recon_after);
  CHECK(after.total_variation < 0.5 * before.total_variation);
  CHECK(after.total_variation < 0.25);
  CHECK(after.placement_error < before.placement_error);
  CHECK(recon_after < 0.6 * recon_before);
}

TEST_CASE("trainer: stage 3's learning rates decay as the reference's, D2 taking the D rate from the first decay",
          "[train][trainer]") {
  SBGanConfig cfg = tiny_config();
  cfg.end2end.niter = 0;
  cfg.end2end.niter_decay = 4;  // epochs 0, 1: the decay comes at the end of epoch 1 (1 > niter)
  cfg.validate();
  TempDir dir("trainer-rates");
  Generator init(cfg.seed, 1);
  SBGAN<> model(cfg, init);
  auto options = quiet_options(dir.path);
  options.sample_every = 0;
  train::SBGanTrainer t(model, scenes_for(cfg), options);
  t.run();
  REQUIRE(t.finished());
  const auto archive = io::read_safetensors(*train::latest_checkpoint(dir.path / "checkpoints"));
  auto lr = [&](const std::string& optimizer) {
    return train::scalar_from_text<double>(archive.metadata.at("optim." + optimizer + ".group.0.lr")).value();
  };
  const double base = cfg.spade.lr - cfg.spade.lr / 4;  // one decay step
  CHECK(lr("G_SPADE") == base / 2);
  CHECK(lr("D_SPADE") == base * 2);
  CHECK(lr("D2") == base * 2);  // was d2_lr (2e-4) until the decay
  CHECK(lr("G_SB") == cfg.end2end.lr_pgan);
  CHECK(lr("D_SB") == cfg.end2end.lr_pgan);
}

TEST_CASE("trainer: a NaN stops the run naming stage, step and loss, and the last good checkpoint stays",
          "[train][trainer][errors]") {
  const SBGanConfig cfg = tiny_config();
  TempDir dir("trainer-nan");
  Generator init(cfg.seed, 1);
  SBGAN<> model(cfg, init);
  auto options = quiet_options(dir.path);
  options.checkpoint_every = 4;
  options.log_every = 1;
  // After step 6 a NaN reaches one of D_SB's weights: step 7's losses are NaN.
  options.on_report = [&](const train::StepReport& r) {
    if (r.step == 6) model.d_sb().visit_parameters([](std::string_view, Parameter<float>& p) { p.value[0] = NAN; });
  };
  train::SBGanTrainer t(model, scenes_for(cfg), options);
  try {
    t.run();
    FAIL("the run went on through a NaN");
  } catch (const train::training_diverged& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("stage 1") && Catch::Contains("step 7") && Catch::Contains("loss 'G' is NaN") &&
                            Catch::Contains("checkpoint-000000000004"));
  }
  // The newest checkpoint is step 4's and resumes cleanly into a fresh model.
  const auto last = train::latest_checkpoint(dir.path / "checkpoints");
  REQUIRE(last);
  CHECK(last->filename() == "checkpoint-000000000004.safetensors");
  Generator other(cfg.seed + 1, 1);
  SBGAN<> fresh(cfg, other);
  auto resume = quiet_options(dir.path);
  resume.stop_at_step = 8;
  train::SBGanTrainer again(fresh, scenes_for(cfg), resume);
  again.resume();
  again.run();
  CHECK(again.progress().step == 8);
}
