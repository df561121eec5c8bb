// Adam and the learning-rate schedule: against torch.optim.Adam and SPADE's
// update_learning_rate (tools/golden/adam.py), plus the optimizer's contracts:
// groups, state by name (checkpoints), zero_grad, refusals.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <sbgan/optim/adam.hpp>
#include <sbgan/optim/schedule.hpp>
#include <sbgan/testing/tolerances.hpp>
#include <string>
#include <vector>

#include "support/golden.hpp"

using namespace sbgan;

namespace {

const AdamOptions linear_group{1e-2, 0.0, 0.99, 1e-8};
const AdamOptions conv_group{3e-3, 0.5, 0.9, 1e-6};
constexpr int steps = 10;

// Row k of a [rows, numel] golden array, shaped like `like`.
template <class T>
Tensor<double> row(const Tensor<double>& table, index_t k, const Shape& like) {
  Tensor<double> out(like);
  const index_t n = like.numel();
  for (index_t i = 0; i < n; ++i) out[i] = table[k * n + i];
  return out;
}

// The two layers of the golden case, their parameters loaded, in two groups.
template <class T>
struct TwoGroups {
  Generator init{0};
  Linear<T> linear{LinearOptions{5, 3}, init};
  Conv2d<T> conv{Conv2dOptions{2, 3, 3, 1, 0}, init};
  Adam<T> adam;
  std::map<std::string, Parameter<T>*> params;

  TwoGroups() {
    const std::string c = "adam_two_groups";
    adam.add(adam.add_group(linear_group), linear, "linear.");
    adam.add(adam.add_group(conv_group), conv, "conv.");
    const auto load = [&](const std::string& prefix) {
      return [&, prefix](std::string_view name, Parameter<T>& p) {
        const std::string full = prefix + std::string(name);
        golden::assign(p.value, golden::load<T>(c, "param_" + full));
        params[full] = &p;
      };
    };
    linear.visit_parameters(load("linear."));
    conv.visit_parameters(load("conv."));
  }

  // The golden gradient of step k (1-based): g = a ⊙ θ + b_k, the product rounded
  // before the sum as PyTorch rounds it (two kernels, so that no compiler contracts
  // them into a fused multiply-add).
  void set_gradients(int k) {
    const std::string c = "adam_two_groups";
    for (auto& [name, p] : params) {
      const auto a = golden::load<T>(c, "a_" + name);
      const auto b = golden::load<T>(c, "b_" + name);
      const index_t n = p->value.numel();
      Tensor<T> b_k(p->shape());
      for (index_t i = 0; i < n; ++i) b_k[i] = b[(k - 1) * n + i];
      kernels::multiply(p->value, a, p->grad);
      kernels::axpy(T(1), b_k, p->grad);
    }
  }
};

}  // namespace

TEMPLATE_TEST_CASE("Adam matches torch.optim.Adam over 10 steps with two parameter groups", "[optim][adam][golden]",
                   float, double) {
  using T = TestType;
  const std::string c = "adam_two_groups";
  const std::string precision = std::is_same_v<T, float> ? "f32_" : "f64_";
  // The same operations in the same order as PyTorch's CPU kernels, fused moment
  // updates included: bit-identical to this golden data in float and in double.
  const double tol = std::is_same_v<T, float> ? tolerance::adam_float : tolerance::golden_double;
  TwoGroups<T> run;
  REQUIRE(run.adam.parameter_count() == 4);
  REQUIRE(run.adam.group_count() == 2);
  double worst = 0;
  for (int k = 1; k <= steps; ++k) {
    run.set_gradients(k);
    run.adam.step();
    for (auto& [name, p] : run.params) {
      const auto expected = row<T>(golden::load<double>(c, precision + "param_" + name), k - 1, p->shape());
      const double err = golden::relative_error(p->value, expected);
      worst = std::max(worst, err);
      INFO("step " << k << " " << name << ": relative error " << err);
      CHECK(err <= tol);
    }
  }
  INFO("worst relative error of the parameters over 10 steps: " << worst);
  CHECK(worst <= tol);
  for (auto& [name, p] : run.params) {
    const auto& state = run.adam.state(name);
    CHECK(state.step == steps);
    CHECK(golden::relative_error(state.exp_avg, golden::load<double>(c, precision + "exp_avg_" + name)) <= tol);
    CHECK(golden::relative_error(state.exp_avg_sq, golden::load<double>(c, precision + "exp_avg_sq_" + name)) <= tol);
  }
}

TEST_CASE("Adam's update is PyTorch's formula: eps after the root of the corrected second moment", "[optim][adam]") {
  // One parameter, one step by hand: with β₁ = 0.9, β₂ = 0.999 the first step is
  // θ − lr·g/(|g| + ε) whatever g; a large ε shows where ε enters.
  Parameter<double> p(Shape{3});
  p.value[0] = 1, p.value[1] = -2, p.value[2] = 0.5;
  p.grad[0] = 4e-6, p.grad[1] = -1, p.grad[2] = 0;
  Adam<double> adam(AdamOptions{0.1, 0.9, 0.999, 1e-5});
  adam.add_parameter(adam.add_group(AdamOptions{0.1, 0.9, 0.999, 1e-5}), "p", p);
  adam.step();
  // m̂ = g, v̂ = g² after one step.
  CHECK(p.value[0] == Approx(1 - 0.1 * 4e-6 / (4e-6 + 1e-5)).epsilon(1e-14));
  CHECK(p.value[1] == Approx(-2 + 0.1 * 1 / (1 + 1e-5)).epsilon(1e-14));
  CHECK(p.value[2] == 0.5);
  // The second step: m = 0.9·0.1·g₁ + 0.1·g₂ ... against the closed form.
  p.grad[0] = 1e-3, p.grad[1] = 2, p.grad[2] = -3;
  const double g1[3] = {4e-6, -1, 0}, g2[3] = {1e-3, 2, -3};
  double before[3];
  for (int i = 0; i < 3; ++i) before[i] = p.value[i];
  adam.step();
  for (int i = 0; i < 3; ++i) {
    const double m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i], v = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
    const double expected = before[i] - 0.1 / (1 - 0.81) * m / (std::sqrt(v) / std::sqrt(1 - 0.999 * 0.999) + 1e-5);
    CHECK(p.value[i] == Approx(expected).epsilon(1e-13));
  }
  CHECK(adam.state("p").step == 2);
}

TEST_CASE("Adam's state, saved and restored by name, continues a run bit for bit", "[optim][adam][checkpoint]") {
  TwoGroups<double> a;
  for (int k = 1; k <= 5; ++k) {
    a.set_gradients(k);
    a.adam.step();
  }
  // "Checkpoint": parameter values and the optimizer state, by name.
  std::map<std::string, Tensor<double>> values;
  std::map<std::string, AdamState<double>> states;
  for (auto& [name, p] : a.params) values[name] = clone(p->value);
  a.adam.visit_state([&](std::string_view name, AdamState<double>& s) {
    states[std::string(name)] = {s.step, clone(s.exp_avg), clone(s.exp_avg_sq)};
  });
  CHECK(states.size() == 4);
  CHECK(a.adam.parameter_names() == std::vector<std::string>{"linear.weight", "linear.bias", "conv.weight", "conv.bias"});

  // "Resume" into fresh layers and a fresh optimizer.
  TwoGroups<double> b;
  for (auto& [name, p] : b.params) kernels::copy(values[name], p->value);
  for (const auto& [name, s] : states) {
    auto& dst = b.adam.state(name);
    dst.step = s.step;
    kernels::copy(s.exp_avg, dst.exp_avg);
    kernels::copy(s.exp_avg_sq, dst.exp_avg_sq);
  }
  for (int k = 6; k <= steps; ++k) {
    a.set_gradients(k);
    a.adam.step();
    b.set_gradients(k);
    b.adam.step();
  }
  for (auto& [name, p] : a.params)
    for (index_t i = 0; i < p->value.numel(); ++i) REQUIRE(p->value[i] == b.params[name]->value[i]);
}

TEST_CASE("Adam: separate optimizers for G and D, zero_grad, moved layers", "[optim][adam]") {
  Generator g(4);
  Linear<double> gen_layer({3, 2}, g), dis_layer({2, 1}, g);
  Adam<double> opt_g(AdamOptions{1e-4, 0.0, 0.9}), opt_d(AdamOptions{4e-4, 0.0, 0.9});
  opt_g.add(gen_layer, "netG.");
  opt_d.add(dis_layer, "netD.");
  CHECK(opt_g.group(0).lr == 1e-4);
  CHECK(opt_d.group(0).lr == 4e-4);
  gen_layer.visit_parameters([&](std::string_view, Parameter<double>& p) { g.normal(p.grad); });
  dis_layer.visit_parameters([&](std::string_view, Parameter<double>& p) { g.normal(p.grad); });
  const auto d_before = clone(dis_layer.weight().value), g_before = clone(gen_layer.weight().value);
  const auto d_grad = clone(dis_layer.weight().grad);
  opt_g.step();
  // D's parameters, and their gradients, are D's optimizer's business.
  for (index_t i = 0; i < d_before.numel(); ++i) CHECK(dis_layer.weight().value[i] == d_before[i]);
  CHECK(gen_layer.weight().value[0] != g_before[0]);
  // step() keeps the gradients; zero_grad() clears them.
  CHECK(kernels::dot(gen_layer.weight().grad, gen_layer.weight().grad) > 0);
  opt_g.zero_grad();
  CHECK(kernels::dot(gen_layer.weight().grad, gen_layer.weight().grad) == 0);
  for (index_t i = 0; i < d_grad.numel(); ++i) CHECK(dis_layer.weight().grad[i] == d_grad[i]);

  // The optimizer holds handles to the parameters' storage: moving the layer keeps them.
  Linear<double> moved = std::move(dis_layer);
  const auto m_before = clone(moved.weight().value);
  opt_d.step();
  CHECK(moved.weight().value[0] != m_before[0]);
}

TEST_CASE("Adam refuses bad options, unknown names and parameters added twice", "[optim][adam][errors]") {
  Generator g(5);
  Linear<double> layer({2, 2}, g);
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{-1e-3}), Catch::Contains("learning rate"));
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{1e-3, 1.0}), Catch::Contains("beta1"));
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{1e-3, 0.9, -0.1}), Catch::Contains("beta2"));
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{1e-3, 0.9, 0.999, -1}), Catch::Contains("epsilon"));
  Adam<double> adam;
  adam.add(layer);
  CHECK_THROWS_WITH(adam.add(layer), Catch::Contains("already added"));
  CHECK_THROWS_WITH(adam.add(layer, "again."), Catch::Contains("already added as 'weight'"));
  CHECK_THROWS_WITH(adam.add(7, layer), Catch::Contains("no parameter group 7"));
  CHECK_THROWS_WITH(adam.state("nothing"), Catch::Contains("no parameter named 'nothing'"));
  CHECK(adam.parameter_count() == 2);
}

TEST_CASE("the schedule reproduces SPADE's update_learning_rate exactly", "[optim][schedule][golden]") {
  for (const std::string c : {"adam_schedule_spade", "adam_schedule_end2end"}) {
    const auto epochs = golden::load<double>(c, "epoch"), base = golden::load<double>(c, "base");
    const auto g = golden::load<double>(c, "g"), d = golden::load<double>(c, "d");
    const auto changed = golden::load<double>(c, "changed");
    LinearDecaySchedule schedule(LinearDecayOptions{2e-4, 3, 4, true});
    CHECK(schedule.generator_lr() == 1e-4);
    CHECK(schedule.discriminator_lr() == 4e-4);
    for (index_t i = 0; i < epochs.numel(); ++i) {
      INFO(c << " epoch " << epochs[i]);
      CHECK(schedule.end_epoch(static_cast<int>(epochs[i])) == (changed[i] == 1.0));
      // The same subtractions in the same order: equal to the last bit.
      CHECK(schedule.base_lr() == base[i]);
      CHECK(schedule.generator_lr() == g[i]);
      CHECK(schedule.discriminator_lr() == d[i]);
    }
  }
  // SPADE counts epochs from 1: its last call brings the base to 0 up to rounding.
  LinearDecaySchedule spade(LinearDecayOptions{2e-4, 3, 4, true});
  for (int e = 1; e <= 7; ++e) spade.end_epoch(e);
  CHECK(std::abs(spade.base_lr()) < 1e-18);
  CHECK_THROWS_WITH(spade.end_epoch(8), Catch::Contains("past the schedule"));
}

TEST_CASE("the schedule sets G's and D's rates on a change only", "[optim][schedule]") {
  Generator init(6);
  Linear<double> gen_layer({2, 2}, init), dis_layer({2, 1}, init), d2_layer({2, 1}, init);
  LinearDecaySchedule schedule(LinearDecayOptions{2e-4, 1, 2, true});
  Adam<double> opt_g(AdamOptions{schedule.generator_lr(), 0, 0.9}), opt_d(AdamOptions{schedule.discriminator_lr(), 0, 0.9});
  Adam<double> opt_d2(AdamOptions{2e-4, 0, 0.99});  // SB-GAN's D2 starts at lr, not lr·2
  opt_g.add(gen_layer);
  opt_d.add(dis_layer);
  opt_d2.add(d2_layer);
  // Epoch 0 and 1 (SB-GAN's 0-based count): constant.
  CHECK_FALSE(schedule.apply(0, opt_g, opt_d));
  CHECK_FALSE(schedule.apply(1, opt_g, opt_d));
  CHECK(opt_g.group(0).lr == 1e-4);
  CHECK(opt_d.group(0).lr == 4e-4);
  // Epoch 2: the first decay, base 2e-4 − 1e-4.
  const bool changed = schedule.apply(2, opt_g, opt_d);
  REQUIRE(changed);
  if (changed) opt_d2.set_lr(schedule.discriminator_lr());  // the reference's D2 quirk
  CHECK(schedule.base_lr() == 2e-4 - 2e-4 / 2);
  CHECK(opt_g.group(0).lr == schedule.base_lr() / 2);
  CHECK(opt_d.group(0).lr == schedule.base_lr() * 2);
  CHECK(opt_d2.group(0).lr == schedule.base_lr() * 2);

  LinearDecaySchedule no_ttur(LinearDecayOptions{2e-4, 0, 2, false});
  CHECK(no_ttur.generator_lr() == 2e-4);
  CHECK(no_ttur.discriminator_lr() == 2e-4);
  CHECK(no_ttur.end_epoch(1));
  CHECK(no_ttur.generator_lr() == no_ttur.discriminator_lr());
  CHECK_THROWS_AS(LinearDecaySchedule(LinearDecayOptions{2e-4, -1, 2}), error);
}
