#pragma once
// The sbgan program's commands as plain data, and the one entry point of its CUDA
// translation unit (examples/sbgan_cuda.cu, compiled with SBGAN_WITH_CUDA only).
//
// examples/sbgan.cpp (g++) parses the command line into these structs. With
// --device cpu it runs the command itself (sbgan_commands.hpp, B = cpu); with
// --device cuda it hands the command to run_on_cuda(), which runs the same
// templates with B = cuda, or refuses clearly where no GPU is present. This header
// includes nothing of the library, so both units agree on it whatever they include.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace sbgan_cli {

struct TrainArgs {
  std::string config = "demo", data = "procedural", out, split = "train", device = "cpu";
  bool resume = false;
  int stage = 3;
  std::int64_t checkpoint_every = 1000, sample_every = 1000, log_every = 50, stop_at = -1;
  std::optional<std::uint64_t> seed;
};

struct SampleArgs {
  std::string checkpoint, out, device = "cpu";
  std::int64_t count = 8;
  std::uint64_t seed = 0;
};

struct SynthesizeArgs {
  std::string checkpoint, out, label_set = "auto", device = "cpu";
  std::vector<std::string> labels;
};

struct EvalArgs {
  std::string checkpoint, data = "procedural", split = "train", device = "cpu";
  std::vector<std::string> features;  // the Frechet path: host only, never handed to the device
  std::int64_t count = 256;
  std::uint64_t seed = 0;
};

// A command that runs over a model.
using ModelCommand = std::variant<TrainArgs, SampleArgs, SynthesizeArgs, EvalArgs>;

// What --device cuda says in a program built without the CUDA backend.
inline constexpr const char* no_cuda_build_message =
    "--device cuda: this sbgan was built without the CUDA backend (configure with -DSBGAN_WITH_CUDA=ON)";

#if defined(SBGAN_WITH_CUDA)
// Runs the command on the CUDA backend (examples/sbgan_cuda.cu). Throws
// sbgan::backend_error ("... no CUDA GPU is present ...") on a machine without a
// GPU, before anything is read or written.
void run_on_cuda(const ModelCommand& command);
#endif

}  // namespace sbgan_cli
