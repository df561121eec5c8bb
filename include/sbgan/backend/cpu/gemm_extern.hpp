#pragma once
// The CPU GEMM kernels (cpu/conv2d.hpp, cpu/linear.hpp) declared, not defined, for
// nvcc units that need them as a reference: the CUDA parity tests run every layer
// on both backends. Their definitions use Eigen, which stays out of nvcc units, so:
//   - here: the templates with exactly the signatures of the definitions, and
//     `extern template` for float and double, so the .cu unit never instantiates
//     them and links to the instances below (a call resolves to these over the
//     deleted catch-alls of gemm_kernel_declarations.hpp: they are more specialised);
//   - tests/support/cpu_gemm_instances.cpp, compiled by the host compiler with
//     Eigen, includes the definitions and instantiates them with the same list.
// backend/kernels.hpp includes this only when __CUDACC__ and SBGAN_EXTERN_CPU_GEMM
// are both defined. A signature that drifts from the definitions is caught when the
// instances unit compiles (an explicit instantiation with no definition to use).
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::kernels {

template <class T>
void conv2d_forward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& weight, const Tensor<T, cpu>* bias,
                    const Window2d& g, Tensor<T, cpu>& y);
template <class T>
void conv2d_backward_data(const Tensor<T, cpu>& dy, const Tensor<T, cpu>& weight, const Window2d& g,
                          Tensor<T, cpu>& dx);
template <class T>
void conv2d_backward_weights(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, const Window2d& g,
                             Tensor<T, cpu>& dweight, Tensor<T, cpu>* dbias);
template <class T>
void linear_forward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& weight, const Tensor<T, cpu>* bias,
                    Tensor<T, cpu>& y);
template <class T>
void linear_backward_data(const Tensor<T, cpu>& dy, const Tensor<T, cpu>& weight, Tensor<T, cpu>& dx);
template <class T>
void linear_backward_weights(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, Tensor<T, cpu>& dweight,
                             Tensor<T, cpu>* dbias);

// Every instance, one list for both sides: PREFIX is `extern template` here and
// `template` in the unit that defines them.
#define SBGAN_CPU_GEMM_INSTANCES(PREFIX, T)                                                                        \
  PREFIX void conv2d_forward<T>(const Tensor<T, cpu>&, const Tensor<T, cpu>&, const Tensor<T, cpu>*, const Window2d&, \
                                Tensor<T, cpu>&);                                                                  \
  PREFIX void conv2d_backward_data<T>(const Tensor<T, cpu>&, const Tensor<T, cpu>&, const Window2d&,                \
                                      Tensor<T, cpu>&);                                                            \
  PREFIX void conv2d_backward_weights<T>(const Tensor<T, cpu>&, const Tensor<T, cpu>&, const Window2d&,             \
                                         Tensor<T, cpu>&, Tensor<T, cpu>*);                                        \
  PREFIX void linear_forward<T>(const Tensor<T, cpu>&, const Tensor<T, cpu>&, const Tensor<T, cpu>*,                \
                                Tensor<T, cpu>&);                                                                  \
  PREFIX void linear_backward_data<T>(const Tensor<T, cpu>&, const Tensor<T, cpu>&, Tensor<T, cpu>&);              \
  PREFIX void linear_backward_weights<T>(const Tensor<T, cpu>&, const Tensor<T, cpu>&, Tensor<T, cpu>&,             \
                                         Tensor<T, cpu>*);

SBGAN_CPU_GEMM_INSTANCES(extern template, float)
SBGAN_CPU_GEMM_INSTANCES(extern template, double)

}  // namespace sbgan::kernels
