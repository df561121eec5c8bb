#pragma once
// Explicit host <-> device copies; nothing moves between backends implicitly.
#include <cuda_runtime_api.h>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan {

template <class T>
Tensor<T, cuda> to_device(const Tensor<T, cpu>& host) {
  Tensor<T, cuda> device(host.shape());
  if (!host.empty())
    SBGAN_CUDA_CHECK(cudaMemcpy(device.data(), host.data(), static_cast<std::size_t>(host.numel()) * sizeof(T),
                                cudaMemcpyHostToDevice));
  return device;
}

template <class T>
Tensor<T, cpu> to_host(const Tensor<T, cuda>& device) {
  Tensor<T, cpu> host(device.shape());
  if (!device.empty())
    SBGAN_CUDA_CHECK(cudaMemcpy(host.data(), device.data(), static_cast<std::size_t>(device.numel()) * sizeof(T),
                                cudaMemcpyDeviceToHost));
  return host;
}

}  // namespace sbgan
