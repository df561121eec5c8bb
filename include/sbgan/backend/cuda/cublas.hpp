#pragma once
// cuBLAS plumbing for the fully connected layers: status checks that become
// backend_error, one handle per host thread bound to that thread's stream, and
// row-major GEMM in float and double.
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <string>
#include <type_traits>

#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan::cuda_detail {

inline void cublas_check(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw backend_error(std::string("cuBLAS: ") + call + " failed: " + cublasGetStatusString(status));
}

}  // namespace sbgan::cuda_detail

#define SBGAN_CUBLAS_CHECK(call) ::sbgan::cuda_detail::cublas_check((call), #call)

namespace sbgan::cuda_detail {

// This thread's handle, on this thread's stream, never destroyed (stream.hpp says
// why). CUBLAS_DEFAULT_MATH keeps float GEMMs in full float precision (TF32 only
// with CUBLAS_TF32_TENSOR_OP_MATH), for parity with the CPU.
[[nodiscard]] inline cublasHandle_t cublas_handle() {
  thread_local cublasHandle_t handle = [] {
    const cudaStream_t s = stream();
    cublasHandle_t created = nullptr;
    SBGAN_CUBLAS_CHECK(cublasCreate(&created));
    SBGAN_CUBLAS_CHECK(cublasSetStream(created, s));
    SBGAN_CUBLAS_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));
    return created;
  }();
  return handle;
}

// cuBLAS takes int dimensions.
[[nodiscard]] inline int blas_dim(index_t value) {
  if (value < 0 || value > INT_MAX)
    throw backend_error("cuBLAS: dimension " + std::to_string(value) + " does not fit in an int");
  return static_cast<int>(value);
}

// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n.
// cuBLAS is column-major, and a row-major matrix is its transpose in column-major,
// so this computes Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap, the transpose flags stay.
// beta = 0 does not read C.
template <class T>
void gemm_row_major(bool transpose_a, bool transpose_b, index_t m, index_t n, index_t k, T alpha, const T* a,
                    const T* b, T beta, T* c) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "cuBLAS GEMMs exist for float and double");
  const int lda = blas_dim(std::max<index_t>(1, transpose_a ? m : k));  // row length of A as stored
  const int ldb = blas_dim(std::max<index_t>(1, transpose_b ? k : n));
  const int ldc = blas_dim(std::max<index_t>(1, n));
  const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if constexpr (std::is_same_v<T, float>)
    SBGAN_CUBLAS_CHECK(cublasSgemm(cublas_handle(), op_b, op_a, blas_dim(n), blas_dim(m), blas_dim(k), &alpha, b, ldb,
                                   a, lda, &beta, c, ldc));
  else
    SBGAN_CUBLAS_CHECK(cublasDgemm(cublas_handle(), op_b, op_a, blas_dim(n), blas_dim(m), blas_dim(k), &alpha, b, ldb,
                                   a, lda, &beta, c, ldc));
}

}  // namespace sbgan::cuda_detail
