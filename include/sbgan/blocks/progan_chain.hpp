#pragma once
// Composing layers that the ProGAN blocks hold by reference.
// The compositions chain layers that live in different blocks (a block's fromSeg
// head feeds that block; the fade-in feeds the next block's head with the pooled
// layout), which a Sequential, owning its elements, cannot express; and blocks name
// their parts as the reference modules do ("conv1.weight"), not by position.
#include <string>
#include <string_view>

#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan::progan_detail {

// Visits a part's parameters under prefix + its own name ("to_mask." + "weight").
template <class L, class F>
void visit_prefixed(L& part, const std::string& prefix, F& f) {
  part.visit_parameters([&](std::string_view name, auto& p) { f(prefix + std::string(name), p); });
}

// Backward passes through b(a(x)).

// dx += Jₓᵀ·dy through b∘a (and parameter grads, unless skipped).
template <Layer A, Layer L>
void chain_backward(A& a, const typename A::context& ca, L& b, const typename L::context& cb,
                    const typename A::tensor& dy, typename A::tensor& dx, ParamGrads grads) {
  auto g = zeros_like(ca.output);
  b.backward(cb, dy, g, grads);
  a.backward(ca, g, dx, grads);
}

// The second-order pass of b∘a: Sequential's three sweeps for two elements.
template <SecondOrderLayer A, SecondOrderLayer L>
void chain_backward_second(A& a, const typename A::context& ca, L& b, const typename L::context& cb,
                           const typename A::tensor& gy, const typename A::tensor& w, typename A::tensor& dx,
                           typename A::tensor& dgy, ParamGrads grads) {
  // 1. The gradient reaching a's output under gy, without parameter terms.
  auto ga = zeros_like(ca.output);
  b.backward(cb, gy, ga, ParamGrads::skip);
  // 2. a maps w to the cotangent of that gradient (adding its direct terms), b maps
  //    it on to the cotangent of gy, adding its direct x term at a's output.
  auto cotangent = zeros_like(ca.output);
  a.backward_second(ca, ga, w, dx, cotangent, grads);
  auto direct = zeros_like(ca.output);
  b.backward_second(cb, gy, cotangent, direct, dgy, grads);
  // 3. b's direct term reaches x and a's parameters through a's ordinary backward.
  a.backward(ca, direct, dx, grads);
}

}  // namespace sbgan::progan_detail
