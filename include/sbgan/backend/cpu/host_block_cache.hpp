#pragma once
// Reuse of large host blocks (2 MiB and more), so that a training loop's activations
// and gradients land on pages that are already mapped instead of fresh ones the
// kernel must fault in and clear: with every large tensor freshly mapped, clearing
// pages took 16% of the multiscale discriminator's step (W5), against 7% when
// malloc still recycled some of them.
//
// The rule that keeps memory honest: a miss never adds more mapped memory than it
// gives back from the cache, unless the cache runs empty. A request is served by
//   1. a free block of exactly its (2 MiB-rounded) size, else
//   2. the smallest larger free block, its tail unmapped, else
//   3. the largest smaller free block, moved (mremap) to the front of a fresh mapping
//      of the full size after unmapping, oldest first, cached blocks totalling at
//      least the difference; with no free block, a fresh mapping after nothing.
// Mapped memory (live + cached) therefore never exceeds the most that was ever live
// at once (induction: a hit or a free moves a block between live and cached; a miss
// removes at least what it adds, or empties the cache, when live + request is all
// there is), so the cache costs no peak memory. Cases 2 and 3 matter as much as 1: a
// training step's sizes do not pair up exactly, and before them every miss faulted a
// fresh block in and had the kernel clear it (20% of the SPADE generator's training
// step, W4). (untouched_zeros() maps without evicting: it adds address space, not
// memory, until its tensor is written.) What the cache keeps after a workload ends
// goes back with host_empty_cache().
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sbgan {

struct HostMemoryStats {
  std::size_t mappings = 0;       // blocks mapped from the system
  std::size_t cache_hits = 0;     // requests served by a cached block of their size
  std::size_t resized = 0;        // requests served by a cached block of another size
  std::size_t bytes_cached = 0;   // free blocks kept for reuse
};

namespace cpu_detail {

inline constexpr std::size_t huge_page = std::size_t{2} << 20;

// bytes (a multiple of 2 MiB), 2 MiB-aligned: over-maps by one huge page and unmaps
// the parts before and after the aligned range, which is marked for huge pages.
// Fresh pages read as zero.
inline void* map_huge_aligned(std::size_t bytes) {
#if defined(__linux__) && defined(MAP_ANONYMOUS)
  void* raw = mmap(nullptr, bytes + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (base + huge_page - 1) / huge_page * huge_page;
  if (aligned > base) munmap(raw, aligned - base);
  const std::uintptr_t tail = aligned + bytes, end = base + bytes + huge_page;
  if (end > tail) munmap(reinterpret_cast<void*>(tail), end - tail);
#if defined(MADV_HUGEPAGE)
  (void)madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // a hint; 4 KiB pages serve otherwise
#endif
  return reinterpret_cast<void*>(aligned);
#else
  (void)bytes;
  throw std::bad_alloc();
#endif
}

class HostBlockCache {
 public:
  // One per process, never destroyed: tensors in static storage may be freed after
  // any destructor of ours would have run.
  static HostBlockCache& instance() {
    static HostBlockCache* cache = new HostBlockCache();
    return *cache;
  }

  struct Taken {
    void* data;
    std::size_t stale;  // leading bytes that hold earlier contents; the rest reads as zero
  };

  // A block of `bytes` (a multiple of 2 MiB, 2 MiB-aligned), by the rule above.
  Taken take(std::size_t bytes) {
    std::vector<Block> evicted;
    Block kept{nullptr, 0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::size_t exact = blocks_.size(), larger = blocks_.size(), smaller = blocks_.size();
      for (std::size_t i = blocks_.size(); i-- > 0;) {  // newest first: warmest in cache
        const std::size_t b = blocks_[i].bytes;
        if (b == bytes) {
          exact = i;
          break;
        }
        if (b > bytes && (larger == blocks_.size() || b < blocks_[larger].bytes)) larger = i;
        if (b < bytes && (smaller == blocks_.size() || b > blocks_[smaller].bytes)) smaller = i;
      }
      const std::size_t chosen = exact < blocks_.size() ? exact : larger < blocks_.size() ? larger : smaller;
      if (chosen < blocks_.size()) {
        kept = blocks_[chosen];
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(chosen));
        stats_.bytes_cached -= kept.bytes;
        ++(kept.bytes == bytes ? stats_.cache_hits : stats_.resized);
      }
      if (kept.bytes < bytes) {
        std::size_t freed = 0, n = 0;
        while (n < blocks_.size() && freed < bytes - kept.bytes) freed += blocks_[n++].bytes;  // oldest first
        evicted.assign(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(n));
        blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(n));
        stats_.bytes_cached -= freed;
        ++stats_.mappings;
      }
    }
    for (const Block& b : evicted) unmap(b);
    if (kept.bytes >= bytes) {
      if (kept.bytes > bytes) unmap({static_cast<unsigned char*>(kept.data) + bytes, kept.bytes - bytes});
      return {kept.data, bytes};
    }
    void* fresh = nullptr;
    try {
      fresh = map_huge_aligned(bytes);
    } catch (...) {  // out of memory: the kept block goes back to the cache, not astray
      if (kept.data) give_back(kept.data, kept.bytes);
      throw;
    }
    if (!kept.data) return {fresh, 0};
#if defined(__linux__) && defined(MREMAP_FIXED)
    // The kept block's resident pages move over the front of the fresh range.
    if (mremap(kept.data, kept.bytes, kept.bytes, MREMAP_MAYMOVE | MREMAP_FIXED, fresh) != MAP_FAILED)
      return {fresh, kept.bytes};
#endif
    unmap(kept);
    return {fresh, 0};
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
