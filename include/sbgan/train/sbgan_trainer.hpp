#pragma once
// SBGanTrainer: the three stages of SB-GAN run as the reference runs them, on one
// data set, with checkpoints, exact resume, a progress line, a CSV log and sample
// grids. What the `sbgan train` and `sbgan demo` commands drive.
//
//   stage 1  LayoutGanStage over the config's resolution schedule; each level reads
//            the data at its own resolution and batch size; images per phase =
//            epochs_per_phase · data-set size.
//   stage 2  SpadeStage for spade.epochs epochs (bicubic images, flips), the linear
//            decay applied at the end of each epoch (epochs counted from 1).
//   stage 3  EndToEndStage: d2_pretrain_epochs epochs of D2 warm-up, then
//            end2end.epochs epochs of joint training, the decay applied at the end
//            of each epoch counted from 0 to SPADE-G, D_SPD and D2 (D2 receives the
//            D rate only from the first decay on: the reference's quirk).
// Epochs are int(data-set size / batch) iterations (a last partial batch is
// dropped). Layouts are one-hot maps of the data set's class ids (its LabelRemap
// decides the channels); K must equal the config's.
//
// Out directory: checkpoints/checkpoint-<step>.safetensors (the newest
// keep_checkpoints are kept), samples/step-<step>.png, log.csv.
//
// Checkpoints hold all five networks, the optimizers of the stage under way, the
// trainer's random streams (latents and penalty draws; G_SB's Gumbel noise), the
// data loader's position, the schedule's position and learning rates. One is
// written every checkpoint_every steps, at every stage boundary (the next stage's
// start) and at the end. resume() restores the newest and run() continues it: on
// the CPU the resumed run is bitwise the uninterrupted one. A checkpoint of
// another config is refused (CheckpointState checks the config's name and JSON).
//
// Backends: a model on the CPU or the CUDA backend trains the same way. The data
// loaders and the sample grids live in host memory, so on the CUDA backend each
// step's batch is copied to the device once (host_transfer.hpp), sample tensors
// come back to the host before a PNG is written, checkpoints copy every tensor
// to the host and back (checkpoint.hpp), and the NaN guard checks parameters on
// the device (kernels::all_finite), copying only a failing tensor to name its value.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/data/batch_loader.hpp"
#include "sbgan/data/label_remap.hpp"
#include "sbgan/io/image_grid.hpp"
#include "sbgan/io/palette.hpp"
#include "sbgan/metrics/scene_evaluation.hpp"
#include "sbgan/models/config.hpp"
#include "sbgan/optim/schedule.hpp"
#include "sbgan/train/checkpoint.hpp"
#include "sbgan/train/checkpoint_files.hpp"
#include "sbgan/train/end_to_end_stage.hpp"
#include "sbgan/train/host_transfer.hpp"
#include "sbgan/train/layout_gan_stage.hpp"
#include "sbgan/train/model_checkpoint.hpp"
#include "sbgan/train/progress.hpp"
#include "sbgan/train/spade_stage.hpp"

namespace sbgan::train {

// Thrown when a loss or a parameter stops being finite. The run stops before any
// checkpoint is written, so the newest checkpoint is the last good state.
struct training_diverged : error {
  using error::error;
};

template <class T, class B>
struct TrainerOptions {
  std::filesystem::path out;             // checkpoints/, samples/, log.csv
  std::int64_t checkpoint_every = 1000;  // steps; 0: only at stage boundaries and the end
  std::int64_t sample_every = 1000;      // steps; 0: never
  std::int64_t log_every = 50;           // steps between progress lines and CSV rows
  std::size_t keep_checkpoints = 3;
  int last_stage = 3;                    // stop after this stage
  std::int64_t stop_at_step = -1;        // stop (with a checkpoint) once the run reaches this step
  index_t sample_count = 8;              // samples per grid
  bool print = true;                     // progress lines on stdout
  bool check_parameters = true;          // after every step, also every parameter must be finite
  VGGPerceptualLoss<T, B>* vgg = nullptr;  // VGG19 term of stages 2 and 3 (null: off)
  std::function<void(const StepReport&)> on_report{};  // also called at each logged step
};

// The loss columns of the CSV log (every stage's terms).
inline std::vector<std::string> loss_columns() {
  return {"G",      "D",           "wasserstein", "penalty",  "g_gan",  "g_feat",  "g_vgg",  "g_layout",
          "g_d2",   "d_layout",    "d_spade_fake", "d_spade_real", "d2_fake", "d2_real"};
}

template <class Model>
class SBGanTrainer {
 public:
  using T = typename Model::value_type;
  using B = typename Model::backend;
  using tensor = Tensor<T, B>;
  using options_type = TrainerOptions<T, B>;
  static_assert(std::is_same_v<B, cpu> || std::is_same_v<B, cuda>, "SBGanTrainer: the CPU or the CUDA backend");

  SBGanTrainer(Model& model, std::shared_ptr<const data::SceneDataset> data, options_type options)
      : model_(model), cfg_(model.config()), data_(std::move(data)), options_(std::move(options)),
        rng_(cfg_.seed, 0x7A1E000000000001ULL) {
    if (!data_) throw error("SBGanTrainer: no data set");
    if (data_->num_classes() != cfg_.classes)
      throw error("SBGanTrainer: the data set has K = " + std::to_string(data_->num_classes()) +
                  " label channels, the config '" + cfg_.name + "' K = " + std::to_string(cfg_.classes));
    if (options_.out.empty()) throw error("SBGanTrainer: no output directory");
    if (options_.last_stage < 1 || options_.last_stage > 3)
      throw error("SBGanTrainer: last_stage must be 1, 2 or 3, got " + std::to_string(options_.last_stage));
    const index_t largest_batch = std::max({*std::max_element(cfg_.layout_gan.batch.begin(), cfg_.layout_gan.batch.end()),
                                            cfg_.spade.batch, cfg_.end2end.batch});
    if (data_->size() < largest_batch)
      throw error("SBGanTrainer: the data set has " + std::to_string(data_->size()) +
                  " scenes, fewer than the config's largest batch (" + std::to_string(largest_batch) + ")");
    std::filesystem::create_directories(checkpoint_dir());
    if (options_.sample_every > 0) std::filesystem::create_directories(options_.out / "samples");
  }

  [[nodiscard]] std::filesystem::path checkpoint_dir() const { return options_.out / "checkpoints"; }
  [[nodiscard]] const TrainingProgress& progress() const { return progress_; }
  [[nodiscard]] bool finished() const { return finished_; }
  [[nodiscard]] bool stopped() const { return stopped_; }
  Generator& rng() { return rng_; }

  // Restores the newest checkpoint of the output directory, if there is one.
  // Returns its path. Nothing changes when it is refused.
  std::optional<std::filesystem::path> resume() {
    const auto latest = latest_checkpoint(checkpoint_dir());
    if (!latest) return std::nullopt;
    resume_from(*latest);
    return latest;
  }

  // Restores a given checkpoint (its stage's objects are built when run() starts
  // that stage, so the file is read now and installed then).
  void resume_from(const std::filesystem::path& path) {
    io::TensorArchive archive;
    try {
      archive = io::read_safetensors(path);
    } catch (const error& e) {
      throw checkpoint_error("checkpoint " + path.string() + " cannot be read: " + e.what());
    }
    const auto entry = archive.metadata.find("progress.stage");
    const auto stage = entry == archive.metadata.end() ? std::nullopt : scalar_from_tagged<std::int64_t>(entry->second);
    if (!stage || *stage < 1 || *stage > 3)
      throw checkpoint_error("checkpoint " + path.string() + " is not a training checkpoint (no progress.stage 1..3)");
    base_registry().check_identity(archive, path.string());  // version, checksum, config: refused now
    const auto step_entry = archive.metadata.find("progress.step");
    const auto step =
        step_entry == archive.metadata.end() ? std::nullopt : scalar_from_tagged<std::int64_t>(step_entry->second);
    pending_ = Pending{std::move(archive), path.string()};
    progress_.stage = *stage;  // the rest of the progress is installed with the stage's objects
    progress_.step = step.value_or(0);
  }

  // Runs from where the trainer stands through options.last_stage (or until
  // stop_at_step). A run already complete returns at once.
  void run() {
    stopped_ = false;
    log_ = std::make_unique<CsvLog>(options_.out / "log.csv", loss_columns());
    while (!finished_ && !stopped_) {
      if (progress_.stage > options_.last_stage) break;
      if (progress_.stage == 1)
        run_layout_gan();
      else if (progress_.stage == 2)
        run_spade();
      else
        run_end_to_end();
    }
  }

 private:
  struct Pending {
    io::TensorArchive archive;
    std::string source;
  };

  // ------------------------------------------------------------ shared --------

  // The registry every stage starts from: networks, streams, progress.
  CheckpointState base_registry() {
    CheckpointState state(cfg_.name, to_json(cfg_).dump());
    register_networks(state, model_);
    state.add_generator("trainer", rng_);
    state.add_generator("gumbel", model_.g_sb().sampler().generator());
    state.track_progress(progress_);
    state.add_value("stage_step", stage_step_);
    state.add_value("finished", finished_flag_);
    return state;
  }

  // Installs the pending checkpoint into `state` if it belongs to this stage.
  bool restore_pending(CheckpointState& state) {
    if (!pending_) return false;
    state.restore(pending_->archive, pending_->source);
    pending_.reset();
    finished_ = finished_flag_ != 0;
    return true;
  }

  void save(CheckpointState& state) {
    finished_flag_ = finished_ ? 1 : 0;
    state.save(checkpoint_path(checkpoint_dir(), progress_.step));
    if (options_.keep_checkpoints > 0) prune_checkpoints(checkpoint_dir(), options_.keep_checkpoints);
    meter_.skip_time();
  }

  data::BatchLoader make_loader(index_t batch, index_t height, index_t width, data::Resample resample,
                                std::uint64_t stream) const {
    data::BatchLoaderOptions o;
    o.batch_size = batch;
    o.height = height;
    o.width = width;
    o.resample = resample;
    o.flip = true;
    o.seed = cfg_.seed * 0x9E3779B97F4A7C15ULL + stream;
    return data::BatchLoader(data_, o, {static_cast<index_t>(progress_.epoch), static_cast<index_t>(progress_.index)});
  }
  void note_loader(const data::BatchLoader& loader) {
    const auto p = loader.position();
    progress_.epoch = p.epoch;
    progress_.index = p.position;
  }

  tensor layouts_of(const data::Batch& b) const { return to_model(data::one_hot<float>(b.labels, static_cast<std::int32_t>(cfg_.classes), b.names.empty() ? "batch" : b.names.front())); }
  // Host data as the model's tensor: as it is (CPU, float), cast (double), or
  // copied to the device once (CUDA).
  static tensor to_model(const Tensor<float>& t) { return to_backend<T, B>(t); }

  // After every step: counters, the progress line and log, checkpoints, samples.
  // Returns false when the run must stop here.
  bool after_step(StepReport report, CheckpointState& state, const std::function<void()>& sample) {
    guard_finite(report);
    ++progress_.step;
    ++stage_step_;
    meter_.step_done(report.images);
    report.step = progress_.step;
    report.stage_step = stage_step_;
    const bool last = report.stage_step == report.stage_steps;  // end_stage saves that one
    if (options_.log_every > 0 && (stage_step_ % options_.log_every == 0 || last || stage_step_ == 1)) {
      log_->write(report, seconds_since_start(), meter_.images_per_second());
      if (options_.print) {
        std::printf("%s\n", meter_.line(report).c_str());
        std::fflush(stdout);
      }
      if (options_.on_report) options_.on_report(report);
    }
    if (options_.sample_every > 0 && progress_.step % options_.sample_every == 0) {
      sample();
      meter_.skip_time();
    }
    const bool stop = options_.stop_at_step >= 0 && progress_.step >= options_.stop_at_step;
    if (!last && (stop || (options_.checkpoint_every > 0 && progress_.step % options_.checkpoint_every == 0)))
      save(state);
    if (stop && !last) stopped_ = true;
    return !stopped_;
  }

  // The NaN/Inf guard: names the stage, the step and the loss (or parameter), and
  // the checkpoint to go back to.
  void guard_finite(const StepReport& report) {
    const auto show = [](double v) { return std::isnan(v) ? std::string("NaN") : v > 0 ? std::string("+Inf") : std::string("-Inf"); };
    std::string culprit;
    for (const auto& [name, value] : report.losses)
      if (!std::isfinite(value)) {
        culprit = "loss '" + name + "' is " + show(value);
        break;
      }
    if (culprit.empty() && options_.check_parameters)
      model_.visit_parameters([&](const std::string& name, auto& p) {
        if (!culprit.empty()) return;
        if (const auto v = first_non_finite(p.value)) culprit = "parameter '" + name + "' holds " + show(*v);
      });
    if (culprit.empty()) return;
    const auto last = latest_checkpoint(checkpoint_dir());
    throw training_diverged("training diverged at stage " + std::to_string(progress_.stage) + " (" + report.phase +
                            "), step " + std::to_string(progress_.step + 1) + ": " + culprit + "; " +
                            (last ? "the last good checkpoint is " + last->string() + " (nothing was written after it)"
                                  : std::string("no checkpoint was written yet")));
  }

  // The stage's end: a sample grid and a checkpoint of the completed stage (a run
  // resumed from it goes on with the next stage); then the next stage, unless the
  // run stops here. A stage restored already complete only moves on.
  void end_stage(CheckpointState& state, int stage, bool restored_complete, const std::function<void()>& sample) {
    if (!restored_complete) {
      if (options_.sample_every > 0) sample();
      if (stage == 3) finished_ = true;
      save(state);
    }
    if (stage == 3) return;
    progress_ = TrainingProgress{stage + 1, 0, "", progress_.step, 0, 0};
    stage_step_ = 0;
    if (stage >= options_.last_stage || (options_.stop_at_step >= 0 && progress_.step >= options_.stop_at_step))
      stopped_ = true;
  }

  double seconds_since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  // Fixed latents for the sample grids (their own stream: sampling draws nothing
  // from the training streams, so grids do not change the run).
  tensor grid_latents() {
    Generator g(cfg_.seed, 0x5A3B1E0000000001ULL);
    return model_.sample_latent(options_.sample_count, g);
  }
  std::filesystem::path grid_path() const {
    char name[48];
    std::snprintf(name, sizeof name, "step-%09lld.png", static_cast<long long>(progress_.step));
    return options_.out / "samples" / name;
  }
  // G_SB's layouts for the fixed latents (inference: argmax), in eval mode.
  tensor grid_layouts() {
    auto& g = model_.g_sb();
    const LayoutSampling before = g.sampling();
    g.set_sampling(LayoutSampling::inference);
    tensor layouts = g.forward(grid_latents()).output;
    g.set_sampling(before);
    return layouts;
  }
  void write_layout_grid() { io::write_layout_grid(grid_path(), to_host_float(grid_layouts()), io::palette_for_classes(static_cast<std::int32_t>(cfg_.classes)), 4); }
  void write_image_grid(const tensor& layouts) {
    model_.g_spade().set_training(false);
    const tensor images = model_.synthesize(layouts);
    model_.g_spade().set_training(true);
    io::write_sample_grid(grid_path(), to_host_float(layouts), to_host_float(images),
                          io::palette_for_classes(static_cast<std::int32_t>(cfg_.classes)), io::GridOptions{4, 2});
  }
  tensor fixed_real_layouts() {
    return to_model(real_pairs(*data_, std::min<index_t>(options_.sample_count, data_->size()), cfg_.height, cfg_.width).layouts);
  }

  // ------------------------------------------------------------ stage 1 -------

  void run_layout_gan() {
    const auto& lg = cfg_.layout_gan;
    LayoutGanOptions opt;
    opt.batch = lg.batch;
    opt.images_per_phase = lg.epochs_per_phase * data_->size();
    opt.fade_in = lg.fade_in;
    opt.generator_adam = opt.critic_adam = {lg.lr, lg.beta1, lg.beta2, 1e-8};
    opt.loss = {lg.gp_lambda, lg.drift, 1.0};
    LayoutGanStage stage(model_.g_sb().network(), model_.g_sb().sampler(), model_.d_sb(), opt, rng_);
    // Level 1 has one phase, every later level a fade and a stabilize phase.
    std::int64_t total = 0;
    for (std::size_t l = 0; l < opt.batch.size(); ++l)
      total += (l == 0 ? 1 : 2) * std::max<std::int64_t>(1, opt.images_per_phase / opt.batch[l]);

    std::int64_t level = 1, phase = 1, step_in_phase = 0, layout_step = 0;
    CheckpointState state = base_registry();
    state.add_optimizer("G_SB", stage.generator_optimizer());
    state.add_optimizer("D_SB", stage.critic_optimizer());
    state.add_value("stage1.level", level);
    state.add_value("stage1.phase", phase);
    state.add_value("stage1.step_in_phase", step_in_phase);
    state.add_value("stage1.step", layout_step);
    const bool resumed = restore_pending(state);
    const bool restored_complete = resumed && stage_step_ == total;
    if (resumed && !restored_complete)
      stage.set_position({static_cast<index_t>(level), static_cast<int>(phase), step_in_phase, layout_step});
    // Keeps the registered values in step with the stage before every save.
    auto sync = [&] {
      const auto p = stage.position();
      level = p.level, phase = p.phase, step_in_phase = p.step_in_phase, layout_step = p.step;
      progress_.resolution = stage.finished() ? lg.max_resolution : stage.height();
      progress_.phase = stage.finished() ? "" : (p.phase == 0 ? "fade" : "stabilize");
    };
    SyncingState saver{state, sync};

    meter_.start_stage(stage_step_);
    auto sample = [&] { write_layout_grid(); };
    while (!restored_complete && !stage.finished()) {
      const index_t at_level = stage.position().level;
      auto loader = make_loader(stage.batch_size(), stage.height(), stage.width(), data::Resample::bilinear,
                                static_cast<std::uint64_t>(at_level));
      while (!stage.finished() && stage.position().level == at_level) {
        const data::Batch batch = loader.next();
        note_loader(loader);
        const std::string where = std::to_string(stage.height()) + "x" + std::to_string(stage.width()) +
                                  (stage.position().phase == 0 ? " fade" : " stabilize");
        const LayoutGanStepStats s = stage.step(layouts_of(batch));
        if (stage.finished() || stage.position().level != at_level) progress_.epoch = progress_.index = 0;
        sync();
        StepReport r{1, where, 0, 0, total, batch.images.shape().n(),
                     {{"G", s.generator_loss}, {"D", s.critic_loss}, {"wasserstein", s.wasserstein}, {"penalty", s.penalty}}};
        if (!after_step(r, saver.refreshed(), sample)) return;
      }
    }
    model_.set_layout_resolution(lg.max_resolution);
    if (!restored_complete) sync();
    end_stage(state, 1, restored_complete, sample);
  }

  // A CheckpointState whose values are synchronised before each use.
  struct SyncingState {
    CheckpointState& state;
    std::function<void()> sync;
    CheckpointState& refreshed() {
      sync();
      return state;
    }
  };

  // ------------------------------------------------------------ stage 2 -------

  void run_spade() {
    const auto& sc = cfg_.spade;
    SpadeStageOptions<T, B> opt;
    opt.lr = sc.lr;
    opt.beta1 = sc.beta1;
    opt.beta2 = sc.beta2;
    opt.lambda_feat = sc.lambda_feat;
    opt.lambda_vgg = sc.lambda_vgg;
    opt.vgg = options_.vgg;
    SpadeStage stage(model_.g_spade(), model_.d_spade(), opt);
    LinearDecaySchedule schedule({sc.lr, static_cast<int>(sc.niter), static_cast<int>(sc.niter_decay), true});
    const index_t per_epoch = data_->size() / sc.batch;
    const std::int64_t total = sc.epochs * per_epoch;

    double base_lr = schedule.base_lr();
    CheckpointState state = base_registry();
    state.add_optimizer("G_SPADE", stage.generator_optimizer());
    state.add_optimizer("D_SPADE", stage.discriminator_optimizer());
    state.add_value("stage2.base_lr", base_lr);
    const bool restored_complete = restore_pending(state) && stage_step_ == total;
    schedule.set_base_lr(base_lr);
    progress_.phase = "spade";
    progress_.resolution = cfg_.height;
    auto sync = [&] { base_lr = schedule.base_lr(); };
    SyncingState saver{state, sync};

    const tensor fixed = fixed_real_layouts();
    auto sample = [&] { write_image_grid(fixed); };
    meter_.start_stage(stage_step_);
    auto loader = make_loader(sc.batch, cfg_.height, cfg_.width, data::Resample::bicubic, 2);
    while (stage_step_ < total) {
      const data::Batch batch = loader.next();
      note_loader(loader);
      const std::int64_t epoch = progress_.epoch;  // the loader's epoch after this batch
      const SpadeStepStats s = stage.step(layouts_of(batch), to_model(batch.images));
      // SPADE counts epochs from 1 and decays at the end of each.
      if (epoch != batch.at.epoch) stage.end_epoch(schedule, static_cast<int>(batch.at.epoch + 1));
      StepReport r{2, "epoch " + std::to_string(batch.at.epoch + 1) + "/" + std::to_string(sc.epochs), 0, 0, total,
                   sc.batch,
                   {{"G", s.generator_loss()}, {"D", s.discriminator_loss()}, {"g_gan", s.g_gan}, {"g_feat", s.g_feat},
                    {"g_vgg", s.g_vgg}, {"d_spade_fake", s.d_fake}, {"d_spade_real", s.d_real}}};
      if (!after_step(r, saver.refreshed(), sample)) return;
    }
    end_stage(saver.refreshed(), 2, restored_complete, sample);
  }

  // ------------------------------------------------------------ stage 3 -------

  void run_end_to_end() {
    const auto& e = cfg_.end2end;
    EndToEndOptions<T, B> opt;
    opt.lr_pgan = e.lr_pgan;
    opt.lr_spade_g = e.spade_generator_lr;
    opt.lr_spade_d = e.spade_discriminator_lr;
    opt.lr_d2 = e.d2_lr;
    opt.lambda_pgan = e.lambda_pgan;
    opt.lambda_gp = cfg_.layout_gan.gp_lambda;
    opt.lambda_d2 = e.lambda_d2;
    opt.lambda_feat = cfg_.spade.lambda_feat;
    opt.lambda_vgg = cfg_.spade.lambda_vgg;
    opt.scaling = cfg_.end2end_scaling();
    opt.vgg = options_.vgg;
    model_.set_layout_resolution(e.layout_resolution);
    EndToEndStage stage(model_.g_sb(), model_.d_sb(), model_.g_spade(), model_.d_spade(), model_.d2(), rng_, opt);
    LinearDecaySchedule schedule({cfg_.spade.lr, static_cast<int>(e.niter), static_cast<int>(e.niter_decay), true});
    const index_t per_epoch = data_->size() / e.batch;
    const std::int64_t warmup = e.d2_pretrain_epochs * per_epoch;
    const std::int64_t total = warmup + e.epochs * per_epoch;

    double base_lr = schedule.base_lr();
    CheckpointState state = base_registry();
    state.add_optimizer("G_SB", stage.layout_generator_optimizer());
    state.add_optimizer("D_SB", stage.layout_critic_optimizer());
    state.add_optimizer("G_SPADE", stage.image_generator_optimizer());
    state.add_optimizer("D_SPADE", stage.image_discriminator_optimizer());
    state.add_optimizer("D2", stage.d2_optimizer());
    state.add_value("stage3.base_lr", base_lr);
    const bool restored_complete = restore_pending(state) && stage_step_ == total;
    schedule.set_base_lr(base_lr);
    progress_.resolution = e.layout_resolution;
    auto sync = [&] {
      base_lr = schedule.base_lr();
      progress_.phase = stage_step_ < warmup ? "d2_warmup" : "joint";
    };
    SyncingState saver{state, sync};

    auto sample = [&] { write_image_grid(grid_layouts()); };
    meter_.start_stage(stage_step_);
    auto loader = make_loader(e.batch, cfg_.height, cfg_.width, data::Resample::bilinear, 3);
    while (stage_step_ < total) {
      const data::Batch batch = loader.next();
      note_loader(loader);
      const tensor real = to_model(batch.images);
      StepReport r{3, "", 0, 0, total, e.batch, {}};
      if (stage_step_ < warmup) {
        const D2PretrainStats s = stage.pretrain_d2_step(real);
        if (stage_step_ + 1 == warmup) stage.finish_d2_pretraining();
        r.phase = "D2 warm-up";
        r.losses = {{"D", s.loss()}, {"d2_fake", s.d_fake}, {"d2_real", s.d_real}};
      } else {
        const EndToEndStepStats s = stage.step(layouts_of(batch), real);
        // Epochs of the joint phase count from 0; the decay follows the reference.
        const std::int64_t joint_step = stage_step_ + 1 - warmup;
        const std::int64_t epoch = (joint_step - 1) / per_epoch;
        if (joint_step % per_epoch == 0 && schedule.end_epoch(static_cast<int>(epoch))) {
          stage.image_generator_optimizer().set_lr(schedule.generator_lr());
          stage.image_discriminator_optimizer().set_lr(schedule.discriminator_lr());
          stage.d2_optimizer().set_lr(schedule.discriminator_lr());
        }
        r.phase = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(e.epochs);
        r.losses = {{"G", s.generator_loss()}, {"D", s.discriminator_loss()}, {"g_layout", s.g_layout},
                    {"g_d2", s.g_d2},          {"g_gan", s.g_gan},         {"g_feat", s.g_feat},
                    {"g_vgg", s.g_vgg},        {"d_layout", s.d_layout},   {"d_spade_fake", s.d_spade_fake},
                    {"d_spade_real", s.d_spade_real}, {"d2_fake", s.d2_fake}, {"d2_real", s.d2_real}};
      }
      if (!after_step(r, saver.refreshed(), sample)) return;
    }
    end_stage(saver.refreshed(), 3, restored_complete, sample);
  }

  Model& model_;
  SBGanConfig cfg_;
  std::shared_ptr<const data::SceneDataset> data_;
  options_type options_;
  Generator rng_;
  TrainingProgress progress_;
  std::int64_t stage_step_ = 0;
  std::int64_t finished_flag_ = 0;
  bool finished_ = false;
  bool stopped_ = false;
  std::optional<Pending> pending_;
  std::unique_ptr<CsvLog> log_;
  ProgressMeter meter_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace sbgan::train
