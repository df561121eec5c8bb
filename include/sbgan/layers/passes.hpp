#pragma once
// Whole-layer passes built from the concept's methods, for callers that want a
// fresh gradient rather than one to add into.
#include <utility>

#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

// The input gradient Jₓᵀ·dy (parameter grads accumulate unless told to skip).
template <Layer L>
typename L::tensor input_gradient(L& layer, const typename L::context& ctx, const typename L::tensor& dy,
                                  Shape input_shape, ParamGrads grads = ParamGrads::accumulate) {
  auto dx = zeros<typename L::value_type, typename L::backend>(input_shape);
  layer.backward(ctx, dy, dx, grads);
  return dx;
}

// The result of a second-order pass: ∂Q/∂x and ∂Q/∂gy for Q = ⟨Jₓᵀ·gy, w⟩.
template <class Tensor>
struct SecondOrderGradients {
  Tensor dx;
  Tensor dgy;
};

template <SecondOrderLayer L>
SecondOrderGradients<typename L::tensor> second_order_gradients(L& layer, const typename L::context& ctx,
                                                               const typename L::tensor& gy,
                                                               const typename L::tensor& w,
                                                               ParamGrads grads = ParamGrads::accumulate) {
  using T = typename L::value_type;
  using B = typename L::backend;
  SecondOrderGradients<typename L::tensor> out{zeros<T, B>(w.shape()), zeros<T, B>(gy.shape())};
  layer.backward_second(ctx, gy, w, out.dx, out.dgy, grads);
  return out;
}

// Zeroes every parameter gradient of a layer.
template <Layer L>
void zero_grad(L& layer) {
  layer.visit_parameters([](auto, auto& p) { p.zero_grad(); });
}

}  // namespace sbgan
