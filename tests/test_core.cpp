// The tensor core, the random stream and the CPU kernels. Kernels are checked
// against direct loops written here from their definitions (PyTorch golden data
// covers them again in test_golden.cpp).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
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

#if defined(__linux__)
namespace {
// Resident memory of this process, from /proc/self/statm.
double resident_mib() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  REQUIRE(f);
  REQUIRE(std::fscanf(f, "%ld %ld", &pages, &resident) == 2);
  std::fclose(f);
  return static_cast<double>(resident) * 4096.0 / (1024.0 * 1024.0);
}
}  // namespace

TEST_CASE("large host tensors: recycled without raising the peak, untouched zeros cost nothing", "[core][memory]") {
  constexpr index_t count = index_t{64} << 20;  // 256 MiB of floats
  host_empty_cache();
  const double before = resident_mib();
  const float* first = nullptr;
  {
    auto z = zeros<float>(Shape{count});  // a miss: fresh pages, zero without a clearing pass
    first = z.data();
    CHECK(reinterpret_cast<std::uintptr_t>(first) % (std::uintptr_t{2} << 20) == 0);
    double sum = 0;
    for (index_t i = 0; i < count; i += count / 64) sum += z[i];
    CHECK(sum == 0.0);
    CHECK(resident_mib() - before < 64.0);  // untouched: no resident memory
    std::fill(z.begin(), z.end(), 1.0f);
    CHECK(resident_mib() - before > 200.0);  // written: resident
  }
  CHECK(host_memory_stats().bytes_cached == std::size_t{256} << 20);  // freed into the cache
  {
    const auto hits = host_memory_stats().cache_hits;
    auto z = zeros<float>(Shape{count});  // the same size: the cached block, cleared
    CHECK(z.data() == first);
    CHECK(host_memory_stats().cache_hits == hits + 1);
    CHECK(z[0] == 0.0f);
    CHECK(z[count - 1] == 0.0f);
    CHECK(host_memory_stats().bytes_cached == 0);
  }
  {
    // A gradient-style tensor never takes a resident cached block.
    auto g = untouched_zeros<float>(Shape{count});
    CHECK(g.data() != first);
    CHECK(g[count / 2] == 0.0f);
    CHECK(host_memory_stats().bytes_cached == std::size_t{256} << 20);
  }
  host_empty_cache();
  {
    auto big = zeros<float>(Shape{count});
    std::fill(big.begin(), big.end(), 1.0f);
    first = big.data();
  }
  {
    // A smaller request trims the cached block (its resident pages serve again, the
    // tail goes back), so resident memory does not grow past what was live at once.
    const double cached = resident_mib();
    const auto resized = host_memory_stats().resized;
    auto other = zeros<float>(Shape{count / 2});
    CHECK(other.data() == first);
    CHECK(host_memory_stats().resized == resized + 1);
    CHECK(other[count / 2 - 1] == 0.0f);  // the reused pages are cleared for zeros()
    std::fill(other.begin(), other.end(), 2.0f);
    CHECK(resident_mib() <= cached - 100.0);  // the trimmed half went back
  }
  {
    // A larger request grows the cached block: its pages move to the front of a fresh
    // 2 MiB-aligned mapping (their contents with them), only the rest is new.
    const auto mappings = host_memory_stats().mappings;
    Tensor<float> grown(Shape{count});
    CHECK(host_memory_stats().mappings == mappings + 1);
    CHECK(reinterpret_cast<std::uintptr_t>(grown.data()) % (std::uintptr_t{2} << 20) == 0);
    CHECK(grown[0] == 2.0f);                // moved, not refaulted
    CHECK(grown[count / 2 - 1] == 2.0f);
    CHECK(grown[count / 2] == 0.0f);        // the fresh part
    CHECK(host_memory_stats().bytes_cached == 0);
    auto z = zeros<float>(Shape{count});    // the same size again: a hit, cleared over its stale half
    CHECK(z[0] == 0.0f);
  }
  host_empty_cache();
  CHECK(host_memory_stats().bytes_cached == 0);
  CHECK(resident_mib() - before < 64.0);  // emptied: returned to the system
  {
    poison_scope poison;  // poisoning still reaches large (and reused) tensors, and zeros stay zero
    Tensor<float> t(Shape{count / 64});
    CHECK(std::isnan(t[0]));
    CHECK(std::isnan(t[count / 64 - 1]));
    CHECK(zeros<float>(Shape{count / 64})[count / 128] == 0.0f);
  }
  host_empty_cache();
}
#endif

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
  using kernels::conv_cpu::Gemm;
  const Gemm gemm = GENERATE(Gemm::blocked, Gemm::eigen);
  INFO((gemm == Gemm::blocked ? "blocked GEMM" : "Eigen GEMM"));
  // 1 and 4 output channels run direct loops on the blocked path, 5 its GEMM.
  const index_t cout = GENERATE(index_t{1}, kernels::conv_cpu::few_outputs_max, kernels::conv_cpu::few_outputs_max + 1);
  INFO("C_out " << cout);
  for (const auto& win : windows) {
    INFO(win.str());
    const auto x = g.normal<double>(Shape{2, 3, 9, 8});
    const auto w = g.normal<double>(Shape{cout, 3, win.kernel_h, win.kernel_w});
    const auto b = g.normal<double>(Shape{cout});
    const auto expected = direct_conv(x, w, &b, win);
    poison_scope poison;
    Tensor<double> y(expected.shape());
    kernels::conv_cpu::forward(gemm, x, w, &b, win, y);
    CHECK(max_abs_diff(y, expected) < 1e-12);
    // Adjointness: ⟨conv(x), dy⟩ = ⟨x, convᵀ(dy)⟩ = ⟨w, weight-grad(x, dy)⟩.
    const auto dy = g.normal<double>(expected.shape());
    auto dx = zeros<double>(x.shape());
    kernels::conv_cpu::backward_data(gemm, dy, w, win, dx);
    auto dw = zeros<double>(w.shape());
    auto db = zeros<double>(b.shape());
    kernels::conv_cpu::backward_weights(gemm, x, dy, win, dw, &db);
    const auto y_nobias = direct_conv(x, w, nullptr, win);
    const double lhs = kernels::dot(y_nobias, dy);
    CHECK(kernels::dot(x, dx) == Approx(lhs).epsilon(1e-12));
    CHECK(kernels::dot(w, dw) == Approx(lhs).epsilon(1e-12));
    CHECK(kernels::sum(db) == Approx(kernels::sum(dy)).epsilon(1e-12));
    auto dx_eigen = zeros<double>(x.shape());
    kernels::conv_cpu::backward_data(Gemm::eigen, dy, w, win, dx_eigen);
    auto dw_eigen = zeros<double>(w.shape());
    kernels::conv_cpu::backward_weights(Gemm::eigen, x, dy, win, dw_eigen, static_cast<Tensor<double>*>(nullptr));
    CHECK(max_abs_diff(dx, dx_eigen) < 1e-12);
    CHECK(max_abs_diff(dw, dw_eigen) < 1e-12);
  }
}

// A strided input gradient makes its column matrix a few output pixels at a time;
// chunks that end mid-row and a short last chunk must add up to the reference.
TEST_CASE("a strided input gradient over several column chunks agrees with the reference",
          "[kernels][conv][gemm]") {
  Generator g(9);
  using kernels::conv_cpu::Gemm;
  const Window2d win = Window2d::square(4, 2, 1);
  const auto dy = g.normal<double>(Shape{2, 6, 45, 35});
  const auto w = g.normal<double>(Shape{6, 64, 4, 4});
  const index_t chunk = kernels::conv_cpu::col_chunk_pixels<double>(64 * 16, 45 * 35);
  REQUIRE(chunk < 45 * 35);
  REQUIRE(chunk % 35 != 0);
  auto dx = zeros<double>(Shape{2, 64, 90, 70});
  auto dx_eigen = zeros<double>(dx.shape());
  kernels::conv_cpu::backward_data(Gemm::blocked, dy, w, win, dx);
  kernels::conv_cpu::backward_data(Gemm::eigen, dy, w, win, dx_eigen);
  CHECK(max_abs_diff(dx, dx_eigen) < 1e-11);
  // and the adjoint of the forward: ⟨conv(x), dy⟩ = ⟨x, convᵀ(dy)⟩
  const auto x = g.normal<double>(dx.shape());
  CHECK(kernels::dot(x, dx) == Approx(kernels::dot(direct_conv(x, w, nullptr, win), dy)).epsilon(1e-12));
}

// A patch discriminator's last layer (512 → 1, 4×4, pad 2) runs direct loops; in
// float their error against a double reference must stay of the order of the
// im2col + Eigen reference's own (measured: 0.3-0.7x it forward, 0.6-1.0x for the
// weight gradient), batch of two, odd sizes.
TEST_CASE("few-output convolutions agree with the direct definition as closely as im2col does",
          "[kernels][conv][few_outputs]") {
  Generator g(8);
  using kernels::conv_cpu::Gemm;
  const Window2d win = Window2d::square(4, 1, 2);
  const auto x = g.normal<double>(Shape{2, 512, 9, 11});
  const auto w = g.normal<double>(Shape{1, 512, 4, 4});
  const auto expected = direct_conv(x, w, nullptr, win);
  const auto dy = g.normal<double>(expected.shape());
  auto dw = zeros<double>(w.shape());
  kernels::conv_cpu::backward_weights(Gemm::eigen, x, dy, win, dw, static_cast<Tensor<double>*>(nullptr));
  const Tensor<float> xf = cast<float>(x), wf = cast<float>(w), dyf = cast<float>(dy);
  auto max_error = [](const Tensor<float>& a, const Tensor<double>& b) {
    double m = 0;
    for (index_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
  };
  double forward_error[2], weight_error[2];
  for (const Gemm gemm : {Gemm::blocked, Gemm::eigen}) {
    Tensor<float> yf(expected.shape());
    kernels::conv_cpu::forward(gemm, xf, wf, static_cast<const Tensor<float>*>(nullptr), win, yf);
    auto dwf = zeros<float>(w.shape());
    kernels::conv_cpu::backward_weights(gemm, xf, dyf, win, dwf, static_cast<Tensor<float>*>(nullptr));
    forward_error[gemm == Gemm::eigen] = max_error(yf, expected);
    weight_error[gemm == Gemm::eigen] = max_error(dwf, dw);
  }
  INFO("forward error " << forward_error[0] << " (reference " << forward_error[1] << "), weight gradient error "
                        << weight_error[0] << " (reference " << weight_error[1] << ")");
  CHECK(forward_error[0] <= 1.5 * forward_error[1]);
  CHECK(weight_error[0] <= 1.5 * weight_error[1]);
}

// The blocked GEMM against a double-precision product: every edge of the register
// tile (m, n not multiples of MR, NR), several KC slices, MC row blocks and NC column
// blocks, both split directions of the threads, assign and accumulate, float and double.
TEST_CASE("the blocked GEMM agrees with a double-precision product on every edge shape", "[kernels][gemm]") {
  namespace gm = cpu_detail::gemm;
  struct Size {
    index_t m, n, k;
  };
  const index_t MR = gm::Tile<float>::rows, NR = gm::Tile<float>::cols, KC = gm::Blocking<float>::kc;
  const Size sizes[] = {{1, 1, 1},          {MR, NR, 1},        {MR + 1, NR - 1, 7},
                        {3, 2 * NR + 5, KC + 3}, {gm::Blocking<float>::mc + 5, 40, 2 * KC + 1},
                        {9, gm::Blocking<float>::nc + NR + 3, 20}, {700, 3, 300}};
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> uniform(-1, 1);
  for (const auto& [m, n, k] : sizes) {
    for (bool accumulate : {false, true}) {
      INFO("m " << m << ", n " << n << ", k " << k << (accumulate ? ", accumulate" : ", assign"));
      std::vector<double> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n)),
          c0(static_cast<std::size_t>(m * n));
      for (auto* v : {&a, &b, &c0})
        for (auto& e : *v) e = uniform(rng);
      // A read transposed and B read transposed too, to cover all four packers.
      std::vector<double> at(a.size()), bt(b.size());
      for (index_t i = 0; i < m; ++i)
        for (index_t p = 0; p < k; ++p) at[p * m + i] = a[i * k + p];
      for (index_t p = 0; p < k; ++p)
        for (index_t j = 0; j < n; ++j) bt[j * k + p] = b[p * n + j];
      std::vector<double> expected = c0;
      for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) {
          double s = accumulate ? c0[i * n + j] : 0.0;
          for (index_t p = 0; p < k; ++p) s += a[i * k + p] * b[p * n + j];
          expected[i * n + j] = s;
        }
      std::vector<double> c = c0;
      gm::blocked_gemm<double>(m, n, k, gm::RowMajorA<double>{a.data(), k}, gm::RowMajorB<double>{b.data(), n},
                               c.data(), n, accumulate);
      double err = 0;
      for (std::size_t i = 0; i < c.size(); ++i) err = std::max(err, std::abs(c[i] - expected[i]));
      CHECK(err < 1e-12 * static_cast<double>(k));
      c = c0;
      gm::blocked_gemm<double>(m, n, k, gm::TransposedA<double>{at.data(), m}, gm::TransposedB<double>{bt.data(), k},
                               c.data(), n, accumulate);
      err = 0;
      for (std::size_t i = 0; i < c.size(); ++i) err = std::max(err, std::abs(c[i] - expected[i]));
      CHECK(err < 1e-12 * static_cast<double>(k));
      // float: the same product, within float rounding of a k-term sum (|terms| ≤ 1).
      std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(c0.begin(), c0.end());
      gm::blocked_gemm<float>(m, n, k, gm::RowMajorA<float>{af.data(), k}, gm::RowMajorB<float>{bf.data(), n},
                              cf.data(), n, accumulate);
      err = 0;
      for (std::size_t i = 0; i < cf.size(); ++i) err = std::max(err, std::abs(cf[i] - expected[i]));
      CHECK(err < 1e-6 * static_cast<double>(k + 2));
    }
  }
}

// Threads split C into column ranges (wide C) or row ranges (tall C), never k, so
// every element is summed in the same order: results are bit-identical for any
// thread count, uneven splits included.
TEST_CASE("the blocked GEMM gives bit-identical results on 1, 2 and 3 threads", "[kernels][gemm][threads]") {
#if defined(_OPENMP)
  namespace gm = cpu_detail::gemm;
  struct Size {
    index_t m, n, k;
  };
  const Size sizes[] = {{37, 1000, 150}, {500, 40, 150}, {64, 64, 64}};  // column split, row split, square
  Generator g(21);
  const int threads = omp_get_max_threads();
  for (const auto& [m, n, k] : sizes) {
    INFO("m " << m << ", n " << n << ", k " << k);
    const auto a = g.normal<float>(Shape{m, k}), b = g.normal<float>(Shape{k, n});
    std::vector<std::vector<float>> results;
    for (int t : {1, 2, 3}) {
      omp_set_num_threads(t);
      std::vector<float> c(static_cast<std::size_t>(m * n));
      gm::blocked_gemm<float>(m, n, k, gm::RowMajorA<float>{a.data(), k}, gm::RowMajorB<float>{b.data(), n}, c.data(),
                              n, false);
      results.push_back(std::move(c));
    }
    omp_set_num_threads(threads);
    CHECK(results[0] == results[1]);
    CHECK(results[0] == results[2]);
  }
#else
  SUCCEED("built without OpenMP: one thread only");
#endif
}

// A convolution big enough for several KC slices, MC row blocks and threads, odd
// sizes everywhere, against the direct definition; both paths.
TEST_CASE("convolution over several GEMM blocks agrees with the direct definition", "[kernels][conv][gemm]") {
  Generator g(5);
  using kernels::conv_cpu::Gemm;
  const Gemm gemm = GENERATE(Gemm::blocked, Gemm::eigen);
  INFO((gemm == Gemm::blocked ? "blocked GEMM" : "Eigen GEMM"));
  // stride 1 (the input gradient runs as a convolution) and stride 2 (through col2im)
  for (const Window2d win : {Window2d{3, 3, 1, 1, 2, 1}, Window2d{3, 3, 1, 2, 1, 1}}) {
    INFO(win.str());
    const auto x = g.normal<double>(Shape{2, 61, 13, 37});
    const auto w = g.normal<double>(Shape{301, 61, 3, 3});
    const auto expected = direct_conv(x, w, nullptr, win);
    Tensor<double> y(expected.shape());
    kernels::conv_cpu::forward(gemm, x, w, static_cast<const Tensor<double>*>(nullptr), win, y);
    CHECK(max_abs_diff(y, expected) < 1e-11);
    const auto dy = g.normal<double>(expected.shape());
    auto dx = zeros<double>(x.shape());
    kernels::conv_cpu::backward_data(gemm, dy, w, win, dx);
    auto dw = zeros<double>(w.shape());
    kernels::conv_cpu::backward_weights(gemm, x, dy, win, dw, static_cast<Tensor<double>*>(nullptr));
    const double lhs = kernels::dot(expected, dy);
    CHECK(kernels::dot(x, dx) == Approx(lhs).epsilon(1e-12));
    CHECK(kernels::dot(w, dw) == Approx(lhs).epsilon(1e-12));
    // element by element against the other path (Eigen's GEMM on explicit im2col)
    auto dx_eigen = zeros<double>(x.shape());
    kernels::conv_cpu::backward_data(Gemm::eigen, dy, w, win, dx_eigen);
    auto dw_eigen = zeros<double>(w.shape());
    kernels::conv_cpu::backward_weights(Gemm::eigen, x, dy, win, dw_eigen, static_cast<Tensor<double>*>(nullptr));
    CHECK(max_abs_diff(dx, dx_eigen) < 1e-10);
    CHECK(max_abs_diff(dw, dw_eigen) < 1e-10);
    // float against the double result
    const Tensor<float> xf = cast<float>(x), wf = cast<float>(w);
    Tensor<float> yf(expected.shape());
    kernels::conv_cpu::forward(gemm, xf, wf, static_cast<const Tensor<float>*>(nullptr), win, yf);
    double err = 0, scale = 0;
    for (index_t i = 0; i < yf.numel(); ++i) {
      err = std::max(err, std::abs(yf[i] - expected[i]));
      scale = std::max(scale, std::abs(expected[i]));
    }
    CHECK(err < 1e-5 * scale);
  }
}

// Winograd F(2x2, 3x3) runs the blocked path's 3x3 stride-1 convolutions (forward and
// input gradient) and F(3x3, 2x2) their weight gradient; in float the error against a
// double reference must stay of the order of the im2col + Eigen reference's own
// (measured: at most 1.9x it), every padding 0-2, odd sizes, partial tiles and
// several tile chunks.
TEST_CASE("Winograd 3x3 convolutions agree with the direct definition as closely as im2col does",
          "[kernels][conv][winograd]") {
  namespace gm = cpu_detail::gemm;
  using kernels::conv_cpu::Gemm;
  CHECK(gm::winograd_applies(Window2d::square(3, 1, 1), 32, 32, 2, 2));
  CHECK_FALSE(gm::winograd_applies(Window2d::square(3, 1, 1), 16, 64, 8, 8));  // too few channels
  CHECK_FALSE(gm::winograd_applies(Window2d::square(3, 2, 1), 64, 64, 8, 8));  // strided
  CHECK_FALSE(gm::winograd_applies(Window2d::square(4, 1, 1), 64, 64, 8, 8));  // not 3x3
    Generator g(31);
  struct Case {
    index_t n, cin, cout, h, w, pad_h, pad_w;
  };
  for (const auto& [n, cin, cout, h, w, ph, pw] :
       {Case{2, 32, 37, 7, 9, 1, 1}, Case{1, 35, 128, 16, 31, 1, 1}, Case{1, 61, 33, 13, 37, 2, 0},
        Case{1, 40, 32, 5, 300, 0, 2}, Case{1, 256, 96, 40, 40, 1, 1}}) {  // the last: 400 tiles in two chunks
    const Window2d win{3, 3, 1, 1, ph, pw};
    INFO(cin << "->" << cout << " " << h << "x" << w << " " << win.str());
    REQUIRE(gm::winograd_applies(win, cin, cout, win.out_h(h), win.out_w(w)));
    const auto x = g.normal<float>(Shape{n, cin, h, w});
    const auto wt = g.normal<float>(Shape{cout, cin, 3, 3});
    const auto expected = direct_conv(cast<double>(x), cast<double>(wt), nullptr, win);
    Tensor<float> fast(expected.shape()), reference(expected.shape());
    kernels::conv_cpu::forward(Gemm::blocked, x, wt, static_cast<const Tensor<float>*>(nullptr), win, fast);
    kernels::conv_cpu::forward(Gemm::eigen, x, wt, static_cast<const Tensor<float>*>(nullptr), win, reference);
    double err_fast = 0, err_reference = 0, scale = 0;
    for (index_t i = 0; i < expected.numel(); ++i) {
      err_fast = std::max(err_fast, std::abs(fast[i] - expected[i]));
      err_reference = std::max(err_reference, std::abs(reference[i] - expected[i]));
      scale = std::max(scale, std::abs(expected[i]));
    }
    CHECK(err_fast < 1e-5 * scale);
    CHECK(err_fast < 3 * err_reference + 1e-6 * scale);
    // The input gradient (a padded 3x3 convolution of dy) adds into dx.
    const auto dy = g.normal<float>(expected.shape());
    auto dx = full<float>(x.shape(), 0.5f), dx_reference = full<float>(x.shape(), 0.5f);
    kernels::conv_cpu::backward_data(Gemm::blocked, dy, wt, win, dx);
    kernels::conv_cpu::backward_data(Gemm::eigen, dy, wt, win, dx_reference);
    double diff = 0, dscale = 0;
    for (index_t i = 0; i < dx.numel(); ++i) {
      diff = std::max(diff, double(std::abs(dx[i] - dx_reference[i])));
      dscale = std::max(dscale, double(std::abs(dx_reference[i])));
    }
    CHECK(diff < 1e-5 * dscale);
    // The weight gradient (F(3x3, 2x2), the dual transform) adds into dW; the
    // reference is the Eigen path run in double.
    Tensor<double> dw_expected = full<double>(wt.shape(), 0.25);
    kernels::conv_cpu::backward_weights(Gemm::eigen, cast<double>(x), cast<double>(dy), win, dw_expected,
                                        static_cast<Tensor<double>*>(nullptr));
    auto dw = full<float>(wt.shape(), 0.25f), dw_reference = full<float>(wt.shape(), 0.25f);
    kernels::conv_cpu::backward_weights(Gemm::blocked, x, dy, win, dw, static_cast<Tensor<float>*>(nullptr));
    kernels::conv_cpu::backward_weights(Gemm::eigen, x, dy, win, dw_reference, static_cast<Tensor<float>*>(nullptr));
    double werr_fast = 0, werr_reference = 0, wscale = 0;
    for (index_t i = 0; i < dw.numel(); ++i) {
      werr_fast = std::max(werr_fast, std::abs(dw[i] - dw_expected[i]));
      werr_reference = std::max(werr_reference, std::abs(dw_reference[i] - dw_expected[i]));
      wscale = std::max(wscale, std::abs(dw_expected[i]));
    }
    CHECK(werr_fast < 1e-5 * wscale);
    CHECK(werr_fast < 3 * werr_reference + 1e-6 * wscale);
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
