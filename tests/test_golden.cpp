// Every layer against PyTorch: forward, input and parameter gradients, and the
// second-order gradients of ⟨dL/dx, w⟩, in float (tolerance::golden_float) and in
// double (tolerance::golden_double). Data: tools/golden/make_golden.py.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <sbgan/testing/tolerances.hpp>

#include "support/golden.hpp"

using namespace sbgan;

namespace {

// Cases named here are whole networks; the rest are single layers or kernels.
bool is_composed(const std::string& test_case) { return test_case == "critic" || test_case == "wgan_gp_critic"; }

template <class T>
double tolerance_for(const std::string& test_case) {
  if (!std::is_same_v<T, float>) return tolerance::golden_double;
  return is_composed(test_case) ? tolerance::golden_float_composed : tolerance::golden_float;
}

#define CHECK_CLOSE(actual, test_case, name)                                               \
  do {                                                                                     \
    const double err = golden::relative_error(actual, golden::load<double>(test_case, name)); \
    INFO(test_case << " " << name << ": relative error " << err);                          \
    CHECK(err <= tolerance_for<T>(test_case));                                                  \
  } while (0)

// Runs the golden comparison of one case for any layer whose parameters the case holds.
template <class T, class L>
void check_against_torch(L& layer, const std::string& test_case) {
  std::map<std::string, Parameter<T>*> params;
  layer.visit_parameters([&](std::string_view name, Parameter<T>& p) {
    golden::assign(p.value, golden::load<T>(test_case, "param_" + std::string(name)));
    params[std::string(name)] = &p;
  });
  const auto x = golden::load<T>(test_case, "x");
  auto ctx = layer.forward(x);
  CHECK_CLOSE(ctx.output, test_case, "y");

  const auto dy = golden::load<T>(test_case, "dy").reshaped(ctx.output.shape());
  auto dx = zeros<T>(x.shape());
  zero_grad(layer);
  layer.backward(ctx, dy, dx, ParamGrads::accumulate);
  CHECK_CLOSE(dx, test_case, "dx");
  for (auto& [name, p] : params) CHECK_CLOSE(p->grad, test_case, "grad_" + name);

  if constexpr (SecondOrderLayer<L>) {
    const auto w = golden::load<T>(test_case, "w");
    zero_grad(layer);
    auto so = second_order_gradients(layer, ctx, dy, w);
    CHECK_CLOSE(so.dx, test_case, "so_dx");
    CHECK_CLOSE(so.dgy, test_case, "so_dgy");
    for (auto& [name, p] : params) CHECK_CLOSE(p->grad, test_case, "so_grad_" + name);
  } else {
    FAIL(test_case << ": layer has no second-order pass");
  }
}

template <class T>
auto critic(Generator& g) {
  return Sequential<Conv2d<T>, LeakyReLU<T>, AvgPool2d<T>, Conv2d<T>, LeakyReLU<T>, AvgPool2d<T>, Conv2d<T>, Tanh<T>,
                    Flatten<T>, Linear<T>>(
      Conv2d<T>({3, 6, 3, 1, 1}, g), LeakyReLU<T>(T(0.2)), AvgPool2d<T>::halve(), Conv2d<T>({6, 6, 3, 1, 1}, g),
      LeakyReLU<T>(T(0.2)), AvgPool2d<T>::downsample3x3(), Conv2d<T>({6, 4, 2, 1, 0}, g), Tanh<T>(), Flatten<T>(),
      Linear<T>({4, 1}, g));
}

}  // namespace

TEMPLATE_TEST_CASE("layers match PyTorch", "[golden]", float, double) {
  using T = TestType;
  Generator g(7);
  SECTION("Conv2d 3x3 stride 1 pad 1") {
    Conv2d<T> l({3, 4, 3, 1, 1}, g);
    check_against_torch<T>(l, "conv2d_k3_s1_p1");
  }
  SECTION("Conv2d 4x4 stride 2 pad 1, no bias") {
    Conv2d<T> l({3, 5, 4, 2, 1, false}, g);
    check_against_torch<T>(l, "conv2d_k4_s2_p1_nobias");
  }
  SECTION("Conv2d 1x1") {
    Conv2d<T> l({6, 3, 1, 1, 0}, g);
    check_against_torch<T>(l, "conv2d_k1");
  }
  SECTION("Conv2d 3x3 stride 2 valid") {
    Conv2d<T> l({2, 3, 3, 2, 0}, g);
    check_against_torch<T>(l, "conv2d_k3_s2_p0");
  }
  SECTION("Linear") {
    Linear<T> l({12, 5}, g);
    check_against_torch<T>(l, "linear");
  }
  SECTION("Flatten then Linear") {
    Sequential<Flatten<T>, Linear<T>> l(Flatten<T>(), Linear<T>({12, 4}, g));
    check_against_torch<T>(l, "linear_flatten");
  }
  SECTION("LeakyReLU") {
    LeakyReLU<T> l(T(0.2));
    check_against_torch<T>(l, "leaky_relu");
  }
  SECTION("ReLU") {
    ReLU<T> l;
    check_against_torch<T>(l, "relu");
  }
  SECTION("Tanh") {
    Tanh<T> l;
    check_against_torch<T>(l, "tanh");
  }
  SECTION("NearestUpsample") {
    NearestUpsample<T> l(2);
    check_against_torch<T>(l, "nearest_upsample");
  }
  SECTION("AvgPool2d 2x2") {
    auto l = AvgPool2d<T>::halve();
    check_against_torch<T>(l, "avg_pool_2x2");
  }
  SECTION("AvgPool2d 3x3 stride 2 pad 1, padding not counted") {
    auto l = AvgPool2d<T>::downsample3x3();
    check_against_torch<T>(l, "avg_pool_3x3_s2_p1");
  }
  SECTION("a critic composed with Sequential") {
    auto l = critic<T>(g);
    check_against_torch<T>(l, "critic");
  }
}

// The exact WGAN-GP penalty, λ·mean_n(‖∇ₓD(xₙ)‖ − 1)², differentiated through the
// critic's parameters by the second-order pass, against torch.autograd.grad.
TEMPLATE_TEST_CASE("gradient penalty through a critic matches PyTorch", "[golden][second-order]", float, double) {
  using T = TestType;
  const std::string c = "wgan_gp_critic";
  const T lambda = 10;
  Generator g(3);
  auto d = critic<T>(g);
  std::map<std::string, Parameter<T>*> params;
  d.visit_parameters([&](std::string_view name, Parameter<T>& p) {
    golden::assign(p.value, golden::load<T>(c, "param_" + std::string(name)));
    params[std::string(name)] = &p;
  });
  const auto x = golden::load<T>(c, "x");
  const index_t n = x.shape().n();
  auto ctx = d.forward(x);
  const auto ones = full<T>(ctx.output.shape(), T(1));
  // g = ∇ₓ Σ D(x): the inner gradient, without parameter terms.
  const auto grad_x = input_gradient(d, ctx, ones, x.shape(), ParamGrads::skip);
  // w = ∂penalty/∂g = λ/N · 2(‖gₙ‖ − 1)·gₙ/‖gₙ‖, per sample.
  Tensor<T> w(x.shape());
  double penalty = 0;
  const index_t per = x.shape().per_sample();
  for (index_t s = 0; s < n; ++s) {
    double sq = 0;
    for (index_t i = 0; i < per; ++i) sq += double(grad_x[s * per + i]) * grad_x[s * per + i];
    const double norm = std::sqrt(sq);
    penalty += lambda * (norm - 1) * (norm - 1) / double(n);
    const double coef = lambda * 2.0 * (norm - 1) / norm / double(n);
    for (index_t i = 0; i < per; ++i) w[s * per + i] = static_cast<T>(coef * grad_x[s * per + i]);
  }
  Tensor<T> penalty_t(Shape{1});
  penalty_t[0] = static_cast<T>(penalty);
  CHECK_CLOSE(penalty_t, c, "penalty");

  zero_grad(d);
  auto so = second_order_gradients(d, ctx, ones, w);
  CHECK_CLOSE(so.dx, c, "dx");
  for (auto& [name, p] : params) CHECK_CLOSE(p->grad, c, "grad_" + name);
}

TEMPLATE_TEST_CASE("kernels match PyTorch", "[golden][kernels]", float, double) {
  using T = TestType;
  SECTION("channel softmax") {
    const std::string c = "softmax_channels";
    const auto x = golden::load<T>(c, "x");
    Tensor<T> y(x.shape());
    kernels::softmax_channels(x, y);
    CHECK_CLOSE(y, c, "y");
    auto dx = zeros<T>(x.shape());
    kernels::softmax_channels_backward(y, golden::load<T>(c, "dy"), dx);
    CHECK_CLOSE(dx, c, "dx");
  }
  SECTION("nearest resize to any size") {
    for (const std::string c : {"resize_up_5x7", "resize_down_3x4", "resize_odd_13x6"}) {
      const auto x = golden::load<T>(c, "x");
      const auto expected = golden::load<double>(c, "y");
      Tensor<T> y(expected.shape());
      kernels::resize_nearest(x, y);
      CHECK_CLOSE(y, c, "y");
      auto dx = zeros<T>(x.shape());
      kernels::resize_nearest_backward(golden::load<T>(c, "dy"), dx);
      CHECK_CLOSE(dx, c, "dx");
    }
  }
  SECTION("per-channel and per-instance moments") {
    const std::string c = "moments";
    const auto x = golden::load<T>(c, "x");
    const index_t n = x.shape().n(), ch = x.shape().c();
    Tensor<T> mean(Shape{ch}), var(Shape{ch});
    kernels::channel_moments(x, mean, var);
    CHECK_CLOSE(mean, c, "channel_mean");
    CHECK_CLOSE(var, c, "channel_var");
    Tensor<T> imean(Shape{n, ch}), ivar(Shape{n, ch});
    kernels::instance_moments(x, imean, ivar);
    CHECK_CLOSE(imean, c, "instance_mean");
    CHECK_CLOSE(ivar, c, "instance_var");
  }
}
