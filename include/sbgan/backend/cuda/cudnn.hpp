#pragma once
// cuDNN plumbing for the convolutions: status checks that become backend_error,
// one handle per host thread bound to that thread's stream, and owning
// descriptors.
//
// cuDNN 9 marks this (legacy, descriptor-based) API deprecated in favour of its
// graph API, but still ships it in libcudnn_cnn / libcudnn_ops; the deprecation
// attributes only warn when CUDNN_WARN_DEPRECATED is defined.
#include <cudnn.h>

#include <climits>
#include <string>
#include <type_traits>

#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/shape.hpp"

namespace sbgan::cuda_detail {

inline void cudnn_check(cudnnStatus_t status, const char* call) {
  if (status != CUDNN_STATUS_SUCCESS)
    throw backend_error(std::string("cuDNN: ") + call + " failed: " + cudnnGetErrorString(status));
}

}  // namespace sbgan::cuda_detail

#define SBGAN_CUDNN_CHECK(call) ::sbgan::cuda_detail::cudnn_check((call), #call)

namespace sbgan::cuda_detail {

// cuDNN takes int dimensions.
[[nodiscard]] inline int cudnn_dim(index_t value, const char* what) {
  if (value < 0 || value > INT_MAX)
    throw backend_error(std::string("cuDNN: ") + what + " " + std::to_string(value) + " does not fit in an int");
  return static_cast<int>(value);
}

template <class T>
constexpr cudnnDataType_t cudnn_data_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "cuDNN kernels exist for float and double");
  return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

// This thread's handle, on this thread's stream. Never destroyed, like the stream
// (stream.hpp says why).
[[nodiscard]] inline cudnnHandle_t cudnn_handle() {
  thread_local cudnnHandle_t handle = [] {
    const cudaStream_t s = stream();
    cudnnHandle_t created = nullptr;
    SBGAN_CUDNN_CHECK(cudnnCreate(&created));
    SBGAN_CUDNN_CHECK(cudnnSetStream(created, s));
    return created;
  }();
  return handle;
}

// An NCHW tensor descriptor (a bias is [1, C, 1, 1]).
class TensorDescriptor {
 public:
  TensorDescriptor(cudnnDataType_t type, index_t n, index_t c, index_t h, index_t w) {
    SBGAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
    try {
      SBGAN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, type, cudnn_dim(n, "batch"),
                                                   cudnn_dim(c, "channels"), cudnn_dim(h, "height"),
                                                   cudnn_dim(w, "width")));
    } catch (...) {
      cudnnDestroyTensorDescriptor(desc_);
      throw;
    }
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  [[nodiscard]] cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// A [C_out, C_in, kH, kW] filter descriptor.
class FilterDescriptor {
 public:
  FilterDescriptor(cudnnDataType_t type, index_t out, index_t in, index_t kh, index_t kw) {
    SBGAN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
    try {
      SBGAN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NCHW, cudnn_dim(out, "output channels"),
                                                   cudnn_dim(in, "input channels"), cudnn_dim(kh, "kernel height"),
                                                   cudnn_dim(kw, "kernel width")));
    } catch (...) {
      cudnnDestroyFilterDescriptor(desc_);
      throw;
    }
  }
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  [[nodiscard]] cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

// A 2-D cross-correlation (PyTorch's "convolution"), computed in the data type.
class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor(cudnnDataType_t type, index_t pad_h, index_t pad_w, index_t stride_h, index_t stride_w,
                        cudnnMathType_t math) {
    SBGAN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
    try {
      SBGAN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, cudnn_dim(pad_h, "padding"), cudnn_dim(pad_w, "padding"),
                                                        cudnn_dim(stride_h, "stride"), cudnn_dim(stride_w, "stride"),
                                                        1, 1, CUDNN_CROSS_CORRELATION, type));
      SBGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math));
    } catch (...) {
      cudnnDestroyConvolutionDescriptor(desc_);
      throw;
    }
  }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  [[nodiscard]] cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

}  // namespace sbgan::cuda_detail
