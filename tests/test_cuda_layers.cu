// Every layer, block and model on the GPU against the same module on the CPU: built
// from one seed, then run on the same random inputs and cotangents through forward,
// backward (input and parameter gradients) and, where it exists, the second-order
// pass. Single layers compare at cuda_gemm when they convolve or multiply matrices,
// else at cuda_elementwise or cuda_reduction; blocks and models at cuda_composed.
// Labelled `gpu`; without a GPU every case says so and passes.
#include <catch2/catch.hpp>
#include <sbgan/sbgan.hpp>

#include <array>
#include <string>
#include <vector>

#include "support/cuda_parity.hpp"
#include "support/module_parity.hpp"
#include "support/parity_inputs.hpp"

using namespace sbgan;
using test_support::cotangents;
using test_support::normal;
using test_support::normal_twin;
using test_support::on_both;
using test_support::one_hot_layout;
using test_support::probabilities;
using test_support::require_layer_parity;
using test_support::require_parity;
using test_support::require_same_buffers;
using test_support::require_same_construction;
using test_support::require_same_gradients;
using test_support::twin;

namespace {

constexpr double elementwise = tolerance::cuda_elementwise;
constexpr double reduction = tolerance::cuda_reduction;
constexpr double gemm = tolerance::cuda_gemm;
constexpr double composed = tolerance::cuda_composed;

// Modules of two inputs (x and the layout): SpadeNorm and SpadeResBlock. The
// backward adds into random dx, dseg and parameter grads; the layout-constant
// backward (no dseg) with ParamGrads::skip must give the same input gradient.
template <class H, class D>
void require_two_input_parity(const std::string& what, H& host, D& device, const Tensor<float>& x_host,
                              const Tensor<float>& seg_host, double tolerance) {
  require_same_construction(what, host, device);
  Generator gen(7, 0x7370616465ULL);
  const auto x = twin(x_host), seg = twin(seg_host);
  auto h_ctx = host.forward(x.host, seg.host);
  auto d_ctx = device.forward(x.device, seg.device);
  require_parity(what + " forward", h_ctx.output, d_ctx.output, tolerance);
  require_same_buffers(what + " after forward:", host, device, tolerance);

  const auto dy = normal_twin<float>(gen, h_ctx.output.shape());
  auto dx = normal_twin<float>(gen, x_host.shape());
  auto dseg = normal_twin<float>(gen, seg_host.shape());
  test_support::randomize_gradients(host, device, gen);
  host.backward(h_ctx, dy.host, dx.host, dseg.host, ParamGrads::accumulate);
  device.backward(d_ctx, dy.device, dx.device, dseg.device, ParamGrads::accumulate);
  require_parity(what + " backward d/dx", dx.host, dx.device, tolerance);
  require_parity(what + " backward d/dseg", dseg.host, dseg.device, tolerance);
  require_same_gradients(what + " backward", host, device, tolerance);

  auto dx_const = twin(zeros<float>(x_host.shape()));
  host.backward(h_ctx, dy.host, dx_const.host, ParamGrads::skip);
  device.backward(d_ctx, dy.device, dx_const.device, ParamGrads::skip);
  require_parity(what + " layout-constant backward d/dx", dx_const.host, dx_const.device, tolerance);
}

}  // namespace

// --- single layers -------------------------------------------------------------------

TEST_CASE("CUDA Conv2d matches the CPU: forward, backward, second order", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  struct Case {
    Conv2dOptions options;
    Shape input;
  };
  const std::vector<Case> cases{{{3, 5, 3, 1, 1, true}, {2, 3, 9, 13}},    // same-size 3x3
                                {{3, 4, 3, 2, 1, true}, {2, 3, 9, 13}},    // strided
                                {{4, 6, 4, 2, 2, false}, {2, 4, 9, 13}},   // the patch discriminator's
                                {{5, 3, 1, 1, 0, false}, {2, 5, 9, 13}}};  // pointwise: the CPU skips im2col
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto [host, device] = on_both(i, [&]<class B>(B, Generator& g) { return Conv2d<float, B>(cases[i].options, g); });
    require_layer_parity(host.describe(), host, device, normal(i, cases[i].input), gemm);
  }
}

TEST_CASE("CUDA Linear matches the CPU on flat and image inputs", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  {
    auto [host, device] = on_both(1, []<class B>(B, Generator& g) { return Linear<float, B>({3 * 5 * 7, 6, true}, g); });
    require_layer_parity("Linear on [2, 3, 5, 7]", host, device, normal(1, Shape{2, 3, 5, 7}), gemm);
  }
  auto [host, device] = on_both(2, []<class B>(B, Generator& g) { return Linear<float, B>({11, 4, false}, g); });
  require_layer_parity("Linear without bias", host, device, normal(2, Shape{2, 11}), gemm);
}

TEST_CASE("CUDA equalized-learning-rate layers match the CPU", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  {
    auto [host, device] = on_both(3, []<class B>(B, Generator& g) {
      return EqualizedConv2d<float, B>({3, 4, Window2d{3, 3, 1, 2, 1, 1}}, g);
    });
    require_layer_parity("EqualizedConv2d", host, device, normal(3, Shape{2, 3, 9, 13}), gemm);
  }
  auto [host, device] = on_both(4, []<class B>(B, Generator& g) { return EqualizedLinear<float, B>({12, 5}, g); });
  require_layer_parity("EqualizedLinear", host, device, normal(4, Shape{2, 3, 2, 2}), gemm);
}

TEST_CASE("CUDA activations match the CPU", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  const auto x = normal(5, Shape{2, 3, 9, 13});
  LeakyReLU<float> leaky_h(0.2f);
  LeakyReLU<float, cuda> leaky_d(0.2f);
  require_layer_parity("LeakyReLU", leaky_h, leaky_d, x, elementwise);
  ReLU<float> relu_h;
  ReLU<float, cuda> relu_d;
  require_layer_parity("ReLU", relu_h, relu_d, x, elementwise);
  Tanh<float> tanh_h;
  Tanh<float, cuda> tanh_d;
  require_layer_parity("Tanh", tanh_h, tanh_d, x, elementwise);
}

TEST_CASE("CUDA resampling and reshaping layers match the CPU", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  const auto x = normal(6, Shape{2, 3, 9, 13});
  NearestUpsample<float> up_h(2);
  NearestUpsample<float, cuda> up_d(2);
  require_layer_parity("NearestUpsample x2", up_h, up_d, x, elementwise);
  auto halve_h = AvgPool2d<float>::halve();
  auto halve_d = AvgPool2d<float, cuda>::halve();
  require_layer_parity("AvgPool2d 2x2", halve_h, halve_d, x, elementwise);
  auto down_h = AvgPool2d<float>::downsample3x3();
  auto down_d = AvgPool2d<float, cuda>::downsample3x3();
  require_layer_parity("AvgPool2d 3x3 stride 2 pad 1", down_h, down_d, x, elementwise);
  const Window2d odd{2, 3, 2, 1, 1, 0};
  AvgPool2d<float> any_h(odd);
  AvgPool2d<float, cuda> any_d(odd);
  require_layer_parity("AvgPool2d 2x3", any_h, any_d, x, elementwise);
  auto max_h = MaxPool2d<float>::halve();
  auto max_d = MaxPool2d<float, cuda>::halve();
  require_layer_parity("MaxPool2d 2x2", max_h, max_d, x, elementwise);
  MaxPool2d<float> max3_h(Window2d::square(3, 2, 1));
  MaxPool2d<float, cuda> max3_d(Window2d::square(3, 2, 1));
  require_layer_parity("MaxPool2d 3x3 stride 2 pad 1", max3_h, max3_d, x, elementwise);
  Flatten<float> flat_h;
  Flatten<float, cuda> flat_d;
  require_layer_parity("Flatten", flat_h, flat_d, x, elementwise);
}

TEST_CASE("CUDA channel softmax and pixel norm match the CPU", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  const auto x = normal(7, Shape{2, 5, 9, 13});
  ChannelSoftmax<float> softmax_h;
  ChannelSoftmax<float, cuda> softmax_d;
  require_layer_parity("ChannelSoftmax", softmax_h, softmax_d, x, reduction);
  PixelNorm<float, cpu, PixelNormForm::official> official_h;
  PixelNorm<float, cuda, PixelNormForm::official> official_d;
  require_layer_parity("PixelNorm official", official_h, official_d, x, reduction);
  require_layer_parity("PixelNorm official on a latent", official_h, official_d, normal(8, Shape{2, 7}), reduction);
  PixelNorm<float, cpu, PixelNormForm::paper> paper_h;
  PixelNorm<float, cuda, PixelNormForm::paper> paper_d;
  require_layer_parity("PixelNorm paper", paper_h, paper_d, x, reduction);
}

TEST_CASE("CUDA instance and batch norm match the CPU in training and evaluation", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  const auto x = normal(9, Shape{2, 4, 9, 13});
  InstanceNorm<float> instance_h;
  InstanceNorm<float, cuda> instance_d;
  require_layer_parity("InstanceNorm", instance_h, instance_d, x, reduction);
  BatchNorm<float> batch_h({4});
  BatchNorm<float, cuda> batch_d({4});
  // Training: batch statistics, and the running statistics move (compared after forward).
  require_layer_parity("BatchNorm training", batch_h, batch_d, x, reduction);
  require_layer_parity("BatchNorm training, second batch", batch_h, batch_d, normal(10, x.shape()), reduction);
  set_training(batch_h, false);
  set_training(batch_d, false);
  require_layer_parity("BatchNorm evaluation", batch_h, batch_d, x, reduction);
}

TEST_CASE("CUDA minibatch stddev matches the CPU", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  MinibatchStddev<float> group2_h(2);
  MinibatchStddev<float, cuda> group2_d(2);
  require_layer_parity("MinibatchStddev group 2 of 4", group2_h, group2_d, normal(11, Shape{4, 3, 5, 7}), reduction);
  MinibatchStddev<float> whole_h(4);
  MinibatchStddev<float, cuda> whole_d(4);
  require_layer_parity("MinibatchStddev one group of 2", whole_h, whole_d, normal(12, Shape{2, 3, 5, 7}), reduction);
}

TEST_CASE("CUDA spectral norm matches the CPU: power iteration, sigma, gradients", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  {
    auto [host, device] = on_both(13, []<class B>(B, Generator& g) {
      return SpectralNorm<Conv2d<float, B>>(Conv2d<float, B>({3, 4, 3, 2, 1, true}, g), g);
    });
    const auto x = normal(13, Shape{2, 3, 9, 13});
    require_layer_parity("SpectralNorm(Conv2d) training", host, device, x, gemm);
    require_parity("sigma", host.sigma(), device.sigma(), gemm);
    set_training(host, false);
    set_training(device, false);
    require_layer_parity("SpectralNorm(Conv2d) evaluation", host, device, x, gemm);
  }
  auto [host, device] = on_both(14, []<class B>(B, Generator& g) {
    return SpectralNorm<Linear<float, B>>(Linear<float, B>({10, 6, true}, g), g, {.power_iterations = 3});
  });
  require_layer_parity("SpectralNorm(Linear), 3 power iterations", host, device, normal(14, Shape{2, 10}), gemm);
}

TEST_CASE("CUDA straight-through Gumbel-softmax matches the CPU in both modes", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  const auto p = probabilities(15, Shape{2, 5, 9, 13});
  GumbelSoftmaxST<float> host(Generator(16), {.temperature = 0.7});
  GumbelSoftmaxST<float, cuda> device(Generator(16), {.temperature = 0.7});
  // Sample mode: the same noise from the layers' own generators, a one-hot output.
  require_layer_parity("GumbelSoftmaxST sample", host, device, p, reduction);
  CHECK(host.generator().offset() == device.generator().offset());
  // Given noise, and the noise-free argmax mode.
  const auto noise = twin(normal(17, p.shape()));
  const auto pd = to_device(p);
  require_parity("forward_with_noise", host.forward_with_noise(p, noise.host).output,
                 device.forward_with_noise(pd, noise.device).output, reduction);
  host.set_training(false);
  device.set_training(false);
  require_parity("argmax mode", host.forward(p).output, device.forward(pd).output, elementwise);
}

TEST_CASE("CUDA Sequential critic matches the CPU, second order included", "[gpu][cuda-layers]") {
  REQUIRE_GPU_OR_SKIP();
  // [2, 2, 9, 13] -> 9x13 -> max pool 4x6 -> 4x6 -> upsample 8x12 -> avg pool 4x6 -> [2, 1].
  // (The max pool comes before the upsampling: after it every window would tie.)
  auto [host, device] = on_both(18, []<class B>(B, Generator& g) {
    using T = float;
    return Sequential<Conv2d<T, B>, LeakyReLU<T, B>, MaxPool2d<T, B>, Conv2d<T, B>, Tanh<T, B>, NearestUpsample<T, B>,
                      AvgPool2d<T, B>, Flatten<T, B>, Linear<T, B>>{
        Conv2d<T, B>({2, 3, 3, 1, 1}, g), LeakyReLU<T, B>(T(0.2)), MaxPool2d<T, B>::halve(),
        Conv2d<T, B>({3, 3, 3, 1, 1}, g), Tanh<T, B>(),            NearestUpsample<T, B>(2),
        AvgPool2d<T, B>::downsample3x3(), Flatten<T, B>(),         Linear<T, B>({3 * 4 * 6, 1}, g)};
  });
  require_layer_parity("Sequential critic", host, device, normal(18, Shape{2, 2, 9, 13}), composed);
}

// --- blocks ----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("CUDA SPADE norm matches the CPU", "[gpu][cuda-blocks]", BatchNorm<float>, InstanceNorm<float>) {
  REQUIRE_GPU_OR_SKIP();
  using HostNorm = TestType;
  using DeviceNorm = std::conditional_t<std::is_same_v<HostNorm, BatchNorm<float>>, BatchNorm<float, cuda>,
                                        InstanceNorm<float, cuda>>;
  const SpadeNormOptions o{.channels = 4, .label_channels = 3, .hidden = 8};
  Generator gh(19), gd(19);
  SpadeNorm<HostNorm> host(o, gh);
  SpadeNorm<DeviceNorm> device(o, gd);
  // The layout at a lower resolution than x: SPADE resizes it.
  require_two_input_parity(host.describe(), host, device, normal(19, Shape{2, 4, 9, 13}),
                           one_hot_layout(20, Shape{2, 3, 5, 7}), composed);
}

TEST_CASE("CUDA SPADE residual blocks match the CPU, with and without a learned shortcut", "[gpu][cuda-blocks]") {
  REQUIRE_GPU_OR_SKIP();
  for (const bool detach : {false, true})
    for (const index_t out : {4, 3}) {
      const SpadeResBlockOptions o{
          .in_channels = 4, .out_channels = out, .label_channels = 3, .hidden = 8, .detach_layout = detach};
      Generator gh(21), gd(21);
      SpadeResBlock<BatchNorm<float>> host(o, gh);
      SpadeResBlock<BatchNorm<float, cuda>> device(o, gd);
      const std::string what = "SpadeResBlock 4->" + std::to_string(out) + (detach ? ", detached layout" : "");
      require_two_input_parity(what, host, device, normal(22, Shape{2, 4, 9, 13}),
                               one_hot_layout(23, Shape{2, 3, 9, 13}), composed);
    }
}

TEST_CASE("CUDA patch discriminators match the CPU: features, gradients, second order", "[gpu][cuda-blocks]") {
  REQUIRE_GPU_OR_SKIP();
  for (const auto& options : {PatchDiscriminatorOptions::official(3, 4), PatchDiscriminatorOptions::paper(3, 4)}) {
    auto [host, device] = on_both(24, [&]<class B>(B, Generator& g) { return PatchDiscriminator<float, B>(options, g); });
    const auto x = normal(24, Shape{2, 3, 17, 19});
    require_layer_parity(host.describe(), host, device, x, composed);

    // Gradients on every intermediate feature (feature matching's path).
    auto h_ctx = host.forward(x);
    auto d_ctx = device.forward(to_device(x));
    REQUIRE(h_ctx.features.size() == d_ctx.features.size());
    for (std::size_t s = 0; s < h_ctx.features.size(); ++s)
      require_parity("feature " + std::to_string(s), h_ctx.features[s], d_ctx.features[s], composed);
    Generator gen(25);
    auto d = cotangents(gen, h_ctx.features);
    auto dx = twin(zeros<float>(x.shape()));
    zero_grad(host);
    zero_grad(device);
    host.backward_features(h_ctx, d.first, dx.host, ParamGrads::accumulate);
    device.backward_features(d_ctx, d.second, dx.device, ParamGrads::accumulate);
    require_parity("backward_features d/dx", dx.host, dx.device, composed);
    require_same_gradients("backward_features", host, device, composed);
  }
}

TEST_CASE("CUDA multiscale discriminator matches the CPU on a conditional input", "[gpu][cuda-blocks]") {
  REQUIRE_GPU_OR_SKIP();
  const MultiscaleDiscriminatorOptions o{PatchDiscriminatorOptions::official(3 + 3, 4), 2};
  auto [host, device] = on_both(26, [&]<class B>(B, Generator& g) { return MultiscaleDiscriminator<float, B>(o, g); });
  require_same_construction("MultiscaleDiscriminator", host, device);
  const auto layout = twin(one_hot_layout(27, Shape{2, 3, 17, 19}));
  const auto image = twin(normal(28, Shape{2, 3, 17, 19}));
  const auto in_h = conditional_input(layout.host, image.host);
  const auto in_d = conditional_input(layout.device, image.device);
  require_parity("conditional_input", in_h, in_d, elementwise);

  auto h_ctx = host.forward(in_h);
  auto d_ctx = device.forward(in_d);
  require_same_buffers("after forward:", host, device, composed);
  Generator gen(29);
  std::vector<std::vector<Tensor<float>>> dh;
  std::vector<std::vector<Tensor<float, cuda>>> dd;
  for (std::size_t i = 0; i < h_ctx.scales.size(); ++i) {
    for (std::size_t s = 0; s < h_ctx.scales[i].features.size(); ++s)
      require_parity("scale " + std::to_string(i) + " feature " + std::to_string(s), h_ctx.scales[i].features[s],
                     d_ctx.scales[i].features[s], composed);
    auto d = cotangents(gen, h_ctx.scales[i].features);
    dh.push_back(d.first);
    dd.push_back(d.second);
  }
  auto dx = normal_twin<float>(gen, in_h.shape());
  test_support::randomize_gradients(host, device, gen);
  host.backward(h_ctx, dh, dx.host, ParamGrads::accumulate);
  device.backward(d_ctx, dd, dx.device, ParamGrads::accumulate);
  require_parity("backward d/dinput", dx.host, dx.device, composed);
  require_same_gradients("backward", host, device, composed);

  auto d_layout = twin(zeros<float>(layout.host.shape()));
  auto d_image = twin(zeros<float>(image.host.shape()));
  conditional_input_backward(dx.host, d_layout.host, d_image.host);
  conditional_input_backward(dx.device, d_layout.device, d_image.device);
  require_parity("conditional_input_backward layout", d_layout.host, d_layout.device, composed);
  require_parity("conditional_input_backward image", d_image.host, d_image.device, composed);
}

TEST_CASE("CUDA progressive layout generator matches the CPU at every phase, fade-in included", "[gpu][cuda-blocks]") {
  REQUIRE_GPU_OR_SKIP();
  ProgressiveLayoutGeneratorOptions o;
  o.latent = 6;
  o.channels = {4, 3, 3};
  o.classes = 3;
  o.base_height = 2;
  o.aspect = 2;
  auto [host, device] = on_both(30, [&]<class B>(B, Generator& g) { return ProgressiveLayoutGenerator<float, B>(o, g); });
  for (index_t s = 1; s <= host.blocks(); ++s)
    for (const float alpha : {1.0f, 0.3f}) {
      host.set_active_blocks(s);
      device.set_active_blocks(s);
      host.set_alpha(alpha);
      device.set_alpha(alpha);
      require_layer_parity("ProgressiveLayoutGenerator, " + std::to_string(s) + " blocks, alpha " + std::to_string(alpha),
                           host, device, normal(31, Shape{2, o.latent}), composed);
    }
}

TEST_CASE("CUDA progressive critic matches the CPU at every phase, fade-in and minibatch stddev included",
          "[gpu][cuda-blocks]") {
  REQUIRE_GPU_OR_SKIP();
  for (const index_t group : {0, 2}) {
    ProgressiveCriticOptions o;
    o.classes = 3;
    o.channels = {3, 3, 2};
    o.base_height = 2;
    o.aspect = 2;
    o.minibatch_group = group;
    auto [host, device] = on_both(32, [&]<class B>(B, Generator& g) { return ProgressiveCritic<float, B>(o, g); });
    for (index_t s = 1; s <= host.blocks(); ++s)
      for (const float alpha : {1.0f, 0.4f}) {
        host.set_active_blocks(s);
        device.set_active_blocks(s);
        host.set_alpha(alpha);
        device.set_alpha(alpha);
        require_layer_parity("ProgressiveCritic, group " + std::to_string(group) + ", " + std::to_string(s) +
                                 " blocks, alpha " + std::to_string(alpha),
                             host, device, one_hot_layout(33, host.input_shape(4)), composed);
      }
  }
}

// --- models ----------------------------------------------------------------------------

TEST_CASE("CUDA layout generator with its Gumbel sampler matches the CPU", "[gpu][cuda-models]") {
  REQUIRE_GPU_OR_SKIP();
  ProgressiveLayoutGeneratorOptions o;
  o.latent = 8;
  o.channels = {4, 4, 4};
  o.classes = 3;
  auto [host, device] = on_both(34, [&]<class B>(B, Generator& g) {
    return LayoutGenerator<float, B>(o, g, Generator(35), {.temperature = 0.8});
  });
  require_layer_parity("LayoutGenerator sample mode", host, device, normal(36, Shape{2, o.latent}), composed);
  CHECK(host.sampler().generator().offset() == device.sampler().generator().offset());

  Generator latent_h(37), latent_d(37);
  const auto z_h = host.sample_latent(2, latent_h);
  const auto z_d = device.sample_latent(2, latent_d);
  require_parity("sample_latent", z_h, z_d, elementwise);
  const auto sampled_h = host.forward(z_h);
  const auto sampled_d = device.forward(z_d);
  require_parity("probabilities", sampled_h.probabilities(), sampled_d.probabilities(), composed);
  require_parity("one-hot sample", sampled_h.output, sampled_d.output, composed);
  host.set_training(false);
  device.set_training(false);
  require_parity("inference layout", host.forward(z_h).output, device.forward(z_d).output, composed);
}

TEMPLATE_TEST_CASE("CUDA SPADE generator matches the CPU", "[gpu][cuda-models]", BatchNorm<float>,
                   InstanceNorm<float>) {
  REQUIRE_GPU_OR_SKIP();
  using HostNorm = TestType;
  using DeviceNorm = std::conditional_t<std::is_same_v<HostNorm, BatchNorm<float>>, BatchNorm<float, cuda>,
                                        InstanceNorm<float, cuda>>;
  for (const bool detach : {true, false}) {
    SpadeGeneratorOptions o;
    o.label_channels = 3;
    o.nf = 2;
    o.hidden = 4;
    o.height = 64;  // five upsamplings from 2x2: the norms of the first block see 4 pixels (N·4 for batch norm)
    o.width = 64;
    o.upsampling = SpadeUpsampling::normal;
    o.detach_layout = detach;
    Generator gh(38), gd(38);
    SpadeGenerator<HostNorm> host(o, gh);
    SpadeGenerator<DeviceNorm> device(o, gd);
    require_layer_parity(host.describe() + (detach ? ", detached layout" : ""), host, device,
                         one_hot_layout(39, Shape{2, 3, 64, 64}), composed);
  }
}

TEST_CASE("CUDA VGG19 (width / 32) matches the CPU: features and gradients", "[gpu][cuda-models]") {
  REQUIRE_GPU_OR_SKIP();
  auto [host, device] = on_both(40, []<class B>(B, Generator& g) { return VGG19<float, B>({.width_divisor = 32}, g); });
  require_same_construction("VGG19", host, device);
  const auto x = twin(normal(41, Shape{2, 3, 16, 24}));
  const auto h_ctx = host.forward(x.host);
  const auto d_ctx = device.forward(x.device);
  Generator gen(42);
  std::array<Tensor<float>, 5> dh;
  std::array<Tensor<float, cuda>, 5> dd;
  for (std::size_t i = 0; i < 5; ++i) {
    require_parity(std::string("feature ") + VGG19<float>::feature_names[i], h_ctx.features[i], d_ctx.features[i],
                   composed);
    const auto d = normal_twin<float>(gen, h_ctx.features[i].shape());
    dh[i] = d.host;
    dd[i] = d.device;
  }
  auto dx = normal_twin<float>(gen, x.host.shape());
  test_support::randomize_gradients(host, device, gen);
  host.backward(h_ctx, dh, dx.host, ParamGrads::accumulate);
  device.backward(d_ctx, dd, dx.device, ParamGrads::accumulate);
  require_parity("VGG19 backward d/dx", dx.host, dx.device, composed);
  require_same_gradients("VGG19 backward", host, device, composed);
}

TEST_CASE("CUDA SBGAN: one seed builds the same five networks on both backends", "[gpu][cuda-models]") {
  REQUIRE_GPU_OR_SKIP();
  Generator gh(43), gd(43);
  SBGAN<SBGanTraits<float, cpu>> host(SBGanConfig::demo(), gh);
  SBGAN<SBGanTraits<float, cuda>> device(SBGanConfig::demo(), gd);
  // ProGAN's N(0, 1) weights and SPADE's xavier draws: normal draws, so to rounding.
  test_support::require_same_parameters("SBGAN", host, device, reduction);
  require_same_buffers("SBGAN", host, device, reduction);
  CHECK(gh.offset() == gd.offset());
}
