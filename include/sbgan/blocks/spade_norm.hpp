#pragma once
// SpadeNorm<Norm>: SPADE normalization (the reference's SPADE module). Norm is the
// parameter-free normalization of x, chosen at compile time: BatchNorm<T, B> (the
// official 'spadesyncbatch3x3') or InstanceNorm<T, B>.
//
//   x̂     = Norm(x)
//   s     = nearest resize of the layout to x's H×W
//   a     = ReLU(mlp_shared(s))          3×3 conv, label_channels → hidden (128)
//   γ, β  = mlp_gamma(a), mlp_beta(a)    3×3 convs, hidden → channels
//   out   = x̂·(1 + γ) + β
//   out   = LReLU(x̂·(1 + γ) + β)       with leaky_relu_slope set
// The convs have biases and no spectral norm, as in the reference. The optional
// leaky ReLU is the one SpadeResBlock applies after norm_0 and norm_1, fused into
// the modulation pass (bit-identical to a separate LeakyReLU; it has no state).
//
// Two inputs, so not a Layer: forward(x, segmap) and backward(ctx, dy, dx, dsegmap,
// grads), which adds into dx and dsegmap (and the parameter grads). The overload
// without dsegmap holds the layout constant (a detached layout) and skips its
// gradient. Names as the reference's state dict: "mlp_shared.0.weight",
// "mlp_gamma.bias", ...; the norm's buffers are "param_free_norm.running_mean", ...
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/conv2d.hpp"
#include "sbgan/layers/relu.hpp"
#include "sbgan/layers/sequential.hpp"

namespace sbgan {

struct SpadeNormOptions {
  index_t channels = 0;        // of x (norm_nc)
  index_t label_channels = 0;  // of the layout (label_nc)
  index_t hidden = 128;        // nhidden, fixed at 128 in the reference
  index_t kernel = 3;          // the "3x3" of 'spadesyncbatch3x3'
  std::optional<double> leaky_relu_slope = std::nullopt;  // ends with a fused LReLU of this slope (≥ 0)
};

template <Layer Norm>
class SpadeNorm {
 public:
  using value_type = typename Norm::value_type;
  using backend = typename Norm::backend;
  using T = value_type;
  using B = backend;
  using tensor = Tensor<T, B>;
  using Shared = Sequential<Conv2d<T, B>, ReLU<T, B>>;

  struct context {
    typename Norm::context norm;
    Shape segmap_shape;
    typename Shared::context shared;  // its input is the resized layout
    typename Conv2d<T, B>::context gamma, beta;
    tensor output;
  };

  // The convs draw PyTorch's default initialisation from `init`; the
  // normalization is built from the channel count.
  SpadeNorm(const SpadeNormOptions& options, Generator& init)
      : options_(checked(options)),
        norm_({options.channels}),
        mlp_shared_(Conv2d<T, B>({options.label_channels, options.hidden, options.kernel, 1, options.kernel / 2}, init),
                    ReLU<T, B>()),
        mlp_gamma_({options.hidden, options.channels, options.kernel, 1, options.kernel / 2}, init),
        mlp_beta_({options.hidden, options.channels, options.kernel, 1, options.kernel / 2}, init) {}

  [[nodiscard]] const SpadeNormOptions& options() const { return options_; }
  Norm& param_free_norm() { return norm_; }
  Shared& mlp_shared() { return mlp_shared_; }
  Conv2d<T, B>& mlp_gamma() { return mlp_gamma_; }
  Conv2d<T, B>& mlp_beta() { return mlp_beta_; }

  void set_training(bool training) { sbgan::set_training(norm_, training); }

  context forward(const tensor& x, const tensor& segmap) {
    check_inputs(x.shape(), segmap.shape());
    context ctx;
    ctx.segmap_shape = segmap.shape();
    ctx.norm = norm_.forward(x);
    ctx.shared = mlp_shared_.forward(resized_layout(segmap, x.shape()));
    ctx.gamma = mlp_gamma_.forward(ctx.shared.output);
    ctx.beta = mlp_beta_.forward(ctx.shared.output);
    ctx.output = tensor(x.shape());
    if (options_.leaky_relu_slope)
      kernels::modulate_leaky_relu(ctx.norm.output, ctx.gamma.output, ctx.beta.output, slope(), ctx.output);
    else
      kernels::modulate(ctx.norm.output, ctx.gamma.output, ctx.beta.output, ctx.output);
    ctx.beta.output.release_storage();  // backward needs γ, not β
    return ctx;
  }

  // forward(x, segmap).output without the context. The γ/β branch runs first, so
  // its hidden map is gone before x̂ exists, and the modulation overwrites x̂.
  tensor infer(const tensor& x, const tensor& segmap) {
    check_inputs(x.shape(), segmap.shape());
    tensor gamma, beta;
    {
      const tensor hidden = sbgan::infer(mlp_shared_, resized_layout(segmap, x.shape()));
      gamma = sbgan::infer(mlp_gamma_, hidden);
      beta = sbgan::infer(mlp_beta_, hidden);
    }
    tensor out = sbgan::infer(norm_, x);
    if (out.shares_storage_with(x)) out = clone(out);  // never overwrite the caller's x
    if (options_.leaky_relu_slope)
      kernels::modulate_leaky_relu(out, gamma, beta, slope(), out);
    else
      kernels::modulate(out, gamma, beta, out);
    return out;
  }

  // dx += Jₓᵀ·dy, dsegmap += J_segᵀ·dy, and the parameter grads when accumulating.
  void backward(const context& ctx, const tensor& dy, tensor& dx, tensor& dsegmap, ParamGrads grads) {
    check_gradients(ctx, dy, dx);
    expect_shape(describe(), "layout gradient", ctx.segmap_shape, dsegmap.shape());
    propagate(ctx, dy, dx, &dsegmap, grads);
  }

  // As above with the layout held constant: no layout gradient is computed.
  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    check_gradients(ctx, dy, dx);
    propagate(ctx, dy, dx, nullptr, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    mlp_shared_.visit_parameters([&](std::string_view name, auto& p) { f("mlp_shared." + std::string(name), p); });
    mlp_gamma_.visit_parameters([&](std::string_view name, auto& p) { f("mlp_gamma." + std::string(name), p); });
    mlp_beta_.visit_parameters([&](std::string_view name, auto& p) { f("mlp_beta." + std::string(name), p); });
  }

  template <class F>
  void visit_buffers(F&& f) {
    sbgan::visit_buffers(norm_, [&](std::string_view name, auto& t) { f("param_free_norm." + std::string(name), t); });
  }

  [[nodiscard]] std::string describe() const {
    return "SpadeNorm(" + norm_.describe() + ", layout " + std::to_string(options_.label_channels) + ", hidden " +
           std::to_string(options_.hidden) +
           (options_.leaky_relu_slope ? ", leaky ReLU " + std::to_string(*options_.leaky_relu_slope) : "") + ")";
  }

 private:
  static const SpadeNormOptions& checked(const SpadeNormOptions& o) {
    if (o.channels <= 0 || o.label_channels <= 0 || o.hidden <= 0 || o.kernel <= 0 || o.kernel % 2 == 0)
      throw error("SpadeNorm: channel counts must be positive and the kernel odd");
    // The fused backward reads the leaky ReLU's mask off the output's sign, which a
    // negative slope would flip.
    if (o.leaky_relu_slope && !(*o.leaky_relu_slope >= 0.0 && std::isfinite(*o.leaky_relu_slope)))
      throw error("SpadeNorm: the leaky ReLU slope must be finite and non-negative");
    return o;
  }

  void check_inputs(const Shape& x, const Shape& segmap) const {
    if (x.rank() != 4 || x.c() != options_.channels)
      throw shape_error(describe(), "input", "[N, " + std::to_string(options_.channels) + ", H, W]", x);
    if (segmap.rank() != 4 || segmap.n() != x.n() || segmap.c() != options_.label_channels)
      throw shape_error(describe(), "layout",
                        "[" + std::to_string(x.n()) + ", " + std::to_string(options_.label_channels) + ", H, W]",
                        segmap);
  }

  void check_gradients(const context& ctx, const tensor& dy, tensor& dx) const {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.output.shape(), dx.shape());
  }

  // The layout at x's size; the layout itself when it already has it.
  static tensor resized_layout(const tensor& segmap, const Shape& x) {
    if (segmap.shape().h() == x.h() && segmap.shape().w() == x.w()) return segmap;
    tensor s(Shape{segmap.shape().n(), segmap.shape().c(), x.h(), x.w()});
    kernels::resize_nearest(segmap, s);
    return s;
  }

  // Converted as LeakyReLU<T, B>(static_cast<T>(slope)) would, for bit-identical results.
  [[nodiscard]] T slope() const { return static_cast<T>(*options_.leaky_relu_slope); }

  // Each temporary goes as soon as its consumer has run, so backward's peak holds
  // one C-channel gradient at a time besides dy and dx.
  void propagate(const context& ctx, const tensor& dy, tensor& dx, tensor* dsegmap, ParamGrads grads) {
    tensor d_gamma(dy.shape());
    // Without the activation dβ is dy itself; with it, the masked dy, materialised.
    tensor d_beta = dy;
    {
      tensor d_normalized(dy.shape());
      if (options_.leaky_relu_slope) {
        d_beta = tensor(dy.shape());
        kernels::modulate_leaky_relu_backward(ctx.norm.output, ctx.gamma.output, ctx.output, dy, slope(),
                                              d_normalized, d_gamma, d_beta);
      } else {
        kernels::modulate_backward(ctx.norm.output, ctx.gamma.output, dy, d_normalized, d_gamma);
      }
      norm_.backward(ctx.norm, d_normalized, dx, grads);
    }
    // The γ/β branch matters only for the parameters and the layout.
    if (grads != ParamGrads::accumulate && !dsegmap) return;
    tensor d_hidden = zeros<T, B>(ctx.shared.output.shape());
    mlp_gamma_.backward(ctx.gamma, d_gamma, d_hidden, grads);
    d_gamma = tensor();
    mlp_beta_.backward(ctx.beta, d_beta, d_hidden, grads);
    d_beta = tensor();
    const Shape resized = ctx.shared.input_shape;
    if (dsegmap && resized == ctx.segmap_shape) {
      mlp_shared_.backward(ctx.shared, d_hidden, *dsegmap, grads);
    } else {
      tensor d_resized = zeros<T, B>(resized);
      mlp_shared_.backward(ctx.shared, d_hidden, d_resized, grads);
      if (dsegmap) kernels::resize_nearest_backward(d_resized, *dsegmap);
    }
  }

  SpadeNormOptions options_;
  Norm norm_;
  Shared mlp_shared_;
  Conv2d<T, B> mlp_gamma_;
  Conv2d<T, B> mlp_beta_;
};

}  // namespace sbgan
