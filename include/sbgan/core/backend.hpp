#pragma once
// Backend tags. Every tensor and layer is templated on one of these; kernels are
// overloaded on the tag, so a layer written once runs wherever its kernels exist.
#include <concepts>
#include <string_view>

namespace sbgan {

struct cpu {
  static constexpr std::string_view name = "cpu";
};

struct cuda {
  static constexpr std::string_view name = "cuda";
};

template <class B>
concept Backend = std::same_as<B, cpu> || std::same_as<B, cuda>;

// Scalars the library computes in. double exists for gradient checks (CPU only).
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

}  // namespace sbgan
