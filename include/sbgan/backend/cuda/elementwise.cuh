#pragma once
// Element-wise CUDA kernels with the CPU kernels' names and contracts.
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void fill(Tensor<T, cuda>& t, T value) {
  T* p = t.data();
  cuda_detail::launch(t.numel(), [=] __device__(index_t i) { p[i] = value; });
}

template <class T>
void copy(const Tensor<T, cuda>& src, Tensor<T, cuda>& dst) {
  if (src.numel() != dst.numel())
    throw shape_error("copy: operands differ in size, " + src.shape().str() + " vs " + dst.shape().str());
  SBGAN_CUDA_CHECK(cudaMemcpy(dst.data(), src.data(), static_cast<std::size_t>(src.numel()) * sizeof(T),
                              cudaMemcpyDeviceToDevice));
}

// y += alpha * x
template <class T>
void axpy(T alpha, const Tensor<T, cuda>& x, Tensor<T, cuda>& y) {
  if (x.numel() != y.numel())
    throw shape_error("axpy: operands differ in size, " + x.shape().str() + " vs " + y.shape().str());
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(y.numel(), [=] __device__(index_t i) { ys[i] += alpha * xs[i]; });
}

}  // namespace sbgan::kernels
