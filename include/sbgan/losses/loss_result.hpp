#pragma once
// What a loss returns: its value, in double, and its gradient with respect to each
// of its inputs, as fresh tensors. The caller back-propagates a gradient into the
// network that produced the input with that network's backward().
#include <vector>

#include "sbgan/core/tensor.hpp"

namespace sbgan {

// A loss of one tensor (a prediction map).
template <class T, class B = cpu>
struct LossGradient {
  double value = 0;
  Tensor<T, B> grad;  // ∂loss/∂input, shaped like the input
};

// A loss of one tensor per discriminator scale.
template <class T, class B = cpu>
struct MultiscaleLossGradient {
  double value = 0;
  std::vector<Tensor<T, B>> grads;  // grads[i] = ∂loss/∂(scale i's input)
};

// A loss of the critic's outputs on real and on fake data.
template <class T, class B = cpu>
struct PairLossGradient {
  double value = 0;
  Tensor<T, B> grad_real;  // ∂loss/∂D(real)
  Tensor<T, B> grad_fake;  // ∂loss/∂D(fake)
};

// What a gradient penalty returns. Its gradient with respect to the critic's
// parameters is not here: the penalty adds it into their grads.
template <class T, class B = cpu>
struct PenaltyResult {
  double value = 0;                    // the weighted penalty, as it enters the critic's loss
  std::vector<double> gradient_norms;  // ‖∇ₓD(x)‖ per sample, at the points penalised
  Tensor<T, B> alpha;                  // WGAN-GP: the interpolation weight of each sample, [N]
  Tensor<T, B> grad_real;              // ∂value/∂real, when asked for; empty otherwise
  Tensor<T, B> grad_fake;              // WGAN-GP: ∂value/∂fake, when asked for; empty otherwise
};

}  // namespace sbgan
