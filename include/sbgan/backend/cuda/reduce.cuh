#pragma once
// Sums on the device, accumulated in double (as the CPU kernels accumulate), for
// the kernels whose result is a scalar: losses, dot products, norms.
#include <cuda_runtime.h>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/memory.hpp"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan::cuda_detail {

inline constexpr int reduce_threads = 256;

// Each block sums term(i) over a grid-stride range into partial[blockIdx.x].
template <class F>
__global__ void block_sums(index_t n, F term, double* partial) {
  __shared__ double shared[reduce_threads];
  double acc = 0;
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(blockDim.x) * gridDim.x)
    acc += static_cast<double>(term(i));
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = reduce_threads / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = shared[0];
}

// Sums the partials in one block (fixed order: deterministic run to run). A
// template so that the header can be included by many translation units.
template <class Unused = void>
__global__ void sum_partials(int count, const double* partial, double* out) {
  __shared__ double shared[reduce_threads];
  double acc = 0;
  for (int i = static_cast<int>(threadIdx.x); i < count; i += reduce_threads) acc += partial[i];
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = reduce_threads / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = shared[0];
}

// Σ term(i) for i in [0, n), computed on sbgan's stream and returned to the host
// (this waits for the stream). term must be a __device__ lambda or functor
// returning something convertible to double.
template <class F>
double sum_to_host(index_t n, F term) {
  if (n == 0) return 0.0;
  constexpr int max_blocks = 1024;
  const index_t wanted = (n + reduce_threads - 1) / reduce_threads;
  const int blocks = static_cast<int>(wanted < max_blocks ? wanted : max_blocks);
  auto scratch = memory<cuda>::allocate<double>(blocks + 1);
  double* partial = scratch.get();
  block_sums<<<blocks, reduce_threads, 0, stream()>>>(n, term, partial);
  SBGAN_CUDA_CHECK(cudaGetLastError());
  sum_partials<><<<1, reduce_threads, 0, stream()>>>(blocks, partial, partial + blocks);
  SBGAN_CUDA_CHECK(cudaGetLastError());
  double result = 0;
  SBGAN_CUDA_CHECK(cudaMemcpyAsync(&result, partial + blocks, sizeof(double), cudaMemcpyDeviceToHost, stream()));
  SBGAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return result;
}

}  // namespace sbgan::cuda_detail
