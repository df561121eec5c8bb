#pragma once
// Mean and biased variance on the device, with the contracts of
// sbgan/backend/cpu/statistics.hpp: per channel over (N, H, W) for batch norm, per
// (n, c) over (H, W) for instance norm.
//
// One pass over the data: each group accumulates, in double, the sums of d and d²
// for d = x − K, with K the group's first element. Shifting by a value of the data
// keeps E[d²] − E[d]² free of cancellation when |mean| ≫ std (the reason the CPU
// makes two passes), and the sums add in a fixed order (group_reduce.cuh).
#include "sbgan/backend/cuda/group_reduce.cuh"
#include "sbgan/backend/cuda/normalization.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace statistics_cuda {

template <class T>
void moments(const char* kernel, const Tensor<T, cuda>& x, NormalizeOver over, Tensor<T, cuda>& mean,
             Tensor<T, cuda>& var) {
  const auto g = norm_cuda::layout_of(x.shape(), over);
  // The CPU does not check; here a short tensor would be written past its end on the device.
  norm_cuda::statistics_shape(kernel, g, mean);
  norm_cuda::statistics_shape(kernel, g, var);
  const T* xs = x.data();
  T *ms = mean.data(), *vs = var.data();
  const double count = static_cast<double>(g.size());
  cuda_detail::reduce_groups<2>(
      g,
      [=] __device__(index_t grp, index_t i, double(&acc)[2]) {
        const double d = static_cast<double>(xs[i]) - static_cast<double>(xs[g.index(grp, 0, 0)]);
        acc[0] += d;
        acc[1] += d * d;
      },
      [=] __device__(index_t grp, const double(&sum)[2]) {
        // With no elements (count 0) both are NaN, as the CPU's 0/0.
        const double shift = count > 0 ? static_cast<double>(xs[g.index(grp, 0, 0)]) : 0.0;
        const double mean_shift = sum[0] / count, squares = sum[1] - sum[0] * mean_shift;
        ms[grp] = static_cast<T>(shift + mean_shift);
        vs[grp] = static_cast<T>((squares > 0 ? squares : 0.0) / count);
      });
}

}  // namespace statistics_cuda

// mean, var: [C]
template <class T>
void channel_moments(const Tensor<T, cuda>& x, Tensor<T, cuda>& mean, Tensor<T, cuda>& var) {
  statistics_cuda::moments("channel_moments", x, NormalizeOver::channel, mean, var);
}

// mean, var: [N, C]
template <class T>
void instance_moments(const Tensor<T, cuda>& x, Tensor<T, cuda>& mean, Tensor<T, cuda>& var) {
  statistics_cuda::moments("instance_moments", x, NormalizeOver::instance, mean, var);
}

}  // namespace sbgan::kernels
