// Fuzz target: the safetensors reader (io/safetensors.hpp) and checkpoint
// restoring (train/checkpoint.hpp, CheckpointState::restore).
//
// The input is a whole safetensors file. It must either parse or throw
// sbgan::error. What parses must serialize again and read back the same, and
// convert to float and double tensors or refuse. It is then restored into a
// CheckpointState twice: as it is (so mostly the checksum refuses it) and with its
// checksum recomputed ("resealed"), so that the fuzzer reaches every check behind
// the checksum. A refused restore must leave every byte of the state as it was.
#include <cstddef>
#include <cstdint>

#include <sbgan/io/safetensors.hpp>
#include <sbgan/train/checkpoint.hpp>

#include "checkpoint_model.hpp"
#include "fuzz_support.hpp"

using namespace sbgan;
using fuzz_support::broken;
using fuzz_support::expect_message;

namespace {

bool same(const io::TensorArchive& a, const io::TensorArchive& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.dtype != t.dtype || it->second.shape != t.shape ||
        it->second.bytes != t.bytes)
      return false;
  }
  return true;
}

void restore(const io::TensorArchive& a) {
  fuzz_support::CheckpointModel model;
  const auto before = model.snapshot();
  try {
    model.ckpt.restore(a, "fuzz");
  } catch (const error& e) {
    expect_message(e);
    if (model.snapshot() != before) broken("a refused restore changed the state");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  io::TensorArchive a;
  try {
    a = io::parse_safetensors(data, size, "fuzz");
  } catch (const error& e) {
    expect_message(e);
    return 0;
  }

  // What was read can be written and reads back the same.
  try {
    if (!same(io::parse_safetensors(io::serialize_safetensors(a), "round trip"), a))
      broken("a parsed archive changed in a write-read round trip");
  } catch (const error& e) {
    broken(std::string("a parsed archive cannot be written and read back: ") + e.what());
  }
  for (const auto& [name, t] : a.tensors) {
    try {
      (void)t.to_tensor<float>(name);
      (void)t.to_tensor<double>(name);
    } catch (const error& e) {
      expect_message(e);
    }
  }

  restore(a);
  io::TensorArchive sealed = a;
  sealed.metadata[train::checkpoint_detail::checksum_key] =
      train::checksum_text(train::archive_checksum(sealed, train::checkpoint_detail::checksum_key));
  restore(sealed);
  return 0;
}
