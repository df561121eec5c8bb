// The element-wise, shape, pooling, softmax and Gumbel CUDA kernels against their
// CPU counterparts: each kernel runs on both backends from the same random inputs,
// on odd (non-power-of-two) shapes, with accumulating outputs starting from random
// values so that "adds" and "assigns" are told apart. Sums run over more elements
// than one pass of the reduction grid holds (1024 blocks × 256 threads), so the
// multi-block, grid-stride path is the one checked. Labelled `gpu`.
#include <catch2/catch.hpp>
#include <sbgan/sbgan.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "support/cuda_parity.hpp"

using namespace sbgan;
using test_support::require_parity;

namespace {

constexpr double elementwise = tolerance::cuda_elementwise;
constexpr double reduction = tolerance::cuda_reduction;

const Shape odd_shape{3, 5, 17, 13};
// 282,318 elements: above the 262,144 one reduction pass covers.
const Shape large_shape{2, 3, 211, 223};

// One tensor on each backend with the same values (separate storage).
template <class T>
struct pair {
  Tensor<T> host;
  Tensor<T, cuda> device;
};

template <class T>
pair<T> on_both_backends(const Tensor<T>& host) {
  return {clone(host), to_device(host)};
}

template <class T = float>
pair<T> random_pair(std::uint64_t seed, const Shape& s) {
  Generator g(seed);
  return on_both_backends(g.normal<T>(s));
}

template <class T = float>
pair<T> uninitialized_pair(const Shape& s) {
  return {Tensor<T>(s), Tensor<T, cuda>(s)};
}

// Runs f on the host tensors of the pairs, then on their device tensors.
template <class F, class... P>
void on_both(F&& f, P&... pairs) {
  f(pairs.host...);
  f(pairs.device...);
}

template <class T>
void require_parity(const std::string& what, const pair<T>& p, double tolerance) {
  test_support::require_parity(what, p.host, p.device, tolerance);
}

// For kernels that only select or copy values: equal element for element, NaN
// where the CPU has NaN.
template <class T>
void require_identical(const std::string& what, const pair<T>& p) {
  REQUIRE(p.host.shape() == p.device.shape());
  const auto got = to_host(p.device);
  index_t mismatches = 0;
  for (index_t i = 0; i < got.numel(); ++i) {
    const bool same = std::isnan(p.host[i]) ? std::isnan(got[i]) : got[i] == p.host[i];
    if (!same) ++mismatches;
  }
  INFO(what << ": " << mismatches << " of " << got.numel() << " elements differ");
  REQUIRE(mismatches == 0);
}

// Both backends must refuse with a shape_error carrying the same message.
template <class F, class... P>
void require_same_shape_error(const std::string& kernel, F&& f, P&... pairs) {
  const std::string none = "(no shape_error)";
  std::string cpu_message = none, cuda_message = none;
  try {
    f(pairs.host...);
  } catch (const shape_error& e) {
    cpu_message = e.what();
  }
  try {
    f(pairs.device...);
  } catch (const shape_error& e) {
    cuda_message = e.what();
  }
  INFO(kernel << ": CPU \"" << cpu_message << "\", CUDA \"" << cuda_message << "\"");
  REQUIRE(cpu_message != none);
  REQUIRE(cuda_message == cpu_message);
}

// Values on a coarse grid (steps of 0.5), so pooling windows and channels tie often.
Tensor<float> coarse(std::uint64_t seed, const Shape& s) {
  Generator g(seed);
  auto t = g.normal<float>(s);
  for (float& v : t) v = std::floor(2 * v) / 2;
  return t;
}

// Probabilities over the channels of s: the CPU softmax of normal logits.
Tensor<float> channel_probabilities(std::uint64_t seed, const Shape& s) {
  Generator g(seed);
  const auto logits = g.normal<float>(s, 0.0f, 2.0f);
  Tensor<float> p(s);
  kernels::softmax_channels(logits, p);
  return p;
}

// The pooling windows checked: even and odd kernels, strides below, at and above
// the kernel, padding, and non-square windows.
const std::vector<Window2d> pool_windows{
    Window2d::square(2, 2, 0), Window2d::square(3, 2, 1), Window2d::square(3, 1, 1),
    Window2d{3, 2, 2, 1, 1, 0}, Window2d::square(4, 3, 2),
};

}  // namespace

TEMPLATE_TEST_CASE("CUDA scale, add, multiply, axpy, copy and fill match the CPU", "[gpu]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  using T = TestType;
  for (const Shape& s : {odd_shape, large_shape}) {
    INFO("shape " << s);
    auto a = random_pair<T>(1, s), b = random_pair<T>(2, s), out = uninitialized_pair<T>(s);
    on_both([](auto& x) { kernels::scale(x, T(-0.75)); }, a);
    require_parity("scale", a, elementwise);
    on_both([](auto& x, auto& y, auto& o) { kernels::add(x, y, o); }, a, b, out);
    require_parity("add", out, elementwise);
    on_both([](auto& x, auto& y, auto& o) { kernels::multiply(x, y, o); }, a, b, out);
    require_parity("multiply", out, elementwise);
    on_both([](auto& x, auto& y) { kernels::axpy(T(1.5), x, y); }, a, b);
    require_parity("axpy", b, elementwise);
    on_both([](auto& x, auto& y) { kernels::copy(x, y); }, b, out);
    require_identical("copy", out);
    on_both([](auto& x) { kernels::fill(x, T(3.25)); }, out);
    require_identical("fill", out);
  }
}

TEMPLATE_TEST_CASE("CUDA dot, sum and all_finite match the CPU over multi-block sums", "[gpu]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  using T = TestType;
  for (const Shape& s : {Shape{7}, odd_shape, large_shape}) {
    INFO("shape " << s);
    const auto a = random_pair<T>(3, s), b = random_pair<T>(4, s);
    require_parity("dot", kernels::dot(a.host, b.host), kernels::dot(a.device, b.device), reduction);
    require_parity("sum", kernels::sum(a.host), kernels::sum(a.device), reduction);
    REQUIRE(kernels::all_finite(a.host));
    REQUIRE(kernels::all_finite(a.device));
  }
  // One non-finite element anywhere makes the whole tensor non-finite.
  Generator g(5);
  const auto finite = g.normal<T>(large_shape);
  for (const index_t at : {index_t{0}, large_shape.numel() / 2, large_shape.numel() - 1}) {
    for (const T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity()}) {
      auto t = clone(finite);
      t[at] = bad;
      INFO("element " << at << " = " << bad);
      REQUIRE_FALSE(kernels::all_finite(t));
      REQUIRE_FALSE(kernels::all_finite(to_device(t)));
    }
  }
}

TEST_CASE("CUDA kernels refuse mismatched sizes with the CPU's shape_error", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  auto a = random_pair(6, Shape{2, 3, 5, 7}), same = random_pair(7, Shape{2, 3, 5, 7});
  auto other = random_pair(8, Shape{2, 3, 5, 8});
  require_same_shape_error("copy", [](auto& x, auto& y) { kernels::copy(x, y); }, a, other);
  require_same_shape_error("axpy", [](auto& x, auto& y) { kernels::axpy(2.0f, x, y); }, a, other);
  require_same_shape_error("add", [](auto& x, auto& y, auto& o) { kernels::add(x, y, o); }, a, other, same);
  require_same_shape_error("add (output)", [](auto& x, auto& y, auto& o) { kernels::add(x, y, o); }, a, same, other);
  require_same_shape_error("multiply", [](auto& x, auto& y, auto& o) { kernels::multiply(x, y, o); }, a, same,
                           other);
  require_same_shape_error("dot", [](auto& x, auto& y) { (void)kernels::dot(x, y); }, a, other);
  require_same_shape_error(
      "modulate", [](auto& x, auto& g, auto& b, auto& o) { kernels::modulate(x, g, b, o); }, a, same, other, same);
  require_same_shape_error(
      "modulate_backward",
      [](auto& x, auto& g, auto& dy, auto& dx, auto& dg) { kernels::modulate_backward(x, g, dy, dx, dg); }, a, same,
      same, same, other);
  require_same_shape_error("l1_distance_sum", [](auto& x, auto& y) { (void)kernels::l1_distance_sum(x, y); }, a,
                           other);
  require_same_shape_error(
      "l1_distance_backward", [](auto& x, auto& y, auto& d) { kernels::l1_distance_backward(x, y, 1.0f, d); }, a,
      same, other);
}

TEMPLATE_TEST_CASE("CUDA leaky ReLU and tanh match the CPU: forward, backward, second order", "[gpu]", float,
                   double) {
  REQUIRE_GPU_OR_SKIP();
  using T = TestType;
  for (const Shape& s : {odd_shape, large_shape}) {
    INFO("shape " << s);
    auto x = random_pair<T>(10, s), dy = random_pair<T>(11, s), w = random_pair<T>(12, s);
    auto y = uninitialized_pair<T>(s), dx = random_pair<T>(13, s), dgy = random_pair<T>(14, s);
    on_both([](auto& in, auto& out) { kernels::leaky_relu_forward(in, T(0.2), out); }, x, y);
    require_parity("leaky_relu_forward", y, elementwise);
    on_both([](auto& in, auto& g, auto& d) { kernels::leaky_relu_backward(in, g, T(0.2), d); }, x, dy, dx);
    require_parity("leaky_relu_backward", dx, elementwise);
    on_both([](auto& in, auto& cot, auto& d) { kernels::leaky_relu_second(in, cot, T(0), d); }, x, w, dgy);
    require_parity("leaky_relu_second (ReLU)", dgy, elementwise);

    on_both([](auto& in, auto& out) { kernels::tanh_forward(in, out); }, x, y);
    require_parity("tanh_forward", y, elementwise);
    on_both([](auto& out, auto& g, auto& d) { kernels::tanh_backward(out, g, d); }, y, dy, dx);
    require_parity("tanh_backward", dx, elementwise);
    on_both([](auto& out, auto& g, auto& cot, auto& d, auto& dg) { kernels::tanh_second(out, g, cot, d, dg); }, y,
            dy, w, dx, dgy);
    require_parity("tanh_second dx", dx, elementwise);
    require_parity("tanh_second dgy", dgy, elementwise);
  }
}

TEST_CASE("CUDA channel concat and split match the CPU", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  for (const index_t n : {index_t{1}, index_t{3}}) {
    const index_t h = 11, w = 7;
    const std::vector<index_t> channels{2, 3, 1};
    std::vector<Tensor<float>> host_parts, host_grads;
    std::vector<Tensor<float, cuda>> device_parts, device_grads;
    for (std::size_t k = 0; k < channels.size(); ++k) {
      auto part = random_pair(20 + k, Shape{n, channels[k], h, w});
      auto grad = random_pair(30 + k, Shape{n, channels[k], h, w});
      host_parts.push_back(part.host);
      device_parts.push_back(part.device);
      host_grads.push_back(grad.host);
      device_grads.push_back(grad.device);
    }
    auto out = uninitialized_pair(Shape{n, 6, h, w});
    kernels::concat_channels(host_parts, out.host);
    kernels::concat_channels(device_parts, out.device);
    require_identical("concat_channels", out);

    const auto dy = random_pair(40, Shape{n, 6, h, w});
    kernels::split_channels_add(dy.host, host_grads);
    kernels::split_channels_add(dy.device, device_grads);
    for (std::size_t k = 0; k < channels.size(); ++k)
      require_parity("split_channels_add part " + std::to_string(k), host_grads[k], device_grads[k], elementwise);
  }
}

TEST_CASE("CUDA nearest resize matches the CPU exactly, forward and backward", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  struct sizes {
    index_t ih, iw, oh, ow;
  };
  // Doubling, identity, non-integer up- and downscaling, a large ratio.
  for (const sizes z : {sizes{13, 9, 26, 18}, sizes{13, 9, 13, 9}, sizes{13, 9, 20, 31}, sizes{17, 23, 7, 5},
                        sizes{5, 7, 16, 29}, sizes{3, 4, 61, 47}}) {
    INFO(z.ih << "x" << z.iw << " -> " << z.oh << "x" << z.ow);
    const auto x = random_pair(50, Shape{2, 3, z.ih, z.iw});
    auto y = uninitialized_pair(Shape{2, 3, z.oh, z.ow});
    on_both([](auto& in, auto& out) { kernels::resize_nearest(in, out); }, x, y);
    require_identical("resize_nearest", y);

    const auto dy = random_pair(51, Shape{2, 3, z.oh, z.ow});
    auto dx = random_pair(52, Shape{2, 3, z.ih, z.iw});
    on_both([](auto& g, auto& d) { kernels::resize_nearest_backward(g, d); }, dy, dx);
    require_parity("resize_nearest_backward", dx, elementwise);
  }
}

TEST_CASE("CUDA average pooling matches the CPU, forward and backward", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  for (const Shape& s : {Shape{2, 3, 13, 11}, Shape{1, 2, 64, 37}}) {
    for (const Window2d& g : pool_windows) {
      INFO("shape " << s << ", " << g.str());
      const Shape out_shape{s.n(), s.c(), g.out_h(s.h()), g.out_w(s.w())};
      const auto x = random_pair(60, s);
      auto y = uninitialized_pair(out_shape);
      on_both([&](auto& in, auto& out) { kernels::avg_pool2d_forward(in, g, out); }, x, y);
      require_parity("avg_pool2d_forward", y, elementwise);

      const auto dy = random_pair(61, out_shape);
      auto dx = random_pair(62, s);
      on_both([&](auto& gy, auto& d) { kernels::avg_pool2d_backward(gy, g, d); }, dy, dx);
      require_parity("avg_pool2d_backward", dx, elementwise);
    }
  }
}

TEST_CASE("CUDA max pooling matches the CPU: forward, backward and second order, ties and NaN included", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  const Shape s{2, 3, 13, 11};
  // Random values, then coarse values that tie inside windows, then NaNs in some windows.
  auto with_nans = coarse(71, s);
  for (const index_t at : {index_t{0}, index_t{5}, index_t{150}, s.numel() - 1})
    with_nans[at] = std::numeric_limits<float>::quiet_NaN();
  Generator g70(70);
  for (const auto& input : {g70.normal<float>(s), coarse(71, s), with_nans}) {
    for (const Window2d& g : pool_windows) {
      INFO(g.str());
      const Shape out_shape{s.n(), s.c(), g.out_h(s.h()), g.out_w(s.w())};
      const auto x = on_both_backends(input);
      auto y = uninitialized_pair(out_shape);
      on_both([&](auto& in, auto& out) { kernels::max_pool2d_forward(in, g, out); }, x, y);
      require_identical("max_pool2d_forward", y);

      const auto dy = random_pair(72, out_shape);
      auto dx = random_pair(73, s);
      on_both([&](auto& in, auto& gy, auto& d) { kernels::max_pool2d_backward(in, gy, g, d); }, x, dy, dx);
      require_parity("max_pool2d_backward", dx, elementwise);

      const auto w = random_pair(74, s);
      auto dgy = random_pair(75, out_shape);
      on_both([&](auto& in, auto& cot, auto& d) { kernels::max_pool2d_second(in, cot, g, d); }, x, w, dgy);
      require_parity("max_pool2d_second", dgy, elementwise);
    }
  }
}

TEMPLATE_TEST_CASE("CUDA channel softmax matches the CPU, forward and backward", "[gpu]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  using T = TestType;
  for (const Shape& s : {Shape{3, 7, 13, 11}, Shape{2, 19, 61, 47}, Shape{2, 1, 5, 3}}) {
    INFO("shape " << s);
    const auto x = random_pair<T>(80, s);
    auto y = uninitialized_pair<T>(s);
    on_both([](auto& in, auto& out) { kernels::softmax_channels(in, out); }, x, y);
    require_parity("softmax_channels", y, elementwise);

    // Backward from the CPU's y on both sides, so only the backward is compared.
    const auto y_in = on_both_backends(y.host);
    const auto dy = random_pair<T>(81, s);
    auto dx = random_pair<T>(82, s);
    on_both([](auto& out, auto& g, auto& d) { kernels::softmax_channels_backward(out, g, d); }, y_in, dy, dx);
    require_parity("softmax_channels_backward", dx, elementwise);
  }
}

TEMPLATE_TEST_CASE("CUDA channel softmax second order matches the CPU", "[gpu]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  using T = TestType;
  for (const Shape& s : {Shape{3, 7, 13, 11}, Shape{2, 19, 61, 47}}) {
    INFO("shape " << s);
    Generator g(90);
    const auto logits = g.normal<T>(s);
    Tensor<T> y(s);
    kernels::softmax_channels(logits, y);
    const auto y_in = on_both_backends(y), gy = random_pair<T>(91, s), w = random_pair<T>(92, s);
    auto dx = random_pair<T>(93, s), dgy = random_pair<T>(94, s);
    const auto second = [](auto& out, auto& g_y, auto& cot, auto& d, auto& dg) {
      kernels::softmax_channels_second(out, g_y, cot, d, dg);
    };
    on_both(second, y_in, gy, w, dx, dgy);
    require_parity("softmax_channels_second dx", dx, elementwise);
    require_parity("softmax_channels_second dgy", dgy, elementwise);
  }
}

TEST_CASE("CUDA Gumbel-softmax with drawn noise uses the CPU's noise and matches its forward", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  const float tau = 0.7f, eps = 1e-8f;
  for (const Shape& s : {Shape{3, 5, 17, 13}, Shape{1, 9, 37, 41}, Shape{2, 1, 7, 9}}) {
    INFO("shape " << s);
    const auto p = on_both_backends(channel_probabilities(100, s));
    // A position past the start of the stream, so a dropped offset shows.
    Generator gen(101);
    gen.set_offset(37);
    const auto at = gen.take(philox::blocks_for_uniform(static_cast<std::uint64_t>(s.numel())));
    auto soft = uninitialized_pair(s), hard = uninitialized_pair(s);
    on_both([&](auto& in, auto& so, auto& ha) { kernels::gumbel_softmax_st_forward(in, at, tau, eps, so, ha); }, p,
            soft, hard);
    require_parity("gumbel_softmax_st_forward (drawn) soft", soft, elementwise);
    require_identical("gumbel_softmax_st_forward (drawn) hard", hard);

    // The same noise given as a tensor (Generator::gumbel at the same position) gives
    // the same sample on the device, bit for bit.
    Generator replay(101);
    replay.set_offset(37);
    Tensor<float, cuda> noise(s), soft_given(s), hard_given(s);
    replay.gumbel(noise);
    kernels::gumbel_softmax_st_forward(p.device, noise, tau, eps, soft_given, hard_given);
    require_identical("drawn vs given noise on the device, soft", pair<float>{to_host(soft.device), soft_given});
    require_identical("drawn vs given noise on the device, hard", pair<float>{to_host(hard.device), hard_given});
  }
}

TEST_CASE("CUDA Gumbel-softmax with given noise and its backward match the CPU", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  const float tau = 0.5f, eps = 1e-6f;
  for (const Shape& s : {Shape{3, 5, 17, 13}, Shape{2, 11, 23, 29}}) {
    INFO("shape " << s);
    const auto p = on_both_backends(channel_probabilities(110, s));
    Generator gen(111);
    Tensor<float> noise_host(s);
    gen.gumbel(noise_host);
    const auto noise = on_both_backends(noise_host);
    auto soft = uninitialized_pair(s), hard = uninitialized_pair(s);
    on_both([&](auto& in, auto& z, auto& so, auto& ha) { kernels::gumbel_softmax_st_forward(in, z, tau, eps, so, ha); },
            p, noise, soft, hard);
    require_parity("gumbel_softmax_st_forward (given) soft", soft, elementwise);
    require_identical("gumbel_softmax_st_forward (given) hard", hard);

    // Backward from the CPU's soft sample on both sides.
    const auto soft_in = on_both_backends(soft.host), dy = random_pair(112, s);
    auto dp = random_pair(113, s);
    on_both([&](auto& in, auto& so, auto& g, auto& d) { kernels::gumbel_softmax_st_backward(in, so, g, tau, eps, d); },
            p, soft_in, dy, dp);
    require_parity("gumbel_softmax_st_backward", dp, elementwise);
  }
}

TEST_CASE("CUDA one-hot argmax over channels matches the CPU, ties and NaN included", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  for (const Shape& s : {Shape{3, 6, 17, 13}, Shape{2, 1, 9, 5}, Shape{1, 4, 129, 131}}) {
    INFO("shape " << s);
    auto input = coarse(120, s);  // many ties: the first channel must win
    for (const index_t at : {index_t{3}, s.numel() / 3, s.numel() - 1})
      input[at] = std::numeric_limits<float>::quiet_NaN();
    const auto x = on_both_backends(input);
    auto hard = uninitialized_pair(s);
    on_both([](auto& in, auto& out) { kernels::one_hot_argmax_channels(in, out); }, x, hard);
    require_identical("one_hot_argmax_channels", hard);
    REQUIRE(kernels::sum(hard.device) == double(s.n() * s.h() * s.w()));  // one 1 per pixel
  }
}

TEST_CASE("CUDA SPADE modulation matches the CPU, forward and backward", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  for (const Shape& s : {odd_shape, large_shape}) {
    INFO("shape " << s);
    const auto x = random_pair(130, s), gamma = random_pair(131, s), beta = random_pair(132, s);
    const auto dy = random_pair(133, s);
    auto out = uninitialized_pair(s), dx = random_pair(134, s), dgamma = random_pair(135, s);
    on_both([](auto& n, auto& g, auto& b, auto& o) { kernels::modulate(n, g, b, o); }, x, gamma, beta, out);
    require_parity("modulate", out, elementwise);
    on_both([](auto& n, auto& g, auto& gy, auto& d, auto& dg) { kernels::modulate_backward(n, g, gy, d, dg); }, x,
            gamma, dy, dx, dgamma);
    require_parity("modulate_backward d_normalized", dx, elementwise);
    require_parity("modulate_backward d_gamma", dgamma, elementwise);
  }
}

TEST_CASE("CUDA SPADE modulation fused with the leaky ReLU matches the CPU, forward and backward", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  for (const Shape& s : {odd_shape, large_shape}) {
    INFO("shape " << s);
    const auto x = random_pair(150, s), gamma = random_pair(151, s), beta = random_pair(152, s);
    const auto dy = random_pair(153, s);
    auto out = uninitialized_pair(s), dx = random_pair(154, s), dgamma = random_pair(155, s);
    auto dbeta = random_pair(156, s);
    on_both([](auto& n, auto& g, auto& b, auto& o) { kernels::modulate_leaky_relu(n, g, b, 0.2f, o); }, x, gamma,
            beta, out);
    require_parity("modulate_leaky_relu", out, elementwise);
    // The backward reads its mask off the output's sign: both get the CPU's output, so
    // an a within an ulp of 0 (where the device may contract to an FMA) can't flip it.
    auto stored = on_both_backends(out.host);
    on_both(
        [](auto& n, auto& g, auto& o, auto& gy, auto& d, auto& dg, auto& db) {
          kernels::modulate_leaky_relu_backward(n, g, o, gy, 0.2f, d, dg, db);
        },
        x, gamma, stored, dy, dx, dgamma, dbeta);
    require_parity("modulate_leaky_relu_backward d_normalized", dx, elementwise);
    require_parity("modulate_leaky_relu_backward d_gamma", dgamma, elementwise);
    require_parity("modulate_leaky_relu_backward d_beta", dbeta, elementwise);
  }
}

TEST_CASE("CUDA L1 distance matches the CPU: the sum over many blocks, and sign(0) = 0 in the gradient", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  for (const Shape& s : {odd_shape, large_shape}) {
    INFO("shape " << s);
    // ReLU-like features: about a quarter of the pairs are both zero and must get no gradient.
    Generator g(140);
    auto a_host = g.normal<float>(s), b_host = g.normal<float>(s);
    for (float& v : a_host) v = v > 0 ? v : 0.0f;
    for (float& v : b_host) v = v > 0 ? v : 0.0f;
    const auto a = on_both_backends(a_host), b = on_both_backends(b_host);
    require_parity("l1_distance_sum", kernels::l1_distance_sum(a.host, b.host),
                   kernels::l1_distance_sum(a.device, b.device), reduction);

    auto da = on_both_backends(zeros<float>(s));
    on_both([](auto& x, auto& y, auto& d) { kernels::l1_distance_backward(x, y, 0.25f, d); }, a, b, da);
    require_parity("l1_distance_backward", da, elementwise);
    const auto got = to_host(da.device);
    index_t both_zero = 0;
    for (index_t i = 0; i < s.numel(); ++i)
      if (a_host[i] == b_host[i]) {
        ++both_zero;
        REQUIRE(got[i] == 0.0f);
      }
    REQUIRE(both_zero > 0);

    // Accumulates: a second call adds the same again.
    auto again = on_both_backends(da.host);
    on_both([](auto& x, auto& y, auto& d) { kernels::l1_distance_backward(x, y, 0.25f, d); }, a, b, again);
    require_parity("l1_distance_backward (accumulating)", again, elementwise);
  }
}
