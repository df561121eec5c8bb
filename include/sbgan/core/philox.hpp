#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"):
// a counter-based generator. Element i of a draw depends only on (key, counter),
// never on which thread or which backend computes it, so the CPU and a GPU produce
// the same stream from one seed. The mapping from words to values is defined here
// once and used by every backend's kernels.
#include <cmath>
#include <cstdint>

#include "sbgan/core/host_device.hpp"

namespace sbgan::philox {

struct block {
  std::uint32_t v[4];
};

SBGAN_HOST_DEVICE inline void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                                      std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

// One 128-bit output block for a 128-bit counter and 64-bit key.
SBGAN_HOST_DEVICE inline block generate(std::uint64_t counter_lo, std::uint64_t counter_hi,
                                        std::uint64_t key) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter_lo);
  std::uint32_t c1 = static_cast<std::uint32_t>(counter_lo >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(counter_hi);
  std::uint32_t c3 = static_cast<std::uint32_t>(counter_hi >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0;
    const std::uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return block{{c0, c1, c2, c3}};
}

// A uniform value in the open interval (0, 1) from the top 23 bits of a word:
// (2k + 1)·2^-24 with k < 2^23, exactly representable in float, so float and
// double draws are the same numbers and neither can round to 0 or 1.
template <class T>
SBGAN_HOST_DEVICE inline T to_unit_open(std::uint32_t word) {
  return static_cast<T>(word >> 9) * static_cast<T>(1.1920928955078125e-07) +  // 2^-23
         static_cast<T>(5.9604644775390625e-08);                               // 2^-24
}

// Standard normal by the Box-Muller cosine branch, from two words.
template <class T>
SBGAN_HOST_DEVICE inline T to_normal(std::uint32_t w0, std::uint32_t w1) {
  const T u1 = to_unit_open<T>(w0);
  const T u2 = to_unit_open<T>(w1);
  return std::sqrt(T(-2) * std::log(u1)) * std::cos(static_cast<T>(6.283185307179586476925) * u2);
}

// Standard Gumbel: -log(-log(u)).
template <class T>
SBGAN_HOST_DEVICE inline T to_gumbel(std::uint32_t word) {
  return -std::log(-std::log(to_unit_open<T>(word)));
}

// The stream layout, shared by every backend:
//  - uniform and Gumbel: element i uses word (i % 4) of block (offset + i / 4);
//  - normal:             element i uses words 2(i % 2), 2(i % 2)+1 of block (offset + i / 2).
// counter_hi carries the stream id, so independent streams of one seed never overlap.
struct stream_position {
  std::uint64_t key;
  std::uint64_t stream;
  std::uint64_t offset;
};

template <class T>
SBGAN_HOST_DEVICE inline T uniform_at(const stream_position& p, std::uint64_t i) {
  return to_unit_open<T>(generate(p.offset + i / 4, p.stream, p.key).v[i % 4]);
}
template <class T>
SBGAN_HOST_DEVICE inline T gumbel_at(const stream_position& p, std::uint64_t i) {
  return to_gumbel<T>(generate(p.offset + i / 4, p.stream, p.key).v[i % 4]);
}
template <class T>
SBGAN_HOST_DEVICE inline T normal_at(const stream_position& p, std::uint64_t i) {
  const block b = generate(p.offset + i / 2, p.stream, p.key);
  const unsigned j = 2u * static_cast<unsigned>(i % 2);
  return to_normal<T>(b.v[j], b.v[j + 1]);
}

// Blocks a draw of `count` elements consumes.
SBGAN_HOST_DEVICE inline std::uint64_t blocks_for_uniform(std::uint64_t count) { return (count + 3) / 4; }
SBGAN_HOST_DEVICE inline std::uint64_t blocks_for_normal(std::uint64_t count) { return (count + 1) / 2; }

}  // namespace sbgan::philox
