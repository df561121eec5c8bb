#pragma once
// Declarations of the GEMM-based kernels for any backend, deleted. Each backend
// provides the real overloads for its own tag (more specialised, so they win).
// This keeps layer templates well-formed in translation units where a backend's
// definitions are absent (nvcc units never see the Eigen-based CPU kernels), and
// turns a missing backend kernel into a "use of deleted function" error at the call.
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::kernels {

template <class T, class B>
void conv2d_forward(const Tensor<T, B>& x, const Tensor<T, B>& weight, const Tensor<T, B>* bias, const Window2d& g,
                    Tensor<T, B>& y) = delete;
template <class T, class B>
void conv2d_backward_data(const Tensor<T, B>& dy, const Tensor<T, B>& weight, const Window2d& g,
                          Tensor<T, B>& dx) = delete;
template <class T, class B>
void conv2d_backward_weights(const Tensor<T, B>& x, const Tensor<T, B>& dy, const Window2d& g, Tensor<T, B>& dweight,
                             Tensor<T, B>* dbias) = delete;
template <class T, class B>
void linear_forward(const Tensor<T, B>& x, const Tensor<T, B>& weight, const Tensor<T, B>* bias,
                    Tensor<T, B>& y) = delete;
template <class T, class B>
void linear_backward_data(const Tensor<T, B>& dy, const Tensor<T, B>& weight, Tensor<T, B>& dx) = delete;
template <class T, class B>
void linear_backward_weights(const Tensor<T, B>& x, const Tensor<T, B>& dy, Tensor<T, B>& dweight,
                             Tensor<T, B>* dbias) = delete;

}  // namespace sbgan::kernels
