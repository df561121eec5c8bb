#pragma once
// The L1 distance between two tensors and its gradient on the device, mirroring
// sbgan/backend/cpu/l1_distance.hpp: the sum is the device reduction of reduce.cuh,
// accumulated in double in a fixed order (the same result run to run); the gradient
// is one thread per element.
#include <cmath>

#include "sbgan/backend/cuda/elementwise.cuh"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/backend/cuda/reduce.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// Σ |a − b|
template <class T>
double l1_distance_sum(const Tensor<T, cuda>& a, const Tensor<T, cuda>& b) {
  cuda_detail::same_size("l1_distance_sum", a, b);
  const T *as = a.data(), *bs = b.data();
  return cuda_detail::sum_to_host(
      a.numel(), [=] __device__(index_t i) { return fabs(static_cast<double>(as[i]) - static_cast<double>(bs[i])); });
}

// da += scale · sign(a − b), with sign(0) = 0 as torch.sign gives it.
template <class T>
void l1_distance_backward(const Tensor<T, cuda>& a, const Tensor<T, cuda>& b, T scale, Tensor<T, cuda>& da) {
  cuda_detail::same_size("l1_distance_backward", a, b);
  cuda_detail::same_size("l1_distance_backward", a, da);
  const T *as = a.data(), *bs = b.data();
  T* d = da.data();
  cuda_detail::launch(a.numel(), [=] __device__(index_t i) {
    d[i] += as[i] > bs[i] ? scale : as[i] < bs[i] ? -scale : T(0);
  });
}

}  // namespace sbgan::kernels
