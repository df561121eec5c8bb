#pragma once
// Host memory for Tensor<T, cpu>: 64-byte aligned (one cache line, one AVX-512
// register), shared between tensor handles, freed with the last one.
//
// Large tensors (2 MiB and more) are mapped straight from the kernel (mmap), aligned
// to 2 MiB and marked for transparent huge pages (madvise(MADV_HUGEPAGE), Linux), and
// recycled through a block cache (host_block_cache.hpp) that never raises the peak:
//   - a fresh 147 MB activation costs ~70 first-touch page faults instead of
//     ~36 000, which was most of the Gumbel-ST forward's time (W7: 242 -> ~100 ms);
//   - unlike malloc, whose adaptive thresholds kept ~250 MiB of freed activations
//     resident during one SPADE generator inference (W3), the cache serves a miss
//     from blocks of other sizes (trimmed, or grown in place of what it unmaps), so
//     mapped memory stays within the live peak;
//   - a fresh mapping reads as zero: zeros() clears only reused blocks, and
//     untouched_zeros() (parameter gradients) always maps afresh, so a gradient no
//     pass writes (every one, in inference) costs address space only.
// Smaller tensors come from malloc with 64-byte alignment.
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "sbgan/backend/cpu/host_block_cache.hpp"
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/backend.hpp"
#include "sbgan/core/poison.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan {

template <class B>
struct memory;

template <>
struct memory<cpu> {
  static constexpr std::size_t alignment = 64;
  static constexpr std::size_t huge_page = cpu_detail::huge_page;

  template <class T>
  static std::shared_ptr<T[]> allocate(index_t count) {
    if (count == 0) return {};
    std::shared_ptr<T[]> data = allocate_bytes<T>(static_cast<std::size_t>(count) * sizeof(T), Fill::none);
    if (poisoning_new_tensors() && std::numeric_limits<T>::has_quiet_NaN)
      std::uninitialized_fill_n(data.get(), count, std::numeric_limits<T>::quiet_NaN());
    return data;
  }

  // count zeros (never poisoned).
  template <class T>
  static std::shared_ptr<T[]> allocate_zeroed(index_t count) {
    if (count == 0) return {};
    return allocate_bytes<T>(static_cast<std::size_t>(count) * sizeof(T), Fill::zeros);
  }

  // count zeros that take no memory until written: large ones are always a fresh
  // mapping, never a reused (resident) block.
  template <class T>
  static std::shared_ptr<T[]> allocate_untouched_zeroed(index_t count) {
    if (count == 0) return {};
    return allocate_bytes<T>(static_cast<std::size_t>(count) * sizeof(T), Fill::fresh_zeros);
  }

 private:
  enum class Fill { none, zeros, fresh_zeros };

  template <class T>
  static std::shared_ptr<T[]> allocate_bytes(std::size_t wanted, Fill fill) {
#if defined(__linux__) && defined(MAP_ANONYMOUS)
    if (wanted >= huge_page) {
      const std::size_t bytes = (wanted + huge_page - 1) / huge_page * huge_page;
      auto& cache = cpu_detail::HostBlockCache::instance();
      using Taken = cpu_detail::HostBlockCache::Taken;
      const Taken block = fill == Fill::fresh_zeros ? Taken{cpu_detail::map_huge_aligned(bytes), 0} : cache.take(bytes);
      if (fill == Fill::zeros) clear(static_cast<unsigned char*>(block.data), std::min(wanted, block.stale));
      return std::shared_ptr<T[]>(static_cast<T*>(block.data), [bytes](T* p) {
        cpu_detail::HostBlockCache::instance().give_back(p, bytes);
      });
    }
#endif
    const std::size_t bytes = (wanted + alignment - 1) / alignment * alignment;
    void* raw = std::aligned_alloc(alignment, bytes);
    if (!raw) throw std::bad_alloc();
    if (fill != Fill::none) std::memset(raw, 0, bytes);
    return std::shared_ptr<T[]>(static_cast<T*>(raw), [](T* p) { std::free(p); });
  }

  // A reused block is cleared on every thread, as kernels::fill would clear it.
  static void clear(unsigned char* data, std::size_t bytes) {
    cpu_detail::parallel_chunks(static_cast<index_t>(bytes), [data](index_t begin, index_t end) {
      std::memset(data + begin, 0, static_cast<std::size_t>(end - begin));
    });
  }
};

}  // namespace sbgan
