#pragma once
// Host memory for Tensor<T, cpu>: 64-byte aligned (one cache line, one AVX-512
// register), shared between tensor handles, freed with the last one.
//
// Large tensors (2 MiB and more) are mapped straight from the kernel (mmap), aligned
// to 2 MiB and marked for transparent huge pages (madvise(MADV_HUGEPAGE), Linux):
//   - a fresh 147 MB activation costs ~70 first-touch page faults instead of
//     ~36 000, which was most of the Gumbel-ST forward's time (W7: 242 -> ~100 ms);
//   - freed, they go back to the system at once: malloc's adaptive thresholds kept
//     ~250 MiB of freed activations resident in the SPADE generator's inference (W3);
//   - their pages read as zero and take no memory until written, so
//     allocate_zeroed() (zeros()) needs no clearing pass, and a gradient
//     no pass ever writes (every parameter's, in inference) costs address space only.
// Smaller tensors come from malloc with 64-byte alignment.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "sbgan/core/backend.hpp"
#include "sbgan/core/poison.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan {

template <class B>
struct memory;

template <>
struct memory<cpu> {
  static constexpr std::size_t alignment = 64;
  static constexpr std::size_t huge_page = std::size_t{2} << 20;

  template <class T>
  static std::shared_ptr<T[]> allocate(index_t count) {
    if (count == 0) return {};
    std::shared_ptr<T[]> data = allocate_bytes<T>(static_cast<std::size_t>(count) * sizeof(T), false);
    if (poisoning_new_tensors() && std::numeric_limits<T>::has_quiet_NaN)
      std::uninitialized_fill_n(data.get(), count, std::numeric_limits<T>::quiet_NaN());
    return data;
  }

  // count zeros (never poisoned).
  template <class T>
  static std::shared_ptr<T[]> allocate_zeroed(index_t count) {
    if (count == 0) return {};
    return allocate_bytes<T>(static_cast<std::size_t>(count) * sizeof(T), true);
  }

 private:
  template <class T>
  static std::shared_ptr<T[]> allocate_bytes(std::size_t wanted, bool zeroed) {
#if defined(__linux__) && defined(MAP_ANONYMOUS)
    if (wanted >= huge_page) return map_huge_aligned<T>(wanted);  // fresh pages are zero
#endif
    const std::size_t bytes = (wanted + alignment - 1) / alignment * alignment;
    void* raw = std::aligned_alloc(alignment, bytes);
    if (!raw) throw std::bad_alloc();
    if (zeroed) std::memset(raw, 0, bytes);
    return std::shared_ptr<T[]>(static_cast<T*>(raw), [](T* p) { std::free(p); });
  }

#if defined(__linux__) && defined(MAP_ANONYMOUS)
  // Over-maps by one huge page, then unmaps the parts before and after the 2 MiB-
  // aligned range, which is marked for huge pages and unmapped when freed.
  template <class T>
  static std::shared_ptr<T[]> map_huge_aligned(std::size_t wanted) {
    const std::size_t bytes = (wanted + huge_page - 1) / huge_page * huge_page;
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
    return std::shared_ptr<T[]>(reinterpret_cast<T*>(aligned), [bytes](T* p) { munmap(p, bytes); });
  }
#endif
};

}  // namespace sbgan
