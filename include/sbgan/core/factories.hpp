#pragma once
// Tensors with values, and copies between tensors and backends.
#include <concepts>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan {

template <class T, class B = cpu>
Tensor<T, B> full(const Shape& shape, T value) {
  Tensor<T, B> t(shape);
  kernels::fill(t, value);
  return t;
}

// On the host, a large zero tensor is a reused block cleared here or a fresh mapping
// that is zero already (backend/cpu/memory.hpp).
template <class T, class B = cpu>
Tensor<T, B> zeros(const Shape& shape) {
  if constexpr (std::same_as<B, cpu>)
    return Tensor<T, cpu>::zeroed(shape);
  else
    return full<T, B>(shape, T(0));
}

// Zeros that take no memory until written, for storage that may never be touched
// (parameter gradients, in inference). On the host a large one is always a fresh
// mapping, never a reused block, so its first writes pay the page faults that
// zeros() avoids: use it for long-lived tensors only.
template <class T, class B = cpu>
Tensor<T, B> untouched_zeros(const Shape& shape) {
  if constexpr (std::same_as<B, cpu>)
    return Tensor<T, cpu>::zeroed(shape, true);
  else
    return zeros<T, B>(shape);
}

// A zero tensor shaped like `like`, on its backend.
template <class T, class B>
Tensor<T, B> zeros_like(const Tensor<T, B>& like) {
  return zeros<T, B>(like.shape());
}

// A deep copy on the same backend.
template <class T, class B>
Tensor<T, B> clone(const Tensor<T, B>& t) {
  Tensor<T, B> out(t.shape());
  if (!t.empty()) kernels::copy(t, out);
  return out;
}

// Element type conversion on the host (double reference runs from float data).
template <class To, class From>
Tensor<To, cpu> cast(const Tensor<From, cpu>& t) {
  Tensor<To, cpu> out(t.shape());
  for (index_t i = 0; i < t.numel(); ++i) out[i] = static_cast<To>(t[i]);
  return out;
}

}  // namespace sbgan
