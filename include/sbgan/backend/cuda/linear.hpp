#pragma once
// Fully connected layer kernels on the GPU: cuBLAS GEMMs with the contracts of the
// CPU kernels (sbgan/backend/cpu/linear.hpp). x is [N, F_in] (any rank, flattened
// per sample), weight is [F_out, F_in] as in PyTorch.
//   forward:          y = x·Wᵀ + b   (assigns: beta = 0, y is not read)
//   backward_data:    dx += dy·W     (beta = 1)
//   backward_weights: dW += dyᵀ·x, db += Σ_n dy
// The bias terms are small kernels of their own (device code: nvcc only).
#include "sbgan/backend/cuda/cublas.hpp"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::cuda_detail {

// y[n, o] += bias[o] for y of `features` columns.
template <class T>
struct AddBiasToRows {
  T* y;
  const T* bias;
  index_t features;
  __device__ void operator()(index_t i) const { y[i] += bias[i % features]; }
};

// bias_grad[o] += Σ_n dy[n, o]; one thread per column, rows in order (deterministic).
template <class T>
struct AddColumnSums {
  const T* dy;
  T* bias_grad;
  index_t rows, features;
  __device__ void operator()(index_t o) const {
    T sum = 0;
    for (index_t n = 0; n < rows; ++n) sum += dy[n * features + o];
    bias_grad[o] += sum;
  }
};

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

template <class T>
void linear_forward(const Tensor<T, cuda>& x, const Tensor<T, cuda>& weight, const Tensor<T, cuda>* bias,
                    Tensor<T, cuda>& y) {
  const index_t n = x.shape().n(), fin = x.shape().per_sample(), fout = weight.shape()[0];
  if (y.numel() == 0) return;
  cuda_detail::gemm_row_major(false, true, n, fout, fin, T(1), x.data(), weight.data(), T(0), y.data());
  if (bias) cuda_detail::launch(n * fout, cuda_detail::AddBiasToRows<T>{y.data(), bias->data(), fout});
}

template <class T>
void linear_backward_data(const Tensor<T, cuda>& dy, const Tensor<T, cuda>& weight, Tensor<T, cuda>& dx) {
  const index_t n = dx.shape().n(), fin = dx.shape().per_sample(), fout = weight.shape()[0];
  if (dx.numel() == 0) return;
  cuda_detail::gemm_row_major(false, false, n, fin, fout, T(1), dy.data(), weight.data(), T(1), dx.data());
}

template <class T>
void linear_backward_weights(const Tensor<T, cuda>& x, const Tensor<T, cuda>& dy, Tensor<T, cuda>& dweight,
                             Tensor<T, cuda>* dbias) {
  const index_t n = x.shape().n(), fin = x.shape().per_sample(), fout = dweight.shape()[0];
  if (x.numel() == 0 || dy.numel() == 0) return;
  cuda_detail::gemm_row_major(true, false, fout, fin, n, T(1), dy.data(), x.data(), T(1), dweight.data());
  if (dbias) cuda_detail::launch(fout, cuda_detail::AddColumnSums<T>{dy.data(), dbias->data(), n, fout});
}

}  // namespace sbgan::kernels
