#pragma once
// The layer concept.
//
// A layer L has
//   L::value_type, L::backend, L::tensor      the scalar, backend tag, tensor type
//   L::context                                what forward keeps for backward; has `output`
//   forward(x) -> context
//   backward(ctx, dy, dx, grads)              dx += Jₓᵀ·dy; with ParamGrads::accumulate,
//                                             every parameter's grad += J_θᵀ·dy
//   visit_parameters(f)                       f(name, Parameter&) for each parameter,
//                                             names hierarchical ("0.weight")
// A second-order layer (anything that may sit in a critic with a gradient penalty)
// also has
//   backward_second(ctx, gy, w, dx, dgy, grads)
// which differentiates Q = ⟨Jₓᵀ·gy, w⟩ — the input gradient of the first-order
// pass, paired with a fixed w — and adds ∂Q/∂x into dx, ∂Q/∂gy (= Jₓ·w) into dgy
// and, with ParamGrads::accumulate, ∂Q/∂θ into the parameter grads.
// Gradient-penalty losses constrain their critic with SecondOrderLayer, so a critic
// that cannot be differentiated twice is a compile error, not a wrong result.
//
// Optional:
//   infer(x) -> tensor   the output alone, keeping no context (PyTorch's no_grad
//                        forward); sbgan::infer(layer, x) falls back to
//                        forward(x).output, whose context is dropped on return.
//                        Composites implement it so that each part's context goes
//                        as soon as the next part has its input.
//   static constexpr bool backward_reads_output = false;
//                        backward and backward_second read only ctx.output's
//                        shape, so a composite may release the output's storage
//                        once the next layer has run (the default is true)
// and, for layers with state beyond their parameters:
//   set_training(bool)   forward differs between training and evaluation
//                        (batch statistics, spectral-norm power iterations)
//   visit_buffers(f)     f(name, Tensor&) for non-trainable state that checkpoints
//                        keep (running statistics, the spectral-norm u vector),
//                        named as PyTorch names its buffers
#include <concepts>
#include <string_view>

#include "sbgan/core/parameter.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan {

// Whether a backward pass adds parameter gradients. skip is for passes whose
// parameter gradient is not wanted: G's step through a frozen D, the inner
// gradient of a penalty.
enum class ParamGrads { accumulate, skip };

// The scalar, backend and tensor aliases every layer declares.
template <class T, class B>
struct layer_types {
  using value_type = T;
  using backend = B;
  using tensor = Tensor<T, B>;
};

namespace detail {
struct any_parameter_visitor {
  template <class P>
  void operator()(std::string_view, P&) const {}
};
}  // namespace detail

template <class L>
concept Layer =
    requires {
      typename L::value_type;
      typename L::backend;
      typename L::tensor;
      typename L::context;
    } &&
    requires(L& layer, const typename L::tensor& x, const typename L::context& ctx, typename L::tensor& dx) {
      { layer.forward(x) } -> std::same_as<typename L::context>;
      { ctx.output } -> std::convertible_to<const typename L::tensor&>;
      layer.backward(ctx, x, dx, ParamGrads::accumulate);
      layer.visit_parameters(detail::any_parameter_visitor{});
    };

template <class L>
concept SecondOrderLayer =
    Layer<L> && requires(L& layer, const typename L::context& ctx, const typename L::tensor& t,
                         typename L::tensor& dx, typename L::tensor& dgy) {
      layer.backward_second(ctx, t, t, dx, dgy, ParamGrads::accumulate);
    };

namespace detail {
struct any_buffer_visitor {
  template <class Tensor>
  void operator()(std::string_view, Tensor&) const {}
};
}  // namespace detail

template <class L>
concept HasTrainingMode = requires(L& layer) { layer.set_training(true); };

template <class L>
concept HasBuffers = requires(L& layer) { layer.visit_buffers(detail::any_buffer_visitor{}); };

// Switches a layer (and, for composites, everything inside it) between training
// and evaluation; a no-op for layers that behave the same in both.
template <class L>
void set_training(L& layer, bool training) {
  if constexpr (HasTrainingMode<L>) layer.set_training(training);
}

// The output without a context: layer.infer(x) where the layer has it, else the
// forward's output (the same values, and the same updates of running statistics
// and spectral-norm vectors as a forward in the same mode).
template <Layer L>
typename L::tensor infer(L& layer, const typename L::tensor& x) {
  if constexpr (requires { { layer.infer(x) } -> std::same_as<typename L::tensor>; })
    return layer.infer(x);
  else
    return layer.forward(x).output;
}

// Whether L's backward passes read the elements of ctx.output; layers that say
// nothing are assumed to.
template <class L>
constexpr bool backward_reads_output() {
  if constexpr (requires { L::backward_reads_output; })
    return L::backward_reads_output;
  else
    return true;
}

// Visits a layer's buffers; a no-op for layers without any.
template <class L, class F>
void visit_buffers(L& layer, F&& f) {
  if constexpr (HasBuffers<L>) layer.visit_buffers(f);
}

}  // namespace sbgan
