#pragma once
// Tensor<T, Backend>: a shape and a handle to backend memory.
//
// Copies are shallow (they share storage, as at::Tensor does), so contexts can keep
// the activations they need without copying them; clone() makes a deep copy.
// Element access exists only on the CPU; layer code never touches elements, it calls
// kernels, which is what keeps layers backend-independent.
#include <algorithm>
#include <concepts>
#include <memory>
#include <type_traits>

#include "sbgan/backend/cpu/memory.hpp"
#include "sbgan/core/backend.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/shape.hpp"
#if defined(SBGAN_WITH_CUDA)
#include "sbgan/backend/cuda/memory.hpp"
#endif

namespace sbgan {

template <class T, class B = cpu>
class Tensor {
  static_assert(Backend<B>, "Tensor: backend must be sbgan::cpu or sbgan::cuda");
  static_assert(std::is_arithmetic_v<T>, "Tensor: element type must be arithmetic");

 public:
  using value_type = T;
  using backend = B;

  Tensor() = default;
  // Uninitialised storage (NaN inside a poison_scope). Use zeros()/full() for values.
  explicit Tensor(const Shape& shape)
      : shape_(shape), data_(memory<B>::template allocate<T>(shape.numel())) {}
  // Zero-filled host storage, for zeros(); with `untouched`, large tensors are fresh
  // pages that take no memory until written (untouched_zeros()).
  static Tensor zeroed(const Shape& shape, bool untouched = false)
    requires std::same_as<B, cpu>
  {
    Tensor t;
    t.shape_ = shape;
    t.data_ = untouched ? memory<cpu>::template allocate_untouched_zeroed<T>(shape.numel())
                        : memory<cpu>::template allocate_zeroed<T>(shape.numel());
    return t;
  }

  [[nodiscard]] const Shape& shape() const { return shape_; }
  // A default-constructed tensor holds nothing: no storage, no elements.
  [[nodiscard]] index_t numel() const { return data_ ? shape_.numel() : 0; }
  [[nodiscard]] bool empty() const { return !data_; }
  // Drops this handle's storage and keeps the shape: a context field that backward
  // only checks shapes against need not pin an activation (other handles keep it).
  void release_storage() { data_.reset(); }
  [[nodiscard]] T* data() { return data_.get(); }
  [[nodiscard]] const T* data() const { return data_.get(); }
  // True when both handles view the same memory.
  [[nodiscard]] bool shares_storage_with(const Tensor& other) const { return data_ == other.data_; }

  // The same memory under another shape with the same element count.
  [[nodiscard]] Tensor reshaped(const Shape& shape) const {
    if (shape.numel() != numel())
      throw shape_error("Tensor::reshaped: cannot view " + shape_.str() + " as " + shape.str());
    Tensor view = *this;
    view.shape_ = shape;
    return view;
  }

  // --- host-only element access ---------------------------------------------------
  T& operator[](index_t i)
    requires std::same_as<B, cpu>
  {
    return data_[i];
  }
  const T& operator[](index_t i) const
    requires std::same_as<B, cpu>
  {
    return data_[i];
  }
  T& operator()(index_t n, index_t c, index_t h, index_t w)
    requires std::same_as<B, cpu>
  {
    return data_[((n * shape_.c() + c) * shape_.h() + h) * shape_.w() + w];
  }
  const T& operator()(index_t n, index_t c, index_t h, index_t w) const
    requires std::same_as<B, cpu>
  {
    return data_[((n * shape_.c() + c) * shape_.h() + h) * shape_.w() + w];
  }
  T* begin() requires std::same_as<B, cpu> { return data(); }
  T* end() requires std::same_as<B, cpu> { return data() + numel(); }
  const T* begin() const requires std::same_as<B, cpu> { return data(); }
  const T* end() const requires std::same_as<B, cpu> { return data() + numel(); }

 private:
  Shape shape_;
  std::shared_ptr<T[]> data_;
};

template <class T>
using HostTensor = Tensor<T, cpu>;

}  // namespace sbgan
