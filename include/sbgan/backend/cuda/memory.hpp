#pragma once
// Device memory for Tensor<T, cuda>. Plain cudaMalloc/cudaFree for now; the
// caching allocator of the CUDA backend replaces this one struct.
#include <cuda_runtime_api.h>

#include <memory>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/device.hpp"
#include "sbgan/core/backend.hpp"
#include "sbgan/core/poison.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan {

template <class B>
struct memory;

template <>
struct memory<cuda> {
  template <class T>
  static std::shared_ptr<T[]> allocate(index_t count) {
    if (count == 0) return {};
    require_cuda();
    void* raw = nullptr;
    SBGAN_CUDA_CHECK(cudaMalloc(&raw, static_cast<std::size_t>(count) * sizeof(T)));
    // All-ones bytes are a NaN in float and double.
    if (poisoning_new_tensors()) SBGAN_CUDA_CHECK(cudaMemset(raw, 0xFF, static_cast<std::size_t>(count) * sizeof(T)));
    return std::shared_ptr<T[]>(static_cast<T*>(raw), [](T* p) { cudaFree(p); });
  }
};

}  // namespace sbgan
