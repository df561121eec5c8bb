#pragma once
// ReLU: the leaky ReLU with slope 0 (same kernels, same second-order pass).
#include "sbgan/layers/leaky_relu.hpp"

namespace sbgan {

template <class T, class B = cpu>
class ReLU : public LeakyReLU<T, B> {
 public:
  ReLU() : LeakyReLU<T, B>(T(0)) {}
  [[nodiscard]] std::string describe() const { return "ReLU"; }
};

}  // namespace sbgan
