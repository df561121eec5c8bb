// Every layer through the generic checker (central differences in double, first
// and second order, the accumulate contract, poisoned outputs) on random
// configurations and shapes; plus the concept itself and the errors layers give.
#include <catch2/catch.hpp>
#include <random>
#include <sbgan/sbgan.hpp>
#include <sbgan/testing/layer_checker.hpp>
#include "support/checker.hpp"

using namespace sbgan;
using test_support::Dice;
using test_support::require_checked;
using sbgan::testing::check_layer;

namespace {

constexpr int configurations = 6;

}  // namespace

TEST_CASE("Conv2d passes the layer checker for random geometries", "[checker][conv]") {
  Dice dice(11);
  for (int i = 0; i < configurations; ++i) {
    Generator g(static_cast<std::uint64_t>(i));
    const index_t kernel = dice(1, 4), stride = dice(1, 2), pad = dice(0, kernel / 2 + 1);
    Conv2d<double> conv({dice(1, 3), dice(1, 4), kernel, stride, pad, dice(0, 1) == 1}, g);
    const Shape in{dice(1, 2), conv.options().in_channels, dice(kernel, 7), dice(kernel, 7)};
    require_checked(conv, in, static_cast<std::uint64_t>(100 + i));
  }
}

TEST_CASE("Linear passes the layer checker", "[checker][linear]") {
  Dice dice(12);
  for (int i = 0; i < configurations; ++i) {
    Generator g(static_cast<std::uint64_t>(i));
    const index_t c = dice(1, 3), h = dice(1, 3), w = dice(1, 3);
    Linear<double> linear({c * h * w, dice(1, 5), dice(0, 1) == 1}, g);
    const Shape in = i % 2 ? Shape{dice(1, 3), c, h, w} : Shape{dice(1, 3), c * h * w};
    require_checked(linear, in, static_cast<std::uint64_t>(200 + i));
  }
}

TEST_CASE("activations pass the layer checker", "[checker][activation]") {
  Dice dice(13);
  for (int i = 0; i < configurations; ++i) {
    const Shape in{dice(1, 2), dice(1, 3), dice(1, 5), dice(1, 5)};
    LeakyReLU<double> leaky(0.2);
    require_checked(leaky, in, static_cast<std::uint64_t>(300 + i));
    ReLU<double> relu;
    require_checked(relu, in, static_cast<std::uint64_t>(310 + i));
    Tanh<double> tanh_layer;
    require_checked(tanh_layer, in, static_cast<std::uint64_t>(320 + i));
  }
}

TEST_CASE("resampling layers pass the layer checker", "[checker][resample]") {
  Dice dice(14);
  for (int i = 0; i < configurations; ++i) {
    NearestUpsample<double> up(dice(1, 3));
    require_checked(up, Shape{dice(1, 2), dice(1, 3), dice(1, 4), dice(1, 4)}, static_cast<std::uint64_t>(400 + i));
    auto halve = AvgPool2d<double>::halve();
    require_checked(halve, Shape{dice(1, 2), dice(1, 3), dice(2, 7), dice(2, 7)}, static_cast<std::uint64_t>(410 + i));
    auto down = AvgPool2d<double>::downsample3x3();
    require_checked(down, Shape{dice(1, 2), dice(1, 3), dice(2, 7), dice(2, 7)}, static_cast<std::uint64_t>(420 + i));
    AvgPool2d<double> any(Window2d{dice(1, 3), dice(1, 3), dice(1, 3), dice(1, 3), 0, 1});
    require_checked(any, Shape{1, 2, dice(3, 6), dice(3, 6)}, static_cast<std::uint64_t>(430 + i));
  }
  Flatten<double> flatten;
  require_checked(flatten, Shape{2, 3, 2, 2}, 440);
}

TEST_CASE("a Sequential critic passes the layer checker, second order included", "[checker][sequential]") {
  Generator g(5);
  auto critic = Sequential<Conv2d<double>, LeakyReLU<double>, AvgPool2d<double>, Conv2d<double>, Tanh<double>,
                           NearestUpsample<double>, AvgPool2d<double>, Flatten<double>, Linear<double>>(
      Conv2d<double>({2, 3, 3, 1, 1}, g), LeakyReLU<double>(0.2), AvgPool2d<double>::halve(),
      Conv2d<double>({3, 3, 3, 1, 1}, g), Tanh<double>(), NearestUpsample<double>(2),
      AvgPool2d<double>::downsample3x3(), Flatten<double>(), Linear<double>({3 * 2 * 2, 1}, g));
  require_checked(critic, Shape{2, 2, 4, 4}, 500);
}

TEST_CASE("the checker catches a wrong gradient", "[checker]") {
  // A layer whose backward forgets the slope of the negative side.
  struct BrokenLeaky : LeakyReLU<double> {
    BrokenLeaky() : LeakyReLU<double>(0.2) {}
    void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
      kernels::axpy(1.0, dy, dx);
      (void)ctx;
    }
  };
  BrokenLeaky broken;
  const auto report = check_layer(broken, Shape{1, 2, 3, 3}, 7);
  CHECK_FALSE(report.ok());
  CHECK_FALSE(report.failures.empty());

  // A layer that assigns dx instead of adding into it.
  struct Overwriting : Tanh<double> {
    void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads g) {
      kernels::fill(dx, 0.0);
      Tanh<double>::backward(ctx, dy, dx, g);
    }
  };
  Overwriting overwriting;
  CHECK_FALSE(check_layer(overwriting, Shape{1, 2, 3, 3}, 8).ok());
}

namespace {
// A layer that satisfies Layer but has no second-order pass.
struct FirstOrderOnly : layer_types<double, cpu> {
  struct context {
    tensor output;
  };
  context forward(const tensor& x) { return {x}; }
  void backward(const context&, const tensor& dy, tensor& dx, ParamGrads) { kernels::axpy(1.0, dy, dx); }
  template <class F>
  void visit_parameters(F&&) {}
  std::string describe() const { return "FirstOrderOnly"; }
};
}  // namespace

TEST_CASE("the concepts hold for every layer and reject what they should", "[concept]") {
  STATIC_REQUIRE(SecondOrderLayer<Conv2d<float>>);
  STATIC_REQUIRE(SecondOrderLayer<Linear<float>>);
  STATIC_REQUIRE(SecondOrderLayer<LeakyReLU<float>>);
  STATIC_REQUIRE(SecondOrderLayer<ReLU<float>>);
  STATIC_REQUIRE(SecondOrderLayer<Tanh<float>>);
  STATIC_REQUIRE(SecondOrderLayer<NearestUpsample<float>>);
  STATIC_REQUIRE(SecondOrderLayer<AvgPool2d<float>>);
  STATIC_REQUIRE(SecondOrderLayer<Flatten<double>>);
  STATIC_REQUIRE(SecondOrderLayer<Sequential<Conv2d<double>, LeakyReLU<double>>>);
  STATIC_REQUIRE(Layer<FirstOrderOnly>);
  STATIC_REQUIRE_FALSE(SecondOrderLayer<FirstOrderOnly>);
  // One element without a second-order pass removes it from the whole Sequential,
  // so a gradient penalty over it would not compile.
  STATIC_REQUIRE(Layer<Sequential<FirstOrderOnly, Tanh<double>>>);
  STATIC_REQUIRE_FALSE(SecondOrderLayer<Sequential<FirstOrderOnly, Tanh<double>>>);
  STATIC_REQUIRE_FALSE(Layer<int>);
  STATIC_REQUIRE_FALSE(Layer<Tensor<float>>);
}

TEST_CASE("parameters have hierarchical names and gradients accumulate", "[concept][parameters]") {
  Generator g(1);
  Sequential<Conv2d<double>, LeakyReLU<double>, Flatten<double>, Linear<double>> net(
      Conv2d<double>({1, 2, 3, 1, 1}, g), LeakyReLU<double>(0.2), Flatten<double>(), Linear<double>({2 * 3 * 3, 1}, g));
  std::vector<std::string> names;
  net.visit_parameters([&](std::string_view n, auto&) { names.emplace_back(n); });
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"});

  // Two forward passes (say D on real and on fake), two backward passes: the
  // parameter gradient is the sum of both, as one pass over the pair would give.
  const auto a = g.normal<double>(Shape{1, 1, 3, 3});
  const auto b = g.normal<double>(Shape{1, 1, 3, 3});
  const auto ones = full<double>(Shape{1, 1}, 1.0);
  zero_grad(net);
  auto ca = net.forward(a);
  auto cb = net.forward(b);
  input_gradient(net, ca, ones, a.shape());
  input_gradient(net, cb, ones, b.shape());
  const auto summed = clone(net.get<3>().weight().grad);
  zero_grad(net);
  Tensor<double> both(Shape{2, 1, 3, 3});
  std::copy(a.begin(), a.end(), both.begin());
  std::copy(b.begin(), b.end(), both.begin() + 9);
  auto cboth = net.forward(both);
  input_gradient(net, cboth, full<double>(Shape{2, 1}, 1.0), both.shape());
  for (index_t i = 0; i < summed.numel(); ++i) CHECK(summed[i] == Approx(net.get<3>().weight().grad[i]).epsilon(1e-12));
}

TEST_CASE("shape errors name the layer, the expected and the actual shape", "[errors]") {
  Generator g(1);
  Conv2d<float> conv({3, 8, 3, 1, 1}, g);
  const auto wrong = zeros<float>(Shape{2, 4, 8, 8});
  CHECK_THROWS_MATCHES(conv.forward(wrong), shape_error,
                       Catch::Matchers::Message("Conv2d(3->8, kernel 3x3, stride 1x1, pad 1x1): input must have shape "
                                                "[N, 3, H, W], got [2, 4, 8, 8]"));
  Linear<float> linear({10, 2}, g);
  CHECK_THROWS_WITH(linear.forward(zeros<float>(Shape{4, 9})), Catch::Contains("Linear(10->2)") &&
                                                                   Catch::Contains("got [4, 9]"));
  auto pool = AvgPool2d<float>::halve();
  CHECK_THROWS_AS(pool.forward(zeros<float>(Shape{1, 1, 1, 1})), shape_error);
  // Inside a Sequential the message also says which element failed.
  Sequential<Conv2d<float>, Flatten<float>, Linear<float>> net(Conv2d<float>({3, 2, 3, 1, 1}, g), Flatten<float>(),
                                                               Linear<float>({7, 1}, g));
  CHECK_THROWS_WITH(net.forward(zeros<float>(Shape{1, 3, 4, 4})),
                    Catch::StartsWith("Sequential element 2: Linear(7->1): input must have shape"));
  // A gradient of the wrong shape is refused before anything is written.
  auto ctx = conv.forward(zeros<float>(Shape{1, 3, 4, 4}));
  auto dx = zeros<float>(Shape{1, 3, 4, 4});
  CHECK_THROWS_AS(conv.backward(ctx, zeros<float>(Shape{1, 8, 4, 5}), dx, ParamGrads::accumulate), shape_error);
  CHECK(kernels::sum(dx) == 0.0);
  CHECK_THROWS_AS(Conv2d<float>({0, 8, 3}, g), sbgan::error);
}
