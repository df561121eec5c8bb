#pragma once
// Whether a GPU is present, and a clear error when the CUDA backend is asked for
// on a machine without one.
#include <cuda_runtime_api.h>

#include <string>

#include "sbgan/core/error.hpp"

namespace sbgan {

[[nodiscard]] inline int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" status
    return 0;
  }
  return count;
}

[[nodiscard]] inline bool cuda_available() { return cuda_device_count() > 0; }

inline void require_cuda() {
  if (!cuda_available())
    throw backend_error("the CUDA backend was requested, but no CUDA GPU is present (cudaGetDeviceCount found none)");
}

}  // namespace sbgan
