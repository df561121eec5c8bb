#pragma once
// PatchDiscriminator: SPADE's NLayerDiscriminator, which returns every stage's
// output (the intermediate features feed feature matching; the last is the patch
// prediction map).
//
//   model0           Conv 4x4 stride 2 pad 2 (bias) -> LeakyReLU 0.2
//   model1..L-1      SpectralNorm(Conv 4x4, no bias) -> InstanceNorm -> LeakyReLU 0.2
//   modelL           Conv 4x4 stride 1 pad 2 -> 1 channel (bias)
// Channels double per stage from ndf, capped at 512. Two forms (reference §6.3):
//   official  L = 3, every inner stage stride 2 (the SB-GAN fork);
//   paper     L = 4, the last inner stage stride 1 (SPADE paper, upstream).
// Parameter and buffer names are the reference's ("model1.0.0.weight_orig").
//
// It is a Layer whose output is the prediction, with a second-order pass (for R1
// or gradient penalties on it), and it also takes gradients on any of its
// intermediate features (backward_features).
#include <string>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/layers/conv2d.hpp"
#include "sbgan/layers/instance_norm.hpp"
#include "sbgan/layers/leaky_relu.hpp"
#include "sbgan/layers/sequential.hpp"
#include "sbgan/layers/spectral_norm.hpp"

namespace sbgan {

struct PatchDiscriminatorOptions {
  index_t input_channels = 0;
  index_t ndf = 64;
  int layers = 3;                  // n_layers_D
  bool last_inner_stride_one = false;

  static PatchDiscriminatorOptions official(index_t input_channels, index_t ndf = 64) {
    return {input_channels, ndf, 3, false};
  }
  static PatchDiscriminatorOptions paper(index_t input_channels, index_t ndf = 64) {
    return {input_channels, ndf, 4, true};
  }
};

template <class T, class B = cpu>
class PatchDiscriminator : public layer_types<T, B> {
 public:
  using tensor = Tensor<T, B>;
  using FirstStage = Sequential<Conv2d<T, B>, LeakyReLU<T, B>>;
  using InnerStage = Sequential<Sequential<SpectralNorm<Conv2d<T, B>>, InstanceNorm<T, B>>, LeakyReLU<T, B>>;
  using LastStage = Sequential<Conv2d<T, B>>;
  struct context {
    typename FirstStage::context first;
    std::vector<typename InnerStage::context> inner;
    typename LastStage::context last;
    Shape input_shape;
    std::vector<tensor> features;  // every stage's output; the last is the prediction
    tensor output;
  };

  static constexpr index_t kernel = 4, padding = 2;  // padw = ceil((kw − 1) / 2)

  PatchDiscriminator(const PatchDiscriminatorOptions& options, Generator& init)
      : options_(options),
        first_(Conv2d<T, B>({options.input_channels, options.ndf, kernel, 2, padding}, init), LeakyReLU<T, B>(T(0.2))),
        last_(make_last(options, init)) {
    if (options.layers < 1 || options.input_channels <= 0 || options.ndf <= 0)
      throw error(describe() + ": needs at least one layer and positive channel counts");
    index_t channels = options.ndf;
    for (int n = 1; n < options.layers; ++n) {
      const index_t next = std::min<index_t>(channels * 2, 512);
      const index_t stride = (options.last_inner_stride_one && n == options.layers - 1) ? 1 : 2;
      inner_.push_back(InnerStage(
          Sequential<SpectralNorm<Conv2d<T, B>>, InstanceNorm<T, B>>(
              SpectralNorm<Conv2d<T, B>>(Conv2d<T, B>({channels, next, kernel, stride, padding, false}, init), init),
              InstanceNorm<T, B>()),
          LeakyReLU<T, B>(T(0.2))));
      channels = next;
    }
  }

  [[nodiscard]] const PatchDiscriminatorOptions& options() const { return options_; }
  [[nodiscard]] std::size_t stage_count() const { return inner_.size() + 2; }

  context forward(const tensor& x) {
    context ctx;
    ctx.input_shape = x.shape();
    ctx.inner.resize(inner_.size());
    const tensor* in = &x;
    for (std::size_t s = 0; s < stage_count(); ++s) {
      with_stage(ctx, s, [&](auto& stage, auto& stage_ctx) {
        try {
          stage_ctx = stage.forward(*in);
        } catch (const shape_error& e) {
          throw shape_error(describe() + " stage model" + std::to_string(s) + ": " + e.what());
        }
        ctx.features.push_back(stage_ctx.output);
      });
      in = &ctx.features.back();
    }
    ctx.output = ctx.features.back();
    return ctx;
  }

  // Gradients on any stage outputs: d_features[s] is the gradient on features[s]
  // (an empty tensor for none); all of them are back-propagated together.
  void backward_features(const context& ctx, const std::vector<tensor>& d_features, tensor& dx, ParamGrads grads) {
    if (d_features.size() != stage_count())
      throw error(describe() + ": expected " + std::to_string(stage_count()) + " feature gradients, got " +
                  std::to_string(d_features.size()));
    for (std::size_t s = 0; s < stage_count(); ++s)
      if (!d_features[s].empty()) expect_shape(describe(), "gradient of model" + std::to_string(s), ctx.features[s].shape(), d_features[s].shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    tensor g = d_features.back().empty() ? zeros<T, B>(ctx.output.shape()) : d_features.back();
    for (std::size_t s = stage_count(); s-- > 0;) {
      tensor target = s == 0 ? dx : zeros<T, B>(ctx.features[s - 1].shape());
      with_stage(ctx, s, [&](auto& stage, const auto& stage_ctx) { stage.backward(stage_ctx, g, target, grads); });
      if (s > 0 && !d_features[s - 1].empty()) kernels::axpy(T(1), d_features[s - 1], target);
      g = target;
    }
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    std::vector<tensor> d(stage_count());
    d.back() = dy;
    backward_features(ctx, d, dx, grads);
  }

  // The three sweeps of Sequential::backward_second, over the stages.
  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), gy.shape());
    expect_shape(describe(), "second-order cotangent", ctx.input_shape, w.shape());
    const std::size_t count = stage_count();
    // 1. every stage's input gradient under gy
    std::vector<tensor> g(count + 1);
    g[count] = gy;
    for (std::size_t s = count; s-- > 0;) {
      g[s] = zeros<T, B>(input_shape_of(ctx, s));
      with_stage(ctx, s, [&](auto& stage, const auto& c) { stage.backward(c, g[s + 1], g[s], ParamGrads::skip); });
    }
    // 2. forward sweep of the cotangent, collecting direct x terms (a[0] is dx)
    std::vector<tensor> a(count);
    a[0] = dx;
    tensor cotangent = w;
    for (std::size_t s = 0; s < count; ++s) {
      if (s > 0) a[s] = zeros<T, B>(input_shape_of(ctx, s));
      tensor next = zeros<T, B>(ctx.features[s].shape());
      with_stage(ctx, s, [&](auto& stage, const auto& c) { stage.backward_second(c, g[s + 1], cotangent, a[s], next, grads); });
      cotangent = next;
    }
    kernels::axpy(T(1), cotangent, dgy);
    // 3. backward sweep of the direct terms
    for (std::size_t s = count - 1; s > 0; --s)
      with_stage(ctx, s - 1, [&](auto& stage, const auto& c) { stage.backward(c, a[s], a[s - 1], grads); });
  }

  template <class F>
  void visit_parameters(F&& f) {
    for_each_stage([&](const std::string& prefix, auto& stage) {
      stage.visit_parameters([&](std::string_view name, auto& p) { f(prefix + std::string(name), p); });
    });
  }
  template <class F>
  void visit_buffers(F&& f) {
    for_each_stage([&](const std::string& prefix, auto& stage) {
      sbgan::visit_buffers(stage, [&](std::string_view name, auto& t) { f(prefix + std::string(name), t); });
    });
  }
  void set_training(bool training) {
    for_each_stage([&](const std::string&, auto& stage) { sbgan::set_training(stage, training); });
  }

  [[nodiscard]] std::string describe() const {
    return "PatchDiscriminator(" + std::to_string(options_.input_channels) + " channels, ndf " +
           std::to_string(options_.ndf) + ", " + std::to_string(options_.layers) + " layers)";
  }

 private:
  static LastStage make_last(const PatchDiscriminatorOptions& o, Generator& init) {
    index_t channels = o.ndf;
    for (int n = 1; n < o.layers; ++n) channels = std::min<index_t>(channels * 2, 512);
    return LastStage(Conv2d<T, B>({channels, 1, kernel, 1, padding}, init));
  }

  Shape input_shape_of(const context& ctx, std::size_t s) const { return s == 0 ? ctx.input_shape : ctx.features[s - 1].shape(); }

  // Calls f(stage, stage_context) for stage s (0: first, then inner, last: final).
  template <class Ctx, class F>
  void with_stage(Ctx& ctx, std::size_t s, F&& f) {
    if (s == 0)
      f(first_, ctx.first);
    else if (s <= inner_.size())
      f(inner_[s - 1], ctx.inner[s - 1]);
    else
      f(last_, ctx.last);
  }

  template <class F>
  void for_each_stage(F&& f) {
    f("model0.", first_);
    for (std::size_t i = 0; i < inner_.size(); ++i) f("model" + std::to_string(i + 1) + ".", inner_[i]);
    f("model" + std::to_string(inner_.size() + 1) + ".", last_);
  }

  PatchDiscriminatorOptions options_;
  FirstStage first_;
  std::vector<InnerStage> inner_;
  LastStage last_;
};

}  // namespace sbgan
