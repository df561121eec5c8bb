// SPADE normalization and the SPADE residual block: a finite-difference check for
// two-input blocks (x, the layout, every parameter; accumulation, ParamGrads::skip,
// poisoned outputs, a detached layout), the reference's state-dict names, errors,
// and PyTorch's results (tools/golden/spade.py) in float and double.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <sbgan/blocks/spade_norm.hpp>
#include <sbgan/blocks/spade_resblock.hpp>
#include <sbgan/layers/batch_norm.hpp>
#include <sbgan/layers/instance_norm.hpp>
#include <sbgan/layers/leaky_relu.hpp>
#include <sbgan/testing/layer_checker.hpp>
#include <sbgan/testing/tolerances.hpp>

#include "support/golden.hpp"
#include "support/checker.hpp"

using namespace sbgan;
using test_support::Dice;
using test_support::require_checked;
using sbgan::testing::CheckOptions;
using sbgan::testing::CheckReport;

namespace {

using Tensor64 = Tensor<double>;

// check_layer for blocks with forward(x, seg) and backward(ctx, dy, dx, dseg, grads):
// every entry of x, of the layout and of every parameter against central
// differences of ⟨forward(x, seg), dy⟩, with dx, dseg and the parameter grads
// starting from random values (the accumulate contract); a poisoned forward;
// untouched inputs; ParamGrads::skip; and the backward without dseg (layout held
// constant) giving the same dx. With layout_gradient false (a detached layout)
// dseg must stay bit-for-bit what it was.
template <class Block>
CheckReport check_two_input_block(Block& block, const Shape& x_shape, const Shape& seg_shape, std::uint64_t seed,
                                  bool layout_gradient = true) {
  namespace cd = sbgan::testing::checker_detail;
  const CheckOptions o;
  CheckReport r;
  Generator gen(seed, 0x7370616465ULL);
  Tensor64 x = gen.normal<double>(x_shape), seg = gen.normal<double>(seg_shape);
  const Tensor64 x_before = clone(x), seg_before = clone(seg);
  std::vector<cd::Named> params;
  block.visit_parameters([&](std::string_view name, Parameter<double>& p) { params.push_back({std::string(name), &p}); });

  typename Block::context ctx;
  {
    poison_scope poison;
    ctx = block.forward(x, seg);
  }
  if (!kernels::all_finite(ctx.output)) r.failures.push_back("forward left output elements unwritten (NaN)");
  for (index_t i = 0; i < x.numel(); ++i)
    if (x[i] != x_before[i]) r.failures.push_back("forward modified x");
  for (index_t i = 0; i < seg.numel(); ++i)
    if (seg[i] != seg_before[i]) r.failures.push_back("forward modified the layout");
  const Tensor64 dy = gen.normal<double>(ctx.output.shape());

  Tensor64 dx = gen.normal<double>(x_shape), dseg = gen.normal<double>(seg_shape);
  const Tensor64 dx_before = clone(dx), dseg_before = clone(dseg);
  std::vector<Tensor64> grads_before;
  for (auto& p : params) {
    gen.normal(p.p->grad);
    grads_before.push_back(clone(p.p->grad));
  }
  {
    poison_scope poison;
    block.backward(ctx, dy, dx, dseg, ParamGrads::accumulate);
  }
  const auto loss = [&] { return kernels::dot(block.forward(x, seg).output, dy); };
  cd::check_entries(r, "d/dx", x, cd::increment(dx, dx_before), loss, o);
  if (layout_gradient) {
    cd::check_entries(r, "d/dseg", seg, cd::increment(dseg, dseg_before), loss, o);
  } else {
    for (index_t i = 0; i < seg.numel(); ++i)
      if (dseg[i] != dseg_before[i]) {
        r.failures.push_back("a detached layout received a gradient");
        break;
      }
  }
  for (std::size_t k = 0; k < params.size(); ++k)
    cd::check_entries(r, "d/d" + params[k].name, params[k].p->value, cd::increment(params[k].p->grad, grads_before[k]),
                      loss, o);

  // ParamGrads::skip and the layout-constant overload: same dx, no parameter terms.
  for (std::size_t k = 0; k < params.size(); ++k) grads_before[k] = clone(params[k].p->grad);
  Tensor64 dx_skip = zeros<double>(x_shape), dseg_skip = zeros<double>(seg_shape), dx_const = zeros<double>(x_shape);
  block.backward(ctx, dy, dx_skip, dseg_skip, ParamGrads::skip);
  block.backward(ctx, dy, dx_const, ParamGrads::skip);
  const Tensor64 dx_increment = cd::increment(dx, dx_before), dseg_increment = cd::increment(dseg, dseg_before);
  for (index_t i = 0; i < x.numel(); ++i) {
    cd::compare(r, "skip dx", i, dx_skip[i], dx_increment[i], o);
    cd::compare(r, "layout-constant dx", i, dx_const[i], dx_increment[i], o);
  }
  for (index_t i = 0; i < seg.numel(); ++i) cd::compare(r, "skip dseg", i, dseg_skip[i], dseg_increment[i], o);
  for (std::size_t k = 0; k < params.size(); ++k)
    for (index_t i = 0; i < params[k].p->grad.numel(); ++i)
      if (params[k].p->grad[i] != grads_before[k][i]) {
        r.failures.push_back("ParamGrads::skip changed " + params[k].name);
        break;
      }
  return r;
}

template <class Block>
void require_checked(Block& block, const Shape& x, const Shape& seg, std::uint64_t seed, bool layout_gradient = true) {
  const auto report = check_two_input_block(block, x, seg, seed, layout_gradient);
  INFO(block.describe() << " on x " << x << ", layout " << seg << ": " << report.summary());
  REQUIRE(report.ok());
}

// Spectral norm's power iteration moves u at every training forward; the check
// runs after a few training forwards with u, v frozen (batch norm keeps using
// batch statistics, which central differences handle).
template <class Block>
void freeze_power_iterations(Block& block, const Tensor64& x, const Tensor64& seg) {
  for (int i = 0; i < 2; ++i) block.forward(x, seg);
  block.conv_0().set_training(false);
  block.conv_1().set_training(false);
  if (block.learned_shortcut()) block.conv_s().set_training(false);
}

// The blocks chain several layers, yet float stays within golden_float
// (measured worst 4.7e-7), so the tighter tolerance applies.
template <class T>
double golden_tolerance() {
  return std::is_same_v<T, float> ? tolerance::golden_float : tolerance::golden_double;
}

template <class T>
void check_close(const Tensor<T>& actual, const std::string& test_case, const std::string& name) {
  const double err = golden::relative_error(actual, golden::load<double>(test_case, name));
  INFO(test_case << " " << name << ": relative error " << err);
  CHECK(err <= golden_tolerance<T>());
}

// A quantity that is zero by structure: both the reference and ours must be
// zero to within the tolerance, relative to the scale of a related reference.
template <class T>
void check_zero(const Tensor<T>& actual, const std::string& test_case, const std::string& name,
                const std::string& scale_name) {
  const auto reference = golden::load<double>(test_case, name);
  const auto scale_reference = golden::load<double>(test_case, scale_name);
  double scale = 0, largest_reference = 0, largest = 0;
  for (double v : scale_reference) scale = std::max(scale, std::abs(v));
  for (double v : reference) largest_reference = std::max(largest_reference, std::abs(v));
  for (T v : actual) largest = std::max(largest, std::abs(static_cast<double>(v)));
  INFO(test_case << " " << name << ": largest " << largest << ", reference " << largest_reference << ", scale "
                 << scale);
  CHECK(scale > 0);
  CHECK(largest_reference <= tolerance::golden_double * scale);
  CHECK(largest <= golden_tolerance<T>() * scale);
}

template <class Block>
void clear_grads(Block& block) {
  block.visit_parameters([](std::string_view, auto& p) { p.zero_grad(); });
}

std::size_t golden_files_starting_with(const std::string& test_case, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SBGAN_GOLDEN_DIR) + "/" + test_case))
    if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
  return n;
}

// Loads the case's parameters and initial buffers by our names (so every name
// must exist in the reference's state dict, and the counts must agree), runs one
// training pass and compares the output, the gradients of x, the layout and every
// parameter, and the buffers after it; then, where the case has one, an
// evaluation pass.
template <class T, class Block>
void check_against_torch(Block& block, const std::string& c, bool layout_gradient = true) {
  std::map<std::string, Parameter<T>*> params;
  block.visit_parameters([&](std::string_view name, Parameter<T>& p) {
    golden::assign(p.value, golden::load<T>(c, "param_" + std::string(name)));
    params[std::string(name)] = &p;
  });
  std::map<std::string, Tensor<T>*> buffers;
  block.visit_buffers([&](std::string_view name, Tensor<T>& t) {
    golden::assign(t, golden::load<T>(c, "init_" + std::string(name)));
    buffers[std::string(name)] = &t;
  });
  CHECK(params.size() == golden_files_starting_with(c, "param_"));
  CHECK(buffers.size() == golden_files_starting_with(c, "init_"));

  block.set_training(true);
  const auto x = golden::load<T>(c, "x"), seg = golden::load<T>(c, "seg");
  auto ctx = block.forward(x, seg);
  check_close(ctx.output, c, "y");
  const auto dy = golden::load<T>(c, "dy");
  auto dx = zeros<T>(x.shape()), dseg = zeros<T>(seg.shape());
  clear_grads(block);
  block.backward(ctx, dy, dx, dseg, ParamGrads::accumulate);
  check_close(dx, c, "dx");
  if (layout_gradient)
    check_close(dseg, c, "dseg");
  else
    CHECK(kernels::dot(dseg, dseg) == 0.0);
  for (auto& [name, p] : params) {
    if (name == "conv_0.bias") {
      // conv_0 feeds norm_1, whose batch statistics remove any per-channel
      // constant: this gradient is zero, and PyTorch's value is rounding noise
      // (~1e-15). Ours must be zero at the scale of conv_0's weight gradient.
      check_zero(p->grad, c, "grad_conv_0.bias", "grad_conv_0.weight_orig");
      continue;
    }
    check_close(p->grad, c, "grad_" + name);
  }
  for (auto& [name, t] : buffers) check_close(*t, c, "buffer_" + name);

  if (golden::exists(c, "eval_x")) {
    block.set_training(false);
    const auto ex = golden::load<T>(c, "eval_x"), eseg = golden::load<T>(c, "eval_seg");
    auto ectx = block.forward(ex, eseg);
    check_close(ectx.output, c, "eval_y");
    auto edx = zeros<T>(ex.shape()), edseg = zeros<T>(eseg.shape());
    block.backward(ectx, golden::load<T>(c, "eval_dy"), edx, edseg, ParamGrads::skip);
    check_close(edx, c, "eval_dx");
    if (layout_gradient) check_close(edseg, c, "eval_dseg");
    // Evaluation moved neither the running statistics nor u, v.
    for (auto& [name, t] : buffers) check_close(*t, c, "buffer_" + name);
  }
}

}  // namespace

// --- SpadeNorm -------------------------------------------------------------------

TEST_CASE("SpadeNorm passes the finite-difference check over x, layout and parameters", "[checker][spade]") {
  Dice dice(31);
  for (int i = 0; i < 4; ++i) {
    Generator g(static_cast<std::uint64_t>(i));
    const SpadeNormOptions o{dice(1, 3), dice(1, 3), dice(1, 4), i == 3 ? 1 : 3};
    const index_t n = dice(1, 2), h = dice(2, 5), w = dice(2, 5);
    // Layouts larger, smaller and the same size as x.
    const Shape x{n, o.channels, h, w}, seg{n, o.label_channels, dice(1, 2 * h), i == 2 ? w : dice(1, 2 * w)};
    SpadeNorm<BatchNorm<double>> batch(o, g);
    require_checked(batch, x, seg, static_cast<std::uint64_t>(1000 + i));
    SpadeNorm<InstanceNorm<double>> instance(o, g);
    require_checked(instance, x, seg, static_cast<std::uint64_t>(1010 + i));
    // With batch norm in evaluation, after two batches moved its statistics.
    batch.forward(g.normal<double>(x), g.normal<double>(seg));
    batch.forward(g.normal<double>(x, 1.0, 2.0), g.normal<double>(seg));
    batch.set_training(false);
    require_checked(batch, x, seg, static_cast<std::uint64_t>(1020 + i));
  }
}

TEST_CASE("SpadeNorm names its state as the reference's state dict", "[spade]") {
  Generator g(1);
  SpadeNorm<BatchNorm<float>> spade({4, 3}, g);
  std::vector<std::string> params, buffers;
  spade.visit_parameters([&](std::string_view n, auto&) { params.emplace_back(n); });
  spade.visit_buffers([&](std::string_view n, auto&) { buffers.emplace_back(n); });
  CHECK(params == std::vector<std::string>{"mlp_shared.0.weight", "mlp_shared.0.bias", "mlp_gamma.weight",
                                           "mlp_gamma.bias", "mlp_beta.weight", "mlp_beta.bias"});
  CHECK(buffers == std::vector<std::string>{"param_free_norm.running_mean", "param_free_norm.running_var",
                                            "param_free_norm.num_batches_tracked"});
  // The reference's hidden width and kernel.
  CHECK(spade.mlp_shared().get<0>().weight().shape() == Shape{128, 3, 3, 3});
  CHECK(spade.mlp_gamma().weight().shape() == Shape{4, 128, 3, 3});
  SpadeNorm<InstanceNorm<float>> instance({4, 3}, g);
  std::size_t instance_buffers = 0;
  instance.visit_buffers([&](std::string_view, auto&) { ++instance_buffers; });
  CHECK(instance_buffers == 0);
}

// --- SpadeNorm fused with the leaky ReLU ----------------------------------------

TEMPLATE_TEST_CASE("Fused modulation + leaky ReLU equals modulate then leaky_relu, pre-activations at 0 included",
                   "[spade][kernels]", float, double) {
  using T = TestType;
  Generator g(1200);
  const Shape s{2, 3, 5, 7};
  Tensor<T> x = g.normal<T>(s), gamma = g.normal<T>(s), beta = g.normal<T>(s), dy = g.normal<T>(s);
  // Pre-activations exactly at the kink: +0 from x̂·(1+γ) cancelling β, +0 and −0
  // from γ = −1 (which zeroes x̂'s term), and a zero output gradient.
  const auto set = [&](index_t i, T xi, T gi, T bi) { x[i] = xi, gamma[i] = gi, beta[i] = bi; };
  set(0, T(1), T(1), T(-2));
  set(1, T(-3), T(-1), T(-0.0));
  set(2, T(0), T(0.5), T(0));
  set(3, T(-1), T(-1), T(0));
  dy[4] = T(0);
  for (const T slope : {T(0.2), T(0)}) {
    INFO("slope " << slope);
    Tensor<T> pre(s), unfused(s), fused(s);
    kernels::modulate(x, gamma, beta, pre);
    kernels::leaky_relu_forward(pre, slope, unfused);
    kernels::modulate_leaky_relu(x, gamma, beta, slope, fused);
    CHECK(pre[0] == T(0));
    CHECK(std::signbit(pre[1]));
    index_t negative = 0;
    for (index_t i = 0; i < pre.numel(); ++i) negative += pre[i] < T(0);
    CHECK(negative > 0);
    // The same expressions in the same order: the very same bits, signed zeros too.
    CHECK(std::memcmp(fused.data(), unfused.data(), sizeof(T) * static_cast<std::size_t>(s.numel())) == 0);

    Tensor<T> d_pre = zeros<T>(s), dx(s), dgamma(s);
    kernels::leaky_relu_backward(pre, dy, slope, d_pre);
    kernels::modulate_backward(x, gamma, d_pre, dx, dgamma);
    Tensor<T> fused_dx(s), fused_dgamma(s), fused_dbeta(s);
    kernels::modulate_leaky_relu_backward(x, gamma, fused, dy, slope, fused_dx, fused_dgamma, fused_dbeta);
    // Exact equality: the masks agree (out > 0 ⇔ a > 0 for slope ≥ 0), and == lets
    // through only the sign of a zero, which the unfused pass loses to its 0 + g.
    for (index_t i = 0; i < s.numel(); ++i) {
      INFO("element " << i << ", a = " << pre[i]);
      REQUIRE(fused_dbeta[i] == d_pre[i]);
      REQUIRE(fused_dx[i] == dx[i]);
      REQUIRE(fused_dgamma[i] == dgamma[i]);
    }
  }
  Tensor<T> out(s), d1(s), d2(s), d3(s);
  CHECK_THROWS_AS(kernels::modulate_leaky_relu(x, gamma, beta, T(-0.2), out), error);
  CHECK_THROWS_AS(kernels::modulate_leaky_relu_backward(x, gamma, out, dy, T(-0.2), d1, d2, d3), error);
}

TEST_CASE("SpadeNorm with the fused leaky ReLU passes the finite-difference check", "[checker][spade]") {
  Dice dice(37);
  for (int i = 0; i < 3; ++i) {
    Generator g(static_cast<std::uint64_t>(40 + i));
    SpadeNormOptions o{dice(1, 3), dice(1, 3), dice(1, 4), 3};
    o.leaky_relu_slope = 0.2;
    const index_t n = dice(1, 2), h = dice(2, 5), w = dice(2, 5);
    const Shape x{n, o.channels, h, w}, seg{n, o.label_channels, dice(1, 2 * h), dice(1, 2 * w)};
    SpadeNorm<BatchNorm<double>> batch(o, g);
    require_checked(batch, x, seg, static_cast<std::uint64_t>(1200 + i));
    SpadeNorm<InstanceNorm<double>> instance(o, g);
    require_checked(instance, x, seg, static_cast<std::uint64_t>(1210 + i));
  }
}

TEMPLATE_TEST_CASE("SpadeNorm with the fused leaky ReLU equals SpadeNorm then LeakyReLU", "[spade]", float, double) {
  using T = TestType;
  SpadeNormOptions o{4, 3, 5};
  Generator init_plain(7), init_fused(7);
  SpadeNorm<BatchNorm<T>> plain(o, init_plain);
  o.leaky_relu_slope = 0.2;
  SpadeNorm<BatchNorm<T>> fused(o, init_fused);
  LeakyReLU<T> activation(static_cast<T>(0.2));
  Generator g(8);
  const Shape xs{2, 4, 6, 5}, segs{2, 3, 3, 5};
  const Tensor<T> x = g.normal<T>(xs), seg = g.normal<T>(segs), dy = g.normal<T>(xs);

  const auto plain_ctx = plain.forward(x, seg);
  const auto act_ctx = activation.forward(plain_ctx.output);
  const auto fused_ctx = fused.forward(x, seg);
  const auto bytes = sizeof(T) * static_cast<std::size_t>(xs.numel());
  REQUIRE(std::memcmp(fused_ctx.output.data(), act_ctx.output.data(), bytes) == 0);

  Tensor<T> d_plain_out = zeros<T>(xs), dx_plain = zeros<T>(xs), dseg_plain = zeros<T>(segs);
  activation.backward(act_ctx, dy, d_plain_out, ParamGrads::accumulate);
  plain.backward(plain_ctx, d_plain_out, dx_plain, dseg_plain, ParamGrads::accumulate);
  Tensor<T> dx_fused = zeros<T>(xs), dseg_fused = zeros<T>(segs);
  fused.backward(fused_ctx, dy, dx_fused, dseg_fused, ParamGrads::accumulate);
  // The same arithmetic in the same order: equal values (== ignores a zero's sign).
  for (index_t i = 0; i < xs.numel(); ++i) REQUIRE(dx_fused[i] == dx_plain[i]);
  for (index_t i = 0; i < segs.numel(); ++i) REQUIRE(dseg_fused[i] == dseg_plain[i]);
  std::vector<const Parameter<T>*> plain_params, fused_params;
  plain.visit_parameters([&](std::string_view, Parameter<T>& p) { plain_params.push_back(&p); });
  fused.visit_parameters([&](std::string_view, Parameter<T>& p) { fused_params.push_back(&p); });
  REQUIRE(plain_params.size() == fused_params.size());
  for (std::size_t k = 0; k < plain_params.size(); ++k)
    for (index_t i = 0; i < plain_params[k]->grad.numel(); ++i)
      REQUIRE(fused_params[k]->grad[i] == plain_params[k]->grad[i]);

  o.leaky_relu_slope = -0.2;
  CHECK_THROWS_AS(SpadeNorm<BatchNorm<T>>(o, g), error);
}

// --- SpadeResBlock ---------------------------------------------------------------

TEST_CASE("SpadeResBlock passes the finite-difference check over x, layout and parameters", "[checker][spade]") {
  struct Config {
    index_t fin, fout, label, hidden;
    Shape x, seg;
  };
  const Config configs[] = {
      {3, 2, 2, 3, Shape{2, 3, 4, 4}, Shape{2, 2, 8, 8}},  // learned shortcut, layout downsampled
      {2, 2, 3, 2, Shape{2, 2, 3, 5}, Shape{2, 3, 3, 5}},  // identity shortcut, layout at x's size
      {2, 3, 2, 2, Shape{1, 2, 4, 3}, Shape{1, 2, 2, 5}},  // fin < fout, layout resized unevenly
  };
  std::uint64_t seed = 1100;
  for (const auto& c : configs) {
    Generator g(seed);
    SpadeResBlock<BatchNorm<double>> block({c.fin, c.fout, c.label, c.hidden}, g);
    freeze_power_iterations(block, g.normal<double>(c.x), g.normal<double>(c.seg));
    require_checked(block, c.x, c.seg, ++seed);
    block.set_training(false);  // batch norm on running statistics too
    require_checked(block, c.x, c.seg, ++seed);

    SpadeResBlock<InstanceNorm<double>> instance({c.fin, c.fout, c.label, c.hidden}, g);
    freeze_power_iterations(instance, g.normal<double>(c.x), g.normal<double>(c.seg));
    require_checked(instance, c.x, c.seg, ++seed);

    // The SB-GAN fork's detached layout: x and parameters as before, no layout gradient.
    SpadeResBlockOptions detached{c.fin, c.fout, c.label, c.hidden};
    detached.detach_layout = true;
    SpadeResBlock<BatchNorm<double>> fork(detached, g);
    freeze_power_iterations(fork, g.normal<double>(c.x), g.normal<double>(c.seg));
    require_checked(fork, c.x, c.seg, ++seed, /*layout_gradient=*/false);
  }
}

TEST_CASE("SpadeResBlock names its state as the reference's state dict", "[spade]") {
  Generator g(2);
  SpadeResBlock<BatchNorm<float>> learned({8, 4, 3, 16}, g);
  CHECK(learned.learned_shortcut());
  CHECK(learned.middle() == 4);
  std::vector<std::string> params, buffers;
  learned.visit_parameters([&](std::string_view n, auto&) { params.emplace_back(n); });
  learned.visit_buffers([&](std::string_view n, auto&) { buffers.emplace_back(n); });
  const std::vector<std::string> expected_params{
      "conv_0.weight_orig", "conv_0.bias", "conv_1.weight_orig", "conv_1.bias", "conv_s.weight_orig",
      "norm_0.mlp_shared.0.weight", "norm_0.mlp_shared.0.bias", "norm_0.mlp_gamma.weight", "norm_0.mlp_gamma.bias",
      "norm_0.mlp_beta.weight", "norm_0.mlp_beta.bias", "norm_1.mlp_shared.0.weight", "norm_1.mlp_shared.0.bias",
      "norm_1.mlp_gamma.weight", "norm_1.mlp_gamma.bias", "norm_1.mlp_beta.weight", "norm_1.mlp_beta.bias",
      "norm_s.mlp_shared.0.weight", "norm_s.mlp_shared.0.bias", "norm_s.mlp_gamma.weight", "norm_s.mlp_gamma.bias",
      "norm_s.mlp_beta.weight", "norm_s.mlp_beta.bias"};
  CHECK(params == expected_params);
  const std::vector<std::string> expected_buffers{
      "conv_0.weight_u", "conv_0.weight_v", "conv_1.weight_u", "conv_1.weight_v", "conv_s.weight_u", "conv_s.weight_v",
      "norm_0.param_free_norm.running_mean", "norm_0.param_free_norm.running_var",
      "norm_0.param_free_norm.num_batches_tracked", "norm_1.param_free_norm.running_mean",
      "norm_1.param_free_norm.running_var", "norm_1.param_free_norm.num_batches_tracked",
      "norm_s.param_free_norm.running_mean", "norm_s.param_free_norm.running_var",
      "norm_s.param_free_norm.num_batches_tracked"};
  CHECK(buffers == expected_buffers);
  // Shapes: fmid = min(fin, fout), a bias-free 1x1 shortcut, norm_1 over fmid channels.
  CHECK(learned.conv_0().weight_orig().shape() == Shape{4, 8, 3, 3});
  CHECK(learned.conv_1().weight_orig().shape() == Shape{4, 4, 3, 3});
  CHECK(learned.conv_s().weight_orig().shape() == Shape{4, 8, 1, 1});
  CHECK_FALSE(learned.conv_s().inner().has_bias());
  CHECK(learned.norm_1().mlp_gamma().weight().shape() == Shape{4, 16, 3, 3});

  SpadeResBlock<BatchNorm<float>> identity({4, 4, 3}, g);
  CHECK_FALSE(identity.learned_shortcut());
  std::size_t count = 0;
  identity.visit_parameters([&](std::string_view n, auto&) {
    ++count;
    CHECK(n.find("_s.") == std::string_view::npos);
  });
  CHECK(count == 16);
}

TEST_CASE("SPADE blocks refuse bad input before changing any state", "[spade][errors]") {
  Generator g(3);
  SpadeResBlock<BatchNorm<float>> block({4, 3, 5, 8}, g);
  const auto u = clone(block.conv_0().u());
  CHECK_THROWS_MATCHES(block.forward(zeros<float>(Shape{2, 3, 8, 8}), zeros<float>(Shape{2, 5, 8, 8})), shape_error,
                       Catch::Matchers::Message(
                           "SpadeResBlock(4->3, layout 5): input must have shape [N, 4, H, W], got [2, 3, 8, 8]"));
  CHECK_THROWS_MATCHES(block.forward(zeros<float>(Shape{2, 4, 8, 8}), zeros<float>(Shape{2, 4, 8, 8})), shape_error,
                       Catch::Matchers::Message(
                           "SpadeResBlock(4->3, layout 5): layout must have shape [2, 5, H, W], got [2, 4, 8, 8]"));
  CHECK_THROWS_AS(block.forward(zeros<float>(Shape{2, 4, 8, 8}), zeros<float>(Shape{1, 5, 8, 8})), shape_error);
  for (index_t i = 0; i < u.numel(); ++i) CHECK(block.conv_0().u()[i] == u[i]);
  CHECK(block.norm_0().param_free_norm().num_batches_tracked()[0] == 0.0f);

  auto ctx = block.forward(g.normal<float>(Shape{2, 4, 4, 4}), g.normal<float>(Shape{2, 5, 8, 8}));
  auto dx = zeros<float>(Shape{2, 4, 4, 4}), dseg = zeros<float>(Shape{2, 5, 4, 4});
  CHECK_THROWS_WITH(block.backward(ctx, zeros<float>(Shape{2, 3, 4, 4}), dx, dseg, ParamGrads::accumulate),
                    Catch::Contains("layout gradient must have shape [2, 5, 8, 8]"));
  CHECK(kernels::dot(dx, dx) == 0.0);

  SpadeNorm<InstanceNorm<float>> spade({4, 5, 8}, g);
  CHECK_THROWS_WITH(spade.forward(zeros<float>(Shape{2, 4, 8, 8}), zeros<float>(Shape{2, 3, 8, 8})),
                    Catch::StartsWith("SpadeNorm(InstanceNorm(4), layout 5, hidden 8): layout must have shape"));
  CHECK_THROWS_AS(SpadeResBlock<BatchNorm<float>>({0, 3, 5}, g), error);
}

// --- against PyTorch -------------------------------------------------------------

TEMPLATE_TEST_CASE("SPADE blocks match PyTorch", "[golden][spade]", float, double) {
  using T = TestType;
  Generator g(4);
  SECTION("SpadeNorm over BatchNorm, layout resized 4x9 -> 6x6") {
    SpadeNorm<BatchNorm<T>> spade({4, 3, 5}, g);
    check_against_torch<T>(spade, "spade_norm_batch");
  }
  SECTION("SpadeNorm over InstanceNorm") {
    SpadeNorm<InstanceNorm<T>> spade({4, 3, 5}, g);
    check_against_torch<T>(spade, "spade_norm_instance");
  }
  SECTION("SpadeResBlock 4 -> 3 with a learned shortcut") {
    SpadeResBlock<BatchNorm<T>> block({4, 3, 3, 5}, g);
    check_against_torch<T>(block, "spade_resblock_learned");
  }
  SECTION("SpadeResBlock 4 -> 4") {
    SpadeResBlock<BatchNorm<T>> block({4, 4, 3, 5}, g);
    check_against_torch<T>(block, "spade_resblock_identity");
  }
  SECTION("SpadeResBlock with the fork's detached layout") {
    SpadeResBlockOptions o{4, 3, 3, 5};
    o.detach_layout = true;
    SpadeResBlock<BatchNorm<T>> block(o, g);
    check_against_torch<T>(block, "spade_resblock_learned", /*layout_gradient=*/false);
  }
}
