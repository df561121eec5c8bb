#pragma once
// VGG19's convolutional features as SPADE's perceptual loss uses them: torchvision's
// vgg19().features up to relu5_1, cut into five slices that end at relu1_1,
// relu2_1, relu3_1, relu4_1 and relu5_1 (features[0:2], [2:7], [7:12], [12:21],
// [21:30]). Parameters are named as torchvision names them ("features.0.weight"),
// so a converted torchvision state dict (tools/convert_vgg19.py) loads directly.
//
// The network takes the image as it is: SPADE feeds its [-1, 1] images without
// ImageNet mean/std normalisation, and so does this.
//
// width_divisor divides every channel count (64, 128, 256, 512), which gives tests a
// tiny network of the same topology; the real one uses 1.
#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/io/safetensors.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/conv2d.hpp"
#include "sbgan/layers/max_pool2d.hpp"
#include "sbgan/layers/relu.hpp"
#include "sbgan/layers/sequential.hpp"

namespace sbgan {

struct VGG19Options {
  index_t width_divisor = 1;  // a power of two up to 64
};

template <class T, class B = cpu>
class VGG19 {
 public:
  using value_type = T;
  using backend = B;
  using tensor = Tensor<T, B>;

  static constexpr std::size_t slice_count = 5;
  // Where each slice starts in torchvision's `features` (the last ends at 30).
  static constexpr std::array<int, slice_count> slice_begin{0, 2, 7, 12, 21};
  static constexpr std::array<const char*, slice_count> feature_names{"relu1_1", "relu2_1", "relu3_1", "relu4_1",
                                                                      "relu5_1"};
  static constexpr index_t input_channels = 3;
  // Four 2x2 poolings precede relu5_1.
  static constexpr index_t min_input_size = 16;

  using conv = Conv2d<T, B>;
  using relu = ReLU<T, B>;
  using pool = MaxPool2d<T, B>;
  using Slice1 = Sequential<conv, relu>;                                                // 0-1
  using Slice2 = Sequential<conv, relu, pool, conv, relu>;                              // 2-6
  using Slice3 = Slice2;                                                                // 7-11
  using Slice4 = Sequential<conv, relu, conv, relu, conv, relu, pool, conv, relu>;      // 12-20
  using Slice5 = Slice4;                                                                // 21-29

  struct context {
    Shape input_shape;
    std::tuple<typename Slice1::context, typename Slice2::context, typename Slice3::context,
               typename Slice4::context, typename Slice5::context>
        parts;
    std::array<tensor, slice_count> features;  // relu1_1 ... relu5_1
  };

  VGG19(const VGG19Options& options, Generator& init)
      : options_(checked(options)),
        slices_(make_slices(options_.width_divisor, init)) {}

  [[nodiscard]] const VGG19Options& options() const { return options_; }
  // The channels of relu1_1 ... relu5_1.
  [[nodiscard]] std::array<index_t, slice_count> feature_channels() const {
    const index_t d = options_.width_divisor;
    return {64 / d, 128 / d, 256 / d, 512 / d, 512 / d};
  }

  context forward(const tensor& x) {
    const Shape& s = x.shape();
    if (s.rank() != 4 || s.c() != input_channels || s.h() < min_input_size || s.w() < min_input_size)
      throw shape_error(describe(), "input", "[N, 3, H, W] with H, W at least 16", s);
    context ctx;
    ctx.input_shape = s;
    each_slice([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      const tensor& in = I == 0 ? x : ctx.features[I == 0 ? 0 : I - 1];
      std::get<I>(ctx.parts) = std::get<I>(slices_).forward(in);
      ctx.features[I] = std::get<I>(ctx.parts).output;
    });
    return ctx;
  }

  // The features only, keeping no activations for a backward pass (a detached target).
  std::array<tensor, slice_count> features(const tensor& x) { return forward(x).features; }

  // dx += Σᵢ J_iᵀ·d_features[i], where J_i is the Jacobian of feature i; with
  // ParamGrads::accumulate the convolution weights get their gradients too.
  void backward(const context& ctx, const std::array<tensor, slice_count>& d_features, tensor& dx, ParamGrads grads) {
    for (std::size_t i = 0; i < slice_count; ++i)
      expect_shape(describe(), std::string("gradient of ") + feature_names[i], ctx.features[i].shape(),
                   d_features[i].shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    // Walking back, the gradient reaching feature i is its own plus what slice i+1 sends.
    tensor carried = d_features[slice_count - 1];
    each_slice_reverse([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      if constexpr (I == 0) {
        std::get<0>(slices_).backward(std::get<0>(ctx.parts), carried, dx, grads);
      } else {
        tensor into = clone(d_features[I - 1]);
        std::get<I>(slices_).backward(std::get<I>(ctx.parts), carried, into, grads);
        carried = into;
      }
    });
  }

  // Parameters under torchvision's names: features.<index in vgg19().features>.weight/bias.
  template <class F>
  void visit_parameters(F&& f) {
    each_slice([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      std::get<I>(slices_).visit_parameters([&](std::string_view name, auto& p) {
        const auto dot = name.find('.');
        const int local = std::stoi(std::string(name.substr(0, dot)));
        f("features." + std::to_string(slice_begin[I] + local) + std::string(name.substr(dot)), p);
      });
    });
  }

  // Copies every parameter from `weights` (a converted torchvision file); other
  // tensors in it (features.30 and on, which relu5_1 does not need) are ignored.
  // Throws, naming `source`, when a tensor is missing or has the wrong shape.
  void load_weights(const io::TensorArchive& weights, const std::string& source = "VGG19 weights") {
    // Check everything before changing anything, so a refused file leaves the network as it was.
    visit_parameters([&](const std::string& name, Parameter<T, B>& p) {
      if (!weights.contains(name))
        throw error(source + ": no tensor '" + name + "' (is this a converted torchvision VGG19" +
                    (options_.width_divisor == 1 ? "" : " of width divisor " + std::to_string(options_.width_divisor)) +
                    "?)");
      const auto& stored = weights.at(name);
      const std::string expected = shape_of(p);
      if (stored.shape_str() != expected)
        throw error(source + ": '" + name + "' has shape " + stored.shape_str() + ", " + describe() + " needs " +
                    expected);
    });
    visit_parameters([&](const std::string& name, Parameter<T, B>& p) {
      const Tensor<T, cpu> host = weights.get<T>(name).reshaped(p.value.shape());
      if constexpr (std::is_same_v<B, cpu>)
        kernels::copy(host, p.value);
      else
        p.value = to_device(host);
    });
  }

  void load_weights(const std::filesystem::path& file) { load_weights(io::read_safetensors(file), file.string()); }

  [[nodiscard]] std::string describe() const {
    return "VGG19(features to relu5_1" +
           (options_.width_divisor == 1 ? std::string() : ", width / " + std::to_string(options_.width_divisor)) + ")";
  }

 private:
  static VGG19Options checked(const VGG19Options& o) {
    const index_t d = o.width_divisor;
    if (d < 1 || d > 64 || (d & (d - 1)) != 0)
      throw error("VGG19: width_divisor must be a power of two from 1 to 64, got " + std::to_string(d));
    return o;
  }

  static std::string shape_of(const Parameter<T, B>& p) {
    std::string s = "[";
    for (int i = 0; i < p.shape().rank(); ++i) s += (i ? ", " : "") + std::to_string(p.shape()[i]);
    return s + "]";
  }

  static std::tuple<Slice1, Slice2, Slice3, Slice4, Slice5> make_slices(index_t d, Generator& g) {
    // The thirteen convolutions (in, out), drawn in network order so that a seed
    // gives the same initial weights with any compiler.
    const index_t c1 = 64 / d, c2 = 128 / d, c3 = 256 / d, c4 = 512 / d;
    const std::array<std::pair<index_t, index_t>, 13> sizes{{{3, c1}, {c1, c1}, {c1, c2}, {c2, c2}, {c2, c3},
                                                              {c3, c3}, {c3, c3}, {c3, c3}, {c3, c4}, {c4, c4},
                                                              {c4, c4}, {c4, c4}, {c4, c4}}};
    std::vector<conv> k;
    for (const auto& [in, out] : sizes) k.push_back(conv({in, out, 3, 1, 1, true}, g));
    return {Slice1(k[0], relu()),
            Slice2(k[1], relu(), pool::halve(), k[2], relu()),
            Slice3(k[3], relu(), pool::halve(), k[4], relu()),
            Slice4(k[5], relu(), k[6], relu(), k[7], relu(), pool::halve(), k[8], relu()),
            Slice5(k[9], relu(), k[10], relu(), k[11], relu(), pool::halve(), k[12], relu())};
  }

  template <class F>
  static void each_slice(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<slice_count>{});
  }
  template <class F>
  static void each_slice_reverse(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, slice_count - 1 - I>{}), ...);
    }(std::make_index_sequence<slice_count>{});
  }

  VGG19Options options_;
  std::tuple<Slice1, Slice2, Slice3, Slice4, Slice5> slices_;
};

}  // namespace sbgan
