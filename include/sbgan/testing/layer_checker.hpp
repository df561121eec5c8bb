#pragma once
// check_layer: verifies any layer against central differences in double.
//
// For one input shape and seed it checks
//  - forward writes every output element (allocations are NaN-poisoned) and
//    leaves its input untouched;
//  - backward adds Jₓᵀ·dy into a dx that already holds values, and adds J_θᵀ·dy
//    into parameter grads that already hold values (the accumulate contract),
//    every entry against a central difference of ⟨f(x), dy⟩;
//  - ParamGrads::skip leaves parameter grads bit-for-bit unchanged;
//  - for a SecondOrderLayer, backward_second against central differences of
//    Q = ⟨Jₓᵀ·gy, w⟩ (itself computed by first-order passes) in x, θ and gy,
//    again with the accumulate contract.
// It returns a report rather than asserting, so any test framework can use it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "sbgan/core/generator.hpp"
#include "sbgan/core/poison.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/testing/tolerances.hpp"

namespace sbgan::testing {

struct CheckOptions {
  double step = tolerance::fd_step;
  double relative = tolerance::fd_relative;
  bool second_order = true;  // when the layer supports it
};

struct CheckReport {
  std::vector<std::string> failures;
  long entries_checked = 0;
  [[nodiscard]] bool ok() const { return failures.empty() && entries_checked > 0; }
  [[nodiscard]] std::string summary() const {
    std::ostringstream s;
    s << entries_checked << " entries checked, " << failures.size() << " failures";
    for (std::size_t i = 0; i < failures.size() && i < 12; ++i) s << "\n  " << failures[i];
    return s.str();
  }
};

namespace checker_detail {

using Tensor64 = Tensor<double, cpu>;

struct Named {
  std::string name;
  Parameter<double, cpu>* p;
};

template <class L>
std::vector<Named> parameters_of(L& layer) {
  std::vector<Named> out;
  layer.visit_parameters([&](std::string_view name, Parameter<double, cpu>& p) { out.push_back({std::string(name), &p}); });
  return out;
}

inline void compare(CheckReport& r, const std::string& what, index_t i, double analytic, double numeric,
                    const CheckOptions& o) {
  ++r.entries_checked;
  const double scale = std::max({1.0, std::abs(analytic), std::abs(numeric)});
  if (!(std::abs(analytic - numeric) <= o.relative * scale)) {
    std::ostringstream s;
    s << what << "[" << i << "]: analytic " << analytic << ", central difference " << numeric;
    r.failures.push_back(s.str());
  }
}

// increment = after − before, the part a pass added.
inline Tensor64 increment(const Tensor64& after, const Tensor64& before) {
  Tensor64 d(after.shape());
  for (index_t i = 0; i < d.numel(); ++i) d[i] = after[i] - before[i];
  return d;
}

// Central difference of objective() in every entry of t.
inline void check_entries(CheckReport& r, const std::string& what, Tensor64& t, const Tensor64& analytic,
                          const std::function<double()>& objective, const CheckOptions& o) {
  for (index_t i = 0; i < t.numel(); ++i) {
    const double saved = t[i];
    t[i] = saved + o.step;
    const double plus = objective();
    t[i] = saved - o.step;
    const double minus = objective();
    t[i] = saved;
    compare(r, what, i, analytic[i], (plus - minus) / (2 * o.step), o);
  }
}

}  // namespace checker_detail

template <Layer L>
  requires std::same_as<typename L::value_type, double> && std::same_as<typename L::backend, cpu>
CheckReport check_layer(L& layer, const Shape& input_shape, std::uint64_t seed, const CheckOptions& o = {}) {
  using namespace checker_detail;
  CheckReport r;
  Generator gen(seed, 0x636865636bULL);
  Tensor64 x = gen.normal<double>(input_shape);
  const Tensor64 x_before = clone(x);
  auto params = parameters_of(layer);

  typename L::context ctx;
  {
    poison_scope poison;
    ctx = layer.forward(x);
  }
  if (!kernels::all_finite(ctx.output)) r.failures.push_back("forward left output elements unwritten (NaN)");
  for (index_t i = 0; i < x.numel(); ++i)
    if (x[i] != x_before[i]) {
      r.failures.push_back("forward modified its input");
      break;
    }
  const Tensor64 dy = gen.normal<double>(ctx.output.shape());

  // First order, with gradients that already hold values.
  Tensor64 dx = gen.normal<double>(input_shape);
  const Tensor64 dx_before = clone(dx);
  std::vector<Tensor64> grads_before;
  for (auto& p : params) {
    gen.normal(p.p->grad);
    grads_before.push_back(clone(p.p->grad));
  }
  {
    poison_scope poison;
    layer.backward(ctx, dy, dx, ParamGrads::accumulate);
  }
  const auto loss = [&] { return kernels::dot(layer.forward(x).output, dy); };
  check_entries(r, "d/dx", x, increment(dx, dx_before), loss, o);
  for (std::size_t k = 0; k < params.size(); ++k)
    check_entries(r, "d/d" + params[k].name, params[k].p->value, increment(params[k].p->grad, grads_before[k]), loss, o);

  // ParamGrads::skip leaves parameter grads alone.
  {
    for (std::size_t k = 0; k < params.size(); ++k) grads_before[k] = clone(params[k].p->grad);
    Tensor64 dx_skip = zeros<double>(input_shape);
    layer.backward(ctx, dy, dx_skip, ParamGrads::skip);
    for (std::size_t k = 0; k < params.size(); ++k)
      for (index_t i = 0; i < params[k].p->grad.numel(); ++i)
        if (params[k].p->grad[i] != grads_before[k][i]) {
          r.failures.push_back("ParamGrads::skip changed " + params[k].name);
          break;
        }
  }

  if constexpr (SecondOrderLayer<L>) {
    if (o.second_order) {
      Tensor64 gy = gen.normal<double>(ctx.output.shape());
      const Tensor64 w = gen.normal<double>(input_shape);
      // Q = ⟨Jₓᵀ·gy, w⟩ at the current x, θ, gy, from first-order passes only.
      const auto q = [&] {
        auto c = layer.forward(x);
        Tensor64 g = zeros<double>(input_shape);
        layer.backward(c, gy, g, ParamGrads::skip);
        return kernels::dot(g, w);
      };
      auto ctx2 = layer.forward(x);
      Tensor64 sdx = gen.normal<double>(input_shape);
      Tensor64 sdgy = gen.normal<double>(gy.shape());
      const Tensor64 sdx_before = clone(sdx), sdgy_before = clone(sdgy);
      for (std::size_t k = 0; k < params.size(); ++k) {
        gen.normal(params[k].p->grad);
        grads_before[k] = clone(params[k].p->grad);
      }
      {
        poison_scope poison;
        layer.backward_second(ctx2, gy, w, sdx, sdgy, ParamGrads::accumulate);
      }
      check_entries(r, "second order d/dx", x, increment(sdx, sdx_before), q, o);
      check_entries(r, "second order d/dgy", gy, increment(sdgy, sdgy_before), q, o);
      for (std::size_t k = 0; k < params.size(); ++k)
        check_entries(r, "second order d/d" + params[k].name, params[k].p->value,
                      increment(params[k].p->grad, grads_before[k]), q, o);
    }
  }
  return r;
}

}  // namespace sbgan::testing
