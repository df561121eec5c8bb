#pragma once
// The Adam update of one parameter tensor, in the order of operations of
// torch.optim.Adam's single-tensor path (PyTorch 1.13, amsgrad off, no weight
// decay), each operation rounded to T as PyTorch rounds it:
//   m ← m·β₁ + (1 − β₁)·g
//   v ← v·β₂ + (1 − β₂)·g·g
//   θ ← θ + (−step_size)·m / (√v / √(1 − β₂ᵗ) + ε),   step_size = lr / (1 − β₁ᵗ)
// The scalars (β₁, 1 − β₁, …, −step_size) arrive already computed in double and
// rounded once to T, as PyTorch passes Python floats to its float kernels. The two
// moment updates are fused multiply-adds, as PyTorch's vectorised CPU kernels
// compute them (add with alpha is an fmadd; addcmul contracts to one on AVX2
// builds); with them a float run reproduces torch.optim.Adam bit for bit.
#include <cmath>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
struct AdamScalars {
  T beta1, one_minus_beta1;
  T beta2, one_minus_beta2;
  T bias_correction2_sqrt;
  T eps;
  T neg_step_size;
};

template <class T>
void adam_update(Tensor<T, cpu>& value, const Tensor<T, cpu>& grad, Tensor<T, cpu>& exp_avg,
                 Tensor<T, cpu>& exp_avg_sq, const AdamScalars<T>& s) {
  const index_t n = value.numel();
  if (grad.numel() != n || exp_avg.numel() != n || exp_avg_sq.numel() != n)
    throw shape_error("adam_update: parameter " + value.shape().str() + ", gradient " + grad.shape().str() +
                      ", moments " + exp_avg.shape().str() + " and " + exp_avg_sq.shape().str() +
                      " must have the same size");
  T* p = value.data();
  const T* g = grad.data();
  T *m = exp_avg.data(), *v = exp_avg_sq.data();
  cpu_detail::parallel_chunks(n, [&](index_t begin, index_t end) {
    for (index_t i = begin; i < end; ++i) {
      const T mi = std::fma(s.one_minus_beta1, g[i], m[i] * s.beta1);
      const T vi = std::fma(s.one_minus_beta2 * g[i], g[i], v[i] * s.beta2);
      const T denom = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] + s.neg_step_size * mi / denom;
    }
  });
}

}  // namespace sbgan::kernels
