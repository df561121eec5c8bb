// MaxPool2d and the VGG19 perceptual loss.
//  - MaxPool2d through the layer checker (first and second order) on random
//    windows, against PyTorch, and on ties, NaN and bad shapes.
//  - VGG19: torchvision's parameter names and shapes; weights loaded from a file
//    that tools/convert_vgg19.py made from a PyTorch state dict; wrong files refused.
//  - The loss against PyTorch's SPADE VGGLoss (value, features, input gradient, in
//    float and double), against central differences, the accumulate contract, and
//    the disabled state without weights.
// Data: tools/golden/vgg.py.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <sbgan/layers/max_pool2d.hpp>
#include <sbgan/losses/vgg_perceptual.hpp>
#include <sbgan/models/vgg19.hpp>
#include <sbgan/testing/layer_checker.hpp>
#include <sbgan/testing/tolerances.hpp>
#include <string>
#include <vector>

#include "support/golden.hpp"
#include "support/checker.hpp"

using namespace sbgan;
using test_support::Dice;
using test_support::require_checked;
using Catch::Matchers::Contains;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sbgan::error& e) {
    return e.what();
  }
  return "";
}

template <class T>
double tolerance_for(bool composed) {
  if (!std::is_same_v<T, float>) return tolerance::golden_double;
  return composed ? tolerance::golden_float_composed : tolerance::golden_float;
}

template <class T>
void check_close(const Tensor<T>& actual, const std::string& test_case, const std::string& name, bool composed) {
  const double err = golden::relative_error(actual, golden::load<double>(test_case, name));
  INFO(test_case << " " << name << ": relative error " << err);
  CHECK(err <= tolerance_for<T>(composed));
}

const std::string weights_file = std::string(SBGAN_GOLDEN_DIR) + "/vgg_loss/vgg19.safetensors";
constexpr index_t golden_divisor = 32;

// max |a − b| / max |b|
template <class T>
double max_relative(const Tensor<T>& a, const Tensor<T>& b) {
  double diff = 0, scale = 1e-300;
  for (index_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

}  // namespace

// ---------------------------------------------------------------------------------
// MaxPool2d

TEST_CASE("MaxPool2d passes the layer checker for random windows", "[checker][vgg][max_pool]") {
  static_assert(SecondOrderLayer<MaxPool2d<double>>);
  Dice dice(21);
  for (int i = 0; i < 6; ++i) {
    auto halve = MaxPool2d<double>::halve();
    require_checked(halve, Shape{dice(1, 2), dice(1, 3), dice(2, 7), dice(2, 7)}, static_cast<std::uint64_t>(600 + i));
    // Overlapping windows (stride below the kernel) and padding up to half the kernel.
    const index_t kh = dice(1, 4), kw = dice(1, 4);
    MaxPool2d<double> any(Window2d{kh, kw, dice(1, 3), dice(1, 3), dice(0, kh / 2), dice(0, kw / 2)});
    require_checked(any, Shape{dice(1, 2), dice(1, 3), dice(4, 8), dice(4, 8)}, static_cast<std::uint64_t>(610 + i));
  }
}

TEMPLATE_TEST_CASE("MaxPool2d matches PyTorch, first and second order", "[golden][vgg][max_pool]", float, double) {
  using T = TestType;
  for (const auto& [test_case, window] :
       {std::pair{std::string("vgg_max_pool_2x2"), Window2d::square(2, 2, 0)},
        std::pair{std::string("vgg_max_pool_3x3_s2_p1"), Window2d::square(3, 2, 1)}}) {
    MaxPool2d<T> pool(window);
    const auto x = golden::load<T>(test_case, "x");
    auto ctx = pool.forward(x);
    check_close(ctx.output, test_case, "y", false);
    const auto dy = golden::load<T>(test_case, "dy");
    auto dx = zeros<T>(x.shape());
    pool.backward(ctx, dy, dx, ParamGrads::accumulate);
    check_close(dx, test_case, "dx", false);
    const auto so = second_order_gradients(pool, ctx, dy, golden::load<T>(test_case, "w"));
    check_close(so.dx, test_case, "so_dx", false);
    check_close(so.dgy, test_case, "so_dgy", false);
  }
}

TEST_CASE("MaxPool2d breaks ties and treats NaN as PyTorch does", "[vgg][max_pool]") {
  auto pool = MaxPool2d<double>::halve();
  Tensor<double> x(Shape{1, 1, 2, 4});
  // Window 1: all equal, the first wins. Window 2: the max appears twice, the first wins.
  const double values[] = {1, 1, 2, 3, 1, 1, 3, 0};
  std::copy(std::begin(values), std::end(values), x.begin());
  auto ctx = pool.forward(x);
  CHECK(ctx.output[0] == 1);
  CHECK(ctx.output[1] == 3);
  auto dx = zeros<double>(x.shape());
  pool.backward(ctx, full<double>(Shape{1, 1, 1, 2}, 1.0), dx, ParamGrads::accumulate);
  const double expected[] = {1, 0, 0, 1, 0, 0, 0, 0};
  for (index_t i = 0; i < 8; ++i) CHECK(dx[i] == expected[i]);

  x[5] = std::nan("");
  CHECK(std::isnan(pool.forward(x).output[0]));
}

TEST_CASE("MaxPool2d refuses bad windows and shapes before writing", "[vgg][max_pool]") {
  CHECK_THAT(error_of([] { MaxPool2d<float> p(Window2d::square(2, 2, 2)); }), Contains("padding at most half"));
  CHECK_THAT(error_of([] { MaxPool2d<float> p(Window2d::square(0, 1, 0)); }), Contains("must be positive"));
  auto pool = MaxPool2d<double>::halve();
  CHECK_THAT(error_of([&] { (void)pool.forward(zeros<double>(Shape{1, 2, 1, 4})); }),
             Contains("MaxPool2d(kernel 2x2, stride 2x2, pad 0x0): input must have shape"));
  const auto x = Generator(1).normal<double>(Shape{1, 2, 4, 4});
  auto ctx = pool.forward(x);
  auto dx = full<double>(x.shape(), 7.0);
  CHECK_THROWS_AS(pool.backward(ctx, zeros<double>(Shape{1, 2, 2, 3}), dx, ParamGrads::accumulate), shape_error);
  for (double v : dx) REQUIRE(v == 7.0);
}

// ---------------------------------------------------------------------------------
// VGG19

TEST_CASE("VGG19 names and shapes its parameters as torchvision does", "[vgg]") {
  Generator g(0);
  VGG19<float> vgg({1}, g);
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  vgg.visit_parameters([&](const std::string& name, Parameter<float>& p) {
    names.push_back(name);
    shapes.push_back(p.shape());
  });
  std::vector<std::string> expected;
  for (int i : {0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28})
    for (const char* kind : {"weight", "bias"}) expected.push_back("features." + std::to_string(i) + "." + kind);
  CHECK(names == expected);
  CHECK(shapes.front() == Shape{64, 3, 3, 3});
  CHECK(shapes[2 * 2] == Shape{128, 64, 3, 3});   // features.5
  CHECK(shapes[2 * 8] == Shape{512, 256, 3, 3});  // features.19
  CHECK(shapes[2 * 12] == Shape{512, 512, 3, 3});  // features.28
  CHECK(shapes.back() == Shape{512});
  CHECK(vgg.feature_channels() == std::array<index_t, 5>{64, 128, 256, 512, 512});

  CHECK_THAT(error_of([&] { VGG19<float> bad({3}, g); }), Contains("power of two"));
  Generator h(0);
  VGG19<double> tiny({golden_divisor}, h);
  CHECK(tiny.feature_channels() == std::array<index_t, 5>{2, 4, 8, 16, 16});
  CHECK_THAT(error_of([&] { (void)tiny.forward(zeros<double>(Shape{1, 3, 15, 32})); }), Contains("at least 16"));
  CHECK_THAT(error_of([&] { (void)tiny.forward(zeros<double>(Shape{1, 1, 16, 16})); }), Contains("[N, 3, H, W]"));
}

TEST_CASE("VGG19 loads the converted weight file and refuses the wrong one", "[vgg]") {
  const auto archive = io::read_safetensors(weights_file);
  CHECK(archive.metadata.at("format") == "torchvision-vgg19-features");
  CHECK(archive.contains("features.34.weight"));  // beyond relu5_1: kept by the converter, ignored here

  Generator g(0);
  VGG19<double> vgg({golden_divisor}, g);
  vgg.load_weights(std::filesystem::path(weights_file));
  int loaded = 0;
  vgg.visit_parameters([&](const std::string& name, Parameter<double>& p) {
    const auto stored = archive.get<double>(name);
    REQUIRE(stored.numel() == p.value.numel());
    for (index_t i = 0; i < stored.numel(); ++i) REQUIRE(p.value[i] == stored[i]);
    ++loaded;
  });
  CHECK(loaded == 26);

  // The width of another network: refused, naming the tensor and both shapes, and
  // the network keeps its weights.
  VGG19<double> wider({16}, g);
  std::vector<Tensor<double>> before;
  wider.visit_parameters([&](const std::string&, Parameter<double>& p) { before.push_back(clone(p.value)); });
  CHECK_THAT(error_of([&] { wider.load_weights(archive, "tiny.safetensors"); }),
             Contains("tiny.safetensors: 'features.0.weight' has shape [2, 3, 3, 3]") &&
                 Contains("needs [4, 3, 3, 3]"));
  // A file without one of the tensors: refused, naming it.
  auto partial = archive;
  partial.tensors.erase("features.28.bias");
  CHECK_THAT(error_of([&] { vgg.load_weights(partial, "partial.safetensors"); }),
             Contains("partial.safetensors: no tensor 'features.28.bias'"));
  std::size_t k = 0;
  wider.visit_parameters([&](const std::string& name, Parameter<double>& p) {
    INFO(name);
    REQUIRE(max_relative(p.value, before[k++]) == 0.0);
  });
}

TEST_CASE("VGG19 backward sums the gradients of all five features, parameters included", "[vgg]") {
  // Objective Σᵢ ⟨featureᵢ(x), rᵢ⟩ with fixed random rᵢ: its gradient in x and in
  // every parameter against central differences.
  Generator g(31);
  VGG19<double> vgg({golden_divisor}, g);
  Tensor<double> x = g.normal<double>(Shape{1, 3, 16, 18});
  const auto ctx = vgg.forward(x);
  std::array<Tensor<double>, 5> r;
  for (std::size_t i = 0; i < 5; ++i) r[i] = g.normal<double>(ctx.features[i].shape());
  const auto objective = [&] {
    double s = 0;
    const auto f = vgg.features(x);
    for (std::size_t i = 0; i < 5; ++i) s += kernels::dot(f[i], r[i]);
    return s;
  };
  auto dx = zeros<double>(x.shape());
  vgg.visit_parameters([](const std::string&, Parameter<double>& p) { p.zero_grad(); });
  vgg.backward(ctx, r, dx, ParamGrads::accumulate);

  const double h = tolerance::fd_step;
  const auto central = [&](double& entry) {
    const double saved = entry;
    entry = saved + h;
    const double plus = objective();
    entry = saved - h;
    const double minus = objective();
    entry = saved;
    return (plus - minus) / (2 * h);
  };
  Tensor<double> numeric(x.shape());
  for (index_t i = 0; i < x.numel(); ++i) numeric[i] = central(x[i]);
  INFO("input gradient: relative error " << max_relative(dx, numeric));
  CHECK(max_relative(dx, numeric) <= tolerance::fd_relative);
  vgg.visit_parameters([&](const std::string& name, Parameter<double>& p) {
    for (index_t i = 0; i < p.value.numel(); i += 7) {
      INFO(name << "[" << i << "]");
      CHECK(p.grad[i] == Approx(central(p.value[i])).margin(tolerance::fd_relative).epsilon(tolerance::fd_relative));
    }
  });
}

// ---------------------------------------------------------------------------------
// The perceptual loss

TEMPLATE_TEST_CASE("VGG perceptual loss matches PyTorch's SPADE VGGLoss with converted weights", "[golden][vgg]",
                   float, double) {
  using T = TestType;
  const std::string test_case = "vgg_loss";
  auto setup = load_vgg_perceptual_loss<T>(weights_file, VGG19Options{golden_divisor});
  REQUIRE(setup.enabled());
  CHECK_THAT(setup.message, Contains("enabled") && Contains("vgg19.safetensors"));
  auto& loss = *setup.loss;
  const auto x = golden::load<T>(test_case, "x");
  const auto y = golden::load<T>(test_case, "y");

  const auto ctx = loss.network().forward(x);
  for (std::size_t i = 0; i < 5; ++i) check_close(ctx.features[i], test_case, "feature_" + std::to_string(i), true);

  const auto r = loss.evaluate(x, y);
  Tensor<T> value(Shape{1});
  value[0] = static_cast<T>(r.value);
  check_close(value, test_case, "loss", true);
  check_close(r.grad, test_case, "dx", true);
  CHECK(loss.value(x, y) == Approx(r.value).epsilon(1e-12));
}

TEST_CASE("VGG perceptual loss gradient matches central differences", "[vgg]") {
  Generator g(17);
  VGGPerceptualLoss<double> loss(VGG19<double>({golden_divisor}, g));
  Tensor<double> x = g.normal<double>(Shape{1, 3, 16, 17});
  const Tensor<double> y = g.normal<double>(Shape{1, 3, 16, 17});
  const auto r = loss.evaluate(x, y);
  Tensor<double> numeric(x.shape());
  const double h = tolerance::fd_step;
  for (index_t i = 0; i < x.numel(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double plus = loss.value(x, y);
    x[i] = saved - h;
    const double minus = loss.value(x, y);
    x[i] = saved;
    numeric[i] = (plus - minus) / (2 * h);
  }
  const double err = max_relative(r.grad, numeric);
  INFO("max |analytic - central difference| / max |central difference| = " << err);
  CHECK(err <= tolerance::fd_relative);
}

TEST_CASE("VGG perceptual loss adds its scaled gradient into dx", "[vgg]") {
  Generator g(23);
  VGGPerceptualLoss<double> loss(VGG19<double>({golden_divisor}, g));
  const auto x = g.normal<double>(Shape{2, 3, 16, 16});
  const auto y = g.normal<double>(Shape{2, 3, 16, 16});
  const auto fresh = loss.evaluate(x, y);
  // dx starts with values of the gradient's size (about 1e-3), so the increment
  // read back as dx − before is not drowned in the rounding of larger values.
  auto dx = g.normal<double>(x.shape(), 0.0, 1e-3);
  const auto before = clone(dx);
  const double value = loss.accumulate(x, y, 10.0, dx);
  CHECK(value == Approx(fresh.value).epsilon(1e-14));
  Tensor<double> added(x.shape()), expected(x.shape());
  for (index_t i = 0; i < x.numel(); ++i) {
    added[i] = dx[i] - before[i];
    expected[i] = 10.0 * fresh.grad[i];
  }
  CHECK(max_relative(added, expected) <= 1e-12);

  // Identical images: zero loss and an exactly zero gradient (sign(0) = 0, as in torch).
  const auto same = loss.evaluate(x, x);
  CHECK(same.value == 0.0);
  for (double v : same.grad) REQUIRE(v == 0.0);

  // Mismatched shapes are refused before anything is written.
  auto untouched = full<double>(x.shape(), 3.0);
  CHECK_THROWS_AS(loss.accumulate(x, zeros<double>(Shape{2, 3, 16, 17}), 1.0, untouched), shape_error);
  Tensor<double> wrong(Shape{2, 3, 16, 15});
  CHECK_THROWS_AS(loss.accumulate(x, y, 1.0, wrong), shape_error);
  for (double v : untouched) REQUIRE(v == 3.0);
}

TEST_CASE("without weights the perceptual loss is off and says so", "[vgg]") {
  const auto setup = load_vgg_perceptual_loss<float>("");
  CHECK_FALSE(setup.enabled());
  CHECK(setup.message == "VGG19 weights not given: perceptual loss disabled");
  // A path that is given but wrong is an error, not a quietly disabled loss.
  CHECK_THAT(error_of([] { (void)load_vgg_perceptual_loss<float>("no/such/vgg19.safetensors"); }),
             Contains("no/such/vgg19.safetensors") && Contains("does not exist"));
}
