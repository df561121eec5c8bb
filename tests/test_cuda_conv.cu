// The GEMM-based CUDA kernels (cuDNN convolutions, cuBLAS fully connected layers)
// and the caching allocator under them. The CPU convolution is not available in
// nvcc units, so the kernels are checked against naive loops in double written
// here (an independent reference) and against PyTorch's golden data. Labelled
// `gpu`; without a GPU every case says so and passes.
#include <catch2/catch.hpp>
#include <sbgan/sbgan.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "support/cuda_parity.hpp"
#include "support/golden.hpp"

using namespace sbgan;

namespace {

// Float against the double reference: as the CPU against PyTorch, one layer.
// Double against the double reference: only algorithm and summation order differ.
template <class T>
constexpr double gemm_tolerance() {
  return std::is_same_v<T, float> ? tolerance::cuda_gemm : tolerance::cuda_gemm_double;
}

// Largest |expected − got| relative to max(1, max |expected|); NaN fails.
template <class T>
double error_against(const Tensor<double>& expected, const Tensor<T, cuda>& got) {
  REQUIRE(expected.shape() == got.shape());
  const auto host = to_host(got);
  double scale = 1, worst = 0;
  for (index_t i = 0; i < expected.numel(); ++i) scale = std::max(scale, std::abs(expected[i]));
  for (index_t i = 0; i < expected.numel(); ++i) {
    const double d = std::abs(expected[i] - double(host[i]));
    if (!(d <= worst)) worst = d;
  }
  return worst / scale;
}

#define REQUIRE_CLOSE(what, expected, got, tolerance)                                     \
  do {                                                                                    \
    const double err_ = error_against(expected, got);                                     \
    INFO(what << ": relative error " << err_ << " (tolerance " << (tolerance) << ")");    \
    REQUIRE(err_ <= (tolerance));                                                         \
  } while (0)

// a + k·b, elementwise, in double.
template <class T>
Tensor<double> plus_scaled(const Tensor<T>& a, double k, const Tensor<double>& b) {
  Tensor<double> out(a.shape());
  for (index_t i = 0; i < a.numel(); ++i) out[i] = double(a[i]) + k * b[i];
  return out;
}

// --- naive direct convolution, double ------------------------------------------------

// The input pixel under output (oy, ox) and kernel tap (i, j), or -1 in the padding.
index_t input_row(const Window2d& g, index_t oy, index_t i, index_t h) {
  const index_t iy = oy * g.stride_h - g.pad_h + i;
  return iy >= 0 && iy < h ? iy : -1;
}
index_t input_col(const Window2d& g, index_t ox, index_t j, index_t w) {
  const index_t ix = ox * g.stride_w - g.pad_w + j;
  return ix >= 0 && ix < w ? ix : -1;
}

struct ConvReference {
  Tensor<double> y, dx, dweight, dbias;
};

// y = W ⋆ x + b, dx = Wᵀ ⋆ dy, dW = dy ⋆ x, db = Σ dy: visits every (output, tap)
// pair once and applies all four sums to it.
ConvReference naive_conv(const Tensor<double>& x, const Tensor<double>& weight, const Tensor<double>* bias,
                         const Tensor<double>& dy, const Window2d& g) {
  const index_t n = x.shape().n(), cin = x.shape().c(), h = x.shape().h(), w = x.shape().w();
  const index_t cout = weight.shape()[0], oh = g.out_h(h), ow = g.out_w(w);
  ConvReference r{zeros<double>(Shape{n, cout, oh, ow}), zeros<double>(x.shape()), zeros<double>(weight.shape()),
                  zeros<double>(Shape{cout})};
  for (index_t b = 0; b < n; ++b)
    for (index_t o = 0; o < cout; ++o)
      for (index_t oy = 0; oy < oh; ++oy)
        for (index_t ox = 0; ox < ow; ++ox) {
          const double grad = dy(b, o, oy, ox);
          double sum = bias ? (*bias)[o] : 0.0;
          r.dbias[o] += grad;
          for (index_t c = 0; c < cin; ++c)
            for (index_t i = 0; i < g.kernel_h; ++i)
              for (index_t j = 0; j < g.kernel_w; ++j) {
                const index_t iy = input_row(g, oy, i, h), ix = input_col(g, ox, j, w);
                if (iy < 0 || ix < 0) continue;
                sum += weight(o, c, i, j) * x(b, c, iy, ix);
                r.dx(b, c, iy, ix) += weight(o, c, i, j) * grad;
                r.dweight(o, c, i, j) += grad * x(b, c, iy, ix);
              }
          r.y(b, o, oy, ox) = sum;
        }
  return r;
}

struct ConvCase {
  index_t n, in_channels, h, w, out_channels;
  Window2d window;
  bool bias;
};

std::string describe(const ConvCase& c) {
  return Shape{c.n, c.in_channels, c.h, c.w}.str() + " -> " + std::to_string(c.out_channels) + " channels, " +
         c.window.str() + (c.bias ? ", bias" : ", no bias");
}

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {2, 3, 9, 7, 4, Window2d::square(3, 1, 1), true},
      {2, 3, 9, 7, 5, Window2d::square(3, 2, 1), true},
      {2, 4, 8, 8, 3, Window2d::square(4, 2, 1), false},
      {2, 5, 7, 11, 2, Window2d::square(1, 1, 0), true},   // pointwise
      {2, 3, 7, 6, 4, Window2d::square(1, 2, 0), true},    // strided 1x1
      {2, 2, 5, 9, 3, Window2d::square(3, 1, 0), true},    // valid
      {2, 3, 7, 5, 4, Window2d::square(4, 1, 2), true},    // even kernel, pad 2
      {2, 3, 13, 11, 6, Window2d::square(3, 2, 2), false},
      {2, 3, 4, 5, 2, Window2d::square(4, 2, 2), true},    // kernel as large as the input
      {2, 3, 9, 8, 4, Window2d{3, 1, 1, 2, 1, 0}, true},   // non-square kernel and stride
      {2, 16, 17, 15, 8, Window2d::square(3, 1, 1), true}, // wide enough for Winograd/FFT/implicit GEMM
  };
  return cases;
}

// Every direction of one case against the reference; the gradients start from
// random values, which they must add to.
template <class T>
void check_conv_case(const ConvCase& c, std::uint64_t seed) {
  INFO(describe(c));
  Generator gen(seed);
  const Window2d& g = c.window;
  const Shape x_shape{c.n, c.in_channels, c.h, c.w};
  const Shape w_shape{c.out_channels, c.in_channels, g.kernel_h, g.kernel_w};
  const Shape y_shape{c.n, c.out_channels, g.out_h(c.h), g.out_w(c.w)};
  const auto x = gen.normal<T>(x_shape), weight = gen.normal<T>(w_shape), bias = gen.normal<T>(Shape{c.out_channels});
  const auto dy = gen.normal<T>(y_shape);
  const auto dx0 = gen.normal<T>(x_shape), dw0 = gen.normal<T>(w_shape), db0 = gen.normal<T>(Shape{c.out_channels});
  const auto bias64 = cast<double>(bias);
  const auto ref = naive_conv(cast<double>(x), cast<double>(weight), c.bias ? &bias64 : nullptr, cast<double>(dy), g);

  const auto dev_x = to_device(x), dev_w = to_device(weight), dev_b = to_device(bias), dev_dy = to_device(dy);
  Tensor<T, cuda> y;
  {
    poison_scope poison;  // every output element must be written, and y is not read
    y = Tensor<T, cuda>(y_shape);
  }
  kernels::conv2d_forward(dev_x, dev_w, c.bias ? &dev_b : nullptr, g, y);
  REQUIRE_CLOSE("forward", ref.y, y, gemm_tolerance<T>());

  auto dx = to_device(dx0);
  kernels::conv2d_backward_data(dev_dy, dev_w, g, dx);
  REQUIRE_CLOSE("backward data (added to dx)", plus_scaled(dx0, 1, ref.dx), dx, gemm_tolerance<T>());

  auto dw = to_device(dw0), db = to_device(db0);
  kernels::conv2d_backward_weights(dev_x, dev_dy, g, dw, c.bias ? &db : nullptr);
  REQUIRE_CLOSE("backward weights (added to dW)", plus_scaled(dw0, 1, ref.dweight), dw, gemm_tolerance<T>());
  if (c.bias) REQUIRE_CLOSE("bias gradient (added to db)", plus_scaled(db0, 1, ref.dbias), db, gemm_tolerance<T>());
}

// --- naive fully connected layer, double --------------------------------------------

struct LinearReference {
  Tensor<double> y, dx, dweight, dbias;
};

LinearReference naive_linear(const Tensor<double>& x, const Tensor<double>& weight, const Tensor<double>* bias,
                             const Tensor<double>& dy) {
  const index_t n = x.shape().n(), fin = x.shape().per_sample(), fout = weight.shape()[0];
  LinearReference r{zeros<double>(Shape{n, fout}), zeros<double>(x.shape()), zeros<double>(weight.shape()),
                    zeros<double>(Shape{fout})};
  for (index_t b = 0; b < n; ++b)
    for (index_t o = 0; o < fout; ++o) {
      const double grad = dy[b * fout + o];
      double sum = bias ? (*bias)[o] : 0.0;
      r.dbias[o] += grad;
      for (index_t i = 0; i < fin; ++i) {
        sum += x[b * fin + i] * weight[o * fin + i];
        r.dx[b * fin + i] += grad * weight[o * fin + i];
        r.dweight[o * fin + i] += grad * x[b * fin + i];
      }
      r.y[b * fout + o] = sum;
    }
  return r;
}

template <class T>
void check_linear_case(const Shape& x_shape, index_t out_features, bool with_bias, std::uint64_t seed) {
  INFO("x " << x_shape.str() << " -> " << out_features << (with_bias ? ", bias" : ", no bias"));
  Generator gen(seed);
  const index_t n = x_shape.n(), fin = x_shape.per_sample();
  const Shape w_shape{out_features, fin}, y_shape{n, out_features};
  const auto x = gen.normal<T>(x_shape), weight = gen.normal<T>(w_shape), bias = gen.normal<T>(Shape{out_features});
  const auto dy = gen.normal<T>(y_shape);
  const auto dx0 = gen.normal<T>(x_shape), dw0 = gen.normal<T>(w_shape), db0 = gen.normal<T>(Shape{out_features});
  const auto bias64 = cast<double>(bias);
  const auto ref = naive_linear(cast<double>(x), cast<double>(weight), with_bias ? &bias64 : nullptr, cast<double>(dy));

  const auto dev_x = to_device(x), dev_w = to_device(weight), dev_b = to_device(bias), dev_dy = to_device(dy);
  Tensor<T, cuda> y;
  {
    poison_scope poison;
    y = Tensor<T, cuda>(y_shape);
  }
  kernels::linear_forward(dev_x, dev_w, with_bias ? &dev_b : nullptr, y);
  REQUIRE_CLOSE("forward", ref.y, y, gemm_tolerance<T>());

  auto dx = to_device(dx0);
  kernels::linear_backward_data(dev_dy, dev_w, dx);
  REQUIRE_CLOSE("backward data (added to dx)", plus_scaled(dx0, 1, ref.dx), dx, gemm_tolerance<T>());

  auto dw = to_device(dw0), db = to_device(db0);
  kernels::linear_backward_weights(dev_x, dev_dy, dw, with_bias ? &db : nullptr);
  REQUIRE_CLOSE("backward weights (added to dW)", plus_scaled(dw0, 1, ref.dweight), dw, gemm_tolerance<T>());
  if (with_bias) REQUIRE_CLOSE("bias gradient (added to db)", plus_scaled(db0, 1, ref.dbias), db, gemm_tolerance<T>());
}

// --- golden data --------------------------------------------------------------------

template <class T>
void require_golden(const char* what, const Tensor<T, cuda>& got, const std::string& test_case, const std::string& name) {
  const double err = golden::relative_error(to_host(got), golden::load<double>(test_case, name));
  const double tol = std::is_same_v<T, float> ? tolerance::golden_float : tolerance::golden_double;
  INFO(test_case << " " << name << " (" << what << "): relative error " << err << " (tolerance " << tol << ")");
  REQUIRE(err <= tol);
}

// The convolution kernels, called as layers/conv2d.hpp calls them, against PyTorch:
// first order, and the second-order pass's two kernel calls.
template <class T>
void check_conv_golden(const std::string& test_case, const Window2d& g) {
  const auto x = to_device(golden::load<T>(test_case, "x"));
  const auto weight = to_device(golden::load<T>(test_case, "param_weight"));
  const bool has_bias = golden::exists(test_case, "param_bias");
  const auto bias = has_bias ? to_device(golden::load<T>(test_case, "param_bias")) : Tensor<T, cuda>();
  const Shape y_shape{x.shape().n(), weight.shape()[0], g.out_h(x.shape().h()), g.out_w(x.shape().w())};
  const auto dy = to_device(golden::load<T>(test_case, "dy").reshaped(y_shape));

  Tensor<T, cuda> y(y_shape);
  kernels::conv2d_forward(x, weight, has_bias ? &bias : nullptr, g, y);
  require_golden("forward", y, test_case, "y");

  auto dx = to_device(zeros<T>(x.shape()));
  kernels::conv2d_backward_data(dy, weight, g, dx);
  require_golden("backward data", dx, test_case, "dx");

  auto dw = to_device(zeros<T>(weight.shape()));
  auto db = to_device(zeros<T>(Shape{weight.shape()[0]}));
  kernels::conv2d_backward_weights(x, dy, g, dw, has_bias ? &db : nullptr);
  require_golden("weight gradient", dw, test_case, "grad_weight");
  if (has_bias) require_golden("bias gradient", db, test_case, "grad_bias");

  // Second order of ⟨dL/dx, w⟩: dgy = conv(w) without bias, dW += w ⋆ gy.
  const auto w = to_device(golden::load<T>(test_case, "w").reshaped(x.shape()));
  Tensor<T, cuda> dgy(y_shape);
  kernels::conv2d_forward(w, weight, static_cast<const Tensor<T, cuda>*>(nullptr), g, dgy);
  require_golden("second-order dgy", dgy, test_case, "so_dgy");
  auto so_dw = to_device(zeros<T>(weight.shape()));
  kernels::conv2d_backward_weights(w, dy, g, so_dw, static_cast<Tensor<T, cuda>*>(nullptr));
  require_golden("second-order weight gradient", so_dw, test_case, "so_grad_weight");
}

template <class T>
void check_linear_golden(const std::string& test_case) {
  const auto x = to_device(golden::load<T>(test_case, "x"));
  const auto weight = to_device(golden::load<T>(test_case, "param_weight"));
  const auto bias = to_device(golden::load<T>(test_case, "param_bias"));
  const Shape y_shape{x.shape().n(), weight.shape()[0]};
  const auto dy = to_device(golden::load<T>(test_case, "dy").reshaped(y_shape));

  Tensor<T, cuda> y(y_shape);
  kernels::linear_forward(x, weight, &bias, y);
  require_golden("forward", y, test_case, "y");
  auto dx = to_device(zeros<T>(x.shape()));
  kernels::linear_backward_data(dy, weight, dx);
  require_golden("backward data", dx, test_case, "dx");
  auto dw = to_device(zeros<T>(weight.shape()));
  auto db = to_device(zeros<T>(bias.shape()));
  kernels::linear_backward_weights(x, dy, dw, &db);
  require_golden("weight gradient", dw, test_case, "grad_weight");
  require_golden("bias gradient", db, test_case, "grad_bias");
}

// One training step's worth of GEMM-kernel calls on fixed shapes; every tensor it
// allocates is released by the end.
void conv_and_linear_step(const Tensor<float, cuda>& x, const Tensor<float, cuda>& weight,
                          const Tensor<float, cuda>& bias, const Tensor<float, cuda>& fc_weight, const Window2d& g) {
  const Shape y_shape{x.shape().n(), weight.shape()[0], g.out_h(x.shape().h()), g.out_w(x.shape().w())};
  Tensor<float, cuda> y(y_shape);
  kernels::conv2d_forward(x, weight, &bias, g, y);
  auto dx = to_device(zeros<float>(x.shape()));
  kernels::conv2d_backward_data(y, weight, g, dx);  // y stands in for dy
  auto dw = to_device(zeros<float>(weight.shape()));
  auto db = to_device(zeros<float>(bias.shape()));
  kernels::conv2d_backward_weights(x, y, g, dw, &db);

  const auto flat = y.reshaped(Shape{y_shape.n(), y_shape.per_sample()});
  Tensor<float, cuda> logits(Shape{y_shape.n(), fc_weight.shape()[0]});
  kernels::linear_forward(flat, fc_weight, static_cast<const Tensor<float, cuda>*>(nullptr), logits);
  auto dflat = to_device(zeros<float>(flat.shape()));
  kernels::linear_backward_data(logits, fc_weight, dflat);
  auto dfc = to_device(zeros<float>(fc_weight.shape()));
  kernels::linear_backward_weights(flat, logits, dfc, static_cast<Tensor<float, cuda>*>(nullptr));
  cuda_detail::synchronize();
}

}  // namespace

TEMPLATE_TEST_CASE("cuDNN convolution matches a direct convolution", "[gpu][conv]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  std::uint64_t seed = 100;
  for (const auto& c : conv_cases()) check_conv_case<TestType>(c, seed++);
}

TEMPLATE_TEST_CASE("cuDNN convolution matches PyTorch", "[gpu][conv][golden]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  SECTION("3x3 stride 1 pad 1") { check_conv_golden<TestType>("conv2d_k3_s1_p1", Window2d::square(3, 1, 1)); }
  SECTION("4x4 stride 2 pad 1, no bias") {
    check_conv_golden<TestType>("conv2d_k4_s2_p1_nobias", Window2d::square(4, 2, 1));
  }
  SECTION("1x1") { check_conv_golden<TestType>("conv2d_k1", Window2d::square(1, 1, 0)); }
  SECTION("3x3 stride 2 valid") { check_conv_golden<TestType>("conv2d_k3_s2_p0", Window2d::square(3, 2, 0)); }
}

TEMPLATE_TEST_CASE("cuBLAS fully connected layer matches a direct product", "[gpu][linear]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  check_linear_case<TestType>(Shape{3, 7}, 5, true, 1);
  check_linear_case<TestType>(Shape{3, 7}, 5, false, 2);
  check_linear_case<TestType>(Shape{2, 3, 2, 2}, 4, true, 3);  // flattened per sample
  check_linear_case<TestType>(Shape{1, 33}, 1, true, 4);
  check_linear_case<TestType>(Shape{17, 64}, 40, true, 5);
}

TEMPLATE_TEST_CASE("cuBLAS fully connected layer matches PyTorch", "[gpu][linear][golden]", float, double) {
  REQUIRE_GPU_OR_SKIP();
  check_linear_golden<TestType>("linear");
}

TEST_CASE("GEMM kernels accumulate parameter gradients", "[gpu][conv][linear]") {
  REQUIRE_GPU_OR_SKIP();
  Generator gen(9);
  const Window2d g = Window2d::square(3, 2, 1);
  const auto x = to_device(gen.normal<float>(Shape{2, 3, 9, 9}));
  const auto weight = to_device(gen.normal<float>(Shape{4, 3, 3, 3}));
  const auto dy = to_device(gen.normal<float>(Shape{2, 4, 5, 5}));
  auto once_w = to_device(zeros<float>(weight.shape())), twice_w = to_device(zeros<float>(weight.shape()));
  auto once_b = to_device(zeros<float>(Shape{4})), twice_b = to_device(zeros<float>(Shape{4}));
  kernels::conv2d_backward_weights(x, dy, g, once_w, &once_b);
  kernels::conv2d_backward_weights(x, dy, g, twice_w, &twice_b);
  kernels::conv2d_backward_weights(x, dy, g, twice_w, &twice_b);
  // Doubling is exact in floating point, so only the algorithm's own rounding differs.
  const auto h1 = to_host(once_w), h2 = to_host(twice_w), b1 = to_host(once_b), b2 = to_host(twice_b);
  for (index_t i = 0; i < h1.numel(); ++i) REQUIRE(h2[i] == Approx(2 * h1[i]).margin(1e-5));
  for (index_t i = 0; i < b1.numel(); ++i) REQUIRE(b2[i] == Approx(2 * b1[i]).margin(1e-5));

  const auto fx = to_device(gen.normal<float>(Shape{5, 6})), fdy = to_device(gen.normal<float>(Shape{5, 3}));
  auto fw1 = to_device(zeros<float>(Shape{3, 6})), fw2 = to_device(zeros<float>(Shape{3, 6}));
  auto fb1 = to_device(zeros<float>(Shape{3})), fb2 = to_device(zeros<float>(Shape{3}));
  kernels::linear_backward_weights(fx, fdy, fw1, &fb1);
  kernels::linear_backward_weights(fx, fdy, fw2, &fb2);
  kernels::linear_backward_weights(fx, fdy, fw2, &fb2);
  const auto l1 = to_host(fw1), l2 = to_host(fw2), lb1 = to_host(fb1), lb2 = to_host(fb2);
  for (index_t i = 0; i < l1.numel(); ++i) REQUIRE(l2[i] == Approx(2 * l1[i]).margin(1e-5));
  for (index_t i = 0; i < lb1.numel(); ++i) REQUIRE(lb2[i] == Approx(2 * lb1[i]).margin(1e-5));
}

TEST_CASE("caching allocator size classes", "[gpu][allocator]") {
  // Host arithmetic only: runs with or without a GPU.
  using cuda_detail::CachingAllocator;
  CHECK(CachingAllocator::rounded_size(1) == 512);
  CHECK(CachingAllocator::rounded_size(512) == 512);
  CHECK(CachingAllocator::rounded_size(513) == 1024);
  CHECK(CachingAllocator::rounded_size(std::size_t{1} << 20) == std::size_t{1} << 20);
  CHECK(CachingAllocator::rounded_size((std::size_t{1} << 20) + 1) == std::size_t{5} << 18);  // 1.25 MiB
  CHECK(CachingAllocator::rounded_size((std::size_t{3} << 20) + 1) == std::size_t{7} << 19);  // 3.5 MiB
  CHECK(CachingAllocator::rounded_size(std::size_t{100} << 20) == std::size_t{112} << 20);
  for (std::size_t bytes : {std::size_t{1000}, std::size_t{3} << 20, (std::size_t{77} << 20) + 3}) {
    const std::size_t rounded = CachingAllocator::rounded_size(bytes);
    CHECK(rounded >= bytes);
    CHECK(rounded % 512 == 0);
    CHECK(rounded - bytes <= bytes / 4 + 512);
  }
}

TEST_CASE("without a GPU the caching allocator refuses clearly and holds nothing", "[gpu][allocator]") {
  if (cuda_available()) return;
  CHECK_THROWS_WITH((Tensor<float, cuda>(Shape{1000})), Catch::Contains("no CUDA GPU is present"));
  const CudaMemoryStats s = cuda_memory_stats();
  CHECK(s.device_allocations == 0);
  CHECK(s.bytes_in_use == 0);
  CHECK(s.bytes_cached == 0);
  CHECK_NOTHROW(cuda_empty_cache());
}

TEST_CASE("caching allocator: a repeated training step allocates no device memory", "[gpu][allocator]") {
  REQUIRE_GPU_OR_SKIP();
  Generator gen(5);
  const Window2d g = Window2d::square(3, 1, 1);
  const auto x = to_device(gen.normal<float>(Shape{2, 8, 16, 16}));
  const auto weight = to_device(gen.normal<float>(Shape{16, 8, 3, 3}));
  const auto bias = to_device(gen.normal<float>(Shape{16}));
  const auto fc_weight = to_device(gen.normal<float>(Shape{10, 16 * 16 * 16}));
  cuda_empty_cache();
  conv_and_linear_step(x, weight, bias, fc_weight, g);  // warm-up: algorithm search, first allocations
  const CudaMemoryStats before = cuda_memory_stats();
  for (int i = 0; i < 10; ++i) conv_and_linear_step(x, weight, bias, fc_weight, g);
  const CudaMemoryStats after = cuda_memory_stats();
  INFO("device allocations " << before.device_allocations << " -> " << after.device_allocations << ", cache hits "
                             << before.cache_hits << " -> " << after.cache_hits);
  CHECK(after.device_allocations == before.device_allocations);
  CHECK(after.cache_hits >= before.cache_hits + 10 * 7);  // at least the seven device tensors of each step
  CHECK(after.bytes_in_use == before.bytes_in_use);       // nothing leaked
  CHECK(after.bytes_cached > 0);
}

TEST_CASE("caching allocator: accounting, reuse, poisoning and emptying", "[gpu][allocator]") {
  REQUIRE_GPU_OR_SKIP();
  cuda_empty_cache();
  const CudaMemoryStats start = cuda_memory_stats();
  CHECK(start.bytes_cached == 0);
  {
    auto t = to_device(zeros<float>(Shape{1000}));  // 4000 bytes: one 4096-byte block
    const CudaMemoryStats held = cuda_memory_stats();
    CHECK(held.bytes_in_use == start.bytes_in_use + 4096);
    CHECK(held.device_allocations == start.device_allocations + 1);
  }
  const CudaMemoryStats released = cuda_memory_stats();
  CHECK(released.bytes_in_use == start.bytes_in_use);
  CHECK(released.bytes_cached == 4096);
  {
    // The same block again, zeros inside, and poisoned like a fresh one.
    poison_scope poison;
    Tensor<float, cuda> reused(Shape{1000});
    CHECK(cuda_memory_stats().cache_hits == released.cache_hits + 1);
    CHECK(cuda_memory_stats().device_allocations == released.device_allocations);
    for (float v : to_host(reused)) REQUIRE(std::isnan(v));
  }
  cuda_empty_cache();
  const CudaMemoryStats emptied = cuda_memory_stats();
  CHECK(emptied.bytes_cached == 0);
  CHECK(emptied.bytes_in_use == start.bytes_in_use);
  Tensor<float, cuda> fresh(Shape{1000});
  CHECK(cuda_memory_stats().device_allocations == emptied.device_allocations + 1);
}

TEST_CASE("caching allocator: an impossible allocation fails clearly and the allocator recovers",
          "[gpu][allocator]") {
  REQUIRE_GPU_OR_SKIP();
  const CudaMemoryStats before = cuda_memory_stats();
  const Shape petabyte{index_t{1} << 48};  // 2^48 floats: 1 PiB
  CHECK_THROWS_AS((Tensor<float, cuda>(petabyte)), backend_error);
  CHECK_THROWS_WITH((Tensor<float, cuda>(petabyte)),
                    Catch::Contains("cudaMalloc of 1125899906842624 bytes") && Catch::Contains("cached"));
  CHECK(cuda_memory_stats().bytes_in_use == before.bytes_in_use);
  // The error is not sticky: ordinary allocations and transfers still work.
  Generator gen(3);
  const auto host = gen.normal<float>(Shape{3, 5});
  const auto back = to_host(to_device(host));
  for (index_t i = 0; i < host.numel(); ++i) REQUIRE(back[i] == host[i]);
}
