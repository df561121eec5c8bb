#pragma once
// Fully connected layer kernels. x is [N, F_in] (any rank, flattened per sample),
// weight is [F_out, F_in] as in PyTorch.
//   forward:          y = x·Wᵀ + b   (assigns)
//   backward_data:    dx += dy·W
//   backward_weights: dW += dyᵀ·x, db += Σ_n dy
#include "sbgan/backend/cpu/eigen_maps.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void linear_forward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& weight, const Tensor<T, cpu>* bias,
                    Tensor<T, cpu>& y) {
  const index_t n = x.shape().n(), fin = x.shape().per_sample(), fout = weight.shape()[0];
  auto ym = cpu_detail::matrix(y.data(), n, fout);
  ym.noalias() = cpu_detail::matrix(x.data(), n, fin) * cpu_detail::matrix(weight.data(), fout, fin).transpose();
  if (bias) ym.rowwise() += cpu_detail::row_vector(bias->data(), fout);
}

template <class T>
void linear_backward_data(const Tensor<T, cpu>& dy, const Tensor<T, cpu>& weight, Tensor<T, cpu>& dx) {
  const index_t n = dx.shape().n(), fin = dx.shape().per_sample(), fout = weight.shape()[0];
  cpu_detail::matrix(dx.data(), n, fin).noalias() +=
      cpu_detail::matrix(dy.data(), n, fout) * cpu_detail::matrix(weight.data(), fout, fin);
}

template <class T>
void linear_backward_weights(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, Tensor<T, cpu>& dweight,
                             Tensor<T, cpu>* dbias) {
  const index_t n = x.shape().n(), fin = x.shape().per_sample(), fout = dweight.shape()[0];
  const auto dym = cpu_detail::matrix(dy.data(), n, fout);
  cpu_detail::matrix(dweight.data(), fout, fin).noalias() += dym.transpose() * cpu_detail::matrix(x.data(), n, fin);
  if (dbias) cpu_detail::row_vector(dbias->data(), fout) += dym.colwise().sum();
}

}  // namespace sbgan::kernels
