#pragma once
// Reuse of large host blocks (2 MiB and more), so that a training loop's activations
// and gradients land on pages that are already mapped instead of fresh ones the
// kernel must fault in and clear: with every large tensor freshly mapped, clearing
// pages took 16% of the multiscale discriminator's step (W5), against 7% when
// malloc still recycled some of them.
//
// The rule that keeps memory honest: a request is served only by a free block of
// exactly its (2 MiB-rounded) size; on a miss, cached blocks totalling at least the
// request are unmapped, oldest first, before a fresh block is mapped. Mapped memory
// (live + cached) therefore never exceeds the most that was ever live at once
// (induction: a hit or a free moves a block between live and cached; a miss removes
// at least what it adds, or empties the cache, when live + request is all there is),
// so the cache costs no peak memory. (untouched_zeros() maps without evicting: it
// adds address space, not memory, until its tensor is written.) What the cache keeps
// after a workload ends goes back with host_empty_cache().
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sbgan {

struct HostMemoryStats {
  std::size_t mappings = 0;       // blocks mapped from the system
  std::size_t cache_hits = 0;     // requests served by a cached block
  std::size_t bytes_cached = 0;   // free blocks kept for reuse
};

namespace cpu_detail {

class HostBlockCache {
 public:
  // One per process, never destroyed: tensors in static storage may be freed after
  // any destructor of ours would have run.
  static HostBlockCache& instance() {
    static HostBlockCache* cache = new HostBlockCache();
    return *cache;
  }

  // A cached block of exactly `bytes`, or nullptr after evicting at least `bytes`
  // of cached blocks (the caller then maps a fresh one).
  void* take_or_evict(std::size_t bytes) {
    std::vector<Block> evicted;
    void* found = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t i = blocks_.size(); i-- > 0;) {  // newest first: warmest in cache
        if (blocks_[i].bytes == bytes) {
          found = blocks_[i].data;
          blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
          stats_.bytes_cached -= bytes;
          ++stats_.cache_hits;
          return found;
        }
      }
      std::size_t freed = 0;
      std::size_t n = 0;
      while (n < blocks_.size() && freed < bytes) freed += blocks_[n++].bytes;  // oldest first
      evicted.assign(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(n));
      blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(n));
      stats_.bytes_cached -= freed;
      ++stats_.mappings;
    }
    for (const Block& b : evicted) unmap(b);
    return nullptr;
  }

  void give_back(void* data, std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    blocks_.push_back({data, bytes});
    stats_.bytes_cached += bytes;
  }

  void empty() {
    std::vector<Block> all;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      all.swap(blocks_);
      stats_.bytes_cached = 0;
    }
    for (const Block& b : all) unmap(b);
  }

  HostMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  struct Block {
    void* data;
    std::size_t bytes;
  };

  static void unmap(const Block& b) {
#if defined(__linux__)
    munmap(b.data, b.bytes);
#else
    (void)b;
#endif
  }

  std::mutex mutex_;
  std::vector<Block> blocks_;  // oldest first
  HostMemoryStats stats_;
};

}  // namespace cpu_detail

// What the host block cache holds and has done.
inline HostMemoryStats host_memory_stats() { return cpu_detail::HostBlockCache::instance().stats(); }

// Returns every cached host block to the system (after a large workload, say).
inline void host_empty_cache() { cpu_detail::HostBlockCache::instance().empty(); }

}  // namespace sbgan
