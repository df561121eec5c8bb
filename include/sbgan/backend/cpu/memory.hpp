#pragma once
// Host memory for Tensor<T, cpu>: 64-byte aligned (one cache line, one AVX-512
// register), shared between tensor handles, freed with the last one.
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>

#include "sbgan/core/backend.hpp"
#include "sbgan/core/poison.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan {

template <class B>
struct memory;

template <>
struct memory<cpu> {
  static constexpr std::size_t alignment = 64;

  template <class T>
  static std::shared_ptr<T[]> allocate(index_t count) {
    if (count == 0) return {};
    std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    bytes = (bytes + alignment - 1) / alignment * alignment;
    void* raw = std::aligned_alloc(alignment, bytes);
    if (!raw) throw std::bad_alloc();
    T* data = static_cast<T*>(raw);
    if (poisoning_new_tensors() && std::numeric_limits<T>::has_quiet_NaN)
      std::uninitialized_fill_n(data, count, std::numeric_limits<T>::quiet_NaN());
    return std::shared_ptr<T[]>(data, [](T* p) { std::free(p); });
  }
};

}  // namespace sbgan
