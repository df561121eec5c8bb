#pragma once
// Device memory for Tensor<T, cuda>, from the caching allocator
// (caching_allocator.hpp says how blocks are reused, and why that is safe): the
// last handle of a tensor returns its block to the cache instead of cudaFree.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <string>

#include "sbgan/backend/cuda/caching_allocator.hpp"
#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/backend.hpp"
#include "sbgan/core/error.hpp"
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
    if (count < 0 || static_cast<std::size_t>(count) > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw backend_error("CUDA: cannot allocate " + std::to_string(count) + " elements of " +
                          std::to_string(sizeof(T)) + " bytes");
    const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    // stream() refuses clearly on a machine without a GPU.
    const cudaStream_t stream = cuda_detail::stream();
    auto& allocator = cuda_detail::caching_allocator();
    const std::size_t size = cuda_detail::CachingAllocator::rounded_size(bytes);
    void* block = allocator.allocate(size, stream);
    // All-ones bytes are a NaN in float and double. Queued on the stream, so a
    // reused block is poisoned only after its previous users' work.
    if (poisoning_new_tensors()) {
      const cudaError_t status = cudaMemsetAsync(block, 0xFF, bytes, stream);
      if (status != cudaSuccess) {
        allocator.release(block, size, stream);
        cuda_detail::check(status, "cudaMemsetAsync(poison)");
      }
    }
    return std::shared_ptr<T[]>(static_cast<T*>(block), [size, stream](T* p) {
      cuda_detail::caching_allocator().release(p, size, stream);
    });
  }
};

// The caching allocator's counters (see CudaMemoryStats).
[[nodiscard]] inline CudaMemoryStats cuda_memory_stats() { return cuda_detail::caching_allocator().stats(); }

// Returns every cached free block to the device (after synchronising it); blocks
// held by live tensors stay. A no-op, without CUDA calls, when nothing is cached.
inline void cuda_empty_cache() { cuda_detail::caching_allocator().empty_cache(); }

}  // namespace sbgan
