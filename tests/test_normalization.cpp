// InstanceNorm, BatchNorm and SpectralNorm: the layer checker (central differences
// in double, first and second order) on random configurations, the behaviour of
// their state (running statistics, the power iteration's u and v), and PyTorch's
// results (tools/golden/normalization.py) in float and double.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <sbgan/layers/batch_norm.hpp>
#include <sbgan/layers/equalized_conv2d.hpp>
#include <sbgan/layers/instance_norm.hpp>
#include <sbgan/layers/spectral_norm.hpp>
#include <sbgan/testing/layer_checker.hpp>
#include <sbgan/testing/tolerances.hpp>

#include "support/golden.hpp"
#include "support/checker.hpp"

using namespace sbgan;
using test_support::Dice;
using test_support::require_checked;
using sbgan::testing::check_layer;

namespace {

constexpr int configurations = 5;

template <class T>
double golden_tolerance() {
  return std::is_same_v<T, float> ? tolerance::golden_float : tolerance::golden_double;
}

template <class T>
void check_close(const Tensor<T>& actual, const std::string& test_case, const std::string& name, double tol) {
  const double err = golden::relative_error(actual, golden::load<double>(test_case, name));
  INFO(test_case << " " << name << ": relative error " << err);
  CHECK(err <= tol);
}

template <class L>
std::map<std::string, Parameter<typename L::value_type>*> parameters_by_name(L& layer) {
  std::map<std::string, Parameter<typename L::value_type>*> out;
  layer.visit_parameters([&](std::string_view name, Parameter<typename L::value_type>& p) { out[std::string(name)] = &p; });
  return out;
}

template <class L>
std::map<std::string, Tensor<typename L::value_type>*> buffers_by_name(L& layer) {
  std::map<std::string, Tensor<typename L::value_type>*> out;
  visit_buffers(layer, [&](std::string_view name, Tensor<typename L::value_type>& t) { out[std::string(name)] = &t; });
  return out;
}

// Forward, input gradient and second-order gradients of a parameter-free layer
// against a case written by first_and_second_order().
template <class T, class L>
void check_against_torch(L& layer, const std::string& c) {
  const double tol = golden_tolerance<T>();
  const auto x = golden::load<T>(c, "x");
  auto ctx = layer.forward(x);
  check_close(ctx.output, c, "y", tol);
  const auto dy = golden::load<T>(c, "dy").reshaped(ctx.output.shape());
  check_close(input_gradient(layer, ctx, dy, x.shape()), c, "dx", tol);
  const auto so = second_order_gradients(layer, ctx, dy, golden::load<T>(c, "w"));
  check_close(so.dx, c, "so_dx", tol);
  check_close(so.dgy, c, "so_dgy", tol);
}

// The weight matrix [out, rest] of a parameter, in double, for an independent SVD.
Eigen::MatrixXd weight_matrix(const Tensor<double>& w) {
  const index_t rows = w.shape()[0], cols = w.numel() / rows;
  Eigen::MatrixXd m(rows, cols);
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) m(i, j) = w[i * cols + j];
  return m;
}

}  // namespace

// --- InstanceNorm ----------------------------------------------------------------

TEST_CASE("InstanceNorm passes the layer checker, second order included", "[checker][norm][instance]") {
  Dice dice(21);
  for (int i = 0; i < configurations; ++i) {
    const index_t c = dice(1, 4);
    InstanceNorm<double> norm(i % 2 ? InstanceNormOptions{c} : InstanceNormOptions{});
    require_checked(norm, Shape{dice(1, 3), c, dice(1, 5), dice(2, 5)}, static_cast<std::uint64_t>(600 + i));
  }
}

TEST_CASE("InstanceNorm output has zero mean and unit variance per plane", "[norm][instance]") {
  Generator g(3);
  InstanceNorm<double> norm;
  const auto x = g.normal<double>(Shape{2, 3, 6, 5}, 4.0, 3.0);
  const auto y = norm.forward(x).output;
  for (index_t p = 0; p < 6; ++p) {
    double s = 0, sq = 0;
    for (index_t i = 0; i < 30; ++i) s += y[p * 30 + i];
    for (index_t i = 0; i < 30; ++i) sq += (y[p * 30 + i] - s / 30) * (y[p * 30 + i] - s / 30);
    CHECK(std::abs(s / 30) < 1e-12);
    // biased variance of y is var/(var + eps), just below one
    CHECK(sq / 30 == Approx(1.0).margin(1e-4));
    CHECK(sq / 30 < 1.0);
  }
  STATIC_REQUIRE(SecondOrderLayer<InstanceNorm<float>>);
}

// --- BatchNorm -------------------------------------------------------------------

TEST_CASE("BatchNorm passes the layer checker in training and in evaluation", "[checker][norm][batch]") {
  Dice dice(22);
  for (int i = 0; i < configurations; ++i) {
    const index_t c = dice(1, 4);
    BatchNorm<double> norm({c});
    const Shape in{dice(1, 3), c, dice(1, 4), dice(2, 4)};
    require_checked(norm, in, static_cast<std::uint64_t>(700 + i));
    // Evaluation, from running statistics that several batches have moved.
    Generator g(static_cast<std::uint64_t>(i));
    for (int b = 0; b < 3; ++b) norm.forward(g.normal<double>(in, 1.0, 2.0));
    norm.set_training(false);
    require_checked(norm, in, static_cast<std::uint64_t>(710 + i));
  }
}

TEST_CASE("BatchNorm keeps PyTorch's running statistics and uses them in evaluation", "[norm][batch]") {
  Generator g(4);
  BatchNorm<double> norm({2, 1e-5, 0.25});
  CHECK(norm.training());
  std::vector<std::string> names;
  visit_buffers(norm, [&](std::string_view n, Tensor<double>&) { names.emplace_back(n); });
  CHECK(names == std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  CHECK(norm.running_mean()[0] == 0.0);
  CHECK(norm.running_var()[1] == 1.0);

  const auto x = g.normal<double>(Shape{3, 2, 2, 2}, 2.0, 3.0);
  auto ctx = norm.forward(x);
  // Channel 0 by hand: mean, biased variance for y, unbiased variance for the update.
  double s = 0, sq = 0;
  for (index_t n = 0; n < 3; ++n)
    for (index_t i = 0; i < 4; ++i) s += x[(n * 2) * 4 + i];
  const double mean = s / 12;
  for (index_t n = 0; n < 3; ++n)
    for (index_t i = 0; i < 4; ++i) sq += (x[(n * 2) * 4 + i] - mean) * (x[(n * 2) * 4 + i] - mean);
  CHECK(ctx.output(1, 0, 1, 0) == Approx((x(1, 0, 1, 0) - mean) / std::sqrt(sq / 12 + 1e-5)).epsilon(1e-12));
  CHECK(norm.running_mean()[0] == Approx(0.25 * mean).epsilon(1e-12));
  CHECK(norm.running_var()[0] == Approx(0.75 + 0.25 * sq / 11).epsilon(1e-12));
  CHECK(norm.num_batches_tracked()[0] == 1.0);

  norm.set_training(false);
  const auto running_mean = clone(norm.running_mean());
  auto eval = norm.forward(x);
  CHECK(eval.output(2, 0, 0, 1) ==
        Approx((x(2, 0, 0, 1) - running_mean[0]) / std::sqrt(norm.running_var()[0] + 1e-5)).epsilon(1e-12));
  CHECK(norm.running_mean()[0] == running_mean[0]);  // evaluation leaves the statistics alone
  CHECK(norm.num_batches_tracked()[0] == 1.0);
}

TEST_CASE("normalization layers refuse bad input before changing anything", "[norm][errors]") {
  InstanceNorm<float> in3({3});
  CHECK_THROWS_MATCHES(in3.forward(zeros<float>(Shape{2, 4, 5, 5})), shape_error,
                       Catch::Matchers::Message("InstanceNorm(3): input must have shape [N, 3, H, W], got [2, 4, 5, 5]"));
  CHECK_THROWS_WITH(in3.forward(zeros<float>(Shape{2, 3, 1, 1})), Catch::Contains("H·W > 1"));
  BatchNorm<float> bn({4});
  CHECK_THROWS_WITH(bn.forward(zeros<float>(Shape{2, 3, 5, 5})), Catch::StartsWith("BatchNorm(4): input must have shape"));
  // One value per channel has no batch variance (PyTorch refuses it too).
  CHECK_THROWS_WITH(bn.forward(zeros<float>(Shape{1, 4, 1, 1})), Catch::Contains("N·H·W > 1"));
  CHECK(bn.num_batches_tracked()[0] == 0.0f);
  CHECK(bn.running_var()[0] == 1.0f);
  auto ctx = bn.forward(full<float>(Shape{2, 4, 3, 3}, 1.0f));
  auto dx = zeros<float>(Shape{2, 4, 3, 3});
  CHECK_THROWS_AS(bn.backward(ctx, zeros<float>(Shape{2, 4, 3, 2}), dx, ParamGrads::accumulate), shape_error);
  CHECK_THROWS_AS(BatchNorm<float>({0}), error);
}

// --- SpectralNorm ----------------------------------------------------------------

TEST_CASE("SpectralNorm passes the layer checker with its power iteration frozen", "[checker][spectral]") {
  // The power iteration changes u in every training forward, so central
  // differences of training forwards would not differentiate one function. After
  // a few training forwards (u, v no longer their initial draws) the checker runs
  // in evaluation, where u, v stay fixed: exactly the map whose gradient both modes
  // use (the next test shows a training pass has that gradient).
  Dice dice(23);
  for (int i = 0; i < configurations; ++i) {
    Generator g(static_cast<std::uint64_t>(i));
    const index_t kernel = dice(1, 3), pad = dice(0, 1);
    SpectralNorm<Conv2d<double>> conv(Conv2d<double>({dice(1, 3), dice(1, 4), kernel, dice(1, 2), pad, i % 2 == 0}, g),
                                      g);
    const Shape in{dice(1, 2), conv.inner().options().in_channels, dice(kernel, 5), dice(kernel, 5)};
    for (int step = 0; step < 2; ++step) conv.forward(g.normal<double>(in));
    conv.set_training(false);
    require_checked(conv, in, static_cast<std::uint64_t>(800 + i));

    SpectralNorm<Linear<double>> linear(Linear<double>({dice(1, 6), dice(1, 5), i % 2 == 1}, g), g);
    const Shape lin{dice(1, 3), linear.inner().options().in_features};
    linear.forward(g.normal<double>(lin));
    linear.set_training(false);
    require_checked(linear, lin, static_cast<std::uint64_t>(810 + i));
  }
  // Any layer with a weight() parameter: the equalized convolution scales its
  // weight inside forward, after the wrapper has divided it by σ.
  Generator g(30);
  SpectralNorm<EqualizedConv2d<double>> equalized(EqualizedConv2d<double>({2, 3, Window2d::square(3, 1, 1)}, g), g);
  kernels::fill(equalized.inner().bias().value, 0.3);
  const Shape in{2, 2, 4, 3};
  equalized.forward(g.normal<double>(in));
  equalized.set_training(false);
  require_checked(equalized, in, 820);
  std::vector<std::string> names;
  equalized.visit_parameters([&](std::string_view n, auto&) { names.emplace_back(n); });
  CHECK(names == std::vector<std::string>{"weight_orig", "bias"});
}

TEST_CASE("a training pass of SpectralNorm has the gradient of its frozen map", "[spectral]") {
  Generator g(9);
  SpectralNorm<Conv2d<double>> sn(Conv2d<double>({2, 3, 3, 1, 1}, g), g);
  const Shape in{2, 2, 4, 4};
  const auto x = g.normal<double>(in);
  const auto u0 = clone(sn.u());
  auto train = sn.forward(x);  // one power iteration: u moves
  double moved = 0;
  for (index_t i = 0; i < u0.numel(); ++i) moved += std::abs(sn.u()[i] - u0[i]);
  CHECK(moved > 1e-3);
  CHECK(train.sigma == Approx(sn.sigma()).epsilon(1e-14));  // σ of the committed u, v
  const auto dy = g.normal<double>(train.output.shape());
  zero_grad(sn);
  const auto dx_train = input_gradient(sn, train, dy, in);
  const auto grad_train = clone(sn.weight_orig().grad);

  sn.set_training(false);
  const auto u1 = clone(sn.u());
  auto frozen = sn.forward(x);
  for (index_t i = 0; i < u1.numel(); ++i) CHECK(sn.u()[i] == u1[i]);  // evaluation leaves u alone
  for (index_t i = 0; i < train.output.numel(); ++i) CHECK(frozen.output[i] == Approx(train.output[i]).epsilon(1e-14));
  zero_grad(sn);
  const auto dx_frozen = input_gradient(sn, frozen, dy, in);
  for (index_t i = 0; i < x.numel(); ++i) CHECK(dx_frozen[i] == Approx(dx_train[i]).epsilon(1e-14));
  for (index_t i = 0; i < grad_train.numel(); ++i)
    CHECK(sn.weight_orig().grad[i] == Approx(grad_train[i]).epsilon(1e-14));
}

TEST_CASE("SpectralNorm's power iteration finds the largest singular value", "[spectral]") {
  Generator g(10);
  SpectralNorm<Conv2d<double>> sn(Conv2d<double>({3, 4, 3, 1, 1}, g), g);
  const double largest = weight_matrix(sn.weight_orig().value).jacobiSvd().singularValues()(0);
  const auto x = g.normal<double>(Shape{1, 3, 4, 4});
  for (int i = 0; i < 300; ++i) sn.forward(x);
  CHECK(sn.sigma() == Approx(largest).epsilon(1e-9));
  // Between passes the wrapped layer's slot views W: no copy of the weight is kept.
  CHECK(sn.inner().weight().value.shares_storage_with(sn.weight_orig().value));
}

TEST_CASE("SpectralNorm names its state as PyTorch's state dict", "[spectral]") {
  Generator g(11);
  SpectralNorm<Conv2d<float>> conv(Conv2d<float>({3, 8, 3, 1, 1}, g), g);
  std::vector<std::string> params, buffers;
  conv.visit_parameters([&](std::string_view n, auto&) { params.emplace_back(n); });
  visit_buffers(conv, [&](std::string_view n, auto& t) {
    buffers.emplace_back(n);
    // u and v start as unit vectors
    double sq = 0;
    for (float e : t) sq += double(e) * e;
    CHECK(sq == Approx(1.0).epsilon(1e-6));
  });
  CHECK(params == std::vector<std::string>{"weight_orig", "bias"});
  CHECK(buffers == std::vector<std::string>{"weight_u", "weight_v"});
  CHECK(conv.u().shape() == Shape{8});
  CHECK(conv.v().shape() == Shape{27});
  CHECK(conv.describe() == "SpectralNorm(Conv2d(3->8, kernel 3x3, stride 1x1, pad 1x1))");
  STATIC_REQUIRE(SecondOrderLayer<SpectralNorm<Conv2d<float>>>);
  STATIC_REQUIRE(SecondOrderLayer<SpectralNorm<Linear<double>>>);
  STATIC_REQUIRE(HasTrainingMode<SpectralNorm<Linear<double>>>);
  STATIC_REQUIRE(HasBuffers<SpectralNorm<Linear<double>>>);

  // A refused input leaves u, v and the wrapped weight as they were.
  const auto u = clone(conv.u());
  const auto weight_before = conv.inner().weight().value;
  CHECK_THROWS_WITH(conv.forward(zeros<float>(Shape{1, 4, 5, 5})),
                    Catch::StartsWith("SpectralNorm: Conv2d(3->8, kernel 3x3, stride 1x1, pad 1x1): input must have"));
  for (index_t i = 0; i < u.numel(); ++i) CHECK(conv.u()[i] == u[i]);
  CHECK(conv.inner().weight().value.shares_storage_with(weight_before));
}

TEST_CASE("SpectralNorm::infer: forward's output and buffer updates, no weight copy kept", "[spectral][infer]") {
  Generator ga(13), gb(13), data(14);
  SpectralNorm<Conv2d<float>> a(Conv2d<float>({3, 8, 3, 1, 1}, ga), ga), b(Conv2d<float>({3, 8, 3, 1, 1}, gb), gb);
  // Until a forward runs, the wrapped layer's weight slot views W: no copy exists.
  CHECK(a.inner().weight().value.shares_storage_with(a.weight_orig().value));
  for (const bool training : {true, true, false}) {
    a.set_training(training);
    b.set_training(training);
    const auto x = data.normal<float>(Shape{2, 3, 6, 6});
    const auto inferred = a.infer(x);
    const auto forward = b.forward(x).output;
    for (index_t i = 0; i < forward.numel(); ++i) REQUIRE(inferred[i] == forward[i]);
    for (index_t i = 0; i < a.u().numel(); ++i) REQUIRE(a.u()[i] == b.u()[i]);
    for (index_t i = 0; i < a.v().numel(); ++i) REQUIRE(a.v()[i] == b.v()[i]);
    CHECK(a.inner().weight().value.shares_storage_with(a.weight_orig().value));  // Ŵ was not kept
  }
  // Sequential::infer chains its elements' infer and matches forward too.
  Generator gc(15), gd(15);
  auto make = [](Generator& g) {
    return Sequential<SpectralNorm<Conv2d<float>>, InstanceNorm<float>, LeakyReLU<float>>(
        SpectralNorm<Conv2d<float>>(Conv2d<float>({3, 4, 3, 2, 1}, g), g), InstanceNorm<float>(),
        LeakyReLU<float>(0.2f));
  };
  auto c = make(gc), d = make(gd);
  const auto x = data.normal<float>(Shape{2, 3, 8, 8});
  const auto inferred = infer(c, x);
  const auto forward = d.forward(x).output;
  REQUIRE(inferred.shape() == forward.shape());
  for (index_t i = 0; i < forward.numel(); ++i) REQUIRE(inferred[i] == forward[i]);
  CHECK_THROWS_WITH(infer(c, zeros<float>(Shape{1, 4, 8, 8})), Catch::StartsWith("Sequential element 0: SpectralNorm:"));
}

TEST_CASE("a patch critic with spectral and instance norm passes the layer checker", "[checker][spectral][instance]") {
  // The shape of one SPADE discriminator layer stack: conv, LReLU, then
  // SN(conv without bias), InstanceNorm, LReLU, and a final conv.
  Generator g(12);
  using D = double;
  auto critic = Sequential<Conv2d<D>, LeakyReLU<D>, SpectralNorm<Conv2d<D>>, InstanceNorm<D>, LeakyReLU<D>, Conv2d<D>>(
      Conv2d<D>({2, 3, 4, 2, 2}, g), LeakyReLU<D>(0.2),
      SpectralNorm<Conv2d<D>>(Conv2d<D>({3, 4, 4, 2, 2, false}, g), g), InstanceNorm<D>(), LeakyReLU<D>(0.2),
      Conv2d<D>({4, 1, 4, 1, 2}, g));
  const Shape in{2, 2, 6, 6};
  critic.forward(g.normal<double>(in));
  critic.set_training(false);
  require_checked(critic, in, 900);
}

// --- against PyTorch -------------------------------------------------------------

TEMPLATE_TEST_CASE("normalization layers match PyTorch", "[golden][norm]", float, double) {
  using T = TestType;
  const double tol = golden_tolerance<T>();
  SECTION("InstanceNorm") {
    InstanceNorm<T> norm({3});
    check_against_torch<T>(norm, "norm_instance");
  }
  SECTION("BatchNorm in training, two batches, running statistics") {
    const std::string c = "norm_batch_train";
    BatchNorm<T> norm({3});
    norm.forward(golden::load<T>(c, "x_prev"));
    check_against_torch<T>(norm, c);
    auto buffers = buffers_by_name(norm);
    for (const auto* name : {"running_mean", "running_var", "num_batches_tracked"})
      check_close(*buffers.at(name), c, name, tol);
  }
  SECTION("BatchNorm in evaluation") {
    const std::string c = "norm_batch_eval";
    BatchNorm<T> norm({3});
    auto buffers = buffers_by_name(norm);
    golden::assign(*buffers.at("running_mean"), golden::load<T>(c, "running_mean"));
    golden::assign(*buffers.at("running_var"), golden::load<T>(c, "running_var"));
    norm.set_training(false);
    check_against_torch<T>(norm, c);
  }
}

namespace {

// Three training steps of spectral_norm(layer) with an SGD step between them (u
// and v evolve; the SGD uses our own gradients), then an evaluation pass.
template <class T, class L>
void check_spectral_steps(L layer, const std::string& c) {
  const double tol = golden_tolerance<T>();
  const T lr = T(0.1);
  Generator g(1);
  SpectralNorm<L> sn(std::move(layer), g);
  auto params = parameters_by_name(sn);
  REQUIRE(params.size() == 2);
  for (auto& [name, p] : params) golden::assign(p->value, golden::load<T>(c, "param_" + name));
  auto buffers = buffers_by_name(sn);
  golden::assign(*buffers.at("weight_u"), golden::load<T>(c, "u_init"));
  golden::assign(*buffers.at("weight_v"), golden::load<T>(c, "v_init"));

  for (int step = 0; step < 3; ++step) {
    const std::string pre = "step" + std::to_string(step) + "_";
    INFO("training step " << step);
    const auto x = golden::load<T>(c, pre + "x");
    auto ctx = sn.forward(x);
    check_close(ctx.output, c, pre + "y", tol);
    check_close(*buffers.at("weight_u"), c, pre + "u", tol);
    check_close(*buffers.at("weight_v"), c, pre + "v", tol);
    const auto dy = golden::load<T>(c, pre + "dy").reshaped(ctx.output.shape());
    zero_grad(sn);
    check_close(input_gradient(sn, ctx, dy, x.shape()), c, pre + "dx", tol);
    std::map<std::string, Tensor<T>> first_order;
    for (auto& [name, p] : params) {
      check_close(p->grad, c, pre + "grad_" + name, tol);
      first_order[name] = clone(p->grad);
    }
    zero_grad(sn);
    const auto so = second_order_gradients(sn, ctx, dy, golden::load<T>(c, pre + "w"));
    check_close(so.dx, c, pre + "so_dx", tol);
    check_close(so.dgy, c, pre + "so_dgy", tol);
    for (auto& [name, p] : params) check_close(p->grad, c, pre + "so_grad_" + name, tol);
    for (auto& [name, p] : params) kernels::axpy(-lr, first_order[name], p->value);
  }

  sn.set_training(false);
  const auto x = golden::load<T>(c, "eval_x");
  auto ctx = sn.forward(x);
  check_close(ctx.output, c, "eval_y", tol);
  check_close(*buffers.at("weight_u"), c, "eval_u", tol);
  check_close(*buffers.at("weight_v"), c, "eval_v", tol);
  zero_grad(sn);
  check_close(input_gradient(sn, ctx, golden::load<T>(c, "eval_dy").reshaped(ctx.output.shape()), x.shape()), c,
              "eval_dx", tol);
  for (auto& [name, p] : params) check_close(p->grad, c, "eval_grad_" + name, tol);
}

}  // namespace

TEMPLATE_TEST_CASE("spectral norm matches PyTorch over training steps and in evaluation", "[golden][spectral]", float,
                   double) {
  using T = TestType;
  Generator g(2);
  SECTION("over Conv2d") { check_spectral_steps<T>(Conv2d<T>({3, 4, 3, 1, 1}, g), "norm_sn_conv"); }
  SECTION("over Linear") { check_spectral_steps<T>(Linear<T>({6, 5}, g), "norm_sn_linear"); }
}
