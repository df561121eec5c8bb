// The models: the SPADE generator against PyTorch (tools/golden/spade_generator.py)
// and central differences, the reference's state-dict names, the reference
// initialisation, G_SB as one model, the configs and their JSON form, and SBGAN
// with one full stage-3 step on the demo config.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <set>
#include <sbgan/models/config.hpp>
#include <sbgan/models/init.hpp>
#include <sbgan/models/layout_generator.hpp>
#include <sbgan/models/sbgan.hpp>
#include <sbgan/models/spade_generator.hpp>
#include <sbgan/testing/layer_checker.hpp>
#include <sbgan/testing/tolerances.hpp>

#include "support/golden.hpp"

using namespace sbgan;

namespace {

const std::string spade_case = "model_spade_generator";

std::vector<std::string> golden_lines(const std::string& file) {
  std::ifstream in(std::string(SBGAN_GOLDEN_DIR) + "/" + spade_case + "/" + file);
  if (!in) throw std::runtime_error("missing golden file " + file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// The golden script's parameter values: parameter p's element j (p its index in
// parameter_names.txt), exact in float.
double hashed_value(std::uint64_t p, std::uint64_t j) {
  const std::uint64_t u = ((j + 1) * 2654435761ULL + (p + 1) * 97531ULL) % 65536ULL;
  return static_cast<double>(u) / 65536.0 - 0.5;
}

template <class Net>
std::vector<std::string> parameter_names(Net& net) {
  std::vector<std::string> names;
  net.visit_parameters([&](std::string_view n, auto&) { names.emplace_back(n); });
  return names;
}

template <class Net>
std::vector<std::string> buffer_names(Net& net) {
  std::vector<std::string> names;
  net.visit_buffers([&](std::string_view n, auto&) { names.emplace_back(n); });
  return names;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// Copies a flat golden vector (buffers concatenated in the reference's order) into
// our buffers, by name.
template <class T, class Net>
std::map<std::string, std::pair<index_t, index_t>> buffer_offsets(Net& net) {
  std::map<std::string, index_t> sizes;
  net.visit_buffers([&](std::string_view n, Tensor<T>& t) { sizes[std::string(n)] = t.numel(); });
  std::map<std::string, std::pair<index_t, index_t>> offsets;
  index_t at = 0;
  for (const auto& name : golden_lines("buffer_names.txt")) {
    offsets[name] = {at, sizes.at(name)};
    at += sizes.at(name);
  }
  return offsets;
}

template <class T>
double golden_tolerance() {
  return std::is_same_v<T, float> ? tolerance::golden_float_composed : tolerance::golden_double;
}

template <class T>
void check_close(const Tensor<T>& actual, const Tensor<double>& expected, const std::string& what) {
  const double err = golden::relative_error(actual, expected);
  INFO(what << ": relative error " << err);
  CHECK(err <= golden_tolerance<T>());
}

template <class T>
Tensor<T> upsampled(const Tensor<T>& small, index_t factor) {
  Tensor<T> out(Shape{small.shape().n(), small.shape().c(), small.shape().h() * factor, small.shape().w() * factor});
  kernels::resize_nearest(small, out);
  return out;
}

// One training pass of the golden generator: 'more' (64x128, detached layout) or
// 'normal' (32x32, layout gradient through every SPADE norm).
template <class T>
void check_spade_generator_case(bool more) {
  SpadeGeneratorOptions o;
  o.label_channels = 3;
  o.nf = 1;
  o.hidden = 5;
  o.height = more ? 64 : 32;
  o.width = more ? 128 : 32;
  o.upsampling = more ? SpadeUpsampling::more : SpadeUpsampling::normal;
  o.detach_layout = more;
  Generator init(1);
  SpadeGenerator<BatchNorm<T>> g(o, init);

  const auto names = golden_lines("parameter_names.txt");
  std::map<std::string, std::uint64_t> index;
  for (std::size_t i = 0; i < names.size(); ++i) index[names[i]] = i;
  std::map<std::string, Parameter<T>*> params;
  g.visit_parameters([&](std::string_view n, Parameter<T>& p) {
    const std::string name(n);
    const double scale = name.size() >= 4 && name.substr(name.size() - 4) == "bias" ? 0.5 : 1.0;
    for (index_t j = 0; j < p.value.numel(); ++j)
      p.value[j] = static_cast<T>(hashed_value(index.at(name), static_cast<std::uint64_t>(j)) * scale);
    params[name] = &p;
  });
  const auto offsets = buffer_offsets<T>(g);
  const auto init_buffers = golden::load<double>(spade_case, "init_buffers");
  g.visit_buffers([&](std::string_view n, Tensor<T>& t) {
    const auto [at, size] = offsets.at(std::string(n));
    for (index_t j = 0; j < size; ++j) t[j] = static_cast<T>(init_buffers[at + j]);
  });

  const std::string p = more ? "more_" : "normal_";
  const Tensor<T> seg = more ? upsampled(golden::load<T>(spade_case, "more_seg_small"), 4)
                             : golden::load<T>(spade_case, "normal_seg");
  const Tensor<T> dy = more ? upsampled(golden::load<T>(spade_case, "more_dy_small"), 4)
                            : golden::load<T>(spade_case, "normal_dy");
  g.set_training(true);
  auto ctx = g.forward(seg);
  check_close(ctx.output, golden::load<double>(spade_case, p + "y"), p + "y");
  Tensor<T> dseg = zeros<T>(seg.shape());
  g.backward(ctx, dy, dseg, ParamGrads::accumulate);
  if (more) {
    // Only the pixels fc's downsample reads (rows ::64, columns ::64) get a gradient.
    const auto sampled = golden::load<double>(spade_case, "more_dseg_sampled");
    Tensor<T> ours_sampled(sampled.shape());
    double elsewhere = 0;
    for (index_t c = 0; c < seg.shape().c(); ++c)
      for (index_t h = 0; h < seg.shape().h(); ++h)
        for (index_t w = 0; w < seg.shape().w(); ++w) {
          if (h % 64 == 0 && w % 64 == 0)
            ours_sampled(0, c, h / 64, w / 64) = dseg(0, c, h, w);
          else
            elsewhere = std::max(elsewhere, std::abs(static_cast<double>(dseg(0, c, h, w))));
        }
    CHECK(elsewhere == 0.0);
    check_close(ours_sampled, sampled, "more_dseg_sampled");
  } else {
    check_close(dseg, golden::load<double>(spade_case, "normal_dseg"), "normal_dseg");
  }
  std::size_t grads_checked = 0;
  for (const auto& [name, param] : params)
    if (golden::exists(spade_case, p + "grad_" + name)) {
      ++grads_checked;
      if (name == "fc.bias") {
        // A per-channel constant on fc's output passes head_0 and the middle blocks
        // by their identity shortcuts and is removed by every batch norm of up_0:
        // this gradient is zero, PyTorch's value is rounding noise. Both must be
        // zero at the scale of fc's weight gradient.
        const auto reference = golden::load<double>(spade_case, p + "grad_fc.bias");
        const auto weight_grad = golden::load<double>(spade_case, p + "grad_fc.weight");
        double scale = 0, largest_reference = 0, largest = 0;
        for (double v : weight_grad) scale = std::max(scale, std::abs(v));
        for (double v : reference) largest_reference = std::max(largest_reference, std::abs(v));
        for (T v : param->grad) largest = std::max(largest, std::abs(static_cast<double>(v)));
        INFO(p << "grad_fc.bias: largest " << largest << ", reference " << largest_reference << ", scale " << scale);
        CHECK(scale > 0);
        CHECK(largest_reference <= tolerance::golden_double * scale);
        CHECK(largest <= golden_tolerance<T>() * scale);
        continue;
      }
      check_close(param->grad, golden::load<double>(spade_case, p + "grad_" + name), p + "grad_" + name);
    }
  CHECK(grads_checked == 9);
  // Running statistics and spectral-norm vectors after the pass.
  const auto after = golden::load<double>(spade_case, p + "buffers");
  Tensor<double> ours(after.shape());
  g.visit_buffers([&](std::string_view n, Tensor<T>& t) {
    const auto [at, size] = offsets.at(std::string(n));
    for (index_t j = 0; j < size; ++j) ours[at + j] = static_cast<double>(t[j]);
  });
  const double err = golden::relative_error(ours, after);
  INFO(p << "buffers: relative error " << err);
  CHECK(err <= golden_tolerance<T>());
}

SpadeGeneratorOptions tiny_spade(bool detach, index_t size = 32) {
  SpadeGeneratorOptions o;
  o.label_channels = 2;
  o.nf = 1;
  o.hidden = 2;
  o.height = size;
  o.width = size;
  o.upsampling = SpadeUpsampling::normal;
  o.detach_layout = detach;
  return o;
}

// `count` entries of t (spread over it, always the first and last) against
// central differences of `loss`.
void check_sampled_entries(testing::CheckReport& r, const std::string& what, Tensor<double>& t,
                           const Tensor<double>& analytic, const std::function<double()>& loss, index_t count) {
  const testing::CheckOptions o;
  const index_t n = t.numel(), step = std::max<index_t>(1, n / count);
  for (index_t i = 0; i < n; i += (i + step < n || i == n - 1) ? step : n - 1 - i) {
    const double saved = t[i];
    t[i] = saved + o.step;
    const double up = loss();
    t[i] = saved - o.step;
    const double down = loss();
    t[i] = saved;
    testing::checker_detail::compare(r, what, i, analytic[i], (up - down) / (2 * o.step), o);
    ++r.entries_checked;
    if (i == n - 1) break;
  }
}

// The layout gradient (unless detached: the true gradient then differs by design)
// and a few parameters' against central differences of ⟨G(seg), dy⟩, in
// evaluation mode (running statistics, stored u: a fixed function), with d_seg and
// the grads starting from random values (accumulation).
template <class Norm>
void check_spade_generator_gradients(bool detach, index_t size, std::uint64_t seed) {
  namespace cd = sbgan::testing::checker_detail;
  Generator gen(seed);
  SpadeGenerator<Norm> g(tiny_spade(detach, size), gen);
  const Shape seg_shape{1, 2, size, size};
  // Move batch norm's running statistics away from (0, 1) first.
  g.forward(gen.normal<double>(Shape{2, 2, size, size}));
  g.set_training(false);
  Tensor<double> seg = gen.normal<double>(seg_shape);
  Tensor<double> dy;
  {
    poison_scope poison;
    auto ctx = g.forward(seg);
    REQUIRE(kernels::all_finite(ctx.output));
    dy = gen.normal<double>(ctx.output.shape());
  }
  auto ctx = g.forward(seg);
  Tensor<double> dseg = gen.normal<double>(seg.shape());
  const Tensor<double> dseg_before = clone(dseg);
  std::map<std::string, Parameter<double>*> params;
  g.visit_parameters([&](std::string_view n, Parameter<double>& p) { params[std::string(n)] = &p; });
  const std::vector<std::string> checked{"fc.weight", "fc.bias", "conv_img.bias", "head_0.norm_0.mlp_beta.bias",
                                         "up_3.conv_1.weight_orig", "up_2.norm_s.mlp_shared.0.bias"};
  std::vector<Tensor<double>> before;
  for (const auto& n : checked) {
    gen.normal(params.at(n)->grad);
    before.push_back(clone(params.at(n)->grad));
  }
  g.backward(ctx, dy, dseg, ParamGrads::accumulate);
  testing::CheckReport r;
  const auto loss = [&] { return kernels::dot(g.forward(seg).output, dy); };
  const Tensor<double> d_layout = cd::increment(dseg, dseg_before);
  if (!detach) check_sampled_entries(r, "d/dseg", seg, d_layout, loss, 48);
  for (std::size_t k = 0; k < checked.size(); ++k)
    check_sampled_entries(r, "d/d" + checked[k], params.at(checked[k])->value,
                          cd::increment(params.at(checked[k])->grad, before[k]), loss, 10);
  INFO(g.describe() << (detach ? " detached" : " attached") << ": " << r.summary());
  CHECK(r.ok());
  if (detach) {
    // Only the fc path reaches the layout: one pixel per channel for each cell of
    // the start map, the rest exactly zero.
    const index_t start = tiny_spade(detach, size).start_height() * tiny_spade(detach, size).start_width();
    index_t nonzero = 0;
    for (double v : d_layout) nonzero += v != 0.0;
    CHECK(nonzero >= 1);
    CHECK(nonzero <= 2 * start);
  }
}

double stddev(const Tensor<float>& t) {
  double sum = 0, sq = 0;
  for (float v : t) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(t.numel()), mean = sum / n;
  return std::sqrt(sq / n - mean * mean);
}

}  // namespace

// --- SpadeGenerator ------------------------------------------------------------------

TEST_CASE("SpadeGenerator matches PyTorch: 'more' with a detached layout", "[models][golden]") {
  check_spade_generator_case<double>(true);
  check_spade_generator_case<float>(true);
}

TEST_CASE("SpadeGenerator matches PyTorch: 'normal' with the layout gradient", "[models][golden]") {
  check_spade_generator_case<double>(false);
  check_spade_generator_case<float>(false);
}

static_assert(Layer<SpadeGenerator<BatchNorm<float>>>);
static_assert(Layer<SpadeGenerator<InstanceNorm<double>>>);
static_assert(Layer<LayoutGenerator<float>>);

TEST_CASE("SpadeGenerator's parameter and buffer names are the reference's state-dict keys", "[models]") {
  Generator init(2);
  SpadeGenerator<BatchNorm<float>> g(tiny_spade(true), init);
  const auto params = parameter_names(g), buffers = buffer_names(g);
  // The same sets; within a spectral-norm conv PyTorch lists bias before weight_orig.
  CHECK(as_set(params) == as_set(golden_lines("parameter_names.txt")));
  CHECK(params.size() == golden_lines("parameter_names.txt").size());
  CHECK(as_set(buffers) == as_set(golden_lines("buffer_names.txt")));
  std::set<std::string> all = as_set(params);
  all.insert(buffers.begin(), buffers.end());
  CHECK(all == as_set(golden_lines("state_dict_keys.txt")));
  CHECK(params.front() == "fc.weight");
  CHECK(params.back() == "conv_img.bias");
}

TEST_CASE("SpadeGenerator gradients pass central differences", "[models][checker]") {
  check_spade_generator_gradients<BatchNorm<double>>(true, 32, 11);
  check_spade_generator_gradients<BatchNorm<double>>(false, 32, 12);
  check_spade_generator_gradients<InstanceNorm<double>>(false, 64, 13);  // instance norm needs a 2x2 start
}

// Every buffer of two networks, bit for bit.
template <class Net>
void require_same_buffers(Net& a, Net& b) {
  std::vector<std::vector<double>> ours, theirs;
  visit_buffers(a, [&](std::string_view, const auto& t) { ours.emplace_back(t.begin(), t.end()); });
  visit_buffers(b, [&](std::string_view, const auto& t) { theirs.emplace_back(t.begin(), t.end()); });
  REQUIRE(ours == theirs);
}

template <class Norm>
void check_infer_matches_forward(std::uint64_t seed) {
  using T = typename Norm::value_type;
  SpadeGeneratorOptions o = tiny_spade(true, 64);
  o.nf = 2;  // blocks with and without a learned shortcut
  Generator init_a(seed), init_b(seed), data(seed + 1);
  SpadeGenerator<Norm> a(o, init_a), b(o, init_b);
  for (const bool training : {true, false}) {
    a.set_training(training);
    b.set_training(training);
    const Tensor<T> seg = data.normal<T>(Shape{2, 2, 64, 64});
    const Tensor<T> inferred = a.infer(seg);
    const Tensor<T> forward = b.forward(seg).output;
    REQUIRE(inferred.shape() == forward.shape());
    for (index_t i = 0; i < forward.numel(); ++i) REQUIRE(inferred[i] == forward[i]);
    // The same running statistics and spectral-norm vectors after the pass.
    require_same_buffers(a, b);
  }
}

TEST_CASE("SpadeGenerator::infer equals forward's output bit for bit and updates the same state", "[models][infer]") {
  check_infer_matches_forward<BatchNorm<float>>(21);
  check_infer_matches_forward<InstanceNorm<float>>(22);
  check_infer_matches_forward<BatchNorm<double>>(23);
  Generator init(24);
  SpadeGenerator<BatchNorm<float>> g(tiny_spade(true), init);
  CHECK_THROWS_WITH(g.infer(init.normal<float>(Shape{1, 3, 32, 32})), Catch::Contains("layout"));
}

TEST_CASE("SpadeGenerator shapes, start sizes and errors", "[models]") {
  SpadeGeneratorOptions city;  // the reference's Cityscapes generator sizes
  city.label_channels = 35;
  CHECK(city.start_height() == 4);
  CHECK(city.start_width() == 8);
  SpadeGeneratorOptions ade = city;
  ade.width = 256;
  ade.upsampling = SpadeUpsampling::normal;
  CHECK(ade.start_height() == 8);
  CHECK(ade.start_width() == 8);

  Generator init(3);
  SpadeGeneratorOptions bad = tiny_spade(true);
  bad.upsampling = SpadeUpsampling::more;  // 32 / 64 = 0
  CHECK_THROWS_WITH(SpadeGenerator<BatchNorm<float>>(bad, init), Catch::Contains("32x32") && Catch::Contains("start"));
  bad = tiny_spade(true);
  bad.width = 48;
  CHECK_THROWS_AS(SpadeGenerator<BatchNorm<float>>(bad, init), error);

  SpadeGenerator<InstanceNorm<float>> g(tiny_spade(true, 64), init);
  const auto x = init.normal<float>(Shape{2, 2, 16, 16});  // a layout of another size is resized
  auto ctx = g.forward(x);
  CHECK(ctx.output.shape() == Shape{2, 3, 64, 64});
  for (float v : ctx.output) REQUIRE((v >= -1.0f && v <= 1.0f));
  CHECK_THROWS_WITH(g.forward(init.normal<float>(Shape{2, 3, 64, 64})), Catch::Contains("layout"));
  Tensor<float> d_seg = zeros<float>(Shape{2, 2, 8, 8});
  CHECK_THROWS_AS(g.backward(ctx, init.normal<float>(ctx.output.shape()), d_seg, ParamGrads::accumulate), shape_error);
  for (float v : d_seg) REQUIRE(v == 0.0f);  // refused before writing
}

// --- Initialisation ------------------------------------------------------------------

TEST_CASE("xavier_normal has PyTorch's standard deviation", "[models][init]") {
  Generator g(4);
  for (const Shape s : {Shape{64, 64, 3, 3}, Shape{256, 35, 3, 3}, Shape{300, 200}}) {
    Tensor<float> w(s);
    xavier_normal(w, 0.02, g);
    const index_t receptive = w.numel() / (s[0] * s[1]);
    const double expected = 0.02 * std::sqrt(2.0 / static_cast<double>((s[0] + s[1]) * receptive));
    INFO(s << ": std " << stddev(w) << ", expected " << expected);
    CHECK(std::abs(stddev(w) / expected - 1) < 0.02);
  }
  Tensor<float> vector(Shape{5});
  CHECK_THROWS_AS(xavier_normal(vector, 0.02, g), error);
}

TEST_CASE("init_spade_reference: xavier on plain convs, zero biases, weight_orig as the reference left it",
          "[models][init]") {
  SpadeGeneratorOptions o = tiny_spade(true);
  o.label_channels = 35;
  o.nf = 8;
  o.hidden = 128;
  Generator g(5);
  SpadeGenerator<BatchNorm<float>> net(o, g);
  std::map<std::string, Tensor<float>> before;
  net.visit_parameters([&](std::string_view n, Parameter<float>& p) { before[std::string(n)] = clone(p.value); });
  init_spade_reference(net, g);
  std::map<std::string, Parameter<float>*> after;
  net.visit_parameters([&](std::string_view n, Parameter<float>& p) { after[std::string(n)] = &p; });

  // fc: 35 -> 128, 3x3; xavier std 0.02·√(2/(35·9 + 128·9)).
  const double fc_expected = 0.02 * std::sqrt(2.0 / ((35.0 + 128.0) * 9));
  CHECK(std::abs(stddev(after.at("fc.weight")->value) / fc_expected - 1) < 0.03);
  const double shared_expected = 0.02 * std::sqrt(2.0 / ((35.0 + 128.0) * 9));
  CHECK(std::abs(stddev(after.at("head_0.norm_0.mlp_shared.0.weight")->value) / shared_expected - 1) < 0.03);
  for (const auto& [name, p] : after) {
    if (name.size() >= 4 && name.substr(name.size() - 4) == "bias")
      for (float v : p->value) REQUIRE(v == 0.0f);
    if (name.find("weight_orig") != std::string::npos)
      for (index_t i = 0; i < p->value.numel(); ++i) REQUIRE(p->value[i] == before.at(name)[i]);
  }
  // head_0.conv_0.weight_orig kept PyTorch's default: uniform ±1/√fan_in, std 1/√(3·fan_in).
  const double default_std = 1.0 / std::sqrt(3.0 * 128 * 9);
  CHECK(std::abs(stddev(after.at("head_0.conv_0.weight_orig")->value) / default_std - 1) < 0.03);

  // The CPU-only reading puts xavier into weight_orig too.
  init_spade_reference(net, g, SpadeInit{0.02, SpectralWeightInit::xavier});
  const double conv_expected = 0.02 * std::sqrt(2.0 / ((128.0 + 128.0) * 9));
  CHECK(std::abs(stddev(after.at("head_0.conv_0.weight_orig")->value) / conv_expected - 1) < 0.03);
}

// --- G_SB ----------------------------------------------------------------------------

TEST_CASE("LayoutGenerator samples one-hot layouts, exposes p and back-propagates straight through",
          "[models][layout]") {
  ProgressiveLayoutGeneratorOptions o;
  o.latent = 16;
  o.channels = {16, 8};
  o.classes = 5;
  o.aspect = 2;
  Generator init(6), z_gen(7);
  LayoutGenerator<double> g(o, init, Generator(8));
  const auto z = g.sample_latent(3, z_gen);
  CHECK(z.shape() == Shape{3, 16});

  auto ctx = g.forward(z);
  CHECK(ctx.output.shape() == Shape{3, 5, 8, 16});
  const auto& p = ctx.probabilities();
  for (index_t n = 0; n < 3; ++n)
    for (index_t h = 0; h < 8; ++h)
      for (index_t w = 0; w < 16; ++w) {
        double ones = 0, psum = 0;
        for (index_t c = 0; c < 5; ++c) {
          const double v = ctx.output(n, c, h, w);
          REQUIRE((v == 0.0 || v == 1.0));
          ones += v;
          psum += p(n, c, h, w);
        }
        REQUIRE(ones == 1.0);
        REQUIRE(std::abs(psum - 1.0) < 1e-12);
      }

  // Straight-through: dz and every parameter receive a gradient, except block 0's
  // toSeg head, which is not the output at this resolution.
  Tensor<double> dz = zeros<double>(z.shape());
  g.backward(ctx, Generator(9).normal<double>(ctx.output.shape()), dz, ParamGrads::accumulate);
  CHECK(kernels::dot(dz, dz) > 0);
  g.visit_parameters([&](std::string_view name, Parameter<double>& prm) {
    INFO(name);
    if (name.rfind("blocks.0.to_mask.", 0) == 0)
      CHECK(kernels::dot(prm.grad, prm.grad) == 0.0);
    else
      CHECK(kernels::dot(prm.grad, prm.grad) > 0);
  });

  // Inference: one-hot(argmax p), no noise, no gradient.
  g.set_training(false);
  CHECK(g.sampling() == LayoutSampling::inference);
  auto ictx = g.forward(z);
  for (index_t n = 0; n < 3; ++n)
    for (index_t h = 0; h < 8; ++h)
      for (index_t w = 0; w < 16; ++w) {
        index_t best = 0;
        for (index_t c = 1; c < 5; ++c)
          if (ictx.probabilities()(n, c, h, w) > ictx.probabilities()(n, best, h, w)) best = c;
        REQUIRE(ictx.output(n, best, h, w) == 1.0);
      }
  CHECK_THROWS_WITH(g.backward(ictx, ictx.output, dz, ParamGrads::accumulate), Catch::Contains("sample-mode"));
  CHECK_THROWS_AS(g.forward(z_gen.normal<double>(Shape{3, 15})), shape_error);
}

// --- Configs -------------------------------------------------------------------------

TEST_CASE("Ready configs hold the reference's facts and validate", "[models][config]") {
  const auto city = SBGanConfig::cityscapes();
  city.validate();
  CHECK(city.classes == 35);
  CHECK(city.aspect() == 2);
  CHECK(city.spade.upsampling == SpadeUpsampling::more);
  CHECK(city.layout_gan.channels() == std::vector<index_t>{512, 512, 512, 512, 256, 128, 64});
  CHECK(city.steps_per_phase(128) == 27890);
  CHECK(city.steps_per_phase(256) == 111562);
  CHECK(city.end2end_iterations_per_epoch() == 371);
  CHECK(city.end2end_scaling() == 2);
  CHECK(city.spade.generator_lr() == Approx(1e-4));
  CHECK(city.spade.discriminator_lr() == Approx(4e-4));

  const auto ade = SBGanConfig::ade_indoor();
  ade.validate();
  CHECK(ade.classes == 95);
  CHECK(ade.aspect() == 1);
  CHECK(ade.steps_per_phase(4) == 12158);
  CHECK(ade.steps_per_phase(256) == 36475);
  CHECK(ade.end2end_iterations_per_epoch() == 273);

  const auto c25 = SBGanConfig::cityscapes25k();
  c25.validate();
  CHECK(c25.classes == 20);
  CHECK(c25.steps_per_phase(8) == 25513);
  CHECK(c25.steps_per_phase(256) == 102052);
  CHECK(c25.end2end_iterations_per_epoch() == 5102);
  CHECK(c25.end2end_scaling() == 1);

  const auto demo = SBGanConfig::demo();
  demo.validate();
  CHECK(demo.layout_gan.channels() == std::vector<index_t>{64, 64, 32});
  CHECK(demo.end2end_scaling() == 2);  // 16x32 layouts, upsampled to 32x64 as the reference's 128 -> 256
  CHECK(demo.spade_generator_options().start_height() == 1);
  CHECK(demo.spade_generator_options().start_width() == 2);

  const auto paper = city.with_paper_choices();
  paper.validate();
  CHECK(paper.layout_gan.pixel_norm == PixelNormForm::paper);
  CHECK(paper.spade.discriminator == PatchDiscriminatorForm::paper);
  CHECK(paper.end2end.lambda_d2 == 1.0);
  CHECK_FALSE(paper.spade.detach_layout);
  CHECK_THROWS_WITH(SBGanConfig::by_name("coco"), Catch::Contains("coco"));
}

TEST_CASE("Config JSON round trip, base configs and errors naming the key", "[models][config]") {
  for (const char* name : {"cityscapes", "cityscapes25k", "ade_indoor", "demo"}) {
    const SBGanConfig c = SBGanConfig::by_name(name).with_paper_choices();
    const auto j = to_json(c);
    const SBGanConfig back = config_from_json(j);
    CHECK(to_json(back) == j);
    CHECK(back.layout_gan.batch == c.layout_gan.batch);
    CHECK(back.spade.upsampling == c.spade.upsampling);
    CHECK(back.end2end.lambda_d2 == c.end2end.lambda_d2);
  }
  const auto base = config_from_json_text(R"({"base": "demo", "seed": 17, "spade": {"nf": 16}})");
  CHECK(base.name == "demo");
  CHECK(base.seed == 17u);
  CHECK(base.spade.nf == 16);
  CHECK(base.spade.hidden == SBGanConfig::demo().spade.hidden);

  CHECK_THROWS_WITH(config_from_json_text(R"({"spade": {"ndff": 8}})"), Catch::Contains("spade.ndff") && Catch::Contains("unknown key"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"colour": 1})"), Catch::Contains("colour"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"spade": {"nf": 0}})"), Catch::Contains("spade.nf"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"spade": {"nf": "wide"}})"), Catch::Contains("spade.nf") && Catch::Contains("integer"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"layout_gan": {"pixel_norm": "sqrt"}})"),
                    Catch::Contains("layout_gan.pixel_norm") && Catch::Contains("'official'"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"layout_gan": {"batch": [16, 16]}})"), Catch::Contains("layout_gan.batch"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"base": "demo", "end2end": {"layout_resolution": 64}})"),
                    Catch::Contains("end2end.layout_resolution"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"base": "demo", "spade": {"upsampling": "more"}})"),
                    Catch::Contains("spade.upsampling"));
  CHECK_THROWS_WITH(config_from_json_text(R"({"base": "mnist"})"), Catch::Contains("base") && Catch::Contains("mnist"));
  CHECK_THROWS_WITH(config_from_json_text("{\"seed\": 1,", "broken.json"), Catch::Contains("broken.json"));
  CHECK_THROWS_AS(config_from_json_text("[1, 2]"), config_error);

  const auto path = std::filesystem::temp_directory_path() / "sbgan_test_models_config.json";
  {
    std::ofstream out(path);
    out << to_json(SBGanConfig::ade_indoor()).dump(2);
  }
  CHECK(to_json(load_config(path.string())) == to_json(SBGanConfig::ade_indoor()));
  std::filesystem::remove(path);
  CHECK_THROWS_WITH(load_config(path.string()), Catch::Contains(path.string()));
}

// --- SBGAN ---------------------------------------------------------------------------

TEST_CASE("SBGAN names its five networks and checks the config against its traits", "[models][sbgan]") {
  Generator init(10);
  SBGAN<> model(SBGanConfig::demo(), init);
  std::map<std::string, int> per_prefix;
  std::size_t total = 0;
  model.visit_parameters([&](const std::string& name, Parameter<float>&) {
    ++total;
    ++per_prefix[name.substr(0, name.find('.') + 1)];
  });
  CHECK(per_prefix.size() == 5);
  CHECK(per_prefix["G_SB."] == static_cast<int>(parameter_names(model.g_sb()).size()));
  CHECK(per_prefix["D_SB."] == static_cast<int>(parameter_names(model.d_sb()).size()));
  CHECK(per_prefix["G_SPADE."] == static_cast<int>(parameter_names(model.g_spade()).size()));
  CHECK(per_prefix["D_SPADE."] == static_cast<int>(parameter_names(model.d_spade()).size()));
  CHECK(per_prefix["D2."] == static_cast<int>(parameter_names(model.d2()).size()));
  std::set<std::string> names;
  model.visit_parameters([&](const std::string& name, Parameter<float>&) { names.insert(name); });
  CHECK(names.size() == total);
  CHECK(names.count("G_SB.blocks.0.fc1.weight") == 1);
  CHECK(names.count("D_SB.blocks.2.fc3.weight") == 1);  // three levels: 4, 8, 16
  CHECK(names.count("G_SPADE.head_0.conv_0.weight_orig") == 1);
  CHECK(names.count("D_SPADE.discriminator_1.model0.0.weight") == 1);
  CHECK(names.count("D2.discriminator_0.model3.0.bias") == 1);
  std::set<std::string> buffers;
  model.visit_buffers([&](const std::string& name, Tensor<float>&) { buffers.insert(name); });
  CHECK(buffers.count("G_SPADE.up_3.norm_s.param_free_norm.running_var") == 1);
  CHECK(buffers.count("D2.discriminator_1.model1.0.0.weight_u") == 1);

  Generator other(10);
  CHECK_THROWS_WITH(SBGAN<>(SBGanConfig::demo().with_paper_choices(), other),
                    Catch::Contains("layout_gan.pixel_norm") && Catch::Contains("'paper'"));
  SBGanConfig instance = SBGanConfig::demo();
  instance.spade.norm = SpadeNormKind::instance;
  CHECK_THROWS_WITH(SBGAN<>(instance, other), Catch::Contains("spade.norm"));
  SBGAN<SBGanTraits<float, cpu, PixelNormForm::official, SpadeNormKind::instance>> with_instance(instance, other);
  CHECK(with_instance.g_spade().describe().find("SpadeGenerator") == 0);
}

TEST_CASE("SBGAN: one full stage-3 step on the demo config (timed)", "[models][sbgan]") {
  using T = float;
  using tensor = Tensor<T>;
  const SBGanConfig config = SBGanConfig::demo();
  Generator init(config.seed), data(42);
  SBGAN<> model(config, init);
  REQUIRE(config.end2end_scaling() == 2);
  model.set_layout_resolution(config.end2end.layout_resolution);
  model.set_training(true);
  const index_t n = config.end2end.batch;
  // A "real" one-hot layout and image.
  tensor real_layout = zeros<T>(Shape{n, config.classes, config.height, config.width});
  for (index_t b = 0; b < n; ++b)
    for (index_t h = 0; h < config.height; ++h)
      for (index_t w = 0; w < config.width; ++w) real_layout(b, (h / 8 + w / 16 + b) % config.classes, h, w) = 1;
  const tensor real_image = data.uniform<T>(Shape{n, 3, config.height, config.width}, T(-1), T(1));
  // The gradient of mean(−D) over every output: what a G-side hinge term sends back.
  const auto minus_mean = [](const tensor& out) { return full<T>(out.shape(), T(-1) / static_cast<T>(out.numel())); };
  const auto scale_predictions = [&](const auto& ctx) {
    std::vector<std::vector<tensor>> d;
    for (const auto& s : ctx.scales) {
      std::vector<tensor> per(s.features.size());
      per.back() = minus_mean(s.output);
      d.push_back(per);
    }
    return d;
  };

  const auto start = std::chrono::steady_clock::now();
  // G step: layout term through D_SB, fake-from-fake through D2, fake-from-real through D_SPADE.
  auto layout = model.sample_layouts(n, data, LayoutSampling::sample);
  tensor d_layout = zeros_like(layout.output);
  auto critic = model.d_sb().forward(layout.output);
  model.d_sb().backward(critic, minus_mean(critic.output), d_layout, ParamGrads::skip);
  const tensor upsampled = model.upsample_layout(layout.output);
  auto fff = model.g_spade().forward(upsampled);
  auto d2 = model.d2().forward(fff.output);
  tensor d_fff = zeros_like(fff.output);
  model.d2().backward(d2, scale_predictions(d2), d_fff, ParamGrads::skip);
  tensor d_upsampled = zeros_like(upsampled);
  model.g_spade().backward(fff, d_fff, d_upsampled, ParamGrads::accumulate);
  model.upsample_layout_backward(d_upsampled, d_layout);
  tensor dz = zeros<T>(Shape{n, config.layout_gan.latent});
  model.g_sb().backward(layout, d_layout, dz, ParamGrads::accumulate);
  auto ffr = model.g_spade().forward(real_layout);
  const tensor pair_input = conditional_input(real_layout, ffr.output);
  auto d_spd = model.d_spade().forward(pair_input);
  tensor d_pair = zeros_like(pair_input);
  model.d_spade().backward(d_spd, scale_predictions(d_spd), d_pair, ParamGrads::skip);
  tensor d_real_layout = zeros_like(real_layout), d_ffr = zeros_like(ffr.output);
  conditional_input_backward(d_pair, d_real_layout, d_ffr);
  model.g_spade().backward(ffr, d_ffr, ParamGrads::accumulate);
  // D step: every discriminator on real and (detached) fake inputs.
  auto fake_critic = model.d_sb().forward(layout.output);
  model.d_sb().backward(fake_critic, minus_mean(fake_critic.output), d_layout, ParamGrads::accumulate);
  tensor real_small(layout.output.shape());  // D_SB sees real layouts at G_SB's size (scaling 2)
  kernels::resize_nearest(real_layout, real_small);
  auto real_critic = model.d_sb().forward(real_small);
  tensor d_real_critic = zeros_like(real_small);
  model.d_sb().backward(real_critic, minus_mean(real_critic.output), d_real_critic, ParamGrads::accumulate);
  for (const tensor* image : std::vector<const tensor*>{&ffr.output, &real_image}) {
    auto pair = model.d_spade().forward(conditional_input(real_layout, *image));
    tensor d_in = zeros<T>(Shape{n, config.classes + 3, config.height, config.width});
    model.d_spade().backward(pair, scale_predictions(pair), d_in, ParamGrads::accumulate);
  }
  for (const tensor* image : std::vector<const tensor*>{&fff.output, &real_image}) {
    auto un = model.d2().forward(*image);
    tensor d_in = zeros_like(*image);
    model.d2().backward(un, scale_predictions(un), d_in, ParamGrads::accumulate);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("SBGAN demo config: one stage-3 G+D forward/backward at batch %lld, %lldx%lld: %.3f s\n",
              static_cast<long long>(n), static_cast<long long>(config.height), static_cast<long long>(config.width),
              seconds);

  CHECK(fff.output.shape() == Shape{n, 3, config.height, config.width});
  CHECK(kernels::all_finite(dz));
  CHECK(kernels::dot(dz, dz) > 0);
  // The image losses reach the layout only through fc's downsample (detached
  // layout): at most sh·sw pixels per sample and channel.
  index_t touched = 0;
  for (T v : d_upsampled) touched += v != T(0);
  CHECK(touched > 0);
  CHECK(touched <= n * config.classes * 2);
  // Every network received parameter gradients, all finite.
  std::map<std::string, double> norms;
  bool finite = true;
  model.visit_parameters([&](const std::string& name, Parameter<T>& p) {
    norms[name.substr(0, name.find('.'))] += kernels::dot(p.grad, p.grad);
    finite = finite && kernels::all_finite(p.grad);
  });
  CHECK(finite);
  for (const char* net : {"G_SB", "D_SB", "G_SPADE", "D_SPADE", "D2"}) {
    INFO(net);
    CHECK(norms[net] > 0);
  }
  // Convenience paths.
  auto inference = model.sample_layouts(2, data, LayoutSampling::inference);
  CHECK(model.g_sb().sampling() == LayoutSampling::sample);  // restored
  CHECK(model.synthesize(inference.output).shape() == Shape{2, 3, config.height, config.width});
  CHECK_THROWS_AS(model.set_layout_resolution(24), error);
  CHECK_THROWS_AS(model.upsample_layout(zeros<T>(Shape{1, config.classes, 12, 24})), shape_error);
}
