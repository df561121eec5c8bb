#pragma once
// Channel concatenation and its inverse (the backward of a concat is a split).
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// out = concat(parts) along C; out must be [N, ΣC_i, H, W].
template <class T>
void concat_channels(const std::vector<Tensor<T, cpu>>& parts, Tensor<T, cpu>& out) {
  const index_t n = out.shape().n(), hw = out.shape().h() * out.shape().w(), c = out.shape().c();
  index_t offset = 0;
  for (const auto& part : parts) {
    const index_t pc = part.shape().c();
    const T* src = part.data();
    T* dst = out.data();
    cpu_detail::parallel_for(
        n * pc,
        [&](index_t r) {
          const index_t b = r / pc, ch = r % pc;
          std::copy_n(src + r * hw, hw, dst + (b * c + offset + ch) * hw);
        },
        hw);
    offset += pc;
  }
}

// parts[i] += slice i of x along C (adds, so it serves as the backward of a concat).
template <class T>
void split_channels_add(const Tensor<T, cpu>& x, std::vector<Tensor<T, cpu>>& parts) {
  const index_t n = x.shape().n(), hw = x.shape().h() * x.shape().w(), c = x.shape().c();
  index_t offset = 0;
  for (auto& part : parts) {
    const index_t pc = part.shape().c();
    const T* src = x.data();
    T* dst = part.data();
    cpu_detail::parallel_for(
        n * pc,
        [&](index_t r) {
          const index_t b = r / pc, ch = r % pc;
          const T* s = src + (b * c + offset + ch) * hw;
          T* d = dst + r * hw;
          for (index_t i = 0; i < hw; ++i) d[i] += s[i];
        },
        hw);
    offset += pc;
  }
}

}  // namespace sbgan::kernels
