#pragma once
// The library's random number generator: a seed and a position in a Philox stream.
// Each draw consumes a block range determined only by the element count, so the
// same seed gives the same numbers on every backend and every thread count, and
// the state (seed, stream, offset) is three integers a checkpoint can store.
#include <cstdint>

#include "sbgan/core/factories.hpp"
#include "sbgan/core/philox.hpp"

namespace sbgan {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0, std::uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  [[nodiscard]] std::uint64_t seed() const { return seed_; }
  [[nodiscard]] std::uint64_t stream() const { return stream_; }
  [[nodiscard]] std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t offset) { offset_ = offset; }

  template <class T, class B>
  void uniform(Tensor<T, B>& t, T lo = T(0), T hi = T(1)) {
    kernels::fill_uniform(t, take(philox::blocks_for_uniform(static_cast<std::uint64_t>(t.numel()))), lo, hi);
  }
  template <class T, class B>
  void normal(Tensor<T, B>& t, T mean = T(0), T stddev = T(1)) {
    kernels::fill_normal(t, take(philox::blocks_for_normal(static_cast<std::uint64_t>(t.numel()))), mean, stddev);
  }
  template <class T, class B>
  void gumbel(Tensor<T, B>& t) {
    kernels::fill_gumbel(t, take(philox::blocks_for_uniform(static_cast<std::uint64_t>(t.numel()))));
  }

  // Fresh tensors, for brevity in tests and examples.
  template <class T, class B = cpu>
  Tensor<T, B> normal(const Shape& shape, T mean = T(0), T stddev = T(1)) {
    Tensor<T, B> t(shape);
    normal(t, mean, stddev);
    return t;
  }
  template <class T, class B = cpu>
  Tensor<T, B> uniform(const Shape& shape, T lo = T(0), T hi = T(1)) {
    Tensor<T, B> t(shape);
    uniform(t, lo, hi);
    return t;
  }

  // The position of the next draw, advancing past `blocks` blocks.
  philox::stream_position take(std::uint64_t blocks) {
    const philox::stream_position p{seed_, stream_, offset_};
    offset_ += blocks;
    return p;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::uint64_t offset_ = 0;
};

}  // namespace sbgan
