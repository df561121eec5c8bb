#pragma once
// Channel concatenation and its inverse on the device, mirroring
// sbgan/backend/cpu/concat.hpp. One launch per part, one thread per element of the
// part: every element has exactly one place in the concatenation, so both
// directions are plain gathers (no atomics) and contiguous on the part's side.
#include <vector>

#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// out = concat(parts) along C; out must be [N, ΣC_i, H, W].
template <class T>
void concat_channels(const std::vector<Tensor<T, cuda>>& parts, Tensor<T, cuda>& out) {
  const index_t n = out.shape().n(), hw = out.shape().h() * out.shape().w(), c = out.shape().c();
  index_t offset = 0;
  for (const auto& part : parts) {
    const index_t pc = part.shape().c();
    const T* src = part.data();
    T* dst = out.data();
    cuda_detail::launch(n * pc * hw, [=] __device__(index_t i) {
      const index_t r = i / hw, k = i - r * hw;  // row r = (image, channel) of the part
      const index_t b = r / pc, ch = r - b * pc;
      dst[(b * c + offset + ch) * hw + k] = src[i];
    });
    offset += pc;
  }
}

// parts[i] += slice i of x along C (adds, so it serves as the backward of a concat).
template <class T>
void split_channels_add(const Tensor<T, cuda>& x, std::vector<Tensor<T, cuda>>& parts) {
  const index_t n = x.shape().n(), hw = x.shape().h() * x.shape().w(), c = x.shape().c();
  index_t offset = 0;
  for (auto& part : parts) {
    const index_t pc = part.shape().c();
    const T* src = x.data();
    T* dst = part.data();
    cuda_detail::launch(n * pc * hw, [=] __device__(index_t i) {
      const index_t r = i / hw, k = i - r * hw;
      const index_t b = r / pc, ch = r - b * pc;
      dst[i] += src[(b * c + offset + ch) * hw + k];
    });
    offset += pc;
  }
}

}  // namespace sbgan::kernels
