#pragma once
// Spectral normalization on the device, with the contracts and formulas of
// sbgan/backend/cpu/spectral_norm.hpp: W is the weight as a [rows, cols] matrix,
// u has rows entries, v has cols, all device tensors; products accumulate in double.
//
//   Wᵀu:  one thread per (column, chunk of rows), coalesced along the rows of W;
//         the chunks' partial sums are added in order by the normalizing block.
//   W·v:  one block (or a few, added in a fixed order) per row (group_reduce.cuh).
//   normalize(z) = z / max(‖z‖, ε): a single block, since the vectors are short.
// Nothing waits for the host except spectral_sigma, whose value the host needs.
#include <string>

#include "sbgan/backend/cuda/group_reduce.cuh"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/backend/cuda/reduce.cuh"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace spectral_cuda {

template <class T>
void check_vectors(const char* kernel, const Tensor<T, cuda>& weight, index_t u_size, index_t v_size) {
  const index_t rows = weight.shape()[0];
  if (rows <= 0 || u_size != rows || v_size * rows != weight.numel())
    throw shape_error(std::string(kernel) + ": u, v with " + std::to_string(u_size) + " and " +
                      std::to_string(v_size) + " entries do not fit a weight of shape " + weight.shape().str());
}

// Rows one thread sums for Wᵀu: enough threads for a short, wide W, few partials.
inline constexpr index_t rows_per_chunk = 64;

// dst = z / max(‖z‖, ε) with z_j = Σ_c parts[c·n + j] (the parts added in order).
// One block; each thread keeps to its own entries j, so parts[j] can hold z_j.
template <class T>
__global__ void __launch_bounds__(cuda_detail::group_threads)
    normalize_parts(double* parts, index_t count, index_t n, double eps, T* dst) {
  double sq[1] = {0};
  for (index_t j = threadIdx.x; j < n; j += cuda_detail::group_threads) {
    double z = 0;
    for (index_t c = 0; c < count; ++c) z += parts[c * n + j];
    parts[j] = z;
    sq[0] += z * z;
  }
  cuda_detail::sum_across_block(sq);
  const double norm = sqrt(sq[0]), d = norm > eps ? norm : eps;
  for (index_t j = threadIdx.x; j < n; j += cuda_detail::group_threads) dst[j] = static_cast<T>(parts[j] / d);
}

template <class T>
void normalize_into(Tensor<double, cuda>& parts, index_t count, index_t n, double eps, T* dst) {
  normalize_parts<<<1, cuda_detail::group_threads, 0, cuda_detail::stream()>>>(parts.data(), count, n, eps, dst);
  SBGAN_CUDA_CHECK(cudaGetLastError());
}

// Rows of W as groups of cols contiguous elements.
inline cuda_detail::GroupLayout rows_of(index_t rows, index_t cols) { return {rows, 1, cols, cols, 0}; }

}  // namespace spectral_cuda

// One power iteration from u: writes v_out = normalize(Wᵀu) and u_out = normalize(W·v_out).
template <class T>
void spectral_power_iteration(const Tensor<T, cuda>& weight, const Tensor<T, cuda>& u, T eps, Tensor<T, cuda>& u_out,
                              Tensor<T, cuda>& v_out) {
  using namespace spectral_cuda;
  check_vectors("spectral_power_iteration", weight, u.numel(), v_out.numel());
  check_vectors("spectral_power_iteration", weight, u_out.numel(), v_out.numel());
  const index_t rows = u.numel(), cols = v_out.numel();
  const T *w = weight.data(), *us = u.data();
  // Wᵀu: partial[c·cols + j] = Σ over chunk c of the rows of u_i·W_ij.
  const index_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  Tensor<double, cuda> wtu(Shape{chunks * cols});
  double* partial = wtu.data();
  cuda_detail::launch(chunks * cols, [=] __device__(index_t t) {
    const index_t c = t / cols, j = t - c * cols;
    const index_t first = c * rows_per_chunk, last = first + rows_per_chunk < rows ? first + rows_per_chunk : rows;
    double s = 0;
    for (index_t i = first; i < last; ++i) s += static_cast<double>(us[i]) * w[i * cols + j];
    partial[t] = s;
  });
  normalize_into(wtu, chunks, cols, static_cast<double>(eps), v_out.data());
  // W·v_out, one row per group.
  Tensor<double, cuda> wv(Shape{rows});
  double* wvs = wv.data();
  const T* vs = v_out.data();
  cuda_detail::reduce_groups<1>(
      rows_of(rows, cols),
      [=] __device__(index_t r, index_t i, double(&acc)[1]) {
        acc[0] += static_cast<double>(w[i]) * vs[i - r * cols];
      },
      [=] __device__(index_t r, const double(&sum)[1]) { wvs[r] = sum[0]; });
  normalize_into(wv, 1, rows, static_cast<double>(eps), u_out.data());
}

// σ = uᵀ·W·v (waits for the device: the host needs the value).
template <class T>
double spectral_sigma(const Tensor<T, cuda>& weight, const Tensor<T, cuda>& u, const Tensor<T, cuda>& v) {
  spectral_cuda::check_vectors("spectral_sigma", weight, u.numel(), v.numel());
  const index_t cols = v.numel();
  const T *w = weight.data(), *us = u.data(), *vs = v.data();
  return cuda_detail::sum_to_host(weight.numel(), [=] __device__(index_t k) {
    const index_t i = k / cols;
    return static_cast<double>(us[i]) * (static_cast<double>(w[k]) * vs[k - i * cols]);
  });
}

// grad_weight += (grad_normalized − ⟨grad_normalized, normalized⟩·u·vᵀ) / σ, the
// gradient through Ŵ = W/σ(W) with σ = uᵀ·W·v and u, v fixed. The inner product
// stays on the device.
template <class T>
void spectral_norm_backward(const Tensor<T, cuda>& grad_normalized, const Tensor<T, cuda>& normalized,
                            const Tensor<T, cuda>& u, const Tensor<T, cuda>& v, double sigma,
                            Tensor<T, cuda>& grad_weight) {
  spectral_cuda::check_vectors("spectral_norm_backward", grad_weight, u.numel(), v.numel());
  if (grad_normalized.numel() != grad_weight.numel() || normalized.numel() != grad_weight.numel())
    throw shape_error("spectral_norm_backward: weight and gradient sizes differ");
  const index_t rows = u.numel(), cols = v.numel();
  const T *gn = grad_normalized.data(), *wn = normalized.data(), *us = u.data(), *vs = v.data();
  T* gw = grad_weight.data();
  Tensor<double, cuda> inner_sum(Shape{1});
  double* inner = inner_sum.data();
  cuda_detail::reduce_groups<1>(
      cuda_detail::GroupLayout{1, 1, grad_weight.numel(), 0, 0},
      [=] __device__(index_t, index_t k, double(&acc)[1]) { acc[0] += static_cast<double>(gn[k]) * wn[k]; },
      [=] __device__(index_t, const double(&sum)[1]) { *inner = sum[0]; });
  const double inv_sigma = 1.0 / sigma;
  cuda_detail::for_each_group_element(spectral_cuda::rows_of(rows, cols), [=] __device__(index_t i, index_t k) {
    const double ku = *inner * us[i];
    gw[k] += static_cast<T>((gn[k] - ku * vs[k - i * cols]) * inv_sigma);
  });
}

}  // namespace sbgan::kernels
