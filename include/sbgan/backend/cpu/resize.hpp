#pragma once
// Nearest-neighbour resize to any size, with PyTorch's source-index rule
// (src = min(floor(dst · in/out), in − 1), the scale computed in float; exact
// doubling uses dst/2), so layouts resized here match the reference bit for bit.
//   forward:  y[.., i, j] = x[.., src_h(i), src_w(j)]
//   backward: dx[.., src_h(i), src_w(j)] += dy[.., i, j]
#include <algorithm>
#include <cmath>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

inline index_t nearest_source_index(index_t dst, index_t in, index_t out) {
  if (in == out) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  return std::min(static_cast<index_t>(std::floor(static_cast<float>(dst) * scale)), in - 1);
}

inline std::vector<index_t> nearest_source_table(index_t in, index_t out) {
  std::vector<index_t> t(static_cast<std::size_t>(out));
  for (index_t i = 0; i < out; ++i) t[static_cast<std::size_t>(i)] = nearest_source_index(i, in, out);
  return t;
}

// y must be [N, C, H_out, W_out].
template <class T>
void resize_nearest(const Tensor<T, cpu>& x, Tensor<T, cpu>& y) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t ih = x.shape().h(), iw = x.shape().w(), oh = y.shape().h(), ow = y.shape().w();
  const auto rows = nearest_source_table(ih, oh), cols = nearest_source_table(iw, ow);
  const T* xs = x.data();
  T* ys = y.data();
  cpu_detail::parallel_for(
      planes * oh,
      [&](index_t r) {
        const index_t pl = r / oh, i = r % oh;
        const T* src = xs + (pl * ih + rows[static_cast<std::size_t>(i)]) * iw;
        T* dst = ys + r * ow;
        for (index_t j = 0; j < ow; ++j) dst[j] = src[cols[static_cast<std::size_t>(j)]];
      },
      ow);
}

// dx += scatter-add of dy; dx is [N, C, H_in, W_in].
template <class T>
void resize_nearest_backward(const Tensor<T, cpu>& dy, Tensor<T, cpu>& dx) {
  const index_t planes = dx.shape().n() * dx.shape().c();
  const index_t ih = dx.shape().h(), iw = dx.shape().w(), oh = dy.shape().h(), ow = dy.shape().w();
  const auto rows = nearest_source_table(ih, oh), cols = nearest_source_table(iw, ow);
  const T* gs = dy.data();
  T* ds = dx.data();
  // Planes are independent; within one plane several output rows hit one input row.
  cpu_detail::parallel_for(
      planes,
      [&](index_t pl) {
        for (index_t i = 0; i < oh; ++i) {
          T* dst = ds + (pl * ih + rows[static_cast<std::size_t>(i)]) * iw;
          const T* src = gs + (pl * oh + i) * ow;
          for (index_t j = 0; j < ow; ++j) dst[cols[static_cast<std::size_t>(j)]] += src[j];
        }
      },
      oh * ow);
}

}  // namespace sbgan::kernels
