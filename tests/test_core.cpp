// The tensor core, the random stream and the CPU kernels. Kernels are checked
// against direct loops written here from their definitions (PyTorch golden data
// covers them again in test_golden.cpp).
#include <catch2/catch.hpp>
#include <cmath>
#include <sbgan/sbgan.hpp>
#if defined(_OPENMP)
#include <omp.h>
#endif

using namespace sbgan;

TEST_CASE("Shape and Tensor basics", "[core]") {
  const Shape s{2, 3, 4, 5};
  CHECK(s.rank() == 4);
  CHECK(s.numel() == 120);
  CHECK(s.per_sample() == 60);
  CHECK(s.str() == "[2, 3, 4, 5]");
  CHECK(Shape{3} == Shape{3});
  CHECK_FALSE(Shape{3, 1} == Shape{3});
  CHECK_THROWS_AS(Shape({1, -2}), std::invalid_argument);

  auto t = full<float>(s, 1.5f);
  CHECK(t.numel() == 120);
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  t(1, 2, 3, 4) = 7;
  CHECK(t[119] == 7);
  // Copies share storage; clone() does not.
  auto view = t;
  auto copy = clone(t);
  view[0] = -1;
  CHECK(t[0] == -1);
  CHECK(copy[0] == 1.5f);
  CHECK(view.shares_storage_with(t));
  CHECK_FALSE(copy.shares_storage_with(t));
  const auto flat = t.reshaped(Shape{2, 60});
  CHECK(flat.shares_storage_with(t));
  CHECK_THROWS_AS(t.reshaped(Shape{7}), shape_error);
  CHECK(Tensor<float>().empty());
}

TEST_CASE("poison_scope fills new tensors with NaN", "[core]") {
  {
    poison_scope poison;
    Tensor<double> t(Shape{4});
    for (double v : t) CHECK(std::isnan(v));
    CHECK_FALSE(kernels::all_finite(t));
  }
  CHECK(poisoning_new_tensors() == false);
  CHECK(kernels::all_finite(zeros<float>(Shape{3})));
}

TEST_CASE("Philox4x32-10 matches the published known-answer vectors", "[rng]") {
  // Random123's kat_vectors for philox4x32_10.
  auto zero = philox::generate(0, 0, 0);
  CHECK(zero.v[0] == 0x6627e8d5u);
  CHECK(zero.v[1] == 0xe169c58du);
  CHECK(zero.v[2] == 0xbc57ac4cu);
  CHECK(zero.v[3] == 0x9b00dbd8u);
  auto ones = philox::generate(~0ULL, ~0ULL, ~0ULL);
  CHECK(ones.v[0] == 0x408f276du);
  CHECK(ones.v[1] == 0x41c83b0eu);
  CHECK(ones.v[2] == 0xa20bc7c6u);
  CHECK(ones.v[3] == 0x6d5451fdu);
  auto pi = philox::generate(0x85a308d3243f6a88ULL, 0x0370734413198a2eULL, 0x299f31d0a4093822ULL);
  CHECK(pi.v[0] == 0xd16cfe09u);
  CHECK(pi.v[1] == 0x94fdccebu);
  CHECK(pi.v[2] == 0x5001e420u);
  CHECK(pi.v[3] == 0x24126ea1u);
}

TEST_CASE("Generator draws have the right distributions and a defined stream", "[rng]") {
  Generator g(42);
  const index_t n = 1 << 18;
  const auto u = g.uniform<double>(Shape{n});
  const auto z = g.normal<double>(Shape{n});
  Tensor<double> gum(Shape{n});
  g.gumbel(gum);
  double mu = 0, mz = 0, vz = 0, mg = 0;
  double lo = 1, hi = 0;
  for (index_t i = 0; i < n; ++i) {
    mu += u[i];
    lo = std::min(lo, u[i]);
    hi = std::max(hi, u[i]);
    mz += z[i];
    vz += z[i] * z[i];
    mg += gum[i];
  }
  mu /= n, mz /= n, vz /= n, mg /= n;
  CHECK(lo > 0.0);
  CHECK(hi < 1.0);
  CHECK(std::abs(mu - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(mz) < 5 / std::sqrt(double(n)));
  CHECK(std::abs(vz - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(mg - 0.5772156649) < 5 * 1.2825 / std::sqrt(double(n)));  // Euler–Mascheroni; sd π/√6

  // The stream is a pure function of (seed, stream, offset, index): a draw equals
  // the element-wise definition, whatever the thread count that produced it.
  Generator a(9), b(9);
  auto first = a.uniform<float>(Shape{10});
  auto second = a.uniform<float>(Shape{10});
  CHECK(a.offset() == 6);  // ceil(10/4) blocks per draw
  b.set_offset(3);
  auto second_again = b.uniform<float>(Shape{10});
  for (index_t i = 0; i < 10; ++i) {
    CHECK(second[i] == second_again[i]);
    CHECK(first[i] == philox::uniform_at<float>({9, 0, 0}, static_cast<std::uint64_t>(i)));
  }
  // float and double draws of one seed are the same numbers.
  Generator f(5), d(5);
  auto uf = f.uniform<float>(Shape{64});
  auto ud = d.uniform<double>(Shape{64});
  for (index_t i = 0; i < 64; ++i) CHECK(double(uf[i]) == ud[i]);
  // Different streams of one seed differ.
  Generator s0(5, 0), s1(5, 1);
  CHECK(s0.uniform<float>(Shape{1})[0] != s1.uniform<float>(Shape{1})[0]);
#if defined(_OPENMP)
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator one(77);
  auto single = one.normal<float>(Shape{100000});
  omp_set_num_threads(std::max(2, threads));  // at least two, whatever the environment says
  Generator many(77);
  auto multi = many.normal<float>(Shape{100000});
  bool same = true;
  omp_set_num_threads(threads);
  for (index_t i = 0; i < single.numel(); ++i) same = same && single[i] == multi[i];
  CHECK(same);
#endif
}

namespace {

// Direct convolution from the definition, in double.
Tensor<double> direct_conv(const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>* b, const Window2d& g) {
  const index_t n = x.shape().n(), ci = x.shape().c(), h = x.shape().h(), wd = x.shape().w(), co = w.shape()[0];
  Tensor<double> y(Shape{n, co, g.out_h(h), g.out_w(wd)});
  for (index_t s = 0; s < n; ++s)
    for (index_t o = 0; o < co; ++o)
      for (index_t i = 0; i < y.shape().h(); ++i)
        for (index_t j = 0; j < y.shape().w(); ++j) {
          double acc = b ? (*b)[o] : 0.0;
          for (index_t c = 0; c < ci; ++c)
            for (index_t a = 0; a < g.kernel_h; ++a)
              for (index_t e = 0; e < g.kernel_w; ++e) {
                const index_t yy = i * g.stride_h - g.pad_h + a, xx = j * g.stride_w - g.pad_w + e;
                if (yy >= 0 && yy < h && xx >= 0 && xx < wd) acc += x(s, c, yy, xx) * w(o, c, a, e);
              }
          y(s, o, i, j) = acc;
        }
  return y;
}

double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  double m = 0;
  for (index_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

TEST_CASE("convolution kernels agree with the direct definition", "[kernels][conv]") {
  Generator g(3);
  const Window2d windows[] = {Window2d::square(3, 1, 1), Window2d::square(1), Window2d::square(4, 2, 1),
                              Window2d{3, 2, 2, 1, 0, 1}, Window2d::square(5, 3, 2)};
  for (const auto& win : windows) {
    INFO(win.str());
    const auto x = g.normal<double>(Shape{2, 3, 9, 8});
    const auto w = g.normal<double>(Shape{4, 3, win.kernel_h, win.kernel_w});
    const auto b = g.normal<double>(Shape{4});
    const auto expected = direct_conv(x, w, &b, win);
    poison_scope poison;
    Tensor<double> y(expected.shape());
    kernels::conv2d_forward(x, w, &b, win, y);
    CHECK(max_abs_diff(y, expected) < 1e-12);
    // Adjointness: ⟨conv(x), dy⟩ = ⟨x, convᵀ(dy)⟩ = ⟨w, weight-grad(x, dy)⟩.
    const auto dy = g.normal<double>(expected.shape());
    auto dx = zeros<double>(x.shape());
    kernels::conv2d_backward_data(dy, w, win, dx);
    auto dw = zeros<double>(w.shape());
    auto db = zeros<double>(b.shape());
    kernels::conv2d_backward_weights(x, dy, win, dw, &db);
    const auto y_nobias = direct_conv(x, w, nullptr, win);
    const double lhs = kernels::dot(y_nobias, dy);
    CHECK(kernels::dot(x, dx) == Approx(lhs).epsilon(1e-12));
    CHECK(kernels::dot(w, dw) == Approx(lhs).epsilon(1e-12));
    CHECK(kernels::sum(db) == Approx(kernels::sum(dy)).epsilon(1e-12));
  }
}

TEST_CASE("pooling, resize, softmax, concat and moments kernels", "[kernels]") {
  Generator g(4);
  SECTION("3x3 stride 2 pad 1 average pooling does not count padding") {
    const auto x = full<double>(Shape{1, 1, 5, 5}, 2.0);
    Tensor<double> y(Shape{1, 1, 3, 3});
    kernels::avg_pool2d_forward(x, Window2d::square(3, 2, 1), y);
    for (double v : y) CHECK(v == Approx(2.0).epsilon(1e-15));  // corners average 4 values, not 9
    auto x2 = g.normal<double>(Shape{1, 1, 4, 4});
    Tensor<double> y2(Shape{1, 1, 2, 2});
    kernels::avg_pool2d_forward(x2, Window2d::square(2, 2, 0), y2);
    CHECK(y2(0, 0, 1, 0) == Approx((x2(0, 0, 2, 0) + x2(0, 0, 2, 1) + x2(0, 0, 3, 0) + x2(0, 0, 3, 1)) / 4));
  }
  SECTION("nearest x2 upsampling repeats each pixel") {
    const auto x = g.normal<float>(Shape{2, 3, 3, 4});
    Tensor<float> y(Shape{2, 3, 6, 8});
    kernels::resize_nearest(x, y);
    for (index_t i = 0; i < 6; ++i)
      for (index_t j = 0; j < 8; ++j) CHECK(y(1, 2, i, j) == x(1, 2, i / 2, j / 2));
  }
  SECTION("channel softmax sums to one per pixel") {
    const auto x = g.normal<float>(Shape{2, 7, 3, 3}, 0.0f, 10.0f);
    Tensor<float> y(x.shape());
    kernels::softmax_channels(x, y);
    for (index_t i = 0; i < 3; ++i) {
      double s = 0;
      for (index_t c = 0; c < 7; ++c) s += y(1, c, i, 2);
      CHECK(s == Approx(1.0).epsilon(1e-6));
    }
  }
  SECTION("concat then split is the identity") {
    std::vector<Tensor<double>> parts{g.normal<double>(Shape{2, 1, 3, 3}), g.normal<double>(Shape{2, 4, 3, 3})};
    Tensor<double> cat(Shape{2, 5, 3, 3});
    kernels::concat_channels(parts, cat);
    CHECK(cat(1, 3, 2, 1) == parts[1](1, 2, 2, 1));
    std::vector<Tensor<double>> back{zeros<double>(Shape{2, 1, 3, 3}), zeros<double>(Shape{2, 4, 3, 3})};
    kernels::split_channels_add(cat, back);
    CHECK(max_abs_diff(back[0], parts[0]) == 0.0);
    CHECK(max_abs_diff(back[1], parts[1]) == 0.0);
  }
  SECTION("moments of a large float tensor stay accurate") {
    auto x = g.normal<float>(Shape{2, 3, 256, 256}, 1000.0f, 0.5f);
    Tensor<float> mean(Shape{3}), var(Shape{3});
    kernels::channel_moments(x, mean, var);
    for (index_t c = 0; c < 3; ++c) {
      CHECK(mean[c] == Approx(1000.0).margin(0.01));
      CHECK(var[c] == Approx(0.25).epsilon(0.02));
    }
  }
}
