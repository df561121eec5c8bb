#pragma once
// The checksum a checkpoint carries in its metadata.
//
// It covers what the file means, not only its data bytes: a flipped digit in a
// metadata value (an RNG offset, the step) is as harmful as a flipped bit in a
// weight, and the safetensors format cannot catch either. So the checksum is
// FNV-1a 64 over a manifest:
//   for every metadata entry but the checksum itself, in key order:
//     "M" key-length key value-length value
//   for every tensor, in name order:
//     "T" name-length name dtype-name rank dims... fnv1a64(tensor bytes)
// lengths, ranks, dims and hashes as 8-byte little-endian integers. Hashing each
// tensor's bytes separately lets the tensors be hashed in parallel, and keeps the
// definition easy to reproduce outside C++.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/io/safetensors.hpp"

namespace sbgan::train {

// 64-bit FNV-1a, fed incrementally.
class Fnv1a64 {
 public:
  void update(const unsigned char* p, std::size_t n) {
    std::uint64_t h = hash_;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    hash_ = h;
  }
  void update_u64(std::uint64_t v) {
    unsigned char b[8];
    io::safetensors_detail::store_le<std::uint64_t>(v, b);
    update(b, 8);
  }
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") hash differently.
  void update_text(std::string_view s) {
    update_u64(s.size());
    update(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  [[nodiscard]] std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

inline std::uint64_t fnv1a64(const std::vector<unsigned char>& bytes) {
  Fnv1a64 h;
  h.update(bytes.data(), bytes.size());
  return h.value();
}

// The checksum of an archive's content, leaving out the metadata entry `skip_key`
// (where the checksum itself is stored).
inline std::uint64_t archive_checksum(const io::TensorArchive& a, std::string_view skip_key) {
  std::vector<const std::pair<const std::string, io::StoredTensor>*> tensors;
  std::uint64_t total_bytes = 0;
  for (const auto& entry : a.tensors) {
    tensors.push_back(&entry);
    total_bytes += entry.second.bytes.size();
  }
  std::vector<std::uint64_t> tensor_hashes(tensors.size());
  const auto n = static_cast<index_t>(tensors.size());
  cpu_detail::parallel_for(
      n, [&](index_t i) { tensor_hashes[static_cast<std::size_t>(i)] = fnv1a64(tensors[static_cast<std::size_t>(i)]->second.bytes); },
      n > 0 ? static_cast<index_t>(total_bytes / static_cast<std::uint64_t>(n)) : 1);

  Fnv1a64 h;
  for (const auto& [key, value] : a.metadata) {
    if (key == skip_key) continue;
    h.update_text("M");
    h.update_text(key);
    h.update_text(value);
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const io::StoredTensor& t = tensors[i]->second;
    h.update_text("T");
    h.update_text(tensors[i]->first);
    h.update_text(io::dtype_name(t.dtype));
    h.update_u64(t.shape.size());
    for (std::int64_t d : t.shape) h.update_u64(static_cast<std::uint64_t>(d));
    h.update_u64(tensor_hashes[i]);
  }
  return h.value();
}

// "fnv1a64:" and 16 lower-case hex digits.
inline std::string checksum_text(std::uint64_t checksum) {
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(checksum));
  return std::string("fnv1a64:") + digits;
}

// The checksum a checksum_text() string holds, or nothing when it is not one.
inline std::optional<std::uint64_t> parse_checksum_text(std::string_view text) {
  constexpr std::string_view prefix = "fnv1a64:";
  if (text.size() != prefix.size() + 16 || text.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text.substr(prefix.size())) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return std::nullopt;
    v = v << 4 | static_cast<std::uint64_t>(digit);
  }
  return v;
}

}  // namespace sbgan::train
