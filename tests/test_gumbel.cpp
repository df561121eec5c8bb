// The straight-through Gumbel-softmax sampler: against PyTorch's reference sampler
// with the same noise (tools/golden/gumbel.py), its backward against central
// differences of the soft sample, the distribution of its samples (Gumbel-max
// property, chi-square), the noise-free argmax mode, its noise stream, and the
// vectorised fast path against the scalar reference ([simd]).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
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

// The exact perturbed logits (log(p + ε) + g)/τ in double, g = Generator::gumbel's
// noise at `pos`: what decides the sample, without either path's rounding.
template <class T>
Tensor<double> perturbed_logits(const Tensor<T>& p, const philox::stream_position& pos, double tau, double eps) {
  Tensor<double> z(p.shape());
  for (index_t i = 0; i < p.numel(); ++i) {
    const double g = philox::gumbel_at<double>(pos, static_cast<std::uint64_t>(i));
    z[i] = (std::log(static_cast<double>(p[i]) + eps) + g) / tau;
  }
  return z;
}

// Two one-hot samples of the same logits z: pixels where they differ, pixels whose two
// largest logits lie within `gap` (near ties, where rounding may pick either), and
// differing pixels that are not near ties (never allowed).
struct one_hot_comparison {
  index_t differing = 0, near_ties = 0, differing_elsewhere = 0;
};

template <class T>
one_hot_comparison compare_one_hots(const Tensor<T>& a, const Tensor<T>& b, const Tensor<double>& z, double gap) {
  const Shape& s = z.shape();
  one_hot_comparison result;
  for (index_t n = 0; n < s.n(); ++n)
    for (index_t h = 0; h < s.h(); ++h)
      for (index_t w = 0; w < s.w(); ++w) {
        double first = -INFINITY, second = -INFINITY;
        bool differ = false;
        for (index_t c = 0; c < s.c(); ++c) {
          const double v = z(n, c, h, w);
          if (v > first) {
            second = first;
            first = v;
          } else if (v > second) {
            second = v;
          }
          differ = differ || a(n, c, h, w) != b(n, c, h, w);
        }
        const bool near_tie = first - second <= gap;
        result.differing += differ;
        result.near_ties += near_tie;
        result.differing_elsewhere += differ && !near_tie;
      }
  return result;
}

// Largest |a − b|, NaN matching NaN only (a NaN against a number counts as infinite).
template <class T>
double max_abs_difference(const Tensor<T>& a, const Tensor<T>& b) {
  double worst = 0;
  for (index_t i = 0; i < a.numel(); ++i) {
    const bool nan_a = std::isnan(a[i]), nan_b = std::isnan(b[i]);
    if (nan_a || nan_b) {
      if (nan_a != nan_b) return INFINITY;
      continue;
    }
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return worst;
}

double max_magnitude(const Tensor<float>& t) {
  double m = 0;
  for (index_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(static_cast<double>(t[i])));
  return m;
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
    if (kernels::gumbel_softmax_fast_path_active<float>()) {
      // The vectorised path: the same uniforms, its own logarithms.
      CHECK(max_abs_difference(ctx_f.soft, expected_f.soft) <= tolerance::gumbel_fast_soft);
      const auto z = perturbed_logits(p, state.take(0), 0.7, 1e-5);
      const auto one_hots = compare_one_hots(ctx_f.output, expected_f.output, z, tolerance::gumbel_fast_tie_gap);
      CHECK(one_hots.differing_elsewhere == 0);
    } else {
      CHECK(bitwise_equal(ctx_f.soft, expected_f.soft));
      CHECK(bitwise_equal(ctx_f.output, expected_f.output));
    }
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

// ---- The vectorised fast path against the scalar reference ---------------------------
// Both are always callable (kernels::*_fast is the reference where the build has no
// AVX-512), so these tests compare something real only where gumbel_softmax_has_fast_path.

TEST_CASE("GumbelSoftmaxST fast path: Philox×16 gives philox::generate's words in stream order",
          "[gumbel][simd]") {
#if SBGAN_SIMD_AVX512
  const std::uint64_t firsts[] = {0, 1, 6, 0xFFFFFFFFull - 5, 0xFFFFFFFFull - 15, 0x1234567890ull, ~0ull - 6};
  Dice dice(5);
  for (const std::uint64_t first : firsts) {
    const std::uint64_t stream = static_cast<std::uint64_t>(dice(0, 1 << 30)) << 20, key = dice(0, 1 << 30) * 7919ull;
    INFO("first counter " << first << ", stream " << stream << ", key " << key);
    const simd::philox_words words = simd::philox16(first, stream, key);
    __m512i ordered[4];
    simd::stream_order(words, ordered);
    alignas(64) std::uint32_t by_word[4][16], by_element[64];
    for (int j = 0; j < 4; ++j) {
      _mm512_store_si512(by_word[j], words.word[j]);
      _mm512_store_si512(by_element + 16 * j, ordered[j]);
    }
    int wrong = 0;
    for (int b = 0; b < 16; ++b) {
      const philox::block expected = philox::generate(first + static_cast<std::uint64_t>(b), stream, key);
      for (int w = 0; w < 4; ++w) wrong += by_word[w][b] != expected.v[w] || by_element[4 * b + w] != expected.v[w];
    }
    CHECK(wrong == 0);
  }
#else
  WARN("no AVX-512 in this build: the Gumbel-softmax runs its scalar reference only");
#endif
}

TEST_CASE("GumbelSoftmaxST fast path: simd::log16 and exp16 stay within their measured ulp", "[gumbel][simd]") {
#if SBGAN_SIMD_AVX512
  // Every 1009th float of the ranges simd_math.hpp measured exhaustively (log: every
  // positive finite float; exp: [−104, 89]), against double precision. Error in units
  // of the last place of the float nearest the exact value (2^-149 for subnormals).
  const auto ulps = [](float got, double exact) {
    const float nearest = static_cast<float>(exact);
    const float magnitude = std::max(std::abs(nearest), std::numeric_limits<float>::min());
    const double ulp = std::nextafter(magnitude, INFINITY) - magnitude;
    return std::abs(static_cast<double>(got) - exact) / ulp;
  };
  const auto float_of = [](std::uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  };
  double worst_log = 0, worst_exp = 0;
  alignas(64) float x[16], y[16];
  for (std::uint32_t bits = 1; bits < 0x7F800000u; bits += 16 * 1009) {
    for (std::uint32_t l = 0; l < 16; ++l) x[l] = float_of(std::min(bits + l * 1009, 0x7F7FFFFFu));
    _mm512_store_ps(y, simd::log16(_mm512_load_ps(x)));
    for (int l = 0; l < 16; ++l) worst_log = std::max(worst_log, ulps(y[l], std::log(static_cast<double>(x[l]))));
  }
  for (float start = -104.0f; start < 89.0f; start += 16 * 1009 * 1e-5f) {
    for (int l = 0; l < 16; ++l) x[l] = start + static_cast<float>(l) * 1009e-5f;
    _mm512_store_ps(y, simd::exp16(_mm512_load_ps(x)));
    for (int l = 0; l < 16; ++l)
      if (x[l] <= 88.72f) worst_exp = std::max(worst_exp, ulps(y[l], std::exp(static_cast<double>(x[l]))));
  }
  INFO("log16 " << worst_log << " ulp, exp16 " << worst_exp << " ulp");
  CHECK(worst_log <= tolerance::simd_log_ulps);
  CHECK(worst_exp <= tolerance::simd_exp_ulps);
#else
  WARN("no AVX-512 in this build: the Gumbel-softmax runs its scalar reference only");
#endif
}

TEST_CASE("GumbelSoftmaxST fast path draws the reference's noise", "[gumbel][simd]") {
#if SBGAN_SIMD_AVX512
  // Runs of every length up to a tile, starting on and off a Philox block, at
  // positions whose block offsets are not multiples of 4 (one carries into the
  // counter's high word).
  Dice dice(6);
  double worst_exponential = 0, worst_gumbel = 0;
  index_t inexact_uniforms = 0;
  for (const std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{5}, std::uint64_t{0xFFFFFFFFu - 2}}) {
    const philox::stream_position pos{static_cast<std::uint64_t>(dice(1, 1 << 30)), 3, offset};
    for (index_t count = 1; count <= kernels::gumbel_simd::tile; ++count) {
      const auto first = static_cast<std::uint64_t>(dice(0, 1000));
      __m512i words[kernels::gumbel_simd::vectors_per_tile];
      kernels::gumbel_simd::run_words(pos, first, count, words);
      alignas(64) float exponential[kernels::gumbel_simd::tile], gumbel[kernels::gumbel_simd::tile],
          uniform[kernels::gumbel_simd::tile];
      kernels::gumbel_simd::draw_exponential(pos, first, count, exponential);
      for (index_t v = 0; v * 16 < count; ++v) {
        _mm512_store_ps(uniform + 16 * v, simd::unit_open16(words[v]));
        _mm512_store_ps(gumbel + 16 * v, simd::gumbel16(words[v]));
      }
      for (index_t i = 0; i < count; ++i) {
        const std::uint64_t e = first + static_cast<std::uint64_t>(i);
        inexact_uniforms += uniform[i] != philox::uniform_at<float>(pos, e);
        const double exact = -std::log(philox::uniform_at<double>(pos, e));
        worst_exponential = std::max(worst_exponential, std::abs(exponential[i] - exact) / exact);
        const double g = philox::gumbel_at<float>(pos, e);
        worst_gumbel = std::max(worst_gumbel, std::abs(gumbel[i] - g) / std::max(1.0, std::abs(g)));
      }
    }
  }
  INFO("exponential: max relative error " << worst_exponential << "; Gumbel: max |fast − reference| / max(1, |g|) "
                                          << worst_gumbel);
  CHECK(inexact_uniforms == 0);
  CHECK(worst_exponential <= tolerance::gumbel_fast_exponential);
  CHECK(worst_gumbel <= tolerance::gumbel_fast_noise);
#else
  WARN("no AVX-512 in this build: the Gumbel-softmax runs its scalar reference only");
#endif
}

TEST_CASE("GumbelSoftmaxST fast forward matches the scalar reference", "[gumbel][simd]") {
  // C = 1, 2, 35; planes not multiples of 16 or 64 (runs off the Philox blocks, partial
  // tiles) and multiples of 16 (full tiles); N > 1; τ = 1 (the ratio form) and τ ≠ 1;
  // ε = 0 with zero probabilities; one shape large enough for threads and one above
  // gumbel_simd::stream_min_bytes (non-temporal stores; τ = 1 only, to keep it short).
  const Shape shapes[] = {Shape{3, 1, 5, 7},    Shape{2, 2, 9, 13}, Shape{2, 35, 17, 19}, Shape{1, 35, 8, 8},
                          Shape{2, 35, 16, 80}, Shape{3, 3, 1, 67}, Shape{4, 35, 33, 35}, Shape{2, 35, 256, 256}};
  const double taus[] = {1.0, 0.5, 1.7};
  Generator data(14);
  double worst_soft = 0;
  index_t pixels = 0, near_ties = 0, differing = 0;
  int config = 0;
  for (const Shape& shape : shapes)
    for (const double tau : taus) {
      if (shape.numel() > (index_t{1} << 22) && tau != 1.0) continue;
      ++config;
      const float eps = config % 3 == 0 ? 0.0f : 1e-5f;
      Tensor<float> p = probabilities<float>(data, shape, 3.0f);
      // With ε = 0, some zero probabilities (log 0 = −inf: never sampled), never channel 0.
      const index_t plane = shape.h() * shape.w();
      if (eps == 0.0f)
        for (index_t i = 0; i < p.numel(); ++i) {
          const index_t c = (i / plane) % shape.c();
          if (c > 0 && (i % plane + 3 * c) % 7 == 0) p[i] = 0.0f;
        }
      Generator state(static_cast<std::uint64_t>(40 + config), 2);
      state.set_offset(static_cast<std::uint64_t>(config) * 4 + 1 + (config % 2 ? 0xFFFFFFF0ull : 0));
      const auto pos = state.take(0);
      INFO(shape << ", tau " << tau << ", eps " << eps << ", offset " << pos.offset);
      Tensor<float> soft, hard, soft_ref(shape), hard_ref(shape);
      {
        poison_scope poison;  // every output element must be written
        soft = Tensor<float>(shape);
        hard = Tensor<float>(shape);
        kernels::gumbel_softmax_st_forward_fast(p, pos, static_cast<float>(tau), eps, soft, hard);
      }
      kernels::gumbel_softmax_st_forward_reference(p, pos, static_cast<float>(tau), eps, soft_ref, hard_ref);
      REQUIRE(kernels::all_finite(soft));
      CHECK(wrong_one_hot_pixels(hard, soft) == 0);
      const double soft_err = max_abs_difference(soft, soft_ref);
      worst_soft = std::max(worst_soft, soft_err);
      CHECK(soft_err <= tolerance::gumbel_fast_soft);
      const auto one_hots =
          compare_one_hots(hard, hard_ref, perturbed_logits(p, pos, tau, eps), tolerance::gumbel_fast_tie_gap);
      CHECK(one_hots.differing_elsewhere == 0);
      pixels += shape.numel() / shape.c();
      near_ties += one_hots.near_ties;
      differing += one_hots.differing;
    }
  INFO("soft: max |fast − reference| " << worst_soft << "; one-hot: " << differing << " differing and " << near_ties
                                        << " near-tie pixels of " << pixels);
  CHECK(near_ties * 1000 <= pixels);  // the exemption stays tiny
  CHECK(differing <= near_ties);
}

TEST_CASE("GumbelSoftmaxST fast backward matches the scalar reference", "[gumbel][simd]") {
  Generator data(15);
  for (const Shape& shape : {Shape{2, 35, 17, 19}, Shape{3, 2, 4, 16}, Shape{1, 1, 3, 5}, Shape{4, 35, 33, 35}})
    for (const double tau : {1.0, 0.5}) {
      INFO(shape << ", tau " << tau);
      const Tensor<float> p = probabilities<float>(data, shape, 3.0f);
      Tensor<float> soft(shape), hard(shape);
      kernels::gumbel_softmax_st_forward_reference(p, data.take(0), static_cast<float>(tau), 1e-5f, soft, hard);
      const Tensor<float> dy = data.normal<float>(shape);
      const Tensor<float> dp_start = data.normal<float>(shape);
      Tensor<float> dp = clone(dp_start), dp_ref = clone(dp_start);
      kernels::gumbel_softmax_st_backward_fast(p, soft, dy, static_cast<float>(tau), 1e-5f, dp);
      kernels::gumbel_softmax_st_backward_reference(p, soft, dy, static_cast<float>(tau), 1e-5f, dp_ref);
      const double err = max_abs_difference(dp, dp_ref) / std::max(1.0, max_magnitude(dp_ref));
      INFO("max |fast − reference| / max(1, max |reference|) = " << err);
      CHECK(err <= tolerance::gumbel_fast_backward);
    }
}

TEST_CASE("GumbelSoftmaxST fast path agrees with the reference on values outside the contract",
          "[gumbel][simd]") {
  // One pixel per case, K = 3, ε = 0: a negative, a NaN and an infinite probability make
  // the whole pixel NaN (argmax channel 0); an all-zero pixel is NaN too; a single zero
  // probability is a soft 0 and never the sample.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float cases[][3] = {{0.2f, -0.1f, 0.9f}, {0.3f, nan, 0.7f}, {nan, 0.5f, 0.5f}, {0.1f, inf, 0.2f},
                            {0.0f, 0.0f, 0.0f},  {0.0f, 0.6f, 0.4f}, {0.5f, 0.5f, 0.0f}};
  const index_t count = std::size(cases);
  Tensor<float> p(Shape{1, 3, 1, count});
  for (index_t w = 0; w < count; ++w)
    for (index_t c = 0; c < 3; ++c) p(0, c, 0, w) = cases[w][c];
  for (const float tau : {1.0f, 0.5f}) {
    INFO("tau " << tau);
    const philox::stream_position pos{3, 1, 9};
    Tensor<float> soft(p.shape()), hard(p.shape()), soft_ref(p.shape()), hard_ref(p.shape());
    kernels::gumbel_softmax_st_forward_fast(p, pos, tau, 0.0f, soft, hard);
    kernels::gumbel_softmax_st_forward_reference(p, pos, tau, 0.0f, soft_ref, hard_ref);
    for (index_t w = 0; w < count; ++w)
      for (index_t c = 0; c < 3; ++c) {
        INFO("case " << w << ", channel " << c << ": fast " << soft(0, c, 0, w) << ", reference "
                     << soft_ref(0, c, 0, w));
        CHECK(std::isnan(soft(0, c, 0, w)) == std::isnan(soft_ref(0, c, 0, w)));
        CHECK(hard(0, c, 0, w) == hard_ref(0, c, 0, w));
      }
    CHECK(max_abs_difference(soft, soft_ref) <= tolerance::gumbel_fast_soft);
  }
}

TEST_CASE("GumbelSoftmaxST runs the path SBGAN_REFERENCE_KERNELS selects", "[gumbel][simd]") {
  // Float takes the fast path unless the switch is on; double always the reference.
  Generator data(16);
  const Tensor<float> p = probabilities<float>(data, Shape{2, 5, 6, 7});
  const philox::stream_position pos{8, 0, 3};
  Tensor<float> soft(p.shape()), hard(p.shape()), fast(p.shape()), reference(p.shape());
  kernels::gumbel_softmax_st_forward(p, pos, 1.0f, 1e-5f, soft, hard);
  kernels::gumbel_softmax_st_forward_fast(p, pos, 1.0f, 1e-5f, fast, hard);
  kernels::gumbel_softmax_st_forward_reference(p, pos, 1.0f, 1e-5f, reference, hard);
  const bool fast_expected = kernels::gumbel_softmax_has_fast_path<float> && !cpu_detail::reference_kernels_requested();
  CHECK(kernels::gumbel_softmax_fast_path_active<float>() == fast_expected);
  CHECK(bitwise_equal(soft, fast_expected ? fast : reference));
  CHECK_FALSE(kernels::gumbel_softmax_has_fast_path<double>);
}
