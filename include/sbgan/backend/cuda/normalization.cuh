#pragma once
// Normalization kernels of instance norm and batch norm on the device, with the
// contracts and formulas of sbgan/backend/cpu/normalization.hpp (which also defines
// NormalizeOver). A group's sums are accumulated in double by one block, or by
// several whose partials are added in a fixed order (group_reduce.cuh); with one
// block per group the same block then writes the group's gradients, in one launch.
#include <string>

#include "sbgan/backend/cpu/normalization.hpp"
#include "sbgan/backend/cuda/group_reduce.cuh"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace norm_cuda {

// The CPU's norm_cpu::Groups as a device layout: instance groups are one (n, c)
// plane; channel groups are N runs of H·W, C·H·W apart.
inline cuda_detail::GroupLayout layout_of(const Shape& s, NormalizeOver over) {
  const index_t length = s.h() * s.w();
  if (over == NormalizeOver::instance) return {s.n() * s.c(), 1, length, length, 0};
  return {s.c(), s.n(), length, length, s.c() * length};
}

template <class T>
void statistics_shape(const char* kernel, const cuda_detail::GroupLayout& g, const Tensor<T, cuda>& stat) {
  if (stat.numel() != g.count)
    throw shape_error(std::string(kernel) + ": statistics hold " + std::to_string(stat.numel()) +
                      " values, the input has " + std::to_string(g.count) + " groups");
}

}  // namespace norm_cuda

// invstd = 1 / √(var + ε), in double as on the CPU (correctly rounded: the same bits).
template <class T>
void inverse_std(const Tensor<T, cuda>& var, T eps, Tensor<T, cuda>& invstd) {
  const T* v = var.data();
  T* r = invstd.data();
  cuda_detail::launch(var.numel(), [=] __device__(index_t i) {
    r[i] = static_cast<T>(1.0 / sqrt(static_cast<double>(v[i]) + static_cast<double>(eps)));
  });
}

// y = (x − mean_g)·invstd_g  (assigns y)
template <class T>
void normalize_forward(const Tensor<T, cuda>& x, NormalizeOver over, const Tensor<T, cuda>& mean,
                       const Tensor<T, cuda>& invstd, Tensor<T, cuda>& y) {
  const auto g = norm_cuda::layout_of(x.shape(), over);
  norm_cuda::statistics_shape("normalize_forward", g, mean);
  norm_cuda::statistics_shape("normalize_forward", g, invstd);
  const T *xs = x.data(), *m = mean.data(), *r = invstd.data();
  T* ys = y.data();
  cuda_detail::for_each_group_element(g, [=] __device__(index_t grp, index_t i) { ys[i] = (xs[i] - m[grp]) * r[grp]; });
}

// Batch statistics: dx += invstd_g·(dy − mean_g(dy) − y·mean_g(dy·y)); y is the
// forward's output.
template <class T>
void normalize_backward(const Tensor<T, cuda>& y, const Tensor<T, cuda>& dy, NormalizeOver over,
                        const Tensor<T, cuda>& invstd, Tensor<T, cuda>& dx) {
  const auto g = norm_cuda::layout_of(y.shape(), over);
  norm_cuda::statistics_shape("normalize_backward", g, invstd);
  const T *ys = y.data(), *gs = dy.data(), *r = invstd.data();
  T* ds = dx.data();
  const double inv_m = 1.0 / static_cast<double>(g.size());
  cuda_detail::reduce_groups<2>(
      g,
      [=] __device__(index_t, index_t i, double(&acc)[2]) {
        acc[0] += gs[i];
        acc[1] += static_cast<double>(gs[i]) * ys[i];
      },
      cuda_detail::no_finish{},
      [=] __device__(index_t grp, index_t i, const double(&sum)[2]) {
        const double a = sum[0] * inv_m, b = sum[1] * inv_m, s = r[grp];
        ds[i] += static_cast<T>(s * (gs[i] - a - ys[i] * b));
      });
}

// Second order of the batch-statistics backward (see the CPU header): adds ∂Q/∂x
// into dx and ∂Q/∂gy into dgy.
template <class T>
void normalize_second(const Tensor<T, cuda>& y, const Tensor<T, cuda>& gy, const Tensor<T, cuda>& w,
                      NormalizeOver over, const Tensor<T, cuda>& invstd, Tensor<T, cuda>& dx, Tensor<T, cuda>& dgy) {
  const auto g = norm_cuda::layout_of(y.shape(), over);
  norm_cuda::statistics_shape("normalize_second", g, invstd);
  const T *ys = y.data(), *gs = gy.data(), *ws = w.data(), *r = invstd.data();
  T *ds = dx.data(), *dgs = dgy.data();
  const double inv_m = 1.0 / static_cast<double>(g.size());
  cuda_detail::reduce_groups<5>(
      g,
      [=] __device__(index_t, index_t i, double(&acc)[5]) {
        const double gi = gs[i], wi = ws[i], yi = ys[i];
        acc[0] += gi;
        acc[1] += gi * yi;
        acc[2] += wi;
        acc[3] += wi * yi;
        acc[4] += wi * gi;
      },
      cuda_detail::no_finish{},
      [=] __device__(index_t grp, index_t i, const double(&sum)[5]) {
        const double a = sum[0] * inv_m, b = sum[1] * inv_m, c = sum[2] * inv_m, d = sum[3] * inv_m,
                     e = sum[4] * inv_m;
        const double s = r[grp], s2 = s * s, k = e - a * c - 3 * b * d;
        const double gi = gs[i], wi = ws[i], yi = ys[i];
        dgs[i] += static_cast<T>(s * (wi - c - yi * d));
        ds[i] += static_cast<T>(s2 * (-yi * k - d * (gi - a) - b * (wi - c)));
      });
}

// Fixed statistics (batch norm in evaluation): dx += scale_g·dy.
template <class T>
void normalize_fixed_backward(const Tensor<T, cuda>& dy, NormalizeOver over, const Tensor<T, cuda>& scale,
                              Tensor<T, cuda>& dx) {
  const auto g = norm_cuda::layout_of(dy.shape(), over);
  norm_cuda::statistics_shape("normalize_fixed_backward", g, scale);
  const T *gs = dy.data(), *sc = scale.data();
  T* ds = dx.data();
  cuda_detail::for_each_group_element(g, [=] __device__(index_t grp, index_t i) { ds[i] += sc[grp] * gs[i]; });
}

// running = (1 − momentum)·running + momentum·factor·batch (PyTorch's running statistics).
template <class T>
void running_average(const Tensor<T, cuda>& batch, T momentum, T factor, Tensor<T, cuda>& running) {
  if (batch.numel() != running.numel())
    throw shape_error("running_average: batch " + batch.shape().str() + " vs running " + running.shape().str());
  const T* b = batch.data();
  T* r = running.data();
  cuda_detail::launch(running.numel(),
                      [=] __device__(index_t i) { r[i] = (T(1) - momentum) * r[i] + momentum * (factor * b[i]); });
}

// t += value, element-wise (counters kept in tensors, such as num_batches_tracked).
template <class T>
void add_scalar(Tensor<T, cuda>& t, T value) {
  T* p = t.data();
  cuda_detail::launch(t.numel(), [=] __device__(index_t i) { p[i] += value; });
}

}  // namespace sbgan::kernels
