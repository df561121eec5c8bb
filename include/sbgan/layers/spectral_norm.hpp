#pragma once
// SpectralNorm<L>: torch.nn.utils.spectral_norm over the weight of any layer L that
// exposes `Parameter& weight()` (Conv2d, Linear, EqualizedConv2d, ...).
//
// W = weight_orig viewed as [out, rest] (dim 0). A training forward first runs the
// power iterations (default one) on the persistent buffers,
//   v = normalize(Wᵀu),  u = normalize(W·v),   normalize(z) = z / max(‖z‖, ε),
// then σ = uᵀ·W·v and the wrapped layer runs with Ŵ = W/σ. An evaluation forward
// skips the iterations and uses the stored u, v. Gradients treat u, v as constants,
// as PyTorch does (they are computed under no_grad): dσ/dW = u·vᵀ, so
//   dW = (dŴ − ⟨dŴ, Ŵ⟩·u·vᵀ) / σ.
// The second-order pass is the wrapped layer's, with its weight term mapped by the
// same formula: with u, v fixed, Ŵ(W) is a fixed map and Q depends on W only through Ŵ.
//
// The weight is divided, not the output: it works for any wrapped layer (biases,
// equalized-learning-rate scales), and it costs O(weight) per forward, the same as
// the power iteration and far less than the layer itself (once per pass).
//
// Ŵ and dŴ exist only during a pass: a context keeps σ, u and v, and backward
// derives Ŵ = W·(1/σ) again, bit-identical to forward's while W is unchanged (as
// the wrapped layer's own backward assumes of its weight). Keeping them would
// double the weight memory of a spectrally normalized model (two more copies of
// W: 534 MB in the SPADE generator at ngf 64). Passes in flight stay independent:
// each has its own σ, u, v.
//
// Names as PyTorch's state dict: parameter "weight_orig" (plus the layer's others,
// e.g. "bias"), buffers "weight_u" and "weight_v". Between passes the wrapped
// layer's weight slot views W itself.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

struct SpectralNormOptions {
  int power_iterations = 1;
  double eps = 1e-12;
};

template <Layer L>
  requires requires(L& layer) {
    { layer.weight() } -> std::same_as<Parameter<typename L::value_type, typename L::backend>&>;
  }
class SpectralNorm : public layer_types<typename L::value_type, typename L::backend> {
 public:
  using T = typename L::value_type;
  using B = typename L::backend;
  using tensor = Tensor<T, B>;
  struct context {
    typename L::context inner;
    tensor u, v;  // the vectors σ was computed with
    double sigma = 1;
    tensor output;
  };
  static constexpr bool backward_reads_output = sbgan::backward_reads_output<L>();

  // u and v start as normalized normal draws from `init`, as PyTorch's do.
  SpectralNorm(L layer, Generator& init, const SpectralNormOptions& options = {})
      : layer_(std::move(layer)), options_(options) {
    if (options.power_iterations < 0 || !(options.eps > 0))
      throw error("SpectralNorm: power_iterations must be non-negative and eps positive");
    Parameter<T, B>& w = layer_.weight();
    if (w.value.shape().rank() < 1 || w.value.numel() == 0) throw error("SpectralNorm: the wrapped layer has no weight");
    const index_t rows = w.value.shape()[0];
    weight_orig_.value = w.value;
    weight_orig_.grad = w.grad;
    u_ = init.normal<T, B>(Shape{rows});
    v_ = init.normal<T, B>(Shape{w.value.numel() / rows});
    normalize(u_);
    normalize(v_);
    // The wrapped layer's gradient slot holds a pass's dŴ only during backward.
    w.grad = tensor();
  }

  [[nodiscard]] bool training() const { return training_; }
  void set_training(bool training) {
    training_ = training;
    sbgan::set_training(layer_, training);
  }

  [[nodiscard]] const SpectralNormOptions& options() const { return options_; }
  L& inner() { return layer_; }
  Parameter<T, B>& weight_orig() { return weight_orig_; }
  tensor& u() { return u_; }
  tensor& v() { return v_; }
  // σ = uᵀ·W·v for the current weight and buffers (what an evaluation forward uses).
  [[nodiscard]] double sigma() const { return kernels::spectral_sigma(weight_orig_.value, u_, v_); }

  context forward(const tensor& x) {
    context ctx;
    ctx.u = u_;
    ctx.v = v_;
    if (training_) advance_power_iteration(ctx.u, ctx.v);
    ctx.sigma = kernels::spectral_sigma(weight_orig_.value, ctx.u, ctx.v);
    {
      weight_swap swap(layer_.weight().value, normalized_weight(ctx.sigma));
      try {
        ctx.inner = layer_.forward(x);
      } catch (const shape_error& e) {
        throw shape_error("SpectralNorm: " + std::string(e.what()));
      }
    }
    // Commit the updated buffers only once the pass has been accepted.
    u_ = ctx.u;
    v_ = ctx.v;
    ctx.output = ctx.inner.output;
    if constexpr (!backward_reads_output) ctx.inner.output.release_storage();  // one handle is enough
    return ctx;
  }

  // The output alone (PyTorch's forward under no_grad): a training-mode call still
  // advances u and v, as forward does, but Ŵ lives only for this call and the
  // wrapped layer's weight slot is left as it was.
  tensor infer(const tensor& x) {
    tensor u = u_, v = v_;
    if (training_) advance_power_iteration(u, v);
    tensor weight = normalized_weight(kernels::spectral_sigma(weight_orig_.value, u, v));
    tensor output;
    {
      weight_swap swap(layer_.weight().value, weight);
      try {
        output = sbgan::infer(layer_, x);
      } catch (const shape_error& e) {
        throw shape_error("SpectralNorm: " + std::string(e.what()));
      }
    }
    u_ = u;
    v_ = v;
    return output;
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    with_pass_weight(ctx, grads, [&] { layer_.backward(ctx.inner, dy, dx, grads); });
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                       ParamGrads grads)
    requires SecondOrderLayer<L>
  {
    with_pass_weight(ctx, grads, [&] { layer_.backward_second(ctx.inner, gy, w, dx, dgy, grads); });
  }

  template <class F>
  void visit_parameters(F&& f) {
    const void* wrapped_weight = &layer_.weight();
    layer_.visit_parameters([&](std::string_view name, auto& p) {
      if (static_cast<const void*>(&p) == wrapped_weight)
        f("weight_orig", weight_orig_);
      else
        f(name, p);
    });
  }

  template <class F>
  void visit_buffers(F&& f) {
    f("weight_u", u_);
    f("weight_v", v_);
    sbgan::visit_buffers(layer_, f);
  }

  [[nodiscard]] std::string describe() const { return "SpectralNorm(" + layer_.describe() + ")"; }

 private:
  // Points the wrapped layer's weight at a pass's Ŵ and restores the previous one
  // on scope exit (also when the wrapped layer throws), unless told to keep it.
  class weight_swap {
   public:
    weight_swap(tensor& slot, const tensor& value) : slot_(slot), saved_(slot) { slot_ = value; }
    ~weight_swap() { slot_ = saved_; }
    weight_swap(const weight_swap&) = delete;
    weight_swap& operator=(const weight_swap&) = delete;

   private:
    tensor& slot_;
    tensor saved_;
  };

  // Runs a backward pass of the wrapped layer with the pass's Ŵ in its weight slot
  // and, for parameter gradients, a zeroed dŴ in its gradient slot, then maps dŴ
  // to dW. Both live only for the call.
  template <class F>
  void with_pass_weight(const context& ctx, ParamGrads grads, F&& run) {
    Parameter<T, B>& slot = layer_.weight();
    weight_swap value(slot.value, normalized_weight(ctx.sigma));
    if (grads == ParamGrads::skip) {
      run();
      return;
    }
    weight_swap grad(slot.grad, zeros<T, B>(slot.value.shape()));
    run();
    kernels::spectral_norm_backward(slot.grad, slot.value, ctx.u, ctx.v, ctx.sigma, weight_orig_.grad);
  }

  // The training forward's power iterations, from (u, v) into fresh vectors.
  void advance_power_iteration(tensor& u, tensor& v) const {
    for (int i = 0; i < options_.power_iterations; ++i) {
      tensor u_next(u_.shape()), v_next(v_.shape());
      kernels::spectral_power_iteration(weight_orig_.value, u, static_cast<T>(options_.eps), u_next, v_next);
      u = u_next;
      v = v_next;
    }
  }

  tensor normalized_weight(double sigma) const {
    tensor w = clone(weight_orig_.value);
    kernels::scale(w, static_cast<T>(1.0 / sigma));
    return w;
  }

  void normalize(tensor& t) const {
    const double norm = std::sqrt(kernels::dot(t, t));
    kernels::scale(t, static_cast<T>(1.0 / std::max(norm, options_.eps)));
  }

  L layer_;
  SpectralNormOptions options_;
  bool training_ = true;  // PyTorch modules start in training mode
  Parameter<T, B> weight_orig_;
  tensor u_, v_;
};

}  // namespace sbgan
