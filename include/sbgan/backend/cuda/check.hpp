#pragma once
// CUDA runtime calls checked once, in one place: a failure becomes a
// backend_error naming the call and the runtime's own message.
#include <cuda_runtime_api.h>

#include <string>

#include "sbgan/core/error.hpp"

namespace sbgan::cuda_detail {

inline void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw backend_error(std::string("CUDA: ") + call + " failed: " + cudaGetErrorString(status));
}

}  // namespace sbgan::cuda_detail

#define SBGAN_CUDA_CHECK(call) ::sbgan::cuda_detail::check((call), #call)
