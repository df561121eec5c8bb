#pragma once
// The sbgan program's model commands (train, sample, synthesize, the model part
// of eval), written once over the backend: examples/sbgan.cpp instantiates them
// with B = cpu, examples/sbgan_cuda.cu with B = cuda.
//
// Everything the commands read and write lives in host memory (data sets, label
// PNGs, checkpoints, sample PNGs), so the CUDA instantiation copies a command's
// inputs to the device once and its outputs back once; the trainer does the same
// for every batch (sbgan/train/host_transfer.hpp). Checkpoints are the same files
// on both backends: one written on the GPU samples on the CPU and the other way.
//
// No Eigen here: this header is compiled by nvcc (the Frechet distance of `eval
// --features` stays in sbgan.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "sbgan_device.hpp"

#include "sbgan/backend/kernels.hpp"  // every backend's kernels before any template that calls them
#include "sbgan/data/open_dataset.hpp"
#include "sbgan/io/image_grid.hpp"
#include "sbgan/io/palette.hpp"
#include "sbgan/io/png.hpp"
#include "sbgan/metrics/scene_evaluation.hpp"
#include "sbgan/models/config.hpp"
#include "sbgan/models/sbgan.hpp"
#include "sbgan/train/host_transfer.hpp"
#include "sbgan/train/model_checkpoint.hpp"
#include "sbgan/train/sbgan_trainer.hpp"

namespace sbgan_cli {

using namespace sbgan;
namespace fs = std::filesystem;

// ------------------------------------------------------------- model choice ----

// Calls f(model) with the SBGAN instantiation (on backend B) the config's choices name.
template <class B, class F>
void with_model(const SBGanConfig& cfg, Generator& init, F&& f) {
  auto run = [&]<PixelNormForm Form, SpadeNormKind Norm>() {
    SBGAN<SBGanTraits<float, B, Form, Norm>> model(cfg, init);
    f(model);
  };
  const bool official = cfg.layout_gan.pixel_norm == PixelNormForm::official;
  const bool batch = cfg.spade.norm == SpadeNormKind::batch;
  if (official && batch) run.template operator()<PixelNormForm::official, SpadeNormKind::batch>();
  if (official && !batch) run.template operator()<PixelNormForm::official, SpadeNormKind::instance>();
  if (!official && batch) run.template operator()<PixelNormForm::paper, SpadeNormKind::batch>();
  if (!official && !batch) run.template operator()<PixelNormForm::paper, SpadeNormKind::instance>();
}

inline SBGanConfig config_named(const std::string& name_or_file) {
  if (fs::exists(name_or_file) && fs::is_regular_file(name_or_file)) return load_config(name_or_file);
  try {
    return SBGanConfig::by_name(name_or_file);
  } catch (const config_error& e) {
    throw config_error(std::string(e.what()) + ", or the path of a JSON config file");
  }
}

inline std::shared_ptr<const data::SceneDataset> open_data(const std::string& spec, const SBGanConfig& cfg,
                                                           const std::string& split) {
  return data::open_dataset(spec, {static_cast<std::int32_t>(cfg.classes), cfg.height, cfg.width, cfg.dataset_size,
                                   cfg.seed, split});
}

// A model and its config read back from a training checkpoint.
struct Loaded {
  io::TensorArchive archive;
  SBGanConfig config;
  index_t resolution = 0;  // G_SB's layout size when the checkpoint was written
};
inline Loaded read_checkpoint(const fs::path& path) {
  Loaded l;
  l.archive = io::read_safetensors(path);
  l.config = train::checkpoint_config(l.archive, path.string());
  const auto it = l.archive.metadata.find("progress.resolution");
  const auto stored = it != l.archive.metadata.end() ? train::scalar_from_tagged<std::int64_t>(it->second) : std::nullopt;
  l.resolution = stored && *stored > 0 ? *stored : l.config.layout_gan.max_resolution;
  return l;
}

// ------------------------------------------------------------- output ----------

inline void write_samples(const fs::path& out, const Tensor<float>& layouts, const Tensor<float>& images,
                          std::int32_t classes) {
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

// A host float tensor on the model's backend, and back (host_transfer.hpp: no
// copy at all on the CPU).
template <class B>
Tensor<float, B> on_backend(const Tensor<float>& host) {
  return train::to_backend<float, B>(host);
}
template <class B>
Tensor<float> on_host(const Tensor<float, B>& t) {
  if constexpr (std::is_same_v<B, cpu>)
    return t;
  else
    return train::to_host_float(t);
}

// Layout statistics of `count` layouts G_SB draws (scene_evaluation.hpp's
// generated_layout_statistics, with each batch copied to the host).
template <class Model>
LayoutStatistics generated_layout_statistics_on(Model& model, index_t count, Generator& g, index_t batch = 32) {
  using B = typename Model::backend;
  if constexpr (std::is_same_v<B, cpu>) {
    return generated_layout_statistics(model, count, g, batch);
  } else {
    LayoutStatistics stats(model.config().classes);
    for (index_t done = 0; done < count; done += batch) {
      const index_t n = std::min(batch, count - done);
      stats.add(cast<double>(on_host(model.sample_layouts(n, g, LayoutSampling::inference).output)));
    }
    return stats;
  }
}

// Mean |G_SPADE(layout) − image| over real pairs, in eval mode
// (scene_evaluation.hpp's reconstruction_error; on the device, the layouts go over
// in batches and the generated images come back).
template <class Model>
double reconstruction_error_on(Model& model, const RealPairs& pairs, index_t batch = 8) {
  using B = typename Model::backend;
  if constexpr (std::is_same_v<B, cpu>) {
    return reconstruction_error(model, pairs, batch);
  } else {
    model.g_spade().set_training(false);
    double sum = 0;
    const Shape& ls = pairs.layouts.shape();
    const index_t n = ls.n(), per_layout = ls.c() * ls.h() * ls.w();
    for (index_t start = 0; start < n; start += batch) {
      const index_t m = std::min(batch, n - start);
      Tensor<float> layouts(Shape{m, ls.c(), ls.h(), ls.w()});
      std::copy(pairs.layouts.data() + start * per_layout, pairs.layouts.data() + (start + m) * per_layout,
                layouts.data());
      const Tensor<float> fake = on_host(model.g_spade().infer(on_backend<B>(layouts)));
      const float* real = pairs.images.data() + start * fake.numel() / m;
      for (index_t i = 0; i < fake.numel(); ++i) sum += std::abs(double(fake[i]) - double(real[i]));
    }
    model.g_spade().set_training(true);
    return sum / double(pairs.images.numel());
  }
}

// ------------------------------------------------------------- commands --------

template <class B>
void run_command(const TrainArgs& a) {
  SBGanConfig cfg = config_named(a.config);
  if (a.seed) cfg.seed = *a.seed;
  const auto data = open_data(a.data, cfg, a.split);
  if (!a.resume && train::latest_checkpoint(fs::path(a.out) / "checkpoints"))
    throw error("train: " + a.out + " already holds checkpoints; pass --resume to continue that run, or choose another --out");
  Generator init(cfg.seed, 1);
  with_model<B>(cfg, init, [&](auto& model) {
    train::TrainerOptions<float, B> options;
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
    std::printf("training %s (K = %lld, %lldx%lld) on %lld scenes from %s -> %s%s\n", cfg.name.c_str(),
                static_cast<long long>(cfg.classes), static_cast<long long>(cfg.height),
                static_cast<long long>(cfg.width), static_cast<long long>(data->size()), a.data.c_str(), a.out.c_str(),
                std::is_same_v<B, cpu> ? "" : " (on the CUDA backend)");
    trainer.run();
    std::printf(trainer.finished() ? "training complete: %s\n" : "stopped; continue with --resume: %s\n",
                trainer.checkpoint_dir().string().c_str());
  });
}

template <class B>
void run_command(const SampleArgs& a) {
  const Loaded l = read_checkpoint(a.checkpoint);
  Generator init(l.config.seed, 1);
  with_model<B>(l.config, init, [&](auto& model) {
    train::load_networks(model, l.archive, a.checkpoint);
    model.set_layout_resolution(l.resolution);
    model.set_training(false);
    Generator g(a.seed, 0x5A3B1E0000000002ULL);
    const auto layouts = model.sample_layouts(a.count, g, LayoutSampling::inference).output;
    write_samples(a.out, on_host(layouts), on_host(model.synthesize(layouts)),
                  static_cast<std::int32_t>(l.config.classes));
    std::printf("wrote %lld samples (layout %lldx%lld, image %lldx%lld) to %s\n", static_cast<long long>(a.count),
                static_cast<long long>(layouts.shape().h()), static_cast<long long>(layouts.shape().w()),
                static_cast<long long>(l.config.height), static_cast<long long>(l.config.width), a.out.c_str());
  });
}

inline data::LabelRemap label_set_for(const std::string& name, std::int32_t classes) {
  if (name == "auto") return classes == 35 ? data::cityscapes_label_ids()
                             : classes == 20 ? data::cityscapes_train_ids()
                                             : data::identity(classes);
  if (name == "ids") return data::label_id_channels(classes);
  if (name == "train_ids") return data::cityscapes_train_ids();
  if (name == "identity") return data::identity(classes);
  throw error("synthesize: --label-set must be auto, ids, train_ids or identity, got '" + name + "'");
}

template <class B>
void run_command(const SynthesizeArgs& a) {
  const Loaded l = read_checkpoint(a.checkpoint);
  const auto classes = static_cast<std::int32_t>(l.config.classes);
  const data::LabelRemap remap = label_set_for(a.label_set, classes);
  if (remap.num_classes != classes)
    throw error("synthesize: label set '" + remap.name + "' has K = " + std::to_string(remap.num_classes) +
                ", the checkpoint's config K = " + std::to_string(classes));
  Generator init(l.config.seed, 1);
  with_model<B>(l.config, init, [&](auto& model) {
    train::load_networks(model, l.archive, a.checkpoint);
    model.set_training(false);
    fs::create_directories(a.out);
    for (const std::string& file : a.labels) {
      const auto ids = data::resize_nearest_pil(remap.apply(io::read_label_png(file), file), l.config.height, l.config.width);
      const auto layout = data::one_hot<float>(ids, classes, file);
      const fs::path target = fs::path(a.out) / (fs::path(file).stem().string() + "_synthesized.png");
      io::write_image(target, on_host(model.synthesize(on_backend<B>(layout))));
      std::printf("%s -> %s\n", file.c_str(), target.string().c_str());
    }
  });
}

// eval with --checkpoint: layout statistics and SPADE's reconstruction error.
template <class B>
void run_command(const EvalArgs& a) {
  if (a.checkpoint.empty()) throw error("eval: give --checkpoint (with --data) or --features A.npy B.npy");
  const Loaded l = read_checkpoint(a.checkpoint);
  const auto set = open_data(a.data, l.config, a.split);
  Generator init(l.config.seed, 1);
  with_model<B>(l.config, init, [&](auto& model) {
    train::load_networks(model, l.archive, a.checkpoint);
    model.set_layout_resolution(l.resolution);
    const index_t h = l.resolution, w = l.resolution * l.config.aspect();
    const LayoutStatistics real = data_layout_statistics(*set, h, w, std::min(a.count, set->size()));
    Generator g(a.seed, 0x5A3B1E0000000003ULL);
    const LayoutStatistics fake = generated_layout_statistics_on(model, a.count, g);
    const LayoutComparison c = compare_layouts(fake, real);
    std::printf("layouts (%lld generated at %lldx%lld vs %lld data): class-frequency TV %.4f, vertical placement error %.4f\n",
                static_cast<long long>(a.count), static_cast<long long>(h), static_cast<long long>(w),
                static_cast<long long>(std::min(a.count, set->size())), c.total_variation, c.placement_error);
    const double recon = reconstruction_error_on(model, real_pairs(*set, 16, l.config.height, l.config.width));
    std::printf("SPADE reconstruction |G(layout) - image| on 16 data pairs: %.4f\n", recon);
  });
}

// Any model command on backend B.
template <class B>
void run_model_command(const ModelCommand& command) {
  std::visit([](const auto& args) { run_command<B>(args); }, command);
}

}  // namespace sbgan_cli
