#pragma once
// What the trainer moves between the host and a model's backend. Batches come
// from the host data loaders and sample grids are written from host memory, so a
// model on the CUDA backend gets each batch copied to the device once per step
// (to_device) and its sample tensors copied back (to_host). On the CPU nothing is
// copied: a float batch is handed over as it is, a double model gets a cast.
//
// Host-only code: no kernels are launched here (all_finite on the device is the
// kernels' business), so these helpers compile in g++ and nvcc units alike.
#include <cmath>
#include <optional>
#include <type_traits>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/tensor.hpp"
#if defined(SBGAN_WITH_CUDA)
#include "sbgan/backend/cuda/transfer.hpp"
#endif

namespace sbgan::train {

// A host float tensor as a Tensor<T, B>: the same tensor on the CPU for float,
// a cast for double, one host-to-device copy for the CUDA backend.
template <class T, class B>
Tensor<T, B> to_backend(const Tensor<float, cpu>& host) {
  if constexpr (std::is_same_v<B, cpu>) {
    if constexpr (std::is_same_v<T, float>)
      return host;
    else
      return cast<T>(host);
  } else {
#if defined(SBGAN_WITH_CUDA)
    if constexpr (std::is_same_v<T, float>)
      return to_device(host);
    else
      return to_device(cast<T>(host));
#else
    static_assert(sizeof(T) == 0, "train: a model on the CUDA backend needs SBGAN_WITH_CUDA");
#endif
  }
}

// A tensor of the model's backend as a host float tensor (a fresh copy).
template <class T, class B>
Tensor<float, cpu> to_host_float(const Tensor<T, B>& t) {
  if constexpr (std::is_same_v<B, cpu>) {
    return cast<float>(t);
  } else {
#if defined(SBGAN_WITH_CUDA)
    if constexpr (std::is_same_v<T, float>)
      return to_host(t);
    else
      return cast<float>(to_host(t));
#else
    static_assert(sizeof(T) == 0, "train: a model on the CUDA backend needs SBGAN_WITH_CUDA");
#endif
  }
}

// The first non-finite element of a tensor, if any. On the CPU a plain scan; on
// the CUDA backend a device-side check first (kernels::all_finite), and only a
// tensor that fails it is copied to the host to find the value.
template <class T, class B>
std::optional<double> first_non_finite(const Tensor<T, B>& t) {
  if constexpr (std::is_same_v<B, cpu>) {
    for (const auto v : t)
      if (!std::isfinite(v)) return double(v);
    return std::nullopt;
  } else {
#if defined(SBGAN_WITH_CUDA)
    if (kernels::all_finite(t)) return std::nullopt;
    return first_non_finite(to_host(t));
#else
    static_assert(sizeof(T) == 0, "train: a model on the CUDA backend needs SBGAN_WITH_CUDA");
#endif
  }
}

}  // namespace sbgan::train
