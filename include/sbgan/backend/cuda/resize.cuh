#pragma once
// Nearest-neighbour resize on the device, mirroring sbgan/backend/cpu/resize.hpp
// (PyTorch's source-index rule, the scale computed in float, so both backends pick
// the same source pixels bit for bit).
//   forward:  one thread per output element, reading its source.
//   backward: one thread per input element, gathering the outputs that copied it
//             (a gather instead of the CPU's scatter-add: no atomics, and the terms
//             are added in the CPU's order, so the sums are bit-identical).
#include <cmath>

#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::cuda_detail {

// kernels::nearest_source_index, callable on the device.
__host__ __device__ inline index_t nearest_source(index_t dst, index_t in, index_t out) {
  if (in == out) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const auto src = static_cast<index_t>(floorf(static_cast<float>(dst) * scale));
  return src < in - 1 ? src : in - 1;
}

// The first destination index whose source is at least `src` (out when none).
// nearest_source is non-decreasing in dst, so the destinations copying source s
// are exactly [first_destination(s), first_destination(s + 1)).
__host__ __device__ inline index_t first_destination(index_t src, index_t in, index_t out) {
  index_t lo = 0, hi = out;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    if (nearest_source(mid, in, out) >= src)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

// y must be [N, C, H_out, W_out].
template <class T>
void resize_nearest(const Tensor<T, cuda>& x, Tensor<T, cuda>& y) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t ih = x.shape().h(), iw = x.shape().w(), oh = y.shape().h(), ow = y.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(planes * oh * ow, [=] __device__(index_t i) {
    const index_t r = i / ow, j = i - r * ow;
    const index_t pl = r / oh, row = r - pl * oh;
    ys[i] = xs[(pl * ih + cuda_detail::nearest_source(row, ih, oh)) * iw + cuda_detail::nearest_source(j, iw, ow)];
  });
}

// dx += the sum of dy over the outputs that copied each input; dx is [N, C, H_in, W_in].
template <class T>
void resize_nearest_backward(const Tensor<T, cuda>& dy, Tensor<T, cuda>& dx) {
  const index_t planes = dx.shape().n() * dx.shape().c();
  const index_t ih = dx.shape().h(), iw = dx.shape().w(), oh = dy.shape().h(), ow = dy.shape().w();
  const T* gs = dy.data();
  T* ds = dx.data();
  cuda_detail::launch(planes * ih * iw, [=] __device__(index_t e) {
    const index_t r = e / iw, b = e - r * iw;
    const index_t pl = r / ih, a = r - pl * ih;
    const index_t row_begin = cuda_detail::first_destination(a, ih, oh);
    const index_t row_end = cuda_detail::first_destination(a + 1, ih, oh);
    const index_t col_begin = cuda_detail::first_destination(b, iw, ow);
    const index_t col_end = cuda_detail::first_destination(b + 1, iw, ow);
    T acc = ds[e];
    for (index_t i = row_begin; i < row_end; ++i) {
      const T* src = gs + (pl * oh + i) * ow;
      for (index_t j = col_begin; j < col_end; ++j) acc += src[j];
    }
    ds[e] = acc;
  });
}

}  // namespace sbgan::kernels
