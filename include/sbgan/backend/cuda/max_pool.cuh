#pragma once
// Max pooling on the device, mirroring sbgan/backend/cpu/max_pool.hpp: padding acts
// as −∞, ties go to the first element in row-major window order, a NaN wins over
// everything; the backward passes recompute the arg-max from the input.
//   forward, second: one thread per output (gathers from its window's arg-max).
//   backward:        one thread per input, summing dy of the windows whose arg-max
//                    it is, in the CPU's order (no atomics; bit-identical sums).
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/backend/cuda/pool.cuh"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::cuda_detail {

// Offset (within the plane) of the maximum of the window spanning rows × cols.
template <class T>
__device__ index_t window_arg_max(const T* plane, index_t w, index_span rows, index_span cols) {
  index_t best = rows.begin * w + cols.begin;
  T best_value = plane[best];
  for (index_t a = rows.begin; a < rows.end; ++a)
    for (index_t b = cols.begin; b < cols.end; ++b) {
      const T v = plane[a * w + b];
      if (v > best_value || (isnan(v) && !isnan(best_value))) {
        best_value = v;
        best = a * w + b;
      }
    }
  return best;
}

// The arg-max of window (i, j) of a plane of h × w inputs.
template <class T>
__device__ index_t pooled_arg_max(const T* plane, index_t h, index_t w, index_t i, index_t j, const Window2d& g) {
  return window_arg_max(plane, w, window_inputs(i, g.stride_h, g.pad_h, g.kernel_h, h),
                        window_inputs(j, g.stride_w, g.pad_w, g.kernel_w, w));
}

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

// y = max over each window of x
template <class T>
void max_pool2d_forward(const Tensor<T, cuda>& x, const Window2d& g, Tensor<T, cuda>& y) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = y.shape().h(), ow = y.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(planes * oh * ow, [=] __device__(index_t o) {
    const index_t r = o / ow, j = o - r * ow;
    const index_t pl = r / oh, i = r - pl * oh;
    const T* plane = xs + pl * h * w;
    ys[o] = plane[cuda_detail::pooled_arg_max(plane, h, w, i, j, g)];
  });
}

// dx += dy routed to the arg-max of each window.
template <class T>
void max_pool2d_backward(const Tensor<T, cuda>& x, const Tensor<T, cuda>& dy, const Window2d& g,
                         Tensor<T, cuda>& dx) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = dy.shape().h(), ow = dy.shape().w();
  const T *xs = x.data(), *gs = dy.data();
  T* ds = dx.data();
  cuda_detail::launch(planes * h * w, [=] __device__(index_t e) {
    const index_t pl = e / (h * w), at = e - pl * h * w;  // at: offset within the plane
    const index_t a = at / w, b = at - a * w;
    const T* plane = xs + pl * h * w;
    const T* grad = gs + pl * oh * ow;
    const auto out_rows = cuda_detail::windows_covering(a, g.stride_h, g.pad_h, g.kernel_h, oh);
    const auto out_cols = cuda_detail::windows_covering(b, g.stride_w, g.pad_w, g.kernel_w, ow);
    T acc = ds[e];
    for (index_t i = out_rows.begin; i < out_rows.end; ++i)
      for (index_t j = out_cols.begin; j < out_cols.end; ++j)
        if (cuda_detail::pooled_arg_max(plane, h, w, i, j, g) == at) acc += grad[i * ow + j];
    ds[e] = acc;
  });
}

// Second order: dgy += w gathered at the arg-max of each window of x.
template <class T>
void max_pool2d_second(const Tensor<T, cuda>& x, const Tensor<T, cuda>& w_in, const Window2d& g,
                       Tensor<T, cuda>& dgy) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = dgy.shape().h(), ow = dgy.shape().w();
  const T *xs = x.data(), *ws = w_in.data();
  T* ds = dgy.data();
  cuda_detail::launch(planes * oh * ow, [=] __device__(index_t o) {
    const index_t r = o / ow, j = o - r * ow;
    const index_t pl = r / oh, i = r - pl * oh;
    ds[o] += ws[pl * h * w + cuda_detail::pooled_arg_max(xs + pl * h * w, h, w, i, j, g)];
  });
}

}  // namespace sbgan::kernels
