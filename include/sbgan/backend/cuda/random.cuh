#pragma once
// Random fills on the device from the same Philox stream definition as the CPU
// (sbgan/core/philox.hpp), so one seed gives the same numbers on both.
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/philox.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void fill_uniform(Tensor<T, cuda>& t, const philox::stream_position& pos, T lo, T hi) {
  T* p = t.data();
  cuda_detail::launch(t.numel(), [=] __device__(index_t i) {
    p[i] = lo + (hi - lo) * philox::uniform_at<T>(pos, static_cast<std::uint64_t>(i));
  });
}

template <class T>
void fill_normal(Tensor<T, cuda>& t, const philox::stream_position& pos, T mean, T stddev) {
  T* p = t.data();
  cuda_detail::launch(t.numel(), [=] __device__(index_t i) {
    p[i] = mean + stddev * philox::normal_at<T>(pos, static_cast<std::uint64_t>(i));
  });
}

template <class T>
void fill_gumbel(Tensor<T, cuda>& t, const philox::stream_position& pos) {
  T* p = t.data();
  cuda_detail::launch(t.numel(),
                      [=] __device__(index_t i) { p[i] = philox::gumbel_at<T>(pos, static_cast<std::uint64_t>(i)); });
}

}  // namespace sbgan::kernels
