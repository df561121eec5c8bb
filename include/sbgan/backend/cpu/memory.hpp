#pragma once
// Host memory for Tensor<T, cpu>: 64-byte aligned (one cache line, one AVX-512
// register), shared between tensor handles, freed with the last one.
//
// Large tensors (2 MiB and more) are aligned to 2 MiB and marked for transparent
// huge pages (madvise(MADV_HUGEPAGE), Linux): a fresh 147 MB activation then costs
// ~70 first-touch page faults instead of ~36 000, which was most of the Gumbel-ST
// forward's time (W7: 242 ms -> ~100 ms). Smaller tensors keep 4 KiB pages, so the
// rounding never wastes more than one huge page per large tensor.
#include <cstdlib>
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
    const std::size_t wanted = static_cast<std::size_t>(count) * sizeof(T);
    const std::size_t align = wanted >= huge_page ? huge_page : alignment;
    const std::size_t bytes = (wanted + align - 1) / align * align;
    void* raw = std::aligned_alloc(align, bytes);
    if (!raw) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // A hint: where huge pages are off, the kernel refuses and 4 KiB pages serve.
    if (align == huge_page) (void)madvise(raw, bytes, MADV_HUGEPAGE);
#endif
    T* data = static_cast<T*>(raw);
    if (poisoning_new_tensors() && std::numeric_limits<T>::has_quiet_NaN)
      std::uninitialized_fill_n(data, count, std::numeric_limits<T>::quiet_NaN());
    return std::shared_ptr<T[]>(data, [](T* p) { std::free(p); });
  }
};

}  // namespace sbgan
