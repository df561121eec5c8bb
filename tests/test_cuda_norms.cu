// The CUDA normalisation, statistics, loss and optimizer kernels against the CPU
// kernels on the same random inputs: every kernel of backend/cuda/{statistics,
// normalization, pixel_norm, minibatch_stddev, spectral_norm, loss, adam}.cuh, on
// odd shapes and on shapes whose groups span several blocks (more than 4096
// elements per group: group_reduce.cuh's partial-sum path), and the shape errors
// they share with the CPU. Labelled `gpu`: without a GPU every case skips.
//
// Tolerances: outputs that come from sums (statistics, gradients through them,
// norms, losses) are compared at cuda_reduction; purely element-wise ones at
// cuda_elementwise.
#include <catch2/catch.hpp>
#include <sbgan/sbgan.hpp>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "support/cuda_parity.hpp"

using namespace sbgan;
using test_support::require_parity;

namespace {

constexpr double elementwise = tolerance::cuda_elementwise;
constexpr double reduction = tolerance::cuda_reduction;

// The same values on the host and, in separate storage, on the device.
template <class T = float>
struct Pair {
  Tensor<T> cpu;
  Tensor<T, cuda> gpu;
};

template <class T = float>
Pair<T> normal_pair(Generator& g, const Shape& s, T mean = T(0), T stddev = T(1)) {
  auto host = g.normal<T>(s, mean, stddev);
  return {host, to_device(host)};
}

template <class T = float>
Pair<T> uniform_pair(Generator& g, const Shape& s, T lo, T hi) {
  auto host = g.uniform<T>(s, lo, hi);
  return {host, to_device(host)};
}

// Uninitialised outputs of one shape on both sides.
template <class T = float>
Pair<T> output_pair(const Shape& s) {
  return {Tensor<T>(s), Tensor<T, cuda>(s)};
}

template <class T>
void require_pair(const std::string& what, const Pair<T>& p, double tolerance) {
  require_parity(what, p.cpu, p.gpu, tolerance);
}

index_t statistics_count(const Shape& s, kernels::NormalizeOver over) {
  return over == kernels::NormalizeOver::channel ? s.c() : s.n() * s.c();
}

const char* name_of(kernels::NormalizeOver over) {
  return over == kernels::NormalizeOver::channel ? "channel" : "instance";
}

// Both throw a shape_error, with the same message.
template <class OnCpu, class OnGpu>
void require_same_shape_error(const std::string& what, OnCpu&& on_cpu, OnGpu&& on_gpu) {
  std::string cpu_message, gpu_message;
  try {
    on_cpu();
  } catch (const shape_error& e) {
    cpu_message = e.what();
  }
  try {
    on_gpu();
  } catch (const shape_error& e) {
    gpu_message = e.what();
  }
  INFO(what << ": CPU '" << cpu_message << "', CUDA '" << gpu_message << "'");
  REQUIRE_FALSE(cpu_message.empty());
  REQUIRE(gpu_message == cpu_message);
}

// The scalars Adam::step passes for step t.
template <class T>
kernels::AdamScalars<T> adam_scalars(double lr, double beta1, double beta2, double eps, std::int64_t t) {
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(t));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(t));
  return {static_cast<T>(beta1),
          static_cast<T>(1 - beta1),
          static_cast<T>(beta2),
          static_cast<T>(1 - beta2),
          static_cast<T>(std::sqrt(bias_correction2)),
          static_cast<T>(eps),
          static_cast<T>(-lr / bias_correction1)};
}

}  // namespace

TEST_CASE("CUDA channel and instance moments match the CPU's two passes", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(11);
  // {5, 3, 67, 71}: a channel holds 23785 elements and a plane 4757, both over
  // several blocks. The offset mean (|mean| ≫ std) checks the one-pass shift.
  for (const Shape& s : {Shape{3, 5, 7, 9}, Shape{5, 3, 67, 71}, Shape{2, 1, 1, 1}})
    for (const float offset : {0.0f, 1000.0f}) {
      INFO("shape " << s << ", offset " << offset);
      const auto x = normal_pair(g, s, offset);
      auto cm = output_pair(Shape{s.c()}), cv = output_pair(Shape{s.c()});
      auto im = output_pair(Shape{s.n(), s.c()}), iv = output_pair(Shape{s.n(), s.c()});
      kernels::channel_moments(x.cpu, cm.cpu, cv.cpu);
      kernels::channel_moments(x.gpu, cm.gpu, cv.gpu);
      kernels::instance_moments(x.cpu, im.cpu, iv.cpu);
      kernels::instance_moments(x.gpu, im.gpu, iv.gpu);
      require_pair("channel mean", cm, reduction);
      require_pair("channel variance", cv, reduction);
      require_pair("instance mean", im, reduction);
      require_pair("instance variance", iv, reduction);
    }
}

TEST_CASE("CUDA moments in double stay accurate around a large mean", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(12);
  const Shape s{3, 4, 37, 41};
  const auto x = normal_pair<double>(g, s, 1e6, 0.5);
  auto m = output_pair<double>(Shape{s.c()}), v = output_pair<double>(Shape{s.c()});
  kernels::channel_moments(x.cpu, m.cpu, v.cpu);
  kernels::channel_moments(x.gpu, m.gpu, v.gpu);
  require_pair("mean", m, reduction);
  require_pair("variance", v, reduction);
}

TEST_CASE("CUDA inverse_std, normalize_forward and normalize_fixed_backward match the CPU", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(13);
  for (const auto over : {kernels::NormalizeOver::channel, kernels::NormalizeOver::instance})
    for (const Shape& s : {Shape{3, 5, 7, 9}, Shape{4, 3, 65, 67}}) {
      INFO(name_of(over) << " groups, shape " << s);
      const Shape stats{statistics_count(s, over)};
      const auto x = normal_pair(g, s), dy = normal_pair(g, s), mean = normal_pair(g, stats);
      const auto var = uniform_pair(g, stats, 0.1f, 2.0f);
      auto invstd = output_pair(stats), y = output_pair(s), dx = normal_pair(g, s);
      kernels::inverse_std(var.cpu, 1e-5f, invstd.cpu);
      kernels::inverse_std(var.gpu, 1e-5f, invstd.gpu);
      require_pair("inverse_std", invstd, elementwise);
      kernels::normalize_forward(x.cpu, over, mean.cpu, invstd.cpu, y.cpu);
      kernels::normalize_forward(x.gpu, over, mean.gpu, invstd.gpu, y.gpu);
      require_pair("normalize_forward", y, elementwise);
      kernels::normalize_fixed_backward(dy.cpu, over, invstd.cpu, dx.cpu);
      kernels::normalize_fixed_backward(dy.gpu, over, invstd.gpu, dx.gpu);
      require_pair("normalize_fixed_backward", dx, elementwise);
    }
}

TEST_CASE("CUDA normalize_backward and normalize_second match the CPU", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(14);
  // {4, 3, 65, 67}: planes of 4355 and channels of 17420 elements, over several blocks.
  for (const auto over : {kernels::NormalizeOver::channel, kernels::NormalizeOver::instance})
    for (const Shape& s : {Shape{3, 5, 7, 9}, Shape{4, 3, 65, 67}}) {
      INFO(name_of(over) << " groups, shape " << s);
      const Shape stats{statistics_count(s, over)};
      const auto y = normal_pair(g, s), dy = normal_pair(g, s), w = normal_pair(g, s);
      const auto invstd = uniform_pair(g, stats, 0.5f, 2.0f);
      auto dx = normal_pair(g, s), dx2 = normal_pair(g, s), dgy = normal_pair(g, s);
      kernels::normalize_backward(y.cpu, dy.cpu, over, invstd.cpu, dx.cpu);
      kernels::normalize_backward(y.gpu, dy.gpu, over, invstd.gpu, dx.gpu);
      require_pair("normalize_backward", dx, reduction);
      kernels::normalize_second(y.cpu, dy.cpu, w.cpu, over, invstd.cpu, dx2.cpu, dgy.cpu);
      kernels::normalize_second(y.gpu, dy.gpu, w.gpu, over, invstd.gpu, dx2.gpu, dgy.gpu);
      require_pair("normalize_second dx", dx2, reduction);
      require_pair("normalize_second dgy", dgy, reduction);
    }
}

TEST_CASE("CUDA running_average and add_scalar match the CPU", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(15);
  const auto batch = normal_pair(g, Shape{37});
  auto running = normal_pair(g, Shape{37}), counter = normal_pair(g, Shape{1});
  kernels::running_average(batch.cpu, 0.1f, 1.25f, running.cpu);
  kernels::running_average(batch.gpu, 0.1f, 1.25f, running.gpu);
  require_pair("running_average", running, elementwise);
  kernels::add_scalar(counter.cpu, 1.0f);
  kernels::add_scalar(counter.gpu, 1.0f);
  require_pair("add_scalar", counter, elementwise);
}

namespace {

template <PixelNormForm Form>
void check_pixel_norm(Generator& g, const Shape& s) {
  INFO((Form == PixelNormForm::paper ? "paper" : "official") << " form, shape " << s);
  const auto x = normal_pair(g, s), dy = normal_pair(g, s);
  auto y = output_pair(s), dx = normal_pair(g, s);
  kernels::pixel_norm_forward<Form>(x.cpu, 1e-8, y.cpu);
  kernels::pixel_norm_forward<Form>(x.gpu, 1e-8, y.gpu);
  require_pair("pixel_norm_forward", y, reduction);
  kernels::pixel_norm_backward<Form>(x.cpu, dy.cpu, 1e-8, dx.cpu);
  kernels::pixel_norm_backward<Form>(x.gpu, dy.gpu, 1e-8, dx.gpu);
  require_pair("pixel_norm_backward", dx, reduction);
}

}  // namespace

TEST_CASE("CUDA pixel norm, both forms, matches the CPU", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(16);
  // Feature maps wider and narrower than a warp of positions, a latent vector
  // ([N, C]: one position, the channels across the block), many channels.
  for (const Shape& s : {Shape{3, 7, 5, 9}, Shape{5, 19}, Shape{2, 513, 4, 4}, Shape{3, 11, 33, 35}, Shape{4, 600}}) {
    check_pixel_norm<PixelNormForm::paper>(g, s);
    check_pixel_norm<PixelNormForm::official>(g, s);
  }
}

TEST_CASE("CUDA minibatch stddev forward, backward and second order match the CPU", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(17);
  struct Case {
    Shape input;
    index_t group;
  };
  // {6, 3, 33, 65}: 6435 features per group, summed over several blocks; group = N
  // (one group) and group 1 (zero variance, s = √ε) are the extremes.
  for (const Case& c : {Case{{8, 5, 7, 9}, 4}, Case{{6, 3, 33, 65}, 3}, Case{{5, 2, 3, 3}, 5}, Case{{1, 3, 5, 5}, 1}}) {
    const Shape& s = c.input;
    INFO("shape " << s << ", group " << c.group);
    const Shape out{s.n(), s.c() + 1, s.h(), s.w()};
    const auto x = normal_pair(g, s), dy = normal_pair(g, out), w = normal_pair(g, s);
    auto y = output_pair(out), dx = normal_pair(g, s), dx2 = normal_pair(g, s), dgy = normal_pair(g, out);
    kernels::minibatch_stddev_forward(x.cpu, c.group, 1e-8, y.cpu);
    kernels::minibatch_stddev_forward(x.gpu, c.group, 1e-8, y.gpu);
    require_pair("minibatch_stddev_forward", y, reduction);
    kernels::minibatch_stddev_backward(x.cpu, dy.cpu, c.group, 1e-8, dx.cpu);
    kernels::minibatch_stddev_backward(x.gpu, dy.gpu, c.group, 1e-8, dx.gpu);
    require_pair("minibatch_stddev_backward", dx, reduction);
    kernels::minibatch_stddev_second(x.cpu, dy.cpu, w.cpu, c.group, 1e-8, dx2.cpu, dgy.cpu);
    kernels::minibatch_stddev_second(x.gpu, dy.gpu, w.gpu, c.group, 1e-8, dx2.gpu, dgy.gpu);
    require_pair("minibatch_stddev_second dx", dx2, reduction);
    require_pair("minibatch_stddev_second dgy", dgy, reduction);
  }
}

TEST_CASE("CUDA spectral norm power iteration, sigma and backward match the CPU", "[gpu][norm]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(18);
  // A conv weight (67 rows: two chunks of Wᵀu), a wide one (rows of 9000 over
  // several blocks), a tall one (130 rows: three chunks).
  for (const Shape& s : {Shape{67, 5, 3, 3}, Shape{7, 9000}, Shape{130, 3}}) {
    INFO("weight " << s);
    const index_t rows = s[0], cols = s.numel() / rows;
    const auto weight = normal_pair(g, s), u = normal_pair(g, Shape{rows});
    auto u_out = output_pair(Shape{rows}), v_out = output_pair(Shape{cols});
    kernels::spectral_power_iteration(weight.cpu, u.cpu, 1e-12f, u_out.cpu, v_out.cpu);
    kernels::spectral_power_iteration(weight.gpu, u.gpu, 1e-12f, u_out.gpu, v_out.gpu);
    require_pair("power iteration v", v_out, reduction);
    require_pair("power iteration u", u_out, reduction);

    // σ from the same vectors on both sides.
    const auto u_gpu = to_device(u_out.cpu), v_gpu = to_device(v_out.cpu);
    const double sigma = kernels::spectral_sigma(weight.cpu, u_out.cpu, v_out.cpu);
    require_parity("spectral_sigma", sigma, kernels::spectral_sigma(weight.gpu, u_gpu, v_gpu), reduction);

    const auto grad_normalized = normal_pair(g, s), normalized = normal_pair(g, s);
    auto grad_weight = normal_pair(g, s);
    kernels::spectral_norm_backward(grad_normalized.cpu, normalized.cpu, u_out.cpu, v_out.cpu, 1.7,
                                    grad_weight.cpu);
    kernels::spectral_norm_backward(grad_normalized.gpu, normalized.gpu, u_gpu, v_gpu, 1.7, grad_weight.gpu);
    require_pair("spectral_norm_backward", grad_weight, reduction);
  }
}

TEST_CASE("CUDA hinge_sum matches the CPU, kinks included", "[gpu][loss]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(19);
  for (const Shape& s : {Shape{3, 1, 33, 35}, Shape{5, 1, 300, 301}})
    for (const float sign : {-1.0f, 1.0f}) {
      INFO("shape " << s << ", s = " << sign);
      auto d = g.normal<float>(s);
      // Exact kinks (1 + s·d = 0) of both signs: the half gradient.
      for (index_t i = 0; i < d.numel(); i += 97) d[i] = (i / 97) % 2 == 0 ? 1.0f : -1.0f;
      const auto dd = to_device(d);
      auto grad = normal_pair(g, s);
      const double cpu_sum = kernels::hinge_sum(d, sign, 0.37f, grad.cpu);
      const double gpu_sum = kernels::hinge_sum(dd, sign, 0.37f, grad.gpu);
      require_parity("hinge_sum value", cpu_sum, gpu_sum, reduction);
      require_pair("hinge_sum gradient", grad, elementwise);
    }
}

TEST_CASE("CUDA per-sample lerp and its backward match the CPU", "[gpu][loss]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(20);
  for (const Shape& s : {Shape{5, 3, 67, 71}, Shape{7, 13}}) {
    INFO("shape " << s);
    const auto a = normal_pair(g, s), b = normal_pair(g, s), dout = normal_pair(g, s);
    const auto alpha = uniform_pair(g, Shape{s.n()}, 0.0f, 1.0f);
    auto out = output_pair(s), da = normal_pair(g, s), db = normal_pair(g, s), da_only = normal_pair(g, s);
    kernels::per_sample_lerp(a.cpu, b.cpu, alpha.cpu, out.cpu);
    kernels::per_sample_lerp(a.gpu, b.gpu, alpha.gpu, out.gpu);
    require_pair("per_sample_lerp", out, elementwise);
    kernels::per_sample_lerp_backward(dout.cpu, alpha.cpu, da.cpu, db.cpu);
    kernels::per_sample_lerp_backward(dout.gpu, alpha.gpu, da.gpu, db.gpu);
    require_pair("per_sample_lerp_backward da", da, elementwise);
    require_pair("per_sample_lerp_backward db", db, elementwise);
    // An empty destination is not wanted.
    Tensor<float> no_cpu;
    Tensor<float, cuda> no_gpu;
    kernels::per_sample_lerp_backward(dout.cpu, alpha.cpu, da_only.cpu, no_cpu);
    kernels::per_sample_lerp_backward(dout.gpu, alpha.gpu, da_only.gpu, no_gpu);
    require_pair("per_sample_lerp_backward da only", da_only, elementwise);
  }
}

TEST_CASE("CUDA per-sample squared norms and per-sample axpy match the CPU", "[gpu][loss]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(21);
  // {5, 3, 67, 71}: 14271 elements per sample, over several blocks.
  for (const Shape& s : {Shape{5, 3, 67, 71}, Shape{7, 13}}) {
    INFO("shape " << s);
    const auto x = normal_pair(g, s);
    const std::vector<double> cpu_norms = kernels::per_sample_squared_norms(x.cpu);
    const std::vector<double> gpu_norms = kernels::per_sample_squared_norms(x.gpu);
    REQUIRE(gpu_norms.size() == static_cast<std::size_t>(s.n()));
    for (std::size_t i = 0; i < cpu_norms.size(); ++i)
      require_parity("squared norm of sample " + std::to_string(i), cpu_norms[i], gpu_norms[i], reduction);

    std::vector<double> c(static_cast<std::size_t>(s.n()));
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = 0.75 - 0.3 * static_cast<double>(i);
    auto y = normal_pair(g, s);
    kernels::per_sample_axpy(std::span<const double>(c), x.cpu, y.cpu);
    kernels::per_sample_axpy(std::span<const double>(c), x.gpu, y.gpu);
    require_pair("per_sample_axpy", y, elementwise);
  }
}

TEST_CASE("CUDA adam_update matches the CPU over several steps", "[gpu][optim]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(22);
  const Shape s{3, 5, 67, 71};
  auto value = normal_pair(g, s);
  Pair<float> m{zeros<float>(s), zeros<float, cuda>(s)}, v{zeros<float>(s), zeros<float, cuda>(s)};
  for (std::int64_t t = 1; t <= 5; ++t) {
    INFO("step " << t);
    const auto grad = normal_pair(g, s);
    const auto scalars = adam_scalars<float>(2e-3, 0.5, 0.999, 1e-8, t);
    kernels::adam_update(value.cpu, grad.cpu, m.cpu, v.cpu, scalars);
    kernels::adam_update(value.gpu, grad.gpu, m.gpu, v.gpu, scalars);
    require_pair("value", value, elementwise);
    require_pair("exp_avg", m, elementwise);
    require_pair("exp_avg_sq", v, elementwise);
  }
}

TEST_CASE("CUDA adam_update_all updates many tensors as per-tensor adam_update does", "[gpu][optim]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(23);
  // Sizes around a block's 4096 elements, an empty tensor, and enough small
  // tensors (300 in all) to need a second launch of 256 slots.
  std::vector<Shape> shapes{Shape{1}, Shape{7}, Shape{4096}, Shape{4097}, Shape{0}, Shape{3, 5, 67, 71}, Shape{13, 11}};
  while (shapes.size() < 300) shapes.push_back(Shape{static_cast<index_t>(shapes.size() % 5 + 1)});
  std::vector<Pair<float>> values, ms, vs;
  for (const Shape& s : shapes) {
    values.push_back(normal_pair(g, s));
    ms.push_back({zeros<float>(s), zeros<float, cuda>(s)});
    vs.push_back({zeros<float>(s), zeros<float, cuda>(s)});
  }
  for (std::int64_t step = 1; step <= 4; ++step) {
    std::vector<Pair<float>> grads;
    std::vector<kernels::AdamTensors<float>> all;
    for (const Shape& s : shapes) grads.push_back(normal_pair(g, s));
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      // Per-tensor scalars: learning rates and step counts differ between tensors.
      const auto scalars = adam_scalars<float>(1e-3 * static_cast<double>(1 + k % 3), 0.9, 0.99, 1e-8,
                                               step + static_cast<std::int64_t>(k % 2));
      kernels::adam_update(values[k].cpu, grads[k].cpu, ms[k].cpu, vs[k].cpu, scalars);
      all.push_back({&values[k].gpu, &grads[k].gpu, &ms[k].gpu, &vs[k].gpu, scalars});
    }
    kernels::adam_update_all(std::span<const kernels::AdamTensors<float>>(all));
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      INFO("step " << step << ", tensor " << k << " " << shapes[k]);
      require_pair("value", values[k], elementwise);
      require_pair("exp_avg", ms[k], elementwise);
      require_pair("exp_avg_sq", vs[k], elementwise);
    }
  }
}

TEST_CASE("Adam on the GPU steps as Adam on the CPU, over groups with their own options", "[gpu][optim]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(25);
  const std::vector<Shape> shapes{Shape{5, 3, 3, 3}, Shape{5}, Shape{4099}, Shape{7, 11}};
  std::vector<Parameter<float>> host;
  std::vector<Parameter<float, cuda>> device;
  for (const Shape& s : shapes) {
    host.emplace_back(s);
    device.emplace_back(s);
    host.back().value = g.normal<float>(s);
    kernels::copy(to_device(host.back().value), device.back().value);
  }
  Adam<float> cpu_adam;
  Adam<float, cuda> gpu_adam;
  const AdamOptions fast{2e-3, 0.5, 0.99, 1e-8}, slow{1e-4, 0.9, 0.999, 1e-6};
  for (const AdamOptions& o : {fast, slow}) {
    cpu_adam.add_group(o);
    gpu_adam.add_group(o);
  }
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    // Built with append, not "p" + to_string(k): GCC 12 warns -Wrestrict on that
    // operator+ (a known false positive, GCC bug 105329).
    std::string name = "p";
    name += std::to_string(k);
    cpu_adam.add_parameter(k % 2, name, host[k]);
    gpu_adam.add_parameter(k % 2, name, device[k]);
  }
  for (int step = 1; step <= 3; ++step) {
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      const auto grad = g.normal<float>(shapes[k]);
      kernels::copy(grad, host[k].grad);
      kernels::copy(to_device(grad), device[k].grad);
    }
    cpu_adam.step();
    gpu_adam.step();
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      INFO("step " << step << ", parameter " << k);
      require_parity("value", host[k].value, device[k].value, elementwise);
    }
  }
}

TEST_CASE("CUDA adam_update_all checks every size before updating anything", "[gpu][optim]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(24);
  const auto before = g.normal<float>(Shape{9});
  auto value = to_device(before), grad = zeros<float, cuda>(Shape{9}), m = zeros<float, cuda>(Shape{9}),
       v = zeros<float, cuda>(Shape{9});
  auto bad_value = zeros<float, cuda>(Shape{4}), bad_grad = zeros<float, cuda>(Shape{5});
  const auto scalars = adam_scalars<float>(1e-3, 0.9, 0.999, 1e-8, 1);
  const std::vector<kernels::AdamTensors<float>> all{{&value, &grad, &m, &v, scalars},
                                                     {&bad_value, &bad_grad, &m, &v, scalars}};
  Tensor<float> cpu_value(Shape{4}), cpu_grad(Shape{5}), cpu_m(Shape{9}), cpu_v(Shape{9});
  require_same_shape_error(
      "adam_update_all", [&] { kernels::adam_update(cpu_value, cpu_grad, cpu_m, cpu_v, scalars); },
      [&] { kernels::adam_update_all(std::span<const kernels::AdamTensors<float>>(all)); });
  require_parity("untouched value", before, value, 0.0);
}

TEST_CASE("CUDA normalisation, loss and optimizer kernels refuse bad shapes as the CPU does", "[gpu][norm][loss]") {
  REQUIRE_GPU_OR_SKIP();
  const Shape s{2, 3, 4, 5};
  const auto h = [](const Shape& shape) { return zeros<float>(shape); };
  const auto d = [](const Shape& shape) { return zeros<float, cuda>(shape); };
  auto x = h(s), y = h(s), w = h(s), dx = h(s), dgy = h(s), wrong = h(Shape{4});
  auto gx = d(s), gy = d(s), gw = d(s), gdx = d(s), gdgy = d(s), gwrong = d(Shape{4});
  const auto channel = kernels::NormalizeOver::channel;

  require_same_shape_error(
      "normalize_forward", [&] { kernels::normalize_forward(x, channel, wrong, wrong, y); },
      [&] { kernels::normalize_forward(gx, channel, gwrong, gwrong, gy); });
  require_same_shape_error(
      "normalize_backward", [&] { kernels::normalize_backward(y, x, channel, wrong, dx); },
      [&] { kernels::normalize_backward(gy, gx, channel, gwrong, gdx); });
  require_same_shape_error(
      "normalize_second", [&] { kernels::normalize_second(y, x, w, channel, wrong, dx, dgy); },
      [&] { kernels::normalize_second(gy, gx, gw, channel, gwrong, gdx, gdgy); });
  require_same_shape_error(
      "normalize_fixed_backward", [&] { kernels::normalize_fixed_backward(x, channel, wrong, dx); },
      [&] { kernels::normalize_fixed_backward(gx, channel, gwrong, gdx); });
  require_same_shape_error(
      "running_average", [&] { kernels::running_average(x, 0.1f, 1.0f, wrong); },
      [&] { kernels::running_average(gx, 0.1f, 1.0f, gwrong); });
  // The CPU moments do not check (a short output is undefined behaviour there);
  // on the device they refuse rather than write past the end.
  REQUIRE_THROWS_AS(kernels::channel_moments(gx, gwrong, gwrong), shape_error);
  REQUIRE_THROWS_AS(kernels::instance_moments(gx, gwrong, gwrong), shape_error);

  auto weight = h(Shape{6, 10}), u = h(Shape{6}), v = h(Shape{10}), u_out = h(Shape{6}), short_v = h(Shape{9});
  auto gweight = d(Shape{6, 10}), gu = d(Shape{6}), gv = d(Shape{10}), gu_out = d(Shape{6}), gshort_v = d(Shape{9});
  require_same_shape_error(
      "spectral_power_iteration", [&] { kernels::spectral_power_iteration(weight, wrong, 1e-12f, u_out, v); },
      [&] { kernels::spectral_power_iteration(gweight, gwrong, 1e-12f, gu_out, gv); });
  require_same_shape_error(
      "spectral_sigma", [&] { (void)kernels::spectral_sigma(weight, u, short_v); },
      [&] { (void)kernels::spectral_sigma(gweight, gu, gshort_v); });
  require_same_shape_error(
      "spectral_norm_backward", [&] { kernels::spectral_norm_backward(wrong, weight, u, v, 1.0, weight); },
      [&] { kernels::spectral_norm_backward(gwrong, gweight, gu, gv, 1.0, gweight); });

  require_same_shape_error(
      "hinge_sum", [&] { (void)kernels::hinge_sum(x, -1.0f, 1.0f, wrong); },
      [&] { (void)kernels::hinge_sum(gx, -1.0f, 1.0f, gwrong); });
  const auto alpha = h(Shape{2}), wrong_alpha = h(Shape{3});
  const auto galpha = d(Shape{2}), gwrong_alpha = d(Shape{3});
  require_same_shape_error(
      "per_sample_lerp sizes", [&] { kernels::per_sample_lerp(x, wrong, alpha, y); },
      [&] { kernels::per_sample_lerp(gx, gwrong, galpha, gy); });
  require_same_shape_error(
      "per_sample_lerp weights", [&] { kernels::per_sample_lerp(x, w, wrong_alpha, y); },
      [&] { kernels::per_sample_lerp(gx, gw, gwrong_alpha, gy); });
  require_same_shape_error(
      "per_sample_lerp_backward", [&] { kernels::per_sample_lerp_backward(x, alpha, wrong, dx); },
      [&] { kernels::per_sample_lerp_backward(gx, galpha, gwrong, gdx); });
  const std::vector<double> three{1.0, 2.0, 3.0}, two{1.0, 2.0};
  require_same_shape_error(
      "per_sample_axpy coefficients", [&] { kernels::per_sample_axpy(std::span<const double>(three), x, y); },
      [&] { kernels::per_sample_axpy(std::span<const double>(three), gx, gy); });
  require_same_shape_error(
      "per_sample_axpy sizes", [&] { kernels::per_sample_axpy(std::span<const double>(two), x, wrong); },
      [&] { kernels::per_sample_axpy(std::span<const double>(two), gx, gwrong); });

  const auto scalars = adam_scalars<float>(1e-3, 0.9, 0.999, 1e-8, 1);
  require_same_shape_error(
      "adam_update", [&] { kernels::adam_update(x, y, w, wrong, scalars); },
      [&] { kernels::adam_update(gx, gy, gw, gwrong, scalars); });
}
