#pragma once
// Random fills from the Philox stream (sbgan/core/philox.hpp defines element i).
#include "sbgan/backend/cpu/elementwise.hpp"
#include "sbgan/core/philox.hpp"

namespace sbgan::kernels {

// t = lo + (hi − lo)·u, u uniform in (0, 1)
template <class T>
void fill_uniform(Tensor<T, cpu>& t, const philox::stream_position& pos, T lo, T hi) {
  generate(t, [&](index_t i) { return lo + (hi - lo) * philox::uniform_at<T>(pos, static_cast<std::uint64_t>(i)); });
}

template <class T>
void fill_normal(Tensor<T, cpu>& t, const philox::stream_position& pos, T mean, T stddev) {
  generate(t, [&](index_t i) { return mean + stddev * philox::normal_at<T>(pos, static_cast<std::uint64_t>(i)); });
}

template <class T>
void fill_gumbel(Tensor<T, cpu>& t, const philox::stream_position& pos) {
  generate(t, [&](index_t i) { return philox::gumbel_at<T>(pos, static_cast<std::uint64_t>(i)); });
}

}  // namespace sbgan::kernels
