#pragma once
// A caching allocator for device memory, so that the steady state of a training
// loop (the same tensor sizes every iteration) does no cudaMalloc and no cudaFree:
// those calls synchronise the device and cost far more than the kernels of a small
// layer.
//
// Reuse is stream-ordered. Every sbgan operation runs on the calling thread's
// stream (cuda_detail::stream()), so a block released on the host while kernels
// that use it are still queued can be handed out again at once *for that same
// stream*: the later work is queued behind the earlier work. Free blocks are
// therefore kept per stream (the stream of the thread that allocated the block)
// and only handed out again to that stream. A tensor used on another thread's
// stream must be synchronised (cuda_detail::synchronize() on that thread) before
// its last handle is dropped. Freeing blocks to the device (cuda_empty_cache(), or
// the retry after an out-of-memory error) synchronises the whole device first.
// One device per process is assumed, as by cuda_detail::stream().
//
// Sizes: up to 1 MiB, requests round up to a multiple of 512 B; above that, to one
// of four size classes per power of two (waste below 25%). A request reuses only a
// free block of exactly its rounded size, so a loop that repeats the same requests
// needs, after one iteration, no new device memory: per size class the cache then
// holds as many blocks as were ever live at once.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/core/error.hpp"

namespace sbgan {

// What the caching allocator has done and holds (for tests and diagnostics).
struct CudaMemoryStats {
  std::size_t device_allocations = 0;  // successful cudaMalloc calls
  std::size_t cache_hits = 0;          // requests served from the cache
  std::size_t bytes_in_use = 0;        // rounded sizes of blocks held by live tensors
  std::size_t bytes_cached = 0;        // free blocks kept for reuse
};

namespace cuda_detail {

class CachingAllocator {
 public:
  static constexpr std::size_t granularity = 512;
  static constexpr std::size_t small_limit = std::size_t{1} << 20;

  // The block size that serves a request of `bytes` (> 0).
  [[nodiscard]] static std::size_t rounded_size(std::size_t bytes) {
    std::size_t step = granularity;
    if (bytes > small_limit) {
      std::size_t power = small_limit;
      while (power <= bytes / 2) power *= 2;  // largest power of two <= bytes
      step = power / 4;
    }
    if (bytes > SIZE_MAX - step) return bytes;  // no class above; cudaMalloc will refuse it
    return (bytes + step - 1) / step * step;
  }

  // A block of exactly `size` bytes (a rounded_size) for work on `stream`.
  [[nodiscard]] void* allocate(std::size_t size, cudaStream_t stream) {
    {
      std::lock_guard lock(mutex_);
      const auto pool = free_.find(Key{key_of(stream), size});
      if (pool != free_.end() && !pool->second.empty()) {
        void* block = pool->second.back();  // most recently used: likeliest in L2
        pool->second.pop_back();
        ++stats_.cache_hits;
        stats_.bytes_cached -= size;
        stats_.bytes_in_use += size;
        return block;
      }
    }
    void* block = device_malloc(size);
    std::lock_guard lock(mutex_);
    ++stats_.device_allocations;
    stats_.bytes_in_use += size;
    return block;
  }

  // Takes a block back for reuse on `stream`. Runs in shared_ptr deleters, also
  // during static destruction at exit, so it makes no CUDA call.
  void release(void* block, std::size_t size, cudaStream_t stream) noexcept {
    try {
      std::lock_guard lock(mutex_);
      free_[Key{key_of(stream), size}].push_back(block);
      stats_.bytes_in_use -= size;
      stats_.bytes_cached += size;
    } catch (...) {
      cudaFree(block);  // no host memory for the bookkeeping: give it to the device
    }
  }

  // Returns every free block to the device.
  void empty_cache() {
    std::vector<void*> blocks;
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, pool] : free_) blocks.insert(blocks.end(), pool.begin(), pool.end());
      free_.clear();
      stats_.bytes_cached = 0;
    }
    if (blocks.empty()) return;
    // Work queued on any stream before a block's release may still be using it.
    SBGAN_CUDA_CHECK(cudaDeviceSynchronize());
    for (void* block : blocks) SBGAN_CUDA_CHECK(cudaFree(block));
  }

  [[nodiscard]] CudaMemoryStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  using Key = std::pair<std::uintptr_t, std::size_t>;  // (stream, block size)

  static std::uintptr_t key_of(cudaStream_t stream) { return reinterpret_cast<std::uintptr_t>(stream); }

  // cudaMalloc; when the device is out of memory, frees the cache and tries once more.
  void* device_malloc(std::size_t size) {
    void* block = nullptr;
    cudaError_t status = cudaMalloc(&block, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it, so that later calls do not report it
      empty_cache();
      status = cudaMalloc(&block, size);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw backend_error(failure_message(size, status));
    }
    return block;
  }

  std::string failure_message(std::size_t size, cudaError_t status) const {
    constexpr double mib = 1024.0 * 1024.0;
    std::size_t device_free = 0, device_total = 0;
    const bool known = cudaMemGetInfo(&device_free, &device_total) == cudaSuccess;
    if (!known) cudaGetLastError();
    const CudaMemoryStats s = stats();
    std::string message = "CUDA: cudaMalloc of " + std::to_string(size) + " bytes (" +
                          std::to_string(static_cast<double>(size) / mib) + " MiB) failed: " +
                          cudaGetErrorString(status) + ", after emptying sbgan's cache; sbgan holds " +
                          std::to_string(s.bytes_in_use) + " bytes in live tensors and " +
                          std::to_string(s.bytes_cached) + " bytes cached, from " +
                          std::to_string(s.device_allocations) + " device allocations";
    if (known)
      message += "; the device reports " + std::to_string(device_free) + " of " + std::to_string(device_total) +
                 " bytes free";
    return message;
  }

  mutable std::mutex mutex_;
  std::map<Key, std::vector<void*>> free_;
  CudaMemoryStats stats_;
};

// The process's allocator. Deliberately never destroyed: tensors in static storage
// release their blocks during static destruction, possibly after this header's
// statics are gone, and cudaFree after the CUDA runtime has shut down fails. The
// driver reclaims all device memory at process exit.
[[nodiscard]] inline CachingAllocator& caching_allocator() {
  static auto* const allocator = new CachingAllocator;
  return *allocator;
}

}  // namespace cuda_detail
}  // namespace sbgan
