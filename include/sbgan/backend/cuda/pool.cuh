#pragma once
// Average pooling on the device, mirroring sbgan/backend/cpu/pool.hpp (padding never
// counts towards the divisor, PyTorch's count_include_pad=False).
//   forward:  one thread per output, summing its clipped window.
//   backward: one thread per input, gathering the shares of the windows that cover
//             it, in the CPU's order (no atomics; bit-identical sums).
// Also the window arithmetic the max pool shares.
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::cuda_detail {

struct index_span {
  index_t begin, end;
};

// The input range window `out_index` covers, clipped to [0, size).
__host__ __device__ inline index_span window_inputs(index_t out_index, index_t stride, index_t pad, index_t kernel,
                                                    index_t size) {
  const index_t start = out_index * stride - pad;
  return {start > 0 ? start : 0, start + kernel < size ? start + kernel : size};
}

// The windows (output indices in [0, out_size)) whose input range contains `in_index`:
// those o with o·stride − pad ≤ in_index < o·stride − pad + kernel.
__host__ __device__ inline index_span windows_covering(index_t in_index, index_t stride, index_t pad, index_t kernel,
                                                       index_t out_size) {
  const index_t lowest = in_index + pad - kernel + 1;  // o·stride must reach this
  const index_t begin = lowest > 0 ? (lowest + stride - 1) / stride : 0;
  const index_t last = (in_index + pad) / stride + 1;  // in_index + pad ≥ 0
  return {begin, last < out_size ? last : out_size};
}

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

template <class T>
void avg_pool2d_forward(const Tensor<T, cuda>& x, const Window2d& g, Tensor<T, cuda>& y) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = y.shape().h(), ow = y.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(planes * oh * ow, [=] __device__(index_t o) {
    const index_t r = o / ow, j = o - r * ow;
    const index_t pl = r / oh, i = r - pl * oh;
    const auto rs = cuda_detail::window_inputs(i, g.stride_h, g.pad_h, g.kernel_h, h);
    const auto cs = cuda_detail::window_inputs(j, g.stride_w, g.pad_w, g.kernel_w, w);
    T s = 0;
    for (index_t a = rs.begin; a < rs.end; ++a)
      for (index_t b = cs.begin; b < cs.end; ++b) s += xs[(pl * h + a) * w + b];
    ys[o] = s / static_cast<T>((rs.end - rs.begin) * (cs.end - cs.begin));
  });
}

// dx += pooled-transpose(dy)
template <class T>
void avg_pool2d_backward(const Tensor<T, cuda>& dy, const Window2d& g, Tensor<T, cuda>& dx) {
  const index_t planes = dx.shape().n() * dx.shape().c();
  const index_t h = dx.shape().h(), w = dx.shape().w(), oh = dy.shape().h(), ow = dy.shape().w();
  const T* gs = dy.data();
  T* ds = dx.data();
  cuda_detail::launch(planes * h * w, [=] __device__(index_t e) {
    const index_t r = e / w, b = e - r * w;
    const index_t pl = r / h, a = r - pl * h;
    const auto out_rows = cuda_detail::windows_covering(a, g.stride_h, g.pad_h, g.kernel_h, oh);
    const auto out_cols = cuda_detail::windows_covering(b, g.stride_w, g.pad_w, g.kernel_w, ow);
    T acc = ds[e];
    for (index_t i = out_rows.begin; i < out_rows.end; ++i) {
      const auto rs = cuda_detail::window_inputs(i, g.stride_h, g.pad_h, g.kernel_h, h);
      for (index_t j = out_cols.begin; j < out_cols.end; ++j) {
        const auto cs = cuda_detail::window_inputs(j, g.stride_w, g.pad_w, g.kernel_w, w);
        acc += gs[(pl * oh + i) * ow + j] / static_cast<T>((rs.end - rs.begin) * (cs.end - cs.begin));
      }
    }
    ds[e] = acc;
  });
}

}  // namespace sbgan::kernels
