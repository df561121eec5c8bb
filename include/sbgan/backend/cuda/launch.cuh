#pragma once
// Grid-stride launches for element-wise kernels.
#include <cuda_runtime.h>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan::cuda_detail {

template <class F>
__global__ void for_each_index(index_t n, F f) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(blockDim.x) * gridDim.x)
    f(i);
}

// Runs f(i) for i in [0, n) on the device, on sbgan's stream; f must be a __device__
// lambda or functor.
template <class F>
void launch(index_t n, F f) {
  if (n == 0) return;
  constexpr int threads = 256;
  const index_t blocks = (n + threads - 1) / threads;
  for_each_index<<<static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8), threads, 0, stream()>>>(n, f);
  SBGAN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sbgan::cuda_detail
