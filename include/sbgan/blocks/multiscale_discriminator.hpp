#pragma once
// MultiscaleDiscriminator: num_D patch discriminators, scale i seeing the input
// average-pooled i times (3x3, stride 2, pad 1, padding not counted), as SPADE's
// MultiscaleDiscriminator. Conditional use feeds concat(layout one-hot, image)
// (conditional_input below); unconditional use (D2) feeds the image alone.
// Names: "discriminator_<i>." + the patch discriminator's names.
#include <string>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/blocks/patch_discriminator.hpp"
#include "sbgan/layers/avg_pool2d.hpp"

namespace sbgan {

struct MultiscaleDiscriminatorOptions {
  PatchDiscriminatorOptions patch;
  int scales = 2;  // num_D
};

template <class T, class B = cpu>
class MultiscaleDiscriminator {
 public:
  using value_type = T;
  using backend = B;
  using tensor = Tensor<T, B>;
  using Patch = PatchDiscriminator<T, B>;
  struct context {
    std::vector<typename Patch::context> scales;          // per scale: features, prediction
    std::vector<typename AvgPool2d<T, B>::context> pools;  // pools[i] makes the input of scale i+1
    Shape input_shape;
  };

  MultiscaleDiscriminator(const MultiscaleDiscriminatorOptions& options, Generator& init) : options_(options) {
    if (options.scales < 1) throw error("MultiscaleDiscriminator: needs at least one scale");
    for (int i = 0; i < options.scales; ++i) discriminators_.emplace_back(options.patch, init);
  }

  [[nodiscard]] int scale_count() const { return options_.scales; }
  Patch& scale(int i) { return discriminators_[static_cast<std::size_t>(i)]; }

  context forward(const tensor& x) {
    context ctx;
    ctx.input_shape = x.shape();
    tensor in = x;
    for (int i = 0; i < options_.scales; ++i) {
      ctx.scales.push_back(discriminators_[static_cast<std::size_t>(i)].forward(in));
      if (i + 1 < options_.scales) {
        ctx.pools.push_back(downsample_.forward(in));
        in = ctx.pools.back().output;
      }
    }
    return ctx;
  }

  // d[i][j]: gradient on feature j of scale i (empty tensors for none; d[i] may be
  // empty for a scale without gradients). Adds the input gradient into dx.
  void backward(const context& ctx, const std::vector<std::vector<tensor>>& d, tensor& dx, ParamGrads grads) {
    if (d.size() != ctx.scales.size())
      throw error("MultiscaleDiscriminator: expected gradients for " + std::to_string(ctx.scales.size()) + " scales, got " +
                  std::to_string(d.size()));
    expect_shape("MultiscaleDiscriminator", "input gradient", ctx.input_shape, dx.shape());
    // Scales from the coarsest: each adds into its input's gradient, which the pool
    // before it carries one scale up.
    tensor carried;
    for (std::size_t i = ctx.scales.size(); i-- > 0;) {
      tensor g_in = i == 0 ? dx : zeros<T, B>(ctx.pools[i - 1].output.shape());
      if (!carried.empty()) kernels::axpy(T(1), carried, g_in);
      if (!d[i].empty()) discriminators_[i].backward_features(ctx.scales[i], d[i], g_in, grads);
      if (i > 0) {
        carried = zeros<T, B>(i == 1 ? ctx.input_shape : ctx.pools[i - 2].output.shape());
        downsample_.backward(ctx.pools[i - 1], g_in, carried, grads);
      }
    }
  }

  template <class F>
  void visit_parameters(F&& f) {
    for (std::size_t i = 0; i < discriminators_.size(); ++i) {
      const std::string prefix = "discriminator_" + std::to_string(i) + ".";
      discriminators_[i].visit_parameters([&](std::string_view n, auto& p) { f(prefix + std::string(n), p); });
    }
  }
  template <class F>
  void visit_buffers(F&& f) {
    for (std::size_t i = 0; i < discriminators_.size(); ++i) {
      const std::string prefix = "discriminator_" + std::to_string(i) + ".";
      discriminators_[i].visit_buffers([&](std::string_view n, auto& t) { f(prefix + std::string(n), t); });
    }
  }
  void set_training(bool training) {
    for (auto& d : discriminators_) d.set_training(training);
  }

 private:
  MultiscaleDiscriminatorOptions options_;
  std::vector<Patch> discriminators_;
  AvgPool2d<T, B> downsample_ = AvgPool2d<T, B>::downsample3x3();
};

// The conditional discriminator's input: concat(layout, image) along channels,
// layout first, as the reference concatenates.
template <class T, class B>
Tensor<T, B> conditional_input(const Tensor<T, B>& layout, const Tensor<T, B>& image) {
  if (layout.shape().rank() != 4 || image.shape().rank() != 4 || layout.shape().n() != image.shape().n() ||
      layout.shape().h() != image.shape().h() || layout.shape().w() != image.shape().w())
    throw shape_error("conditional_input: layout " + layout.shape().str() + " and image " + image.shape().str() +
                      " must share N, H and W");
  Tensor<T, B> out(Shape{layout.shape().n(), layout.shape().c() + image.shape().c(), layout.shape().h(), layout.shape().w()});
  kernels::concat_channels(std::vector<Tensor<T, B>>{layout, image}, out);
  return out;
}

// Splits the gradient of a conditional input back into layout and image parts
// (adding into both).
template <class T, class B>
void conditional_input_backward(const Tensor<T, B>& d_input, Tensor<T, B>& d_layout, Tensor<T, B>& d_image) {
  std::vector<Tensor<T, B>> parts{d_layout, d_image};
  kernels::split_channels_add(d_input, parts);
}

}  // namespace sbgan
