// The GAN losses and gradient penalties: against PyTorch running the reference's
// own formulas (tools/golden/losses.py), in float and double; every gradient
// against central differences in double; the accumulate contract of the
// penalties; the compile-time refusal of critics without a second-order pass;
// shape errors.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <sbgan/losses/approx_gradient_penalty.hpp>
#include <sbgan/losses/feature_matching.hpp>
#include <sbgan/losses/gradient_penalty.hpp>
#include <sbgan/losses/hinge.hpp>
#include <sbgan/losses/improved_wgan.hpp>
#include <sbgan/losses/r1.hpp>
#include <sbgan/losses/wgan.hpp>
#include <sbgan/testing/layer_checker.hpp>
#include <sbgan/testing/tolerances.hpp>
#include <string>
#include <vector>

#include "support/golden.hpp"

using namespace sbgan;

namespace {

template <class T>
double golden_tolerance(bool composed) {
  if (!std::is_same_v<T, float>) return tolerance::golden_double;
  return composed ? tolerance::golden_float_composed : tolerance::golden_float;
}

double scalar_error(double actual, double expected) {
  return std::abs(actual - expected) / std::max(std::abs(expected), 1e-30);
}

// A tensor against a golden file; a scalar against a one-element golden file.
#define CHECK_GOLDEN(actual, test_case, name, tol)                                          \
  do {                                                                                      \
    const double err_ = golden::relative_error(actual, golden::load<double>(test_case, name)); \
    INFO(test_case << " " << name << ": relative error " << err_);                          \
    CHECK(err_ <= (tol));                                                                   \
  } while (0)
#define CHECK_GOLDEN_VALUE(actual, test_case, name, tol)                                        \
  do {                                                                                          \
    const double err_ = scalar_error(actual, golden::load<double>(test_case, name)[0]);         \
    INFO(test_case << " " << name << ": " << (actual) << ", relative error " << err_);          \
    CHECK(err_ <= (tol));                                                                       \
  } while (0)

// The critic of tools/golden/losses.py: Conv2d/LeakyReLU/AvgPool2d twice, then
// Flatten and Linear, with PyTorch's parameter names (0.weight ... 7.bias).
template <class T>
using SmallCritic = Sequential<Conv2d<T>, LeakyReLU<T>, AvgPool2d<T>, Conv2d<T>, LeakyReLU<T>, AvgPool2d<T>,
                               Flatten<T>, Linear<T>>;

template <class T>
SmallCritic<T> small_critic(Generator& g, index_t in_channels = 3, index_t hidden = 6, index_t width = 8,
                            index_t h = 8, index_t w = 8) {
  return SmallCritic<T>(Conv2d<T>({in_channels, hidden, 3, 1, 1}, g), LeakyReLU<T>(T(0.2)), AvgPool2d<T>::halve(),
                        Conv2d<T>({hidden, width, 3, 1, 1}, g), LeakyReLU<T>(T(0.2)), AvgPool2d<T>::halve(),
                        Flatten<T>(), Linear<T>({width * (h / 4) * (w / 4), 1}, g));
}

template <class T, class L>
std::map<std::string, Parameter<T>*> load_parameters(L& layer, const std::string& test_case) {
  std::map<std::string, Parameter<T>*> params;
  layer.visit_parameters([&](std::string_view name, Parameter<T>& p) {
    golden::assign(p.value, golden::load<T>(test_case, "param_" + std::string(name)));
    params[std::string(name)] = &p;
  });
  return params;
}

// Central differences of objective() in every entry of t, against `analytic`.
void check_by_differences(testing::CheckReport& r, const std::string& what, Tensor<double>& t,
                          const Tensor<double>& analytic, const std::function<double()>& objective) {
  REQUIRE(t.numel() == analytic.numel());
  const double h = tolerance::fd_step;
  for (index_t i = 0; i < t.numel(); ++i) {
    const double saved = t[i];
    t[i] = saved + h;
    const double plus = objective();
    t[i] = saved - h;
    const double minus = objective();
    t[i] = saved;
    const double numeric = (plus - minus) / (2 * h);
    ++r.entries_checked;
    const double scale = std::max({1.0, std::abs(analytic[i]), std::abs(numeric)});
    if (!(std::abs(analytic[i] - numeric) <= tolerance::fd_relative * scale))
      r.failures.push_back(what + "[" + std::to_string(i) + "]: analytic " + std::to_string(analytic[i]) +
                           ", central difference " + std::to_string(numeric));
  }
}

#define REQUIRE_REPORT_OK(report)   \
  do {                              \
    INFO((report).summary());       \
    REQUIRE((report).ok());         \
  } while (0)

template <class L>
std::vector<std::pair<std::string, Parameter<double>*>> parameters_of(L& layer) {
  std::vector<std::pair<std::string, Parameter<double>*>> out;
  layer.visit_parameters([&](std::string_view name, Parameter<double>& p) { out.emplace_back(std::string(name), &p); });
  return out;
}

// A critic layer with a first-order pass only.
struct NoSecondOrderPass : layer_types<double, cpu> {
  struct context {
    tensor input;
    tensor output;
  };
  context forward(const tensor& x) {
    tensor y(x.shape());
    kernels::leaky_relu_forward(x, 0.2, y);
    return {x, y};
  }
  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads) {
    kernels::leaky_relu_backward(ctx.input, dy, 0.2, dx);
  }
  template <class F>
  void visit_parameters(F&&) {}
  std::string describe() const { return "NoSecondOrderPass"; }
};

template <class C>
concept PenaltyAccepts = requires { typename GradientPenalty<C>; };
template <class C>
concept R1Accepts = requires { typename R1Penalty<C>; };
template <class C>
concept ImprovedWganAccepts = requires { typename ImprovedWganLoss<C>; };

}  // namespace

// ---------------------------------------------------------------------------------
// Against PyTorch
// ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("hinge loss matches SPADE's GANLoss, multiscale and at the kinks", "[losses][golden][hinge]", float,
                   double) {
  using T = TestType;
  const std::string c = "loss_hinge";
  const double tol = golden_tolerance<T>(false);
  const std::vector<Tensor<T>> real{golden::load<T>(c, "real_0"), golden::load<T>(c, "real_1")};
  const std::vector<Tensor<T>> fake{golden::load<T>(c, "fake_0"), golden::load<T>(c, "fake_1")};
  SECTION("two scales, averaged") {
    const auto d_real = HingeLoss::discriminator_real(real);
    const auto d_fake = HingeLoss::discriminator_fake(fake);
    const auto g = HingeLoss::generator(fake);
    CHECK_GOLDEN_VALUE(d_real.value, c, "d_real", tol);
    CHECK_GOLDEN_VALUE(d_fake.value, c, "d_fake", tol);
    CHECK_GOLDEN_VALUE(g.value, c, "g", tol);
    REQUIRE(d_real.grads.size() == 2);
    REQUIRE(d_fake.grads.size() == 2);
    REQUIRE(g.grads.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const std::string s = std::to_string(i);
      CHECK(d_real.grads[i].shape() == real[i].shape());
      CHECK_GOLDEN(d_real.grads[i], c, "d_real_grad_" + s, tol);
      CHECK_GOLDEN(d_fake.grads[i], c, "d_fake_grad_" + s, tol);
      CHECK_GOLDEN(g.grads[i], c, "g_grad_" + s, tol);
    }
    // The planted ties get half the gradient of their neighbours, as torch.min gives.
    CHECK(d_real.grads[0][3] == Approx(0.5 * d_real.grads[0][4]).epsilon(1e-6));
    CHECK(d_fake.grads[0][2] == Approx(0.5 * d_fake.grads[0][1]).epsilon(1e-6));
  }
  SECTION("one scale") {
    const auto d_real = HingeLoss::discriminator_real(real[0]);
    const auto d_fake = HingeLoss::discriminator_fake(fake[0]);
    const auto g = HingeLoss::generator(fake[0]);
    CHECK_GOLDEN_VALUE(d_real.value, c, "single_d_real", tol);
    CHECK_GOLDEN_VALUE(d_fake.value, c, "single_d_fake", tol);
    CHECK_GOLDEN_VALUE(g.value, c, "single_g", tol);
    CHECK_GOLDEN(d_real.grad, c, "single_d_real_grad", tol);
    CHECK_GOLDEN(d_fake.grad, c, "single_d_fake_grad", tol);
    CHECK_GOLDEN(g.grad, c, "single_g_grad", tol);
  }
}

TEMPLATE_TEST_CASE("WGAN losses match PyTorch, with and without drift", "[losses][golden][wgan]", float, double) {
  using T = TestType;
  const std::string c = "loss_wgan";
  const double tol = golden_tolerance<T>(false);
  const auto d_real = golden::load<T>(c, "d_real"), d_fake = golden::load<T>(c, "d_fake");
  const auto plain = WganLoss().critic(d_real, d_fake);
  CHECK_GOLDEN_VALUE(plain.value, c, "critic", tol);
  CHECK_GOLDEN(plain.grad_real, c, "critic_grad_real", tol);
  CHECK_GOLDEN(plain.grad_fake, c, "critic_grad_fake", tol);
  const auto drift = WganLoss(WganOptions{0.001}).critic(d_real, d_fake);
  CHECK_GOLDEN_VALUE(drift.value, c, "drift", tol);
  CHECK_GOLDEN(drift.grad_real, c, "drift_grad_real", tol);
  CHECK_GOLDEN(drift.grad_fake, c, "drift_grad_fake", tol);
  const auto g = WganLoss::generator(d_fake);
  CHECK_GOLDEN_VALUE(g.value, c, "generator", tol);
  CHECK_GOLDEN(g.grad, c, "generator_grad", tol);
}

TEMPLATE_TEST_CASE("feature matching matches SPADE's GAN_Feat_loss", "[losses][golden][feature-matching]", float,
                   double) {
  using T = TestType;
  const std::string c = "loss_feature_matching";
  const double tol = golden_tolerance<T>(false);
  ScaleOutputs<T> fake(2), real(2);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      const std::string s = std::to_string(i) + "_" + std::to_string(j);
      fake[i].push_back(golden::load<T>(c, "fake_" + s));
      real[i].push_back(golden::load<T>(c, "real_" + s));
    }
  const auto loss = FeatureMatchingLoss()(fake, real);
  CHECK_GOLDEN_VALUE(loss.value, c, "loss", tol);
  REQUIRE(loss.grad_fake.size() == 2);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(loss.grad_fake[i].size() == 4);
    for (int j = 0; j < 4; ++j) {
      const std::string s = std::to_string(i) + "_" + std::to_string(j);
      CHECK(loss.grad_fake[i][j].shape() == fake[i][j].shape());
      CHECK_GOLDEN(loss.grad_fake[i][j], c, "grad_" + s, tol);
    }
    // The prediction takes no part.
    CHECK(kernels::dot(loss.grad_fake[i][3], loss.grad_fake[i][3]) == 0.0);
  }
  // Where fake and real agree exactly the gradient is 0 (sign(0) = 0).
  CHECK(loss.grad_fake[0][0][0] == T(0));
  CHECK(loss.grad_fake[0][0][9] == T(0));
  CHECK(loss.grad_fake[0][0][1] != T(0));
}

TEMPLATE_TEST_CASE("WGAN-GP critic loss matches ImprovedWGANLoss through PyTorch's double backward",
                   "[losses][golden][wgan-gp][second-order]", float, double) {
  using T = TestType;
  const std::string c = "loss_wgan_gp";
  const double tol = golden_tolerance<T>(true);
  Generator g(0);
  auto critic = small_critic<T>(g);
  const auto params = load_parameters<T>(critic, c);
  const auto real = golden::load<T>(c, "real"), fake = golden::load<T>(c, "fake"), alpha = golden::load<T>(c, "alpha");

  SECTION("the whole critic loss and its parameter gradients") {
    zero_grad(critic);
    const auto loss = ImprovedWganLoss<SmallCritic<T>>().discriminator_loss(critic, real, fake, alpha);
    CHECK_GOLDEN_VALUE(loss.value, c, "loss", tol);
    CHECK_GOLDEN_VALUE(loss.penalty, c, "penalty", tol);
    CHECK(loss.value == Approx(loss.critic_difference + loss.penalty).epsilon(1e-12));
    CHECK(loss.drift == 0.0);
    Tensor<double> norms(Shape{3});
    std::copy(loss.gradient_norms.begin(), loss.gradient_norms.end(), norms.begin());
    CHECK_GOLDEN(norms, c, "gradient_norms", tol);
    for (const auto& [name, p] : params) CHECK_GOLDEN(p->grad, c, "grad_" + name, tol);
  }
  SECTION("with a drift term") {
    zero_grad(critic);
    const auto loss =
        ImprovedWganLoss<SmallCritic<T>>(ImprovedWganOptions{10, 0.001, 1}).discriminator_loss(critic, real, fake, alpha);
    CHECK_GOLDEN_VALUE(loss.value, c, "loss_drift", tol);
    CHECK(loss.drift > 0);
    for (const auto& [name, p] : params) CHECK_GOLDEN(p->grad, c, "drift_grad_" + name, tol);
  }
  SECTION("the penalty alone, with its gradients with respect to real and fake") {
    zero_grad(critic);
    const auto gp = GradientPenalty<SmallCritic<T>>(GradientPenaltyOptions{10, true}).apply(critic, real, fake, alpha);
    CHECK_GOLDEN_VALUE(gp.value, c, "penalty", tol);
    for (const auto& [name, p] : params) CHECK_GOLDEN(p->grad, c, "gp_grad_" + name, tol);
    CHECK_GOLDEN(gp.grad_real, c, "gp_grad_real", tol);
    CHECK_GOLDEN(gp.grad_fake, c, "gp_grad_fake", tol);
  }
  SECTION("the reference detaches real and fake: no input gradients unless asked") {
    const auto gp = GradientPenalty<SmallCritic<T>>().apply(critic, real, fake, alpha);
    CHECK(gp.grad_real.empty());
    CHECK(gp.grad_fake.empty());
  }
  SECTION("the generator's loss through the critic leaves the critic's grads alone") {
    zero_grad(critic);
    const auto loss = ImprovedWganLoss<SmallCritic<T>>().generator_loss(critic, fake);
    CHECK_GOLDEN_VALUE(loss.value, c, "generator", tol);
    CHECK_GOLDEN(loss.grad, c, "generator_grad", tol);
    for (const auto& [name, p] : params) CHECK(kernels::dot(p->grad, p->grad) == 0.0);
  }
}

TEMPLATE_TEST_CASE("WGAN-GP where the input gradient is zero: no NaN, PyTorch's subgradient",
                   "[losses][golden][wgan-gp]", float, double) {
  using T = TestType;
  const std::string c = "loss_wgan_gp_zero";
  Generator g(0);
  using Critic = Sequential<Flatten<T>, Linear<T>>;
  Critic critic(Flatten<T>(), Linear<T>({12, 1}, g));
  const auto params = load_parameters<T>(critic, c);
  zero_grad(critic);
  const auto gp = GradientPenalty<Critic>(GradientPenaltyOptions{10, true})
                      .apply(critic, golden::load<T>(c, "real"), golden::load<T>(c, "fake"), golden::load<T>(c, "alpha"));
  CHECK(gp.value == 10.0);  // λ·(0 − 1)², exactly
  CHECK_GOLDEN_VALUE(gp.value, c, "penalty", 0.0);
  for (double norm : gp.gradient_norms) CHECK(norm == 0.0);
  for (const auto& [name, p] : params) {
    CHECK(kernels::all_finite(p->grad));
    CHECK_GOLDEN(p->grad, c, "gp_grad_" + name, 0.0);  // PyTorch: 0 as well
  }
  CHECK(kernels::all_finite(gp.grad_real));
  CHECK(kernels::dot(gp.grad_real, gp.grad_real) == 0.0);
}

TEMPLATE_TEST_CASE("R1 matches PyTorch's double backward, alone and under a hinge loss",
                   "[losses][golden][r1][second-order]", float, double) {
  using T = TestType;
  const std::string c = "loss_r1";
  const double tol = golden_tolerance<T>(true);
  Generator g(0);
  auto critic = small_critic<T>(g);
  const auto params = load_parameters<T>(critic, c);
  const auto real = golden::load<T>(c, "real"), fake = golden::load<T>(c, "fake");
  SECTION("the penalty") {
    zero_grad(critic);
    const auto r1 = R1Penalty<SmallCritic<T>>(R1Options{10, true}).apply(critic, real);
    CHECK_GOLDEN_VALUE(r1.value, c, "penalty", tol);
    for (const auto& [name, p] : params) CHECK_GOLDEN(p->grad, c, "r1_grad_" + name, tol);
    CHECK_GOLDEN(r1.grad_real, c, "r1_grad_real", tol);
  }
  SECTION("hinge D loss plus R1: the parameter gradients of the whole critic loss") {
    zero_grad(critic);
    auto c_real = critic.forward(real);
    auto c_fake = critic.forward(fake);
    const auto d_real = HingeLoss::discriminator_real(c_real.output);
    const auto d_fake = HingeLoss::discriminator_fake(c_fake.output);
    auto scratch = zeros<T>(real.shape());
    critic.backward(c_real, d_real.grad, scratch, ParamGrads::accumulate);
    critic.backward(c_fake, d_fake.grad, scratch, ParamGrads::accumulate);
    const auto r1 = R1Penalty<SmallCritic<T>>().apply(critic, real);
    CHECK(r1.grad_real.empty());
    CHECK_GOLDEN_VALUE(d_real.value + d_fake.value + r1.value, c, "loss", tol);
    for (const auto& [name, p] : params) CHECK_GOLDEN(p->grad, c, "grad_" + name, tol);
  }
}

// ---------------------------------------------------------------------------------
// Central differences in double
// ---------------------------------------------------------------------------------

TEST_CASE("loss gradients match central differences", "[losses][fd]") {
  Generator gen(41);
  testing::CheckReport r;
  SECTION("hinge, one and several scales") {
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<Tensor<double>> preds;
      for (int s = 0; s <= trial; ++s) preds.push_back(gen.normal<double>(Shape{2, 1, 3 + s, 2 + trial}, 0.0, 1.5));
      for (int kind = 0; kind < 3; ++kind) {
        const auto loss = [&](const std::vector<Tensor<double>>& p) {
          return kind == 0 ? HingeLoss::discriminator_real(p) : kind == 1 ? HingeLoss::discriminator_fake(p)
                                                                          : HingeLoss::generator(p);
        };
        const auto analytic = loss(preds);
        for (std::size_t s = 0; s < preds.size(); ++s)
          check_by_differences(r, "hinge " + std::to_string(kind) + " scale " + std::to_string(s), preds[s],
                               analytic.grads[s], [&] { return loss(preds).value; });
      }
    }
  }
  SECTION("WGAN critic with drift, and generator") {
    auto d_real = gen.normal<double>(Shape{4, 1}), d_fake = gen.normal<double>(Shape{4, 1});
    const WganLoss wgan(WganOptions{0.01});
    const auto analytic = wgan.critic(d_real, d_fake);
    check_by_differences(r, "wgan real", d_real, analytic.grad_real, [&] { return wgan.critic(d_real, d_fake).value; });
    check_by_differences(r, "wgan fake", d_fake, analytic.grad_fake, [&] { return wgan.critic(d_real, d_fake).value; });
    const auto g = WganLoss::generator(d_fake);
    check_by_differences(r, "wgan generator", d_fake, g.grad, [&] { return WganLoss::generator(d_fake).value; });
  }
  SECTION("feature matching") {
    ScaleOutputs<double> fake(2), real(2);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) {
        fake[i].push_back(gen.normal<double>(Shape{2, 2 + j, 3 - i, 2}));
        real[i].push_back(gen.normal<double>(Shape{2, 2 + j, 3 - i, 2}));
      }
    const FeatureMatchingLoss fm(FeatureMatchingOptions{7});
    const auto analytic = fm(fake, real);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        check_by_differences(r, "feature matching " + std::to_string(i) + "," + std::to_string(j), fake[i][j],
                             analytic.grad_fake[i][j], [&] { return fm(fake, real).value; });
  }
  REQUIRE_REPORT_OK(r);
}

TEST_CASE("penalty gradients match central differences on random critics", "[losses][fd][second-order]") {
  struct Config {
    index_t n, c, hidden, width, h, w;
  };
  const Config configs[] = {{1, 2, 3, 2, 4, 4}, {3, 3, 4, 5, 8, 4}, {2, 1, 2, 3, 4, 8}};
  int k = 0;
  for (const auto& cfg : configs) {
    Generator init(100 + static_cast<std::uint64_t>(k)), gen(200 + static_cast<std::uint64_t>(k));
    ++k;
    auto critic = small_critic<double>(init, cfg.c, cfg.hidden, cfg.width, cfg.h, cfg.w);
    using Critic = SmallCritic<double>;
    const Shape shape{cfg.n, cfg.c, cfg.h, cfg.w};
    auto real = gen.normal<double>(shape), fake = gen.normal<double>(shape);
    const auto alpha = gen.uniform<double>(Shape{cfg.n});
    const auto params = parameters_of(critic);
    testing::CheckReport r;
    const auto grads_of = [&](auto&& run) {
      zero_grad(critic);
      run();
      std::vector<Tensor<double>> out;
      for (auto& [name, p] : params) out.push_back(clone(p->grad));
      return out;
    };

    // WGAN-GP: parameters, real and fake.
    const GradientPenalty<Critic> gp(GradientPenaltyOptions{10, true});
    PenaltyResult<double> result;
    const auto gp_grads = grads_of([&] { result = gp.apply(critic, real, fake, alpha); });
    const auto gp_value = [&] { return gp.apply(critic, real, fake, alpha, ParamGrads::skip).value; };
    for (std::size_t i = 0; i < params.size(); ++i)
      check_by_differences(r, "GP d/d" + params[i].first, params[i].second->value, gp_grads[i], gp_value);
    check_by_differences(r, "GP d/dreal", real, result.grad_real, gp_value);
    check_by_differences(r, "GP d/dfake", fake, result.grad_fake, gp_value);

    // R1: parameters and real.
    const R1Penalty<Critic> r1(R1Options{3, true});
    PenaltyResult<double> r1_result;
    const auto r1_grads = grads_of([&] { r1_result = r1.apply(critic, real); });
    const auto r1_value = [&] { return r1.apply(critic, real, ParamGrads::skip).value; };
    for (std::size_t i = 0; i < params.size(); ++i)
      check_by_differences(r, "R1 d/d" + params[i].first, params[i].second->value, r1_grads[i], r1_value);
    check_by_differences(r, "R1 d/dreal", real, r1_result.grad_real, r1_value);

    // The whole ImprovedWGANLoss critic loss (drift and an overall weight included).
    const ImprovedWganLoss<Critic> wgan_gp(ImprovedWganOptions{10, 0.01, 2});
    const auto loss_grads = grads_of([&] { (void)wgan_gp.discriminator_loss(critic, real, fake, alpha); });
    const auto loss_value = [&] { return wgan_gp.discriminator_loss(critic, real, fake, alpha).value; };
    for (std::size_t i = 0; i < params.size(); ++i)
      check_by_differences(r, "L_D d/d" + params[i].first, params[i].second->value, loss_grads[i], loss_value);
    // The generator's loss, w.r.t. the fake input.
    const auto g_loss = wgan_gp.generator_loss(critic, fake);
    check_by_differences(r, "L_G d/dfake", fake, g_loss.grad, [&] { return wgan_gp.generator_loss(critic, fake).value; });

    INFO("configuration " << k << ": " << shape);
    REQUIRE_REPORT_OK(r);
  }
}

// ---------------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------------

TEST_CASE("penalties add into parameter grads, and skip leaves them alone", "[losses][second-order]") {
  Generator init(7), gen(8);
  auto critic = small_critic<double>(init);
  using Critic = SmallCritic<double>;
  const auto real = gen.normal<double>(Shape{2, 3, 8, 8}), fake = gen.normal<double>(Shape{2, 3, 8, 8});
  const auto alpha = gen.uniform<double>(Shape{2});
  const auto params = parameters_of(critic);
  const auto snapshot = [&] {
    std::vector<Tensor<double>> out;
    for (auto& [name, p] : params) out.push_back(clone(p->grad));
    return out;
  };
  const auto run_gp = [&](ParamGrads grads) { (void)GradientPenalty<Critic>().apply(critic, real, fake, alpha, grads); };
  const auto run_r1 = [&](ParamGrads grads) { (void)R1Penalty<Critic>().apply(critic, real, grads); };
  for (const auto& run : {std::function<void(ParamGrads)>(run_gp), std::function<void(ParamGrads)>(run_r1)}) {
    // The increment from random starting grads equals the gradient from zero.
    zero_grad(critic);
    run(ParamGrads::accumulate);
    const auto fresh = snapshot();
    for (auto& [name, p] : params) gen.normal(p->grad);
    const auto before = snapshot();
    run(ParamGrads::accumulate);
    const auto after = snapshot();
    for (std::size_t k = 0; k < params.size(); ++k)
      for (index_t i = 0; i < fresh[k].numel(); ++i)
        CHECK(after[k][i] - before[k][i] == Approx(fresh[k][i]).margin(1e-12).epsilon(1e-9));
    // skip: bit for bit unchanged.
    run(ParamGrads::skip);
    const auto skipped = snapshot();
    for (std::size_t k = 0; k < params.size(); ++k)
      for (index_t i = 0; i < after[k].numel(); ++i) REQUIRE(skipped[k][i] == after[k][i]);
  }
}

TEST_CASE("WGAN-GP draws one alpha per sample from the Generator by default", "[losses][wgan-gp]") {
  Generator init(9), data(10);
  auto critic = small_critic<double>(init);
  using Critic = SmallCritic<double>;
  const auto real = data.normal<double>(Shape{4, 3, 8, 8}), fake = data.normal<double>(Shape{4, 3, 8, 8});
  Generator gen(77, 3), twin(77, 3);
  zero_grad(critic);
  const auto drawn = GradientPenalty<Critic>().apply(critic, real, fake, gen);
  const auto drawn_grad = clone(critic.get<0>().weight().grad);
  const auto expected_alpha = twin.uniform<double>(Shape{4});
  REQUIRE(drawn.alpha.shape() == Shape{4});
  for (index_t i = 0; i < 4; ++i) {
    CHECK(drawn.alpha[i] == expected_alpha[i]);
    CHECK(drawn.alpha[i] >= 0.0);
    CHECK(drawn.alpha[i] < 1.0);
  }
  CHECK(gen.offset() == twin.offset());  // the draw consumed exactly one uniform tensor of N
  zero_grad(critic);
  const auto given = GradientPenalty<Critic>().apply(critic, real, fake, expected_alpha);
  CHECK(given.value == drawn.value);
  for (index_t i = 0; i < drawn_grad.numel(); ++i) CHECK(critic.get<0>().weight().grad[i] == drawn_grad[i]);
  // ImprovedWganLoss draws the same way.
  Generator gen2(77, 3);
  zero_grad(critic);
  const auto loss = ImprovedWganLoss<Critic>().discriminator_loss(critic, real, fake, gen2);
  CHECK(loss.penalty == drawn.value);
}

TEST_CASE("a critic without a second-order pass cannot be given an exact penalty", "[losses][concept]") {
  using Good = SmallCritic<double>;
  using Bad = Sequential<Conv2d<double>, NoSecondOrderPass, Flatten<double>, Linear<double>>;
  STATIC_REQUIRE(Layer<Bad>);
  STATIC_REQUIRE_FALSE(SecondOrderLayer<Bad>);
  STATIC_REQUIRE(PenaltyAccepts<Good>);
  STATIC_REQUIRE(R1Accepts<Good>);
  STATIC_REQUIRE(ImprovedWganAccepts<Good>);
  STATIC_REQUIRE_FALSE(PenaltyAccepts<Bad>);
  STATIC_REQUIRE_FALSE(R1Accepts<Bad>);
  STATIC_REQUIRE_FALSE(ImprovedWganAccepts<Bad>);
  STATIC_REQUIRE_FALSE(PenaltyAccepts<NoSecondOrderPass>);

  // The explicitly named approximation is what such a critic can use instead.
  Generator g(3);
  Bad bad(Conv2d<double>({2, 3, 3, 1, 1}, g), NoSecondOrderPass(), Flatten<double>(), Linear<double>({3 * 4 * 4, 1}, g));
  const auto real = g.normal<double>(Shape{2, 2, 4, 4}), fake = g.normal<double>(Shape{2, 2, 4, 4});
  zero_grad(bad);
  const auto approx = approx_gradient_penalty(bad, real, fake, g);
  CHECK(std::isfinite(approx.value));
  CHECK(approx.value > 0);
  bad.visit_parameters([](std::string_view, Parameter<double>& p) { CHECK(kernels::all_finite(p.grad)); });
}

TEMPLATE_TEST_CASE("approx_gradient_penalty approximates the exact penalty on a smooth critic",
                   "[losses][wgan-gp][approx]", float, double) {
  using T = TestType;
  using Critic = Sequential<Conv2d<T>, Tanh<T>, AvgPool2d<T>, Flatten<T>, Linear<T>>;
  Generator g(12);
  Critic critic(Conv2d<T>({2, 4, 3, 1, 1}, g), Tanh<T>(), AvgPool2d<T>::halve(), Flatten<T>(),
                Linear<T>({4 * 3 * 3, 1}, g));
  const auto real = g.normal<T>(Shape{3, 2, 6, 6}), fake = g.normal<T>(Shape{3, 2, 6, 6});
  const auto alpha = g.uniform<T>(Shape{3});
  const GradientPenaltyOptions options{10, true};
  std::vector<Tensor<T>> exact_grads, approx_grads;
  zero_grad(critic);
  const auto exact = GradientPenalty<Critic>(options).apply(critic, real, fake, alpha);
  critic.visit_parameters([&](std::string_view, Parameter<T>& p) { exact_grads.push_back(clone(p.grad)); });
  zero_grad(critic);
  const auto approx = approx_gradient_penalty(critic, real, fake, alpha, options);
  critic.visit_parameters([&](std::string_view, Parameter<T>& p) { approx_grads.push_back(clone(p.grad)); });
  CHECK(approx.value == exact.value);
  // O(h²) + O(ε/h) with h = ∛ε: measured up to 6e-10 relative in double. In float the
  // O(ε/h) term is rounding noise, and it moves with the summation order of the
  // convolution: up to 6.5e-4 with Eigen's GEMM, 1.13e-3 with the blocked GEMM (both on
  // grad_real; the parameters up to 3.2e-4). The method itself is held to 1e-8 in double.
  const double bound = std::is_same_v<T, double> ? 1e-8 : 2e-3;
  for (std::size_t k = 0; k < exact_grads.size(); ++k) {
    const double err = golden::relative_error(approx_grads[k], cast<double>(exact_grads[k]));
    INFO("parameter " << k << ": relative error " << err);
    CHECK(err <= bound);
  }
  CHECK(golden::relative_error(approx.grad_real, cast<double>(exact.grad_real)) <= bound);
  CHECK(golden::relative_error(approx.grad_fake, cast<double>(exact.grad_fake)) <= bound);
}

TEST_CASE("losses refuse inputs of the wrong shape before writing anything", "[losses][errors]") {
  Generator g(5);
  auto critic = small_critic<double>(g);
  using Critic = SmallCritic<double>;
  const auto x = g.normal<double>(Shape{2, 3, 8, 8});
  const auto grads_before = clone(critic.get<0>().weight().grad);
  CHECK_THROWS_WITH(GradientPenalty<Critic>().apply(critic, x, g.normal<double>(Shape{2, 3, 8, 4}), g),
                    Catch::Contains("GradientPenalty(lambda 10): fake (like real) must have shape [2, 3, 8, 8], got [2, 3, 8, 4]"));
  CHECK_THROWS_WITH(GradientPenalty<Critic>().apply(critic, x, x, g.uniform<double>(Shape{3})),
                    Catch::Contains("alpha") && Catch::Contains("got [3]"));
  CHECK_THROWS_AS(R1Penalty<Critic>().apply(critic, g.normal<double>(Shape{2, 4, 8, 8})), shape_error);
  CHECK_THROWS_WITH(ImprovedWganLoss<Critic>().discriminator_loss(critic, x, x, g.uniform<double>(Shape{5})),
                    Catch::Contains("ImprovedWganLoss: alpha"));
  for (index_t i = 0; i < grads_before.numel(); ++i) REQUIRE(critic.get<0>().weight().grad[i] == grads_before[i]);

  CHECK_THROWS_WITH(HingeLoss::discriminator_real(std::vector<Tensor<double>>{}), Catch::Contains("no discriminator scales"));
  CHECK_THROWS_AS(HingeLoss::generator(Tensor<double>()), shape_error);
  CHECK_THROWS_AS(WganLoss().critic(Tensor<double>(), x), shape_error);
  CHECK_THROWS_AS(WganLoss(WganOptions{-1}), error);

  ScaleOutputs<double> fake{{g.normal<double>(Shape{1, 2, 3, 3}), g.normal<double>(Shape{1, 1, 2, 2})}};
  ScaleOutputs<double> real{{g.normal<double>(Shape{1, 2, 3, 4}), g.normal<double>(Shape{1, 1, 2, 2})}};
  CHECK_THROWS_WITH(FeatureMatchingLoss()(fake, real),
                    Catch::Contains("FeatureMatchingLoss") && Catch::Contains("scale 0 output 0") &&
                        Catch::Contains("got [1, 2, 3, 4]"));
  CHECK_THROWS_WITH(FeatureMatchingLoss()(fake, ScaleOutputs<double>{}), Catch::Contains("1 scales of fake"));
}
