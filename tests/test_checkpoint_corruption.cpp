// Corrupt checkpoints: a small checkpoint (a Conv2d, its Adam after one step, a
// random generator, the progress) is truncated at every byte offset and has every
// bit of its header and of its data flipped, one at a time. Every damaged file must
// be refused with sbgan's error and a message, and leave every registered object as
// it was: no crash, no silently wrong weights.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sbgan/io/safetensors.hpp>
#include <sbgan/layers/conv2d.hpp>
#include <sbgan/optim/adam.hpp>
#include <sbgan/train/checkpoint.hpp>
#include <string>
#include <vector>

using namespace sbgan;
using namespace sbgan::train;
namespace fs = std::filesystem;

namespace {

using bytes = std::vector<unsigned char>;

struct Tiny {
  Generator init;
  Conv2d<float> conv;
  Adam<float> adam;
  Generator noise;
  TrainingProgress progress;
  CheckpointState ckpt{"tiny", R"({"classes": 2})"};

  explicit Tiny(std::uint64_t seed) : init(seed), conv({2, 3, 3, 1, 1}, init), noise(seed + 1, 2) {
    adam.add(conv);
    ckpt.add_network("conv", conv);
    ckpt.add_optimizer("conv", adam);
    ckpt.add_generator("noise", noise);
    ckpt.track_progress(progress);
  }
  Tiny(const Tiny&) = delete;
  Tiny& operator=(const Tiny&) = delete;

  // One optimizer step with made-up gradients, so that the moments are not zero.
  void step() {
    conv.visit_parameters([](std::string_view, Parameter<float>& p) {
      for (index_t i = 0; i < p.grad.numel(); ++i) p.grad[i] = 0.01f * static_cast<float>(i % 5) - 0.02f;
    });
    adam.step();
    noise.set_offset(noise.offset() + 17);
    progress.step += 1;
  }

  // Every byte of the state, read from the objects themselves.
  bytes snapshot() {
    bytes s;
    const auto put = [&s](const void* p, std::size_t n) {
      const auto* b = static_cast<const unsigned char*>(p);
      s.insert(s.end(), b, b + n);
    };
    conv.visit_parameters([&](std::string_view, Parameter<float>& p) {
      put(p.value.data(), static_cast<std::size_t>(p.value.numel()) * sizeof(float));
    });
    adam.visit_state([&](std::string_view, AdamState<float>& st) {
      put(&st.step, sizeof st.step);
      put(st.exp_avg.data(), static_cast<std::size_t>(st.exp_avg.numel()) * sizeof(float));
      put(st.exp_avg_sq.data(), static_cast<std::size_t>(st.exp_avg_sq.numel()) * sizeof(float));
    });
    const AdamOptions& o = adam.group(0);
    for (double v : {o.lr, o.beta1, o.beta2, o.eps}) put(&v, sizeof v);
    for (std::uint64_t v : {noise.seed(), noise.stream(), noise.offset()}) put(&v, sizeof v);
    for (std::int64_t v : {progress.stage, progress.resolution, progress.step, progress.epoch, progress.index})
      put(&v, sizeof v);
    put(progress.phase.data(), progress.phase.size());
    return s;
  }
};

// The message of the sbgan::error that restoring `file` (in memory) throws; empty
// when it is accepted.
std::string restore_error(Tiny& target, const bytes& file) {
  try {
    target.ckpt.restore(io::parse_safetensors(file, "damaged"), "damaged");
  } catch (const sbgan::error& e) {
    const std::string message = e.what();
    return message.empty() ? "(empty message)" : message;
  }
  return "";
}

}  // namespace

TEST_CASE("every truncation and every bit flip of a small checkpoint is refused and changes nothing",
          "[checkpoint][errors][corruption]") {
  Tiny source(1);
  source.step();
  const bytes file = io::serialize_safetensors(source.ckpt.to_archive());
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= std::uint64_t{file[static_cast<std::size_t>(i)]} << (8 * i);
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_length);
  REQUIRE(data_start < file.size());

  // The undamaged file restores the source's state into another run.
  Tiny target(2);
  REQUIRE(target.snapshot() != source.snapshot());
  {
    Tiny check(3);
    REQUIRE(restore_error(check, file).empty());
    REQUIRE(check.snapshot() == source.snapshot());
  }
  const bytes before = target.snapshot();
  std::size_t cases = 0;

  // Every truncation, in memory and (as a partly written file would be) on disk.
  const fs::path dir = fs::temp_directory_path() / ("sbgan-corrupt-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "damaged.safetensors";
  for (std::size_t size = 0; size < file.size(); ++size) {
    const bytes cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(size));
    const std::string message = restore_error(target, cut);
    INFO("truncated to " << size << " of " << file.size() << " bytes");
    REQUIRE_FALSE(message.empty());
    fs::remove(path);
    {
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(cut.size()));
    }
    std::string load_message;
    try {
      target.ckpt.load(path);
    } catch (const checkpoint_error& e) {
      load_message = e.what();
    }
    INFO("load: " << load_message);
    REQUIRE(load_message.find(path.string()) != std::string::npos);
    REQUIRE(load_message.find("cannot be read") != std::string::npos);
    cases += 2;
  }
  fs::remove_all(dir);
  REQUIRE(target.snapshot() == before);

  // Every bit of every byte: the length prefix, the JSON header (with its padding)
  // and the tensor data.
  std::size_t header_flips = 0, data_flips = 0;
  bytes damaged = file;
  for (std::size_t at = 0; at < file.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      damaged[at] = static_cast<unsigned char>(file[at] ^ (1u << bit));
      const std::string message = restore_error(target, damaged);
      if (message.empty()) {
        INFO("bit " << bit << " of byte " << at << " (data starts at " << data_start << ") was accepted");
        FAIL_CHECK("a damaged checkpoint was accepted");
      }
      ++(at < data_start ? header_flips : data_flips);
    }
    damaged[at] = file[at];
  }
  REQUIRE(target.snapshot() == before);
  cases += header_flips + data_flips;

  WARN("corrupt checkpoints refused: " << cases << " (" << file.size() << " truncations in memory and on disk, "
                                       << header_flips << " header and " << data_flips << " data bit flips)");
}
