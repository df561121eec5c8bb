#pragma once
// Element-wise CUDA kernels with the CPU kernels' names and contracts
// (sbgan/backend/cpu/elementwise.hpp): one thread per element for the maps, the
// device sum of reduce.cuh (accumulated in double) for dot, sum and all_finite.
// The CPU's generate() takes a host callable and has no device counterpart; no layer
// calls it (only the CPU kernels do).
#include <string>

#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/backend/cuda/reduce.cuh"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::cuda_detail {

// The CPU's size check (cpu_detail_ew::same_size), word for word.
template <class T>
void same_size(const char* kernel, const Tensor<T, cuda>& a, const Tensor<T, cuda>& b) {
  if (a.numel() != b.numel())
    throw shape_error(std::string(kernel) + ": operands differ in size, " + a.shape().str() + " vs " +
                      b.shape().str());
}

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

template <class T>
void fill(Tensor<T, cuda>& t, T value) {
  T* p = t.data();
  cuda_detail::launch(t.numel(), [=] __device__(index_t i) { p[i] = value; });
}

// On sbgan's stream, so it stays ordered with the kernels around it without
// blocking the host.
template <class T>
void copy(const Tensor<T, cuda>& src, Tensor<T, cuda>& dst) {
  cuda_detail::same_size("copy", src, dst);
  if (src.numel() == 0) return;
  SBGAN_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), static_cast<std::size_t>(src.numel()) * sizeof(T),
                                   cudaMemcpyDeviceToDevice, cuda_detail::stream()));
}

// y += alpha * x
template <class T>
void axpy(T alpha, const Tensor<T, cuda>& x, Tensor<T, cuda>& y) {
  cuda_detail::same_size("axpy", x, y);
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(y.numel(), [=] __device__(index_t i) { ys[i] += alpha * xs[i]; });
}

// x *= alpha
template <class T>
void scale(Tensor<T, cuda>& x, T alpha) {
  T* xs = x.data();
  cuda_detail::launch(x.numel(), [=] __device__(index_t i) { xs[i] *= alpha; });
}

// out = a + b
template <class T>
void add(const Tensor<T, cuda>& a, const Tensor<T, cuda>& b, Tensor<T, cuda>& out) {
  cuda_detail::same_size("add", a, b);
  cuda_detail::same_size("add", a, out);
  const T *as = a.data(), *bs = b.data();
  T* o = out.data();
  cuda_detail::launch(out.numel(), [=] __device__(index_t i) { o[i] = as[i] + bs[i]; });
}

// out = a * b (element-wise)
template <class T>
void multiply(const Tensor<T, cuda>& a, const Tensor<T, cuda>& b, Tensor<T, cuda>& out) {
  cuda_detail::same_size("multiply", a, b);
  cuda_detail::same_size("multiply", a, out);
  const T *as = a.data(), *bs = b.data();
  T* o = out.data();
  cuda_detail::launch(out.numel(), [=] __device__(index_t i) { o[i] = as[i] * bs[i]; });
}

// Σ a·b, accumulated in double.
template <class T>
double dot(const Tensor<T, cuda>& a, const Tensor<T, cuda>& b) {
  cuda_detail::same_size("dot", a, b);
  const T *as = a.data(), *bs = b.data();
  return cuda_detail::sum_to_host(a.numel(),
                                  [=] __device__(index_t i) { return static_cast<double>(as[i]) * bs[i]; });
}

template <class T>
double sum(const Tensor<T, cuda>& a) {
  const T* as = a.data();
  return cuda_detail::sum_to_host(a.numel(), [=] __device__(index_t i) { return static_cast<double>(as[i]); });
}

// Counts the non-finite elements on the device (a count below 2^53 is exact in
// double); one device sum and one scalar back, never the tensor.
template <class T>
bool all_finite(const Tensor<T, cuda>& a) {
  const T* as = a.data();
  return cuda_detail::sum_to_host(a.numel(), [=] __device__(index_t i) { return isfinite(as[i]) ? 0.0 : 1.0; }) ==
         0.0;
}

}  // namespace sbgan::kernels
