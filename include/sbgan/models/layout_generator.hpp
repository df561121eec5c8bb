#pragma once
// LayoutGenerator: G_SB as one model (reference §3): z ~ N(0, I) -> the progressive
// layout generator's softmax p [N, K, h, w] -> the straight-through Gumbel-softmax
// sampler -> a one-hot layout.
//
// Modes (LayoutSampling):
//   sample     Gumbel noise, hard one-hot forward, soft (straight-through) backward:
//              what D_SB and the image losses see during training;
//   inference  one-hot(argmax p), no noise, no gradient: the reference's
//              inferenceSampler (test, D2 pre-training).
// set_training(true/false) selects sample/inference; set_sampling picks one
// explicitly. The context keeps p (the reference's FID feeds the soft map to SPADE).
//
// A Layer over z: forward(z) -> context with `output` the one-hot layout,
// backward(ctx, d_layout, dz, grads). Parameter names are the ProGAN generator's
// (blocks.0.fc1.weight, ...); the sampler has none. The Gumbel noise comes from the
// sampler's own Generator (sampler().generator() is its checkpoint state).
#include <string>
#include <utility>

#include "sbgan/blocks/progan_generator.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/gumbel_softmax.hpp"

namespace sbgan {

enum class LayoutSampling { sample, inference };

template <class T, class B = cpu, PixelNormForm Form = PixelNormForm::official>
class LayoutGenerator : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  using network_type = ProgressiveLayoutGenerator<T, B, Form>;
  using sampler_type = GumbelSoftmaxST<T, B>;

  struct context {
    typename network_type::context network;  // network.output is p, the softmax
    typename sampler_type::context sampler;
    LayoutSampling sampling = LayoutSampling::sample;
    tensor output;                           // the one-hot layout
    [[nodiscard]] const tensor& probabilities() const { return network.output; }
  };

  // Weights from `init`; the Gumbel noise from its own generator `noise`.
  LayoutGenerator(const ProgressiveLayoutGeneratorOptions& network, Generator& init, Generator noise,
                  const GumbelSoftmaxOptions& sampler = {})
      : network_(network, init), sampler_(noise, sampler) {}

  network_type& network() { return network_; }
  sampler_type& sampler() { return sampler_; }
  [[nodiscard]] index_t latent() const { return network_.options().latent; }
  [[nodiscard]] index_t classes() const { return network_.options().classes; }

  [[nodiscard]] LayoutSampling sampling() const {
    return sampler_.mode() == GumbelSoftmaxMode::sample ? LayoutSampling::sample : LayoutSampling::inference;
  }
  void set_sampling(LayoutSampling s) {
    sampler_.set_mode(s == LayoutSampling::sample ? GumbelSoftmaxMode::sample : GumbelSoftmaxMode::argmax);
  }
  void set_training(bool training) { set_sampling(training ? LayoutSampling::sample : LayoutSampling::inference); }

  // z ~ N(0, I), [batch, latent], from `g`.
  tensor sample_latent(index_t batch, Generator& g) const {
    if (batch < 1) throw error(describe() + ": batch must be positive, got " + std::to_string(batch));
    return g.normal<T, B>(Shape{batch, latent()});
  }

  context forward(const tensor& z) {
    context ctx;
    ctx.network = network_.forward(z);
    ctx.sampler = sampler_.forward(ctx.network.output);
    ctx.sampling = sampling();
    ctx.output = ctx.sampler.output;
    return ctx;
  }

  // dz += ∂⟨layout, d_layout⟩/∂z through the straight-through gradient; needs a
  // sample-mode forward.
  void backward(const context& ctx, const tensor& d_layout, tensor& dz, ParamGrads grads) {
    if (ctx.sampling != LayoutSampling::sample)
      throw error(describe() + ": backward needs a sample-mode forward; an inference layout has no gradient");
    tensor dp = zeros_like(ctx.network.output);
    sampler_.backward(ctx.sampler, d_layout, dp, grads);
    network_.backward(ctx.network, dp, dz, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    network_.visit_parameters(std::forward<F>(f));
  }

  [[nodiscard]] std::string describe() const { return "LayoutGenerator(" + network_.describe() + ")"; }

 private:
  network_type network_;
  sampler_type sampler_;
};

}  // namespace sbgan
