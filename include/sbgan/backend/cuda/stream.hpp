#pragma once
// The stream every sbgan CUDA operation runs on: kernel launches, cuDNN, cuBLAS and
// the allocator's reuse decisions all follow this one stream, so work is ordered
// without device-wide synchronisation.
//
// It is a *blocking* stream (cudaStreamCreate, not cudaStreamNonBlocking): it
// synchronises with the legacy default stream, so plain cudaMemcpy calls of user
// code stay correctly ordered with our kernels.
#include <cuda_runtime_api.h>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/device.hpp"

namespace sbgan::cuda_detail {

// Created on first use, one per host thread (a thread's work stays in order; two
// threads driving two models do not serialise on one queue). Never destroyed: the
// runtime releases it at exit, and destroying it from a thread_local destructor
// after the runtime has shut down would fail.
[[nodiscard]] inline cudaStream_t stream() {
  thread_local cudaStream_t s = [] {
    require_cuda();
    cudaStream_t created = nullptr;
    SBGAN_CUDA_CHECK(cudaStreamCreate(&created));
    return created;
  }();
  return s;
}

// Waits until everything queued on this thread's stream has finished.
inline void synchronize() { SBGAN_CUDA_CHECK(cudaStreamSynchronize(stream())); }

}  // namespace sbgan::cuda_detail
