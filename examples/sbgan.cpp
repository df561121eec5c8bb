// sbgan: train SB-GAN, sample scenes, synthesize images from layouts, evaluate,
// and watch it learn on the built-in procedural scenes.
//
//   sbgan train --config NAME|FILE --data DIR|procedural --out DIR [--resume] [--device cpu|cuda]
//   sbgan sample --checkpoint F -n N --out DIR [--seed S] [--device cpu|cuda]
//   sbgan synthesize --checkpoint F --out DIR LABEL.png... [--device cpu|cuda]
//   sbgan eval --checkpoint F --data DIR|procedural [-n N] [--device cpu|cuda]
//   sbgan eval --features A.npy B.npy
//   sbgan demo [--out DIR] [--seed S]
//
// The model's compile-time choices (pixel-norm form, SPADE norm) follow the
// config: the program instantiates all four and picks one at run time. The model
// commands are written once over the backend (sbgan_commands.hpp); this unit runs
// them on the CPU, sbgan_cuda.cu (nvcc, built with SBGAN_WITH_CUDA) on the GPU.
// Checkpoints are the same files on both backends.
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

#include "sbgan/metrics/frechet_distance.hpp"
#include "sbgan_commands.hpp"
#include "sbgan_device.hpp"

namespace {

using namespace sbgan;
using namespace sbgan_cli;
namespace fs = std::filesystem;

// ------------------------------------------------------------- devices ---------

// Runs a model command on the backend --device names: the CPU here, the GPU in
// sbgan_cuda.cu (which refuses clearly without a GPU), or a refusal where the
// CUDA backend is not compiled in.
void run_on_device(const std::string& device, const ModelCommand& command) {
  if (device == "cpu") return run_model_command<cpu>(command);
  if (device != "cuda") throw error("--device must be cpu or cuda, got '" + device + "'");
#if defined(SBGAN_WITH_CUDA)
  run_on_cuda(command);
#else
  throw error(no_cuda_build_message);
#endif
}

// ------------------------------------------------------------- output ----------

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

// ------------------------------------------------------------- eval --features --

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

// The Frechet distance of two feature files (Eigen, on the host, in this unit
// only), or the model evaluation on --device.
void eval_command(const EvalArgs& a) {
  if (!a.features.empty()) {
    if (a.features.size() != 2) throw error("eval: --features takes two .npy files");
    const double d = frechet_distance(read_features(a.features[0]), read_features(a.features[1]));
    std::printf("Frechet distance: %.6f\n", d);
    return;
  }
  if (a.checkpoint.empty()) throw error("eval: give --checkpoint (with --data) or --features A.npy B.npy");
  run_on_device(a.device, a);
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

// --device cpu|cuda (default cpu) on a model command.
void add_device_option(CLI::App* command, std::string& device) {
  command->add_option("--device", device, "backend to run on: cpu, or cuda (a GPU; needs a build with SBGAN_WITH_CUDA)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
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
  add_device_option(train_cmd, t.device);

  SampleArgs s;
  CLI::App* sample_cmd = app.add_subcommand("sample", "draw scenes (layout and image) from a checkpoint");
  sample_cmd->add_option("--checkpoint", s.checkpoint, "training checkpoint (.safetensors)")->required()->check(CLI::ExistingFile);
  sample_cmd->add_option("-n", s.count, "number of scenes")->check(CLI::PositiveNumber)->capture_default_str();
  sample_cmd->add_option("--out", s.out, "output directory")->required();
  sample_cmd->add_option("--seed", s.seed, "latent seed")->capture_default_str();
  add_device_option(sample_cmd, s.device);

  SynthesizeArgs y;
  CLI::App* synth_cmd = app.add_subcommand("synthesize", "paint images on given label maps");
  synth_cmd->add_option("--checkpoint", y.checkpoint, "training checkpoint (.safetensors)")->required()->check(CLI::ExistingFile);
  synth_cmd->add_option("--out", y.out, "output directory")->required();
  synth_cmd->add_option("--label-set", y.label_set, "how to read label values: auto, ids, train_ids, identity")
      ->capture_default_str();
  synth_cmd->add_option("labels", y.labels, "8-bit label PNGs")->required()->check(CLI::ExistingFile);
  add_device_option(synth_cmd, y.device);

  EvalArgs e;
  CLI::App* eval_cmd = app.add_subcommand("eval", "layout statistics of a checkpoint vs data, or a Frechet distance");
  eval_cmd->add_option("--checkpoint", e.checkpoint, "training checkpoint (.safetensors)")->check(CLI::ExistingFile);
  eval_cmd->add_option("--data", e.data, "data directory or 'procedural'")->capture_default_str();
  eval_cmd->add_option("--split", e.split, "data split")->capture_default_str();
  eval_cmd->add_option("-n", e.count, "generated layouts")->check(CLI::PositiveNumber)->capture_default_str();
  eval_cmd->add_option("--seed", e.seed, "latent seed")->capture_default_str();
  eval_cmd->add_option("--features", e.features, "two [N, D] float64 .npy feature files: their Frechet distance");
  add_device_option(eval_cmd, e.device);

  DemoArgs d;
  CLI::App* demo_cmd = app.add_subcommand("demo", "train all three stages of the demo config on procedural scenes");
  demo_cmd->add_option("--out", d.out, "output directory")->capture_default_str();
  demo_cmd->add_option("--seed", d.seed, "random seed")->capture_default_str();
  demo_cmd->add_flag("--quiet", d.quiet, "no progress lines");

  CLI11_PARSE(app, argc, argv);
  try {
    if (train_cmd->parsed()) run_on_device(t.device, t);
    if (sample_cmd->parsed()) run_on_device(s.device, s);
    if (synth_cmd->parsed()) run_on_device(y.device, y);
    if (eval_cmd->parsed()) eval_command(e);
    if (demo_cmd->parsed()) return demo_command(d);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "sbgan: %s\n", ex.what());
    return 1;
  }
  return 0;
}
