#pragma once
// The training state the checkpoint fuzz target restores into: one tiny Conv2d,
// its Adam, a random generator, the progress and a value of the trainer's own:
// every kind of slot a CheckpointState has. make_corpus.cpp saves it (after one
// optimizer step) as the seed, so that the fuzzer starts from a checkpoint this
// state accepts.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <sbgan/core/generator.hpp>
#include <sbgan/layers/conv2d.hpp>
#include <sbgan/optim/adam.hpp>
#include <sbgan/train/checkpoint.hpp>

namespace fuzz_support {

struct CheckpointModel {
  sbgan::Generator init{7};
  sbgan::Conv2d<float> conv{{2, 3, 3, 1, 1}, init};
  sbgan::Adam<float> adam;
  sbgan::Generator noise{11, 3};
  sbgan::train::TrainingProgress progress;
  std::int64_t images_seen = 0;
  sbgan::train::CheckpointState ckpt{"fuzz", R"({"classes": 3, "lr": 0.001})"};

  CheckpointModel() {
    adam.add(conv);
    ckpt.add_network("conv", conv);
    ckpt.add_optimizer("conv", adam);
    ckpt.add_generator("noise", noise);
    ckpt.track_progress(progress);
    ckpt.add_value("images_seen", images_seen);
  }
  CheckpointModel(const CheckpointModel&) = delete;
  CheckpointModel& operator=(const CheckpointModel&) = delete;

  // Every byte of the state, read from the objects themselves.
  [[nodiscard]] std::vector<unsigned char> snapshot() {
    std::vector<unsigned char> s;
    const auto put = [&s](const void* p, std::size_t n) {
      const auto* b = static_cast<const unsigned char*>(p);
      s.insert(s.end(), b, b + n);
    };
    conv.visit_parameters([&](std::string_view, sbgan::Parameter<float>& p) {
      put(p.value.data(), static_cast<std::size_t>(p.value.numel()) * sizeof(float));
    });
    adam.visit_state([&](std::string_view, sbgan::AdamState<float>& st) {
      put(&st.step, sizeof st.step);
      put(st.exp_avg.data(), static_cast<std::size_t>(st.exp_avg.numel()) * sizeof(float));
      put(st.exp_avg_sq.data(), static_cast<std::size_t>(st.exp_avg_sq.numel()) * sizeof(float));
    });
    const sbgan::AdamOptions& o = adam.group(0);
    for (double v : {o.lr, o.beta1, o.beta2, o.eps}) put(&v, sizeof v);
    for (std::uint64_t v : {noise.seed(), noise.stream(), noise.offset()}) put(&v, sizeof v);
    const auto& p = progress;
    for (std::int64_t v : {p.stage, p.resolution, p.step, p.epoch, p.index, images_seen}) put(&v, sizeof v);
    put(p.phase.data(), p.phase.size());
    return s;
  }
};

}  // namespace fuzz_support
