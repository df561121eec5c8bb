#pragma once
// 2-D convolution on the GPU with cuDNN, with the contracts of the CPU kernels
// (sbgan/backend/cpu/conv2d.hpp), which cuDNN's alpha/beta express directly:
//   forward:          y  = W ⋆ x + b            (assigns y: beta = 0, y is not read)
//   backward_data:    dx += Wᵀ ⋆ dy            (beta = 1)
//   backward_weights: dW += dy ⋆ x, db += Σ dy (beta = 1; dbias may be null)
// The second-order passes of the convolution layers (layers/conv2d.hpp,
// layers/equalized_conv2d.hpp) are written with these same three operations, so
// they run on the GPU with nothing more here.
//
// The algorithm of each (direction, data type, shapes, window) is measured once
// (cudnnFind*AlgorithmEx) and kept with its descriptors in a plan; later calls
// only run it. The search prefers deterministic algorithms (no atomics: the same
// inputs give bit-identical gradients) and needs at most conv_workspace_limit of
// workspace, taken straight from the device for the search; each call's own
// workspace comes from the caching allocator. Float convolutions are restricted to FMA math: CUDNN_DEFAULT_MATH
// lets cuDNN use TF32 tensor cores on Ampere and later, whose 10-bit mantissas
// would break parity with the CPU.
#include <cudnn.h>

#include <algorithm>
#include <compare>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sbgan/backend/cuda/cudnn.hpp"
#include "sbgan/backend/cuda/memory.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::cuda_detail {

// The most workspace one convolution may use; algorithms needing more are not tried.
inline constexpr std::size_t conv_workspace_limit = std::size_t{1} << 30;

enum class ConvDirection { forward, backward_data, backward_weights };

// Everything the algorithm choice depends on (one device per process is assumed).
struct ConvKey {
  ConvDirection direction;
  cudnnDataType_t type;
  index_t n, in_c, h, w, out_c, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;

  auto operator<=>(const ConvKey&) const = default;

  [[nodiscard]] std::string str() const {
    static constexpr const char* names[] = {"forward", "backward data", "backward weights"};
    return std::string(names[static_cast<int>(direction)]) + " of input " + Shape{n, in_c, h, w}.str() + " to " +
           std::to_string(out_c) + " channels, " +
           Window2d{kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w}.str() +
           (type == CUDNN_DATA_FLOAT ? ", float" : ", double");
  }
};

template <class T>
[[nodiscard]] ConvKey conv_key(ConvDirection direction, const Shape& x, index_t out_channels, const Window2d& g) {
  return {direction,     cudnn_data_type<T>(), x.n(),      x.c(),      x.h(),      x.w(),   out_channels,
          g.out_h(x.h()), g.out_w(x.w()),      g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.pad_h,
          g.pad_w};
}

// Descriptors and the chosen algorithm of one key. Read-only once built, so one
// plan serves every thread (each with its own handle).
struct ConvPlan {
  explicit ConvPlan(const ConvKey& k)
      : x(k.type, k.n, k.in_c, k.h, k.w),
        y(k.type, k.n, k.out_c, k.out_h, k.out_w),
        bias(k.type, 1, k.out_c, 1, 1),
        weight(k.type, k.out_c, k.in_c, k.kernel_h, k.kernel_w),
        conv(k.type, k.pad_h, k.pad_w, k.stride_h, k.stride_w,
             k.type == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH),
        x_count(k.n * k.in_c * k.h * k.w),
        y_count(k.n * k.out_c * k.out_h * k.out_w),
        weight_count(k.out_c * k.in_c * k.kernel_h * k.kernel_w) {}

  TensorDescriptor x, y, bias;
  FilterDescriptor weight;
  ConvolutionDescriptor conv;
  index_t x_count, y_count, weight_count;
  int algorithm = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by direction
  std::size_t workspace_bytes = 0;
};

// Plans by key, built on first use. Never destroyed (as caching_allocator()):
// destroying descriptors after the runtime has shut down is not safe.
class ConvPlanCache {
 public:
  template <class Build>
  const ConvPlan& get(const ConvKey& key, Build build) {
    {
      std::lock_guard lock(mutex_);
      if (const auto found = plans_.find(key); found != plans_.end()) return *found->second;
    }
    // Measured without the lock: it takes milliseconds. A plan that another thread
    // built meanwhile wins; ours is dropped.
    std::unique_ptr<ConvPlan> plan = build();
    std::lock_guard lock(mutex_);
    return *plans_.try_emplace(key, std::move(plan)).first->second;
  }

 private:
  std::mutex mutex_;
  std::map<ConvKey, std::unique_ptr<ConvPlan>> plans_;
};

[[nodiscard]] inline ConvPlanCache& conv_plans() {
  static auto* const cache = new ConvPlanCache;
  return *cache;
}

// Device scratch memory for cuDNN, from the caching allocator (stream-ordered, so
// it may go back to the cache as soon as the call is queued).
struct Workspace {
  explicit Workspace(std::size_t size)
      : block(memory<cuda>::allocate<unsigned char>(static_cast<index_t>(size))), bytes(size) {}
  [[nodiscard]] void* get() const { return block.get(); }
  std::shared_ptr<unsigned char[]> block;
  std::size_t bytes;
};

// The workspace of an algorithm search: the largest any algorithm needs within the
// limit. Straight from the device and back, not through the cache: it can be
// large and is needed once. Without that much memory the search still measures
// the algorithms that need none.
class SearchWorkspace {
 public:
  template <class SizeOf>
  SearchWorkspace(int algorithm_count, SizeOf size_of) {
    std::size_t largest = 0;
    for (int algorithm = 0; algorithm < algorithm_count; ++algorithm) {
      std::size_t size = 0;
      if (size_of(algorithm, size) == CUDNN_STATUS_SUCCESS && size <= conv_workspace_limit)
        largest = std::max(largest, size);
    }
    if (largest == 0) return;
    if (cudaMalloc(&block_, largest) != cudaSuccess) {
      cudaGetLastError();  // not sticky; clear it
      cuda_empty_cache();
      if (cudaMalloc(&block_, largest) != cudaSuccess) {
        cudaGetLastError();
        block_ = nullptr;
        return;
      }
    }
    bytes_ = largest;
  }
  ~SearchWorkspace() {
    if (!block_) return;
    cudaStreamSynchronize(stream());  // the trials ran on it
    cudaFree(block_);
  }
  SearchWorkspace(const SearchWorkspace&) = delete;
  SearchWorkspace& operator=(const SearchWorkspace&) = delete;
  [[nodiscard]] void* get() const { return block_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  void* block_ = nullptr;
  std::size_t bytes_ = 0;
};

// cuDNN lists the measured algorithms fastest first. The fastest that succeeded,
// fits the workspace and computes in full precision wins, deterministic ones
// first (the same inputs then give bit-identical results run to run).
template <class Perf>
[[nodiscard]] const Perf& fastest_algorithm(const std::vector<Perf>& results, int returned, std::size_t workspace,
                                            const ConvKey& key) {
  for (const bool deterministic_only : {true, false})
    for (int i = 0; i < returned; ++i) {
      const Perf& p = results[static_cast<std::size_t>(i)];
      if (p.status != CUDNN_STATUS_SUCCESS || p.memory > workspace) continue;
      if (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
      if (deterministic_only && p.determinism != CUDNN_DETERMINISTIC) continue;
      return p;
    }
  throw backend_error("cuDNN: no algorithm computes the convolution " + key.str());
}

template <class T>
std::unique_ptr<ConvPlan> find_forward(const ConvKey& key, const T* x, const T* weight) {
  auto plan = std::make_unique<ConvPlan>(key);
  const cudnnHandle_t handle = cudnn_handle();
  const SearchWorkspace workspace(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, [&](int a, std::size_t& bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(handle, plan->x.get(), plan->weight.get(), plan->conv.get(),
                                                   plan->y.get(), static_cast<cudnnConvolutionFwdAlgo_t>(a), &bytes);
  });
  const auto scratch_y = memory<cuda>::allocate<T>(plan->y_count);  // written by every trial
  int count = 0, returned = 0;
  SBGAN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> results(static_cast<std::size_t>(count));
  SBGAN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
      handle, plan->x.get(), x, plan->weight.get(), weight, plan->conv.get(), plan->y.get(), scratch_y.get(), count,
      &returned, results.data(), workspace.get(), workspace.bytes()));
  const auto& best = fastest_algorithm(results, returned, workspace.bytes(), key);
  plan->algorithm = static_cast<int>(best.algo);
  plan->workspace_bytes = best.memory;
  return plan;
}

template <class T>
std::unique_ptr<ConvPlan> find_backward_data(const ConvKey& key, const T* dy, const T* weight) {
  auto plan = std::make_unique<ConvPlan>(key);
  const cudnnHandle_t handle = cudnn_handle();
  const SearchWorkspace workspace(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, [&](int a, std::size_t& bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, plan->weight.get(), plan->y.get(),
                                                            plan->conv.get(), plan->x.get(),
                                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(a), &bytes);
      });
  // The trials overwrite their output, and dx accumulates: they write a scratch copy.
  const auto scratch_dx = memory<cuda>::allocate<T>(plan->x_count);
  int count = 0, returned = 0;
  SBGAN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> results(static_cast<std::size_t>(count));
  SBGAN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
      handle, plan->weight.get(), weight, plan->y.get(), dy, plan->conv.get(), plan->x.get(), scratch_dx.get(), count,
      &returned, results.data(), workspace.get(), workspace.bytes()));
  const auto& best = fastest_algorithm(results, returned, workspace.bytes(), key);
  plan->algorithm = static_cast<int>(best.algo);
  plan->workspace_bytes = best.memory;
  return plan;
}

template <class T>
std::unique_ptr<ConvPlan> find_backward_weights(const ConvKey& key, const T* x, const T* dy) {
  auto plan = std::make_unique<ConvPlan>(key);
  const cudnnHandle_t handle = cudnn_handle();
  const SearchWorkspace workspace(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, [&](int a, std::size_t& bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, plan->x.get(), plan->y.get(), plan->conv.get(),
                                                              plan->weight.get(),
                                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(a), &bytes);
      });
  // dW accumulates: the trials write a scratch copy.
  const auto scratch_dw = memory<cuda>::allocate<T>(plan->weight_count);
  int count = 0, returned = 0;
  SBGAN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> results(static_cast<std::size_t>(count));
  SBGAN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
      handle, plan->x.get(), x, plan->y.get(), dy, plan->conv.get(), plan->weight.get(), scratch_dw.get(), count,
      &returned, results.data(), workspace.get(), workspace.bytes()));
  const auto& best = fastest_algorithm(results, returned, workspace.bytes(), key);
  plan->algorithm = static_cast<int>(best.algo);
  plan->workspace_bytes = best.memory;
  return plan;
}

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

// y = conv(x, weight) + bias; bias may be null. y must be [N, C_out, H_out, W_out].
template <class T>
void conv2d_forward(const Tensor<T, cuda>& x, const Tensor<T, cuda>& weight, const Tensor<T, cuda>* bias,
                    const Window2d& g, Tensor<T, cuda>& y) {
  using namespace cuda_detail;
  if (y.numel() == 0) return;
  const ConvKey key = conv_key<T>(ConvDirection::forward, x.shape(), weight.shape()[0], g);
  const ConvPlan& plan = conv_plans().get(key, [&] { return find_forward(key, x.data(), weight.data()); });
  const cudnnHandle_t handle = cudnn_handle();
  const Workspace workspace(plan.workspace_bytes);
  const T one = 1, zero = 0;
  SBGAN_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, plan.x.get(), x.data(), plan.weight.get(), weight.data(),
                                            plan.conv.get(), static_cast<cudnnConvolutionFwdAlgo_t>(plan.algorithm),
                                            workspace.get(), workspace.bytes, &zero, plan.y.get(), y.data()));
  if (bias) SBGAN_CUDNN_CHECK(cudnnAddTensor(handle, &one, plan.bias.get(), bias->data(), &one, plan.y.get(), y.data()));
}

// dx += convᵀ(dy, weight)
template <class T>
void conv2d_backward_data(const Tensor<T, cuda>& dy, const Tensor<T, cuda>& weight, const Window2d& g,
                          Tensor<T, cuda>& dx) {
  using namespace cuda_detail;
  if (dx.numel() == 0 || dy.numel() == 0) return;
  const ConvKey key = conv_key<T>(ConvDirection::backward_data, dx.shape(), weight.shape()[0], g);
  const ConvPlan& plan = conv_plans().get(key, [&] { return find_backward_data(key, dy.data(), weight.data()); });
  const Workspace workspace(plan.workspace_bytes);
  const T one = 1;
  SBGAN_CUDNN_CHECK(cudnnConvolutionBackwardData(
      cudnn_handle(), &one, plan.weight.get(), weight.data(), plan.y.get(), dy.data(), plan.conv.get(),
      static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algorithm), workspace.get(), workspace.bytes, &one,
      plan.x.get(), dx.data()));
}

// dweight += dy ⋆ x; dbias += Σ dy over batch and space (dbias may be null).
template <class T>
void conv2d_backward_weights(const Tensor<T, cuda>& x, const Tensor<T, cuda>& dy, const Window2d& g,
                             Tensor<T, cuda>& dweight, Tensor<T, cuda>* dbias) {
  using namespace cuda_detail;
  if (x.numel() == 0 || dy.numel() == 0) return;
  const ConvKey key = conv_key<T>(ConvDirection::backward_weights, x.shape(), dweight.shape()[0], g);
  const ConvPlan& plan = conv_plans().get(key, [&] { return find_backward_weights(key, x.data(), dy.data()); });
  const cudnnHandle_t handle = cudnn_handle();
  const Workspace workspace(plan.workspace_bytes);
  const T one = 1;
  SBGAN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      handle, &one, plan.x.get(), x.data(), plan.y.get(), dy.data(), plan.conv.get(),
      static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algorithm), workspace.get(), workspace.bytes, &one,
      plan.weight.get(), dweight.data()));
  if (dbias)
    SBGAN_CUDNN_CHECK(
        cudnnConvolutionBackwardBias(handle, &one, plan.y.get(), dy.data(), &one, plan.bias.get(), dbias->data()));
}

}  // namespace sbgan::kernels
