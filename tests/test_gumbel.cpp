// The straight-through Gumbel-softmax sampler: against PyTorch's reference sampler
// with the same noise (tools/golden/gumbel.py), its backward against central
// differences of the soft sample, the distribution of its samples (Gumbel-max
// property, chi-square), the noise-free argmax mode, and its noise stream.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <sbgan/layers/gumbel_softmax.hpp>
#include <sbgan/testing/tolerances.hpp>
#include <vector>

#include "support/golden.hpp"
#include "support/checker.hpp"

using namespace sbgan;
using test_support::Dice;
using test_support::require_checked;

namespace {

static_assert(Layer<GumbelSoftmaxST<float>>);
static_assert(Layer<GumbelSoftmaxST<double>>);
static_assert(!SecondOrderLayer<GumbelSoftmaxST<float>>, "a generator-side layer: no second-order pass");
static_assert(HasTrainingMode<GumbelSoftmaxST<float>>);

template <class T>
double golden_tolerance() {
  return std::is_same_v<T, float> ? tolerance::golden_float : tolerance::golden_double;
}

// Per-pixel class probabilities: a channel softmax of normal logits times `spread`.
template <class T>
Tensor<T> probabilities(Generator& g, const Shape& shape, T spread = T(1)) {
  Tensor<T> logits = g.normal<T>(shape, T(0), spread);
  Tensor<T> p(shape);
  kernels::softmax_channels(logits, p);
  return p;
}

// Elements where `actual` differs from `expected` at all.
template <class T>
index_t mismatches(const Tensor<T>& actual, const Tensor<double>& expected) {
  index_t count = 0;
  for (index_t i = 0; i < actual.numel(); ++i) count += static_cast<double>(actual[i]) != expected[i];
  return count;
}

template <class T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  if (!(a.shape() == b.shape())) return false;
  for (index_t i = 0; i < a.numel(); ++i)
    if (!(a[i] == b[i])) return false;
  return true;
}

// Pixels whose `hard` is not the one-hot of the first maximum of `scores`.
template <class T>
index_t wrong_one_hot_pixels(const Tensor<T>& hard, const Tensor<T>& scores) {
  const Shape& s = hard.shape();
  index_t wrong = 0;
  for (index_t n = 0; n < s.n(); ++n)
    for (index_t h = 0; h < s.h(); ++h)
      for (index_t w = 0; w < s.w(); ++w) {
        index_t arg = 0;
        for (index_t c = 1; c < s.c(); ++c)
          if (scores(n, c, h, w) > scores(n, arg, h, w)) arg = c;
        bool ok = true;
        for (index_t c = 0; c < s.c(); ++c) ok = ok && hard(n, c, h, w) == (c == arg ? T(1) : T(0));
        wrong += !ok;
      }
  return wrong;
}

template <class T>
Tensor<T> minus(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> d(a.shape());
  for (index_t i = 0; i < d.numel(); ++i) d[i] = a[i] - b[i];
  return d;
}

// Upper tail P(X ≥ x) of a chi-square distribution with an even number of degrees
// of freedom 2m: e^{−x/2} Σ_{j<m} (x/2)^j / j!.
double chi_square_upper_tail(double x, int degrees_of_freedom) {
  double term = 1, sum = 0;
  for (int j = 0; j < degrees_of_freedom / 2; ++j) {
    sum += term;
    term *= (x / 2) / (j + 1);
  }
  return std::exp(-x / 2) * sum;
}

double chi_square_statistic(const std::vector<long>& observed, const std::vector<double>& probability) {
  long total = 0;
  for (long o : observed) total += o;
  double stat = 0;
  for (std::size_t c = 0; c < observed.size(); ++c) {
    const double expected = probability[c] * static_cast<double>(total);
    stat += (static_cast<double>(observed[c]) - expected) * (static_cast<double>(observed[c]) - expected) / expected;
  }
  return stat;
}

}  // namespace

TEMPLATE_TEST_CASE("GumbelSoftmaxST matches the PyTorch reference sampler given the same noise", "[gumbel][golden]",
                   float, double) {
  using T = TestType;
  for (const auto& [test_case, tau] : {std::pair<const char*, double>{"gumbel_tau1", 1.0}, {"gumbel_tau05", 0.5}}) {
    INFO(test_case << ", tau " << tau);
    GumbelSoftmaxST<T> sampler(Generator(5), {tau});
    const auto p = golden::load<T>(test_case, "p");
    const auto noise = golden::load<T>(test_case, "noise");
    const auto dy = golden::load<T>(test_case, "dy");
    const std::uint64_t offset = sampler.generator().offset();

    const auto ctx = sampler.forward_with_noise(p, noise);
    CHECK(sampler.generator().offset() == offset);
    // The sample itself: PyTorch's one-hot, element by element, and the value of the
    // straight-through sum y_hard − y_soft.detach() + y_soft.
    CHECK(mismatches(ctx.output, golden::load<double>(test_case, "y_hard")) == 0);
    CHECK(mismatches(ctx.output, golden::load<double>(test_case, "y")) == 0);
    const double soft_err = golden::relative_error(ctx.soft, golden::load<double>(test_case, "y_soft"));
    INFO("y_soft relative error " << soft_err);
    CHECK(soft_err <= golden_tolerance<T>());

    // The gradient with respect to p, added into a gradient that already holds values.
    auto dp = clone(dy);
    sampler.backward(ctx, dy, dp, ParamGrads::accumulate);
    const double grad_err = golden::relative_error(minus(dp, dy), golden::load<double>(test_case, "dp"));
    INFO("dp relative error " << grad_err);
    CHECK(grad_err <= golden_tolerance<T>());
  }
}

TEST_CASE("GumbelSoftmaxST backward is the gradient of <y_soft, dy> (central differences)", "[gumbel][gradient]") {
  Dice dice(41);
  const double taus[] = {1.0, 0.5, 2.0, 0.3, 1.0, 0.8};
  for (int config = 0; config < 6; ++config) {
    const Shape shape{dice(1, 2), dice(1, 6), dice(1, 5), dice(1, 5)};
    const double tau = taus[config];
    Generator g(static_cast<std::uint64_t>(300 + config));
    GumbelSoftmaxST<double> sampler(Generator(1), {tau});
    INFO(sampler.describe() << " on " << shape);
    Tensor<double> p = probabilities<double>(g, shape);
    const Tensor<double> p_before = clone(p);
    Tensor<double> noise(shape);
    g.gumbel(noise);

    GumbelSoftmaxST<double>::context ctx;
    {
      poison_scope poison;
      ctx = sampler.forward_with_noise(p, noise);
    }
    REQUIRE(kernels::all_finite(ctx.output));
    REQUIRE(kernels::all_finite(ctx.soft));
    CHECK(bitwise_equal(p, p_before));
    CHECK(wrong_one_hot_pixels(ctx.output, ctx.soft) == 0);

    const Tensor<double> dy = g.normal<double>(shape);
    Tensor<double> dp = g.normal<double>(shape);
    const Tensor<double> dp_before = clone(dp);
    {
      poison_scope poison;
      sampler.backward(ctx, dy, dp, ParamGrads::accumulate);
    }
    const Tensor<double> analytic = minus(dp, dp_before);

    // The straight-through gradient is that of the soft sample with the noise fixed.
    const auto objective = [&] { return kernels::dot(sampler.forward_with_noise(p, noise).soft, dy); };
    const double h = tolerance::fd_step;
    for (index_t i = 0; i < p.numel(); ++i) {
      const double saved = p[i];
      p[i] = saved + h;
      const double plus = objective();
      p[i] = saved - h;
      const double minus_ = objective();
      p[i] = saved;
      const double numeric = (plus - minus_) / (2 * h);
      INFO("d/dp[" << i << "]: analytic " << analytic[i] << ", central difference " << numeric);
      REQUIRE(std::abs(analytic[i] - numeric) <=
              tolerance::fd_relative * std::max({1.0, std::abs(analytic[i]), std::abs(numeric)}));
    }
  }
}

TEMPLATE_TEST_CASE("GumbelSoftmaxST samples classes with probability p (Gumbel-max, chi-square)",
                   "[gumbel][statistics]", float, double) {
  // Four pixels with different distributions over K = 5 classes, 20000 draws each.
  // argmax(log(p + ε) + g) is exactly Categorical((p + ε)/Σ(p + ε)); that is the null
  // hypothesis, tested per pixel with Pearson's chi-square (4 degrees of freedom),
  // rejected when its p-value is below 1e-4. The seed is fixed, so the test is
  // deterministic; under the null a fresh seed would fail one of the 8 checks with
  // probability below 1e-3.
  using T = TestType;
  constexpr index_t classes = 5, pixels = 4, batch = 2000, calls = 10;
  const double distributions[pixels][classes] = {{0.2, 0.2, 0.2, 0.2, 0.2},
                                                 {0.5, 0.25, 0.125, 0.0625, 0.0625},
                                                 {0.9, 0.04, 0.03, 0.02, 0.01},
                                                 {0.3, 0.3, 0.2, 0.195, 0.005}};
  Tensor<T> p(Shape{batch, classes, 1, pixels});
  for (index_t n = 0; n < batch; ++n)
    for (index_t c = 0; c < classes; ++c)
      for (index_t w = 0; w < pixels; ++w) p(n, c, 0, w) = static_cast<T>(distributions[w][c]);

  GumbelSoftmaxST<T> sampler(Generator(20261125, 7));
  std::vector<std::vector<long>> counts(pixels, std::vector<long>(classes, 0));
  index_t not_one_hot = 0;
  for (int call = 0; call < calls; ++call) {
    const auto ctx = sampler.forward(p);
    for (index_t n = 0; n < batch; ++n)
      for (index_t w = 0; w < pixels; ++w) {
        index_t ones = 0, zeros = 0, hot = 0;
        for (index_t c = 0; c < classes; ++c) {
          const T v = ctx.output(n, c, 0, w);
          ones += v == T(1);
          zeros += v == T(0);
          if (v == T(1)) hot = c;
        }
        not_one_hot += !(ones == 1 && zeros == classes - 1);
        ++counts[static_cast<std::size_t>(w)][static_cast<std::size_t>(hot)];
      }
  }
  REQUIRE(not_one_hot == 0);

  std::vector<std::vector<double>> expected(pixels, std::vector<double>(classes));
  for (index_t w = 0; w < pixels; ++w) {
    double total = 0;
    for (index_t c = 0; c < classes; ++c) total += static_cast<double>(p(0, c, 0, w)) + static_cast<double>(sampler.epsilon());
    for (index_t c = 0; c < classes; ++c)
      expected[static_cast<std::size_t>(w)][static_cast<std::size_t>(c)] =
          (static_cast<double>(p(0, c, 0, w)) + static_cast<double>(sampler.epsilon())) / total;
  }
  for (std::size_t w = 0; w < pixels; ++w) {
    const double stat = chi_square_statistic(counts[w], expected[w]);
    const double p_value = chi_square_upper_tail(stat, classes - 1);
    INFO("pixel " << w << ": chi-square " << stat << ", p-value " << p_value);
    CHECK(p_value > 1e-4);
    // The test has power: the same counts against another pixel's distribution fail.
    const double wrong = chi_square_statistic(counts[w], expected[(w + 1) % pixels]);
    INFO("against pixel " << (w + 1) % pixels << "'s distribution: chi-square " << wrong);
    CHECK(chi_square_upper_tail(wrong, classes - 1) < 1e-4);
  }
}

TEST_CASE("chi-square tail matches known quantiles", "[gumbel][statistics]") {
  // chi2.ppf(0.95, 4) = 9.487729, chi2.ppf(0.9999, 4) = 23.512742, chi2.ppf(0.99, 2) = 9.210340.
  CHECK(chi_square_upper_tail(9.487729, 4) == Approx(0.05).epsilon(1e-5));
  CHECK(chi_square_upper_tail(23.512742, 4) == Approx(1e-4).epsilon(1e-5));
  CHECK(chi_square_upper_tail(9.210340, 2) == Approx(0.01).epsilon(1e-5));
}

TEST_CASE("GumbelSoftmaxST argmax mode returns one-hot(argmax p) and draws no noise", "[gumbel][inference]") {
  Generator g(3);
  GumbelSoftmaxST<float> sampler(Generator(11, 2));
  sampler.set_training(false);
  CHECK(sampler.mode() == GumbelSoftmaxMode::argmax);
  CHECK_THAT(sampler.describe(), Catch::Contains("argmax"));

  Tensor<float> p = probabilities<float>(g, Shape{2, 7, 9, 11}, 2.0f);
  // Ties go to the first index, as in torch.argmax.
  for (index_t c = 0; c < 7; ++c) p(0, c, 0, 0) = 1.0f / 7;
  p(1, 2, 3, 4) = p(1, 5, 3, 4) = 0.45f;
  p(1, 0, 3, 4) = p(1, 1, 3, 4) = p(1, 3, 3, 4) = p(1, 4, 3, 4) = p(1, 6, 3, 4) = 0.02f;

  const std::uint64_t offset = sampler.generator().offset();
  GumbelSoftmaxST<float>::context ctx;
  {
    poison_scope poison;
    ctx = sampler.forward(p);
  }
  CHECK(sampler.generator().offset() == offset);
  CHECK(ctx.soft.empty());
  CHECK(wrong_one_hot_pixels(ctx.output, p) == 0);
  CHECK(ctx.output(0, 0, 0, 0) == 1.0f);
  CHECK(ctx.output(1, 2, 3, 4) == 1.0f);
  CHECK(ctx.output(1, 5, 3, 4) == 0.0f);

  // No gradient through the noise-free sampler: refused, dp untouched.
  auto dp = full<float>(p.shape(), 3.0f);
  CHECK_THROWS_AS(sampler.backward(ctx, p, dp, ParamGrads::accumulate), sbgan::error);
  CHECK(kernels::dot(dp, full<float>(p.shape(), 1.0f)) == Approx(3.0 * static_cast<double>(p.numel())));

  // Back to sampling: the draw takes Generator::gumbel's blocks for this shape.
  sampler.set_mode(GumbelSoftmaxMode::sample);
  const auto sampled = sampler.forward(p);
  CHECK(sampler.generator().offset() == offset + philox::blocks_for_uniform(static_cast<std::uint64_t>(p.numel())));
  CHECK_FALSE(sampled.soft.empty());
  CHECK(wrong_one_hot_pixels(sampled.output, sampled.soft) == 0);
  sampler.set_training(false);
  CHECK(sampler.mode() == GumbelSoftmaxMode::argmax);
  sampler.set_training(true);
  CHECK(sampler.mode() == GumbelSoftmaxMode::sample);

  // A model-wide switch reaches the sampler inside a Sequential.
  Sequential<GumbelSoftmaxST<float>> model{GumbelSoftmaxST<float>(Generator(1))};
  sbgan::set_training(model, false);
  CHECK(model.get<0>().mode() == GumbelSoftmaxMode::argmax);
  const std::uint64_t model_offset = model.get<0>().generator().offset();
  CHECK(wrong_one_hot_pixels(model.forward(p).output, p) == 0);
  CHECK(model.get<0>().generator().offset() == model_offset);
}

TEST_CASE("GumbelSoftmaxST draws Generator::gumbel's stream", "[gumbel][random]") {
  // Shapes whose planes are not multiples of the 4-word Philox block nor of the kernel's
  // 64-pixel tile, one large enough for the parallel path; two draws in a row each.
  Generator data(8);
  for (const Shape& shape : {Shape{1, 3, 1, 1}, Shape{2, 5, 7, 3}, Shape{3, 4, 9, 13}, Shape{4, 7, 33, 35}}) {
    INFO(shape);
    const Tensor<double> p = probabilities<double>(data, shape);
    Generator state(99, 4);
    state.set_offset(5);  // a generator that has been used before
    GumbelSoftmaxST<double> sampler(state, {0.7});
    GumbelSoftmaxST<double> reference(Generator(0), {0.7});
    Generator twin = state;
    for (int draw = 0; draw < 2; ++draw) {
      const auto ctx = sampler.forward(p);
      Tensor<double> noise(shape);
      twin.gumbel(noise);
      const auto expected = reference.forward_with_noise(p, noise);
      CHECK(bitwise_equal(ctx.soft, expected.soft));
      CHECK(bitwise_equal(ctx.output, expected.output));
      CHECK(sampler.generator().offset() == twin.offset());
    }
    // Float draws the same uniforms; its noise is Generator::gumbel<float>'s.
    GumbelSoftmaxST<float> sampler_f(state, {0.7});
    GumbelSoftmaxST<float> reference_f(Generator(0), {0.7});
    const Tensor<float> pf = cast<float>(p);
    Generator twin_f = state;
    Tensor<float> noise_f(shape);
    twin_f.gumbel(noise_f);
    const auto ctx_f = sampler_f.forward(pf);
    const auto expected_f = reference_f.forward_with_noise(pf, noise_f);
    CHECK(bitwise_equal(ctx_f.soft, expected_f.soft));
    CHECK(bitwise_equal(ctx_f.output, expected_f.output));
  }
}

TEST_CASE("GumbelSoftmaxST temperature changes the gradient, never the sample", "[gumbel]") {
  Generator data(12);
  const Tensor<float> p = probabilities<float>(data, Shape{2, 6, 8, 8}, 2.0f);
  const Tensor<float> dy = data.normal<float>(p.shape());
  std::vector<Tensor<float>> samples, grads;
  for (double tau : {0.5, 1.0, 2.0}) {
    GumbelSoftmaxST<float> sampler(Generator(77), {tau});
    const auto ctx = sampler.forward(p);
    samples.push_back(ctx.output);
    auto dp = zeros<float>(p.shape());
    sampler.backward(ctx, dy, dp, ParamGrads::accumulate);
    grads.push_back(dp);
  }
  CHECK(bitwise_equal(samples[0], samples[1]));
  CHECK(bitwise_equal(samples[1], samples[2]));
  CHECK_FALSE(bitwise_equal(grads[0], grads[1]));

  // A context keeps the temperature of its forward.
  GumbelSoftmaxST<float> sampler(Generator(77), {0.5});
  const auto ctx = sampler.forward(p);
  sampler.set_temperature(2.0);
  auto dp = zeros<float>(p.shape());
  sampler.backward(ctx, dy, dp, ParamGrads::accumulate);
  CHECK(bitwise_equal(dp, grads[0]));
}

TEST_CASE("GumbelSoftmaxST refuses bad shapes and options before touching anything", "[gumbel][errors]") {
  GumbelSoftmaxST<float> sampler(Generator(2));
  const Tensor<float> flat = full<float>(Shape{2, 5}, 0.2f);
  try {
    (void)sampler.forward(flat);
    FAIL("a rank-2 input was accepted");
  } catch (const shape_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("GumbelSoftmaxST") && Catch::Contains("[N, K, H, W]") &&
                             Catch::Contains("[2, 5]"));
  }
  CHECK(sampler.generator().offset() == 0);

  const Tensor<float> p = full<float>(Shape{1, 3, 2, 2}, 1.0f / 3);
  CHECK_THROWS_AS(sampler.forward_with_noise(p, full<float>(Shape{1, 3, 2, 3}, 0.0f)), shape_error);

  const auto ctx = sampler.forward(p);
  auto dp = full<float>(p.shape(), 2.0f);
  CHECK_THROWS_AS(sampler.backward(ctx, full<float>(Shape{1, 3, 2, 3}, 1.0f), dp, ParamGrads::accumulate),
                  shape_error);
  auto wrong_dp = full<float>(Shape{1, 4, 2, 2}, 2.0f);
  CHECK_THROWS_AS(sampler.backward(ctx, ctx.output, wrong_dp, ParamGrads::accumulate), shape_error);
  CHECK(kernels::dot(dp, dp) == Approx(4.0 * 12));
  CHECK(kernels::dot(wrong_dp, wrong_dp) == Approx(4.0 * 16));

  CHECK_THROWS_AS(GumbelSoftmaxST<float>(Generator(0), {0.0}), sbgan::error);
  CHECK_THROWS_AS(GumbelSoftmaxST<float>(Generator(0), {1.0, -1e-5}), sbgan::error);
  CHECK_THROWS_AS(sampler.set_temperature(-1.0), sbgan::error);
}
