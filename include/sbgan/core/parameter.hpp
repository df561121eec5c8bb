#pragma once
// A trainable tensor and its gradient. Backward passes add into `grad`; the
// optimizer reads it and zero_grad() clears it, so gradients of several forward
// passes (D on real, fake and interpolated batches) sum until the step.
#include "sbgan/core/factories.hpp"

namespace sbgan {

template <class T, class B = cpu>
struct Parameter {
  Tensor<T, B> value;
  Tensor<T, B> grad;

  Parameter() = default;
  // The gradient takes no memory until a backward pass writes it (untouched_zeros).
  explicit Parameter(const Shape& shape) : value(zeros<T, B>(shape)), grad(untouched_zeros<T, B>(shape)) {}

  [[nodiscard]] const Shape& shape() const { return value.shape(); }
  void zero_grad() { kernels::fill(grad, T(0)); }
};

}  // namespace sbgan
