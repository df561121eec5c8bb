// sbgan: train SB-GAN, sample scenes, synthesize images from layouts, evaluate,
// and watch it learn on the built-in procedural scenes.
//
//   sbgan train --config NAME|FILE --data DIR|procedural --out DIR [--resume]
//   sbgan sample --checkpoint F -n N --out DIR [--seed S]
//   sbgan synthesize --checkpoint F --out DIR LABEL.png...
//   sbgan eval --checkpoint F --data DIR|procedural [-n N]
//   sbgan eval --features A.npy B.npy
//   sbgan demo [--out DIR] [--seed S]
//
// The model's compile-time choices (pixel-norm form, SPADE norm) follow the
// config: the program instantiates all four and picks one at run time.
#ifndef SBGAN_HAVE_CLI11
#error "examples/sbgan.cpp needs CLI11 (SBGAN_HAVE_CLI11)"
#endif

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "sbgan/data/open_dataset.hpp"
#include "sbgan/io/image_grid.hpp"
#include "sbgan/io/palette.hpp"
#include "sbgan/io/png.hpp"
#include "sbgan/metrics/frechet_distance.hpp"
#include "sbgan/metrics/scene_evaluation.hpp"
#include "sbgan/models/config.hpp"
#include "sbgan/models/sbgan.hpp"
#include "sbgan/train/model_checkpoint.hpp"
#include "sbgan/train/sbgan_trainer.hpp"

namespace {

using namespace sbgan;
namespace fs = std::filesystem;

// ------------------------------------------------------------- model choice ----

// Calls f(model) with the SBGAN instantiation the config's choices name.
template <class F>
void with_model(const SBGanConfig& cfg, Generator& init, F&& f) {
  auto run = [&]<PixelNormForm Form, SpadeNormKind Norm>() {
    SBGAN<SBGanTraits<float, cpu, Form, Norm>> model(cfg, init);
    f(model);
  };
  const bool official = cfg.layout_gan.pixel_norm == PixelNormForm::official;
  const bool batch = cfg.spade.norm == SpadeNormKind::batch;
  if (official && batch) run.template operator()<PixelNormForm::official, SpadeNormKind::batch>();
  if (official && !batch) run.template operator()<PixelNormForm::official, SpadeNormKind::instance>();
  if (!official && batch) run.template operator()<PixelNormForm::paper, SpadeNormKind::batch>();
  if (!official && !batch) run.template operator()<PixelNormForm::paper, SpadeNormKind::instance>();
}

SBGanConfig config_named(const std::string& name_or_file) {
  if (fs::exists(name_or_file) && fs::is_regular_file(name_or_file)) return load_config(name_or_file);
  try {
    return SBGanConfig::by_name(name_or_file);
  } catch (const config_error& e) {
    throw config_error(std::string(e.what()) + ", or the path of a JSON config file");
  }
}

std::shared_ptr<const data::SceneDataset> open_data(const std::string& spec, const SBGanConfig& cfg, const std::string& split) {
  return data::open_dataset(spec, {static_cast<std::int32_t>(cfg.classes), cfg.height, cfg.width, cfg.dataset_size,
                                   cfg.seed, split});
}

// A model and its config read back from a training checkpoint.
struct Loaded {
  io::TensorArchive archive;
  SBGanConfig config;
  index_t resolution = 0;  // G_SB's layout size when the checkpoint was written
};
Loaded read_checkpoint(const fs::path& path) {
  Loaded l;
  l.archive = io::read_safetensors(path);
  l.config = train::checkpoint_config(l.archive, path.string());
  const auto it = l.archive.metadata.find("progress.resolution");
  const auto stored = it != l.archive.metadata.end() ? train::scalar_from_tagged<std::int64_t>(it->second) : std::nullopt;
  l.resolution = stored && *stored > 0 ? *stored : l.config.layout_gan.max_resolution;
  return l;
}

// ------------------------------------------------------------- output ----------

void write_samples(const fs::path& out, const Tensor<float>& layouts, const Tensor<float>& images, std::int32_t classes) {
  fs::create_directories(out);
  const io::Palette palette = io::palette_for_classes(classes);
  const Tensor<std::int32_t> ids = data::argmax_labels(layouts);
  for (index_t i = 0; i < layouts.shape().n(); ++i) {
    const std::string stem = (out / ("sample_" + std::to_string(i))).string();
    io::write_label_png(stem + "_labels.png", ids, i);
    io::write_pixels(stem + "_layout.png", io::colorize(ids, palette, i));
    io::write_image(stem + "_image.png", images, i);
  }
  io::write_sample_grid(out / "grid.png", layouts, images, palette, io::GridOptions{2, 2});
}

void print_layout_table(const LayoutStatistics& data, const LayoutStatistics& before, const LayoutStatistics& after,
                        std::int32_t classes) {
  const io::Palette palette = io::palette_for_classes(classes);
  const auto fd = data.frequencies(), fb = before.frequencies(), fa = after.frequencies();
  const auto rd = data.mean_rows(), rb = before.mean_rows(), ra = after.mean_rows();
  std::printf("  %-5s %22s %22s\n", "class", "share: data/init/now", "mean row: data/init/now");
  for (std::size_t k = 0; k < fd.size(); ++k) {
    if (fd[k] < 0.01 && fa[k] < 0.01) continue;
    auto row = [](double r) { return std::isnan(r) ? std::string("  -  ") : std::to_string(r).substr(0, 5); };
    std::printf("  %-5zu %6.3f %6.3f %6.3f    %s %s %s\n", k, fd[k], fb[k], fa[k], row(rd[k]).c_str(), row(rb[k]).c_str(),
                row(ra[k]).c_str());
  }
}

// ------------------------------------------------------------- commands --------

struct TrainArgs {
  std::string config = "demo", data = "procedural", out, split = "train";
  bool resume = false;
  int stage = 3;
  std::int64_t checkpoint_every = 1000, sample_every = 1000, log_every = 50, stop_at = -1;
  std::optional<std::uint64_t> seed;
};

void train_command(const TrainArgs& a) {
  SBGanConfig cfg = config_named(a.config);
  if (a.seed) cfg.seed = *a.seed;
  const auto data = open_data(a.data, cfg, a.split);
  if (!a.resume && train::latest_checkpoint(fs::path(a.out) / "checkpoints"))
    throw error("train: " + a.out + " already holds checkpoints; pass --resume to continue that run, or choose another --out");
  Generator init(cfg.seed, 1);
  with_model(cfg, init, [&](auto& model) {
    train::TrainerOptions<float, cpu> options;
    options.out = a.out;
    options.checkpoint_every = a.checkpoint_every;
    options.sample_every = a.sample_every;
    options.log_every = a.log_every;
    options.last_stage = a.stage;
    options.stop_at_step = a.stop_at;
    train::SBGanTrainer trainer(model, data, options);
    if (a.resume) {
      if (const auto from = trainer.resume())
        std::printf("resuming from %s (stage %lld, step %lld)\n", from->string().c_str(),
                    static_cast<long long>(trainer.progress().stage), static_cast<long long>(trainer.progress().step));
      else
        std::printf("no checkpoint in %s: starting afresh\n", a.out.c_str());
    }
    std::printf("training %s (K = %lld, %lldx%lld) on %lld scenes from %s -> %s\n", cfg.name.c_str(),
                static_cast<long long>(cfg.classes), static_cast<long long>(cfg.height),
                static_cast<long long>(cfg.width), static_cast<long long>(data->size()), a.data.c_str(), a.out.c_str());
    trainer.run();
    std::printf(trainer.finished() ? "training complete: %s\n" : "stopped; continue with --resume: %s\n",
                trainer.checkpoint_dir().string().c_str());
  });
}

struct SampleArgs {
  std::string checkpoint, out;
  index_t count = 8;
  std::uint64_t seed = 0;
};

void sample_command(const SampleArgs& a) {
  const Loaded l = read_checkpoint(a.checkpoint);
  Generator init(l.config.seed, 1);
  with_model(l.config, init, [&](auto& model) {
    train::load_networks(model, l.archive, a.checkpoint);
    model.set_layout_resolution(l.resolution);
    model.set_training(false);
    Generator g(a.seed, 0x5A3B1E0000000002ULL);
    const auto layouts = model.sample_layouts(a.count, g, LayoutSampling::inference).output;
    write_samples(a.out, layouts, model.synthesize(layouts), static_cast<std::int32_t>(l.config.classes));
    std::printf("wrote %lld samples (layout %lldx%lld, image %lldx%lld) to %s\n", static_cast<long long>(a.count),
                static_cast<long long>(layouts.shape().h()), static_cast<long long>(layouts.shape().w()),
                static_cast<long long>(l.config.height), static_cast<long long>(l.config.width), a.out.c_str());
  });
}

struct SynthesizeArgs {
  std::string checkpoint, out, label_set = "auto";
  std::vector<std::string> labels;
};

data::LabelRemap label_set_for(const std::string& name, std::int32_t classes) {
  if (name == "auto") return classes == 35 ? data::cityscapes_label_ids()
                             : classes == 20 ? data::cityscapes_train_ids()
                                             : data::identity(classes);
  if (name == "ids") return data::label_id_channels(classes);
  if (name == "train_ids") return data::cityscapes_train_ids();
  if (name == "identity") return data::identity(classes);
  throw error("synthesize: --label-set must be auto, ids, train_ids or identity, got '" + name + "'");
}

void synthesize_command(const SynthesizeArgs& a) {
  const Loaded l = read_checkpoint(a.checkpoint);
  const auto classes = static_cast<std::int32_t>(l.config.classes);
  const data::LabelRemap remap = label_set_for(a.label_set, classes);
  if (remap.num_classes != classes)
    throw error("synthesize: label set '" + remap.name + "' has K = " + std::to_string(remap.num_classes) +
                ", the checkpoint's config K = " + std::to_string(classes));
  Generator init(l.config.seed, 1);
  with_model(l.config, init, [&](auto& model) {
    train::load_networks(model, l.archive, a.checkpoint);
    model.set_training(false);
    fs::create_directories(a.out);
    for (const std::string& file : a.labels) {
      const auto ids = data::resize_nearest_pil(remap.apply(io::read_label_png(file), file), l.config.height, l.config.width);
      const auto layout = data::one_hot<float>(ids, classes, file);
      const fs::path target = fs::path(a.out) / (fs::path(file).stem().string() + "_synthesized.png");
      io::write_image(target, model.synthesize(layout));
      std::printf("%s -> %s\n", file.c_str(), target.string().c_str());
    }
  });
}

struct EvalArgs {
  std::string checkpoint, data = "procedural", split = "train";
  std::vector<std::string> features;
  index_t count = 256;
  std::uint64_t seed = 0;
};

Eigen::MatrixXd read_features(const std::string& file) {
  if (!fs::exists(file)) throw error("eval: no such features file " + file);
  xt::xarray<double> a;
  try {
    a = xt::load_npy<double>(file);
  } catch (const std::exception& e) {
    throw error("eval: " + file + " is not a readable float64 .npy file (" + e.what() + ")");
  }
  if (a.dimension() != 2) throw error("eval: " + file + " must hold an [N, D] array, got " + std::to_string(a.dimension()) + " dimensions");
  Eigen::MatrixXd m(a.shape()[0], a.shape()[1]);
  for (std::size_t i = 0; i < a.shape()[0]; ++i)
    for (std::size_t j = 0; j < a.shape()[1]; ++j) m(i, j) = a(i, j);
  return m;
}

void eval_command(const EvalArgs& a) {
  if (!a.features.empty()) {
    if (a.features.size() != 2) throw error("eval: --features takes two .npy files");
    const double d = frechet_distance(read_features(a.features[0]), read_features(a.features[1]));
    std::printf("Frechet distance: %.6f\n", d);
    return;
  }
  if (a.checkpoint.empty()) throw error("eval: give --checkpoint (with --data) or --features A.npy B.npy");
  const Loaded l = read_checkpoint(a.checkpoint);
  const auto set = open_data(a.data, l.config, a.split);
  Generator init(l.config.seed, 1);
  with_model(l.config, init, [&](auto& model) {
    train::load_networks(model, l.archive, a.checkpoint);
    model.set_layout_resolution(l.resolution);
    const index_t h = l.resolution, w = l.resolution * l.config.aspect();
    const LayoutStatistics real = data_layout_statistics(*set, h, w, std::min(a.count, set->size()));
    Generator g(a.seed, 0x5A3B1E0000000003ULL);
    const LayoutStatistics fake = generated_layout_statistics(model, a.count, g);
    const LayoutComparison c = compare_layouts(fake, real);
    std::printf("layouts (%lld generated at %lldx%lld vs %lld data): class-frequency TV %.4f, vertical placement error %.4f\n",
                static_cast<long long>(a.count), static_cast<long long>(h), static_cast<long long>(w),
                static_cast<long long>(std::min(a.count, set->size())), c.total_variation, c.placement_error);
    const double recon = reconstruction_error(model, real_pairs(*set, 16, l.config.height, l.config.width));
    std::printf("SPADE reconstruction |G(layout) - image| on 16 data pairs: %.4f\n", recon);
  });
}

// ------------------------------------------------------------- demo ------------

struct DemoArgs {
  std::string out = "sbgan-demo";
  std::uint64_t seed = 0;
  bool quiet = false;
};

int demo_command(const DemoArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  SBGanConfig cfg = SBGanConfig::demo();
  cfg.seed = a.seed;
  const auto set = open_data("procedural", cfg, "train");
  Generator init(cfg.seed, 1);
  SBGAN<> model(cfg, init);
  std::printf("sbgan demo: the '%s' config (K = %lld, images %lldx%lld, layouts %lldx%lld) on %lld procedural scenes\n",
              cfg.name.c_str(), static_cast<long long>(cfg.classes), static_cast<long long>(cfg.height),
              static_cast<long long>(cfg.width), static_cast<long long>(cfg.layout_gan.max_resolution),
              static_cast<long long>(cfg.layout_gan.max_resolution * cfg.aspect()), static_cast<long long>(set->size()));

  const index_t lh = cfg.layout_gan.max_resolution, lw = lh * cfg.aspect();
  const LayoutStatistics real = data_layout_statistics(*set, lh, lw);
  const RealPairs pairs = real_pairs(*set, 16, cfg.height, cfg.width);
  auto measure = [&](LayoutStatistics& stats) {
    model.set_layout_resolution(lh);
    Generator g(cfg.seed, 0x5A3B1E0000000004ULL);  // the same latents before and after
    stats = generated_layout_statistics(model, 256, g);
    return compare_layouts(stats, real);
  };
  LayoutStatistics before(cfg.classes), after(cfg.classes);
  const LayoutComparison c0 = measure(before);
  const double r0 = reconstruction_error(model, pairs);

  const fs::path out(a.out);
  fs::remove_all(out / "checkpoints");
  fs::remove(out / "log.csv");
  train::TrainerOptions<float, cpu> options;
  options.out = out;
  options.checkpoint_every = 0;  // stage boundaries and the end only
  options.sample_every = 500;
  options.log_every = a.quiet ? 0 : 100;
  options.keep_checkpoints = 1;
  train::SBGanTrainer trainer(model, set, options);
  trainer.run();

  const LayoutComparison c1 = measure(after);
  const double r1 = reconstruction_error(model, pairs);
  model.set_training(false);
  Generator g(cfg.seed, 0x5A3B1E0000000002ULL);
  const auto layouts = model.sample_layouts(8, g, LayoutSampling::inference).output;
  write_samples(out / "samples-final", layouts, model.synthesize(layouts), static_cast<std::int32_t>(cfg.classes));

  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  std::printf("\nevidence of learning (256 generated layouts vs the %lld data layouts, %lldx%lld):\n",
              static_cast<long long>(set->size()), static_cast<long long>(lh), static_cast<long long>(lw));
  std::printf("  class-frequency total variation distance  %.4f -> %.4f\n", c0.total_variation, c1.total_variation);
  std::printf("  vertical placement error                  %.4f -> %.4f\n", c0.placement_error, c1.placement_error);
  std::printf("  SPADE |G(layout) - image| on 16 real pairs %.4f -> %.4f\n", r0, r1);
  print_layout_table(real, before, after, static_cast<std::int32_t>(cfg.classes));
  std::printf("samples: %s (layouts, label maps, images, grid.png); training grids: %s; log: %s\n",
              (out / "samples-final").string().c_str(), (out / "samples").string().c_str(),
              (out / "log.csv").string().c_str());
  std::printf("total %.1f minutes\n", minutes);
  const bool learned = c1.total_variation < 0.5 * c0.total_variation && c1.placement_error < c0.placement_error && r1 < 0.5 * r0;
  std::printf(learned ? "the demo learned: every measure improved\n" : "WARNING: the demo did not learn as expected\n");
  return learned ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sbgan: semantic-bottleneck scene GANs"};
  app.require_subcommand(1);

  TrainArgs t;
  CLI::App* train_cmd = app.add_subcommand("train", "train SB-GAN's three stages on a data set");
  train_cmd->add_option("--config", t.config, "ready config (cityscapes, cityscapes25k, ade_indoor, demo) or JSON file")
      ->capture_default_str();
  train_cmd->add_option("--data", t.data, "data directory, or 'procedural' for the built-in scenes")->capture_default_str();
  train_cmd->add_option("--out", t.out, "output directory (checkpoints, samples, log.csv)")->required();
  train_cmd->add_option("--split", t.split, "data split")->capture_default_str();
  train_cmd->add_flag("--resume", t.resume, "continue from the newest checkpoint in --out");
  train_cmd->add_option("--stage", t.stage, "last stage to run (1, 2 or 3)")->check(CLI::Range(1, 3))->capture_default_str();
  train_cmd->add_option("--checkpoint-every", t.checkpoint_every, "steps between checkpoints")->capture_default_str();
  train_cmd->add_option("--sample-every", t.sample_every, "steps between sample grids")->capture_default_str();
  train_cmd->add_option("--log-every", t.log_every, "steps between progress lines")->capture_default_str();
  train_cmd->add_option("--stop-at", t.stop_at, "stop with a checkpoint at this step");
  train_cmd->add_option("--seed", t.seed, "override the config's seed");

  SampleArgs s;
  CLI::App* sample_cmd = app.add_subcommand("sample", "draw scenes (layout and image) from a checkpoint");
  sample_cmd->add_option("--checkpoint", s.checkpoint, "training checkpoint (.safetensors)")->required()->check(CLI::ExistingFile);
  sample_cmd->add_option("-n", s.count, "number of scenes")->check(CLI::PositiveNumber)->capture_default_str();
  sample_cmd->add_option("--out", s.out, "output directory")->required();
  sample_cmd->add_option("--seed", s.seed, "latent seed")->capture_default_str();

  SynthesizeArgs y;
  CLI::App* synth_cmd = app.add_subcommand("synthesize", "paint images on given label maps");
  synth_cmd->add_option("--checkpoint", y.checkpoint, "training checkpoint (.safetensors)")->required()->check(CLI::ExistingFile);
  synth_cmd->add_option("--out", y.out, "output directory")->required();
  synth_cmd->add_option("--label-set", y.label_set, "how to read label values: auto, ids, train_ids, identity")
      ->capture_default_str();
  synth_cmd->add_option("labels", y.labels, "8-bit label PNGs")->required()->check(CLI::ExistingFile);

  EvalArgs e;
  CLI::App* eval_cmd = app.add_subcommand("eval", "layout statistics of a checkpoint vs data, or a Frechet distance");
  eval_cmd->add_option("--checkpoint", e.checkpoint, "training checkpoint (.safetensors)")->check(CLI::ExistingFile);
  eval_cmd->add_option("--data", e.data, "data directory or 'procedural'")->capture_default_str();
  eval_cmd->add_option("--split", e.split, "data split")->capture_default_str();
  eval_cmd->add_option("-n", e.count, "generated layouts")->check(CLI::PositiveNumber)->capture_default_str();
  eval_cmd->add_option("--seed", e.seed, "latent seed")->capture_default_str();
  eval_cmd->add_option("--features", e.features, "two [N, D] float64 .npy feature files: their Frechet distance");

  DemoArgs d;
  CLI::App* demo_cmd = app.add_subcommand("demo", "train all three stages of the demo config on procedural scenes");
  demo_cmd->add_option("--out", d.out, "output directory")->capture_default_str();
  demo_cmd->add_option("--seed", d.seed, "random seed")->capture_default_str();
  demo_cmd->add_flag("--quiet", d.quiet, "no progress lines");

  CLI11_PARSE(app, argc, argv);
  try {
    if (train_cmd->parsed()) train_command(t);
    if (sample_cmd->parsed()) sample_command(s);
    if (synth_cmd->parsed()) synthesize_command(y);
    if (eval_cmd->parsed()) eval_command(e);
    if (demo_cmd->parsed()) return demo_command(d);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "sbgan: %s\n", ex.what());
    return 1;
  }
  return 0;
}
