#pragma once
// The ProGAN fade-in: while a new resolution is introduced, the network's output
// (generator) or its features entering the old blocks (critic) are the blend
//   (1 − α)·coarse + α·fine
// of the old path (resampled) and the new block's path, α rising from 0 to 1.
// The blend is linear in both inputs: its backward scales the gradient by 1 − α
// and α, and in a second-order pass each branch takes the gradient scaled the same
// way (the branches themselves are not linear and keep their own terms).
#include <string>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/factories.hpp"

namespace sbgan {

struct FadeIn {
  // Throws unless 0 ≤ α ≤ 1.
  static void check_alpha(double alpha, const std::string& who) {
    if (!(alpha >= 0.0 && alpha <= 1.0)) throw error(who + ": fade-in alpha must be in [0, 1], got " + std::to_string(alpha));
  }

  // (1 − α)·coarse + α·fine, in a new tensor.
  template <class T, class B>
  static Tensor<T, B> blend(T alpha, const Tensor<T, B>& coarse, const Tensor<T, B>& fine) {
    Tensor<T, B> out = zeros_like(fine);
    kernels::axpy(T(1) - alpha, coarse, out);
    kernels::axpy(alpha, fine, out);
    return out;
  }

  // The gradient of one branch: weight·dy (α for the fine one, 1 − α for the coarse one).
  template <class T, class B>
  static Tensor<T, B> branch_gradient(T weight, const Tensor<T, B>& dy) {
    Tensor<T, B> g = zeros_like(dy);
    kernels::axpy(weight, dy, g);
    return g;
  }
};

}  // namespace sbgan
