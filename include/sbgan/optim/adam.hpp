#pragma once
// Adam, as torch.optim.Adam (PyTorch 1.13, amsgrad off, weight_decay 0) updates:
// for each parameter, with its own step count t,
//   m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
//   θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
// ε is added after the square root of the bias-corrected second moment, and every
// operation is rounded as PyTorch rounds it (backend/cpu/adam.hpp).
//
// Parameters come in groups, each with its own lr, betas and ε, as PyTorch's
// param_groups: add_group() opens one, add() puts every parameter of a layer (or
// of anything with visit_parameters) into it under the layer's names, optionally
// prefixed ("netG." + "0.weight"). G and D each get their own Adam (TTUR).
//
// The state of each parameter — step count, exp_avg, exp_avg_sq, PyTorch's names —
// is reachable by parameter name, for checkpoints. step() does not clear the
// gradients; zero_grad() does, as in PyTorch.
//
// The optimizer keeps handles to the parameters' storage (tensors are shared
// handles), so layers may be moved after add(); a parameter's value must then be
// replaced by copying into it, not by assigning it a new tensor.
#include <cmath>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/parameter.hpp"

namespace sbgan {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

template <class T, class B = cpu>
struct AdamState {
  std::int64_t step = 0;
  Tensor<T, B> exp_avg;
  Tensor<T, B> exp_avg_sq;
};

namespace detail {
template <class T, class B>
struct parameter_visitor_of {
  void operator()(std::string_view, Parameter<T, B>&) const {}
};
}  // namespace detail

// Anything whose parameters an optimizer can visit: layers, blocks, models.
template <class M, class T, class B>
concept HasParametersOf = requires(M& m) { m.visit_parameters(detail::parameter_visitor_of<T, B>{}); };

template <class T, class B = cpu>
class Adam {
 public:
  explicit Adam(const AdamOptions& defaults = {}) : defaults_(checked(defaults)) {}

  // Opens a parameter group; returns its index.
  std::size_t add_group(const AdamOptions& options) {
    groups_.push_back(checked(options));
    return groups_.size() - 1;
  }

  // Puts every parameter of `layer` into `group`, named prefix + its own name.
  template <HasParametersOf<T, B> M>
  void add(std::size_t group, M& layer, std::string_view prefix = {}) {
    if (group >= groups_.size())
      throw error("Adam: no parameter group " + std::to_string(group) + " (there are " +
                  std::to_string(groups_.size()) + ")");
    layer.visit_parameters([&](std::string_view name, Parameter<T, B>& p) {
      add_parameter(group, std::string(prefix) + std::string(name), p);
    });
  }

  // Puts every parameter of `layer` into a new group with the default options;
  // returns the group's index.
  template <HasParametersOf<T, B> M>
  std::size_t add(M& layer, std::string_view prefix = {}) {
    const std::size_t g = add_group(defaults_);
    add(g, layer, prefix);
    return g;
  }

  // One parameter under a given name, into `group`.
  void add_parameter(std::size_t group, const std::string& name, Parameter<T, B>& p) {
    if (group >= groups_.size()) throw error("Adam: no parameter group " + std::to_string(group));
    for (const auto& e : entries_) {
      if (e.name == name) throw error("Adam: a parameter named '" + name + "' was already added");
      if (e.param.value.shares_storage_with(p.value))
        throw error("Adam: parameter '" + name + "' was already added as '" + e.name + "'");
    }
    if (!(p.grad.shape() == p.value.shape()))
      throw shape_error("Adam", "gradient of '" + name + "'", p.value.shape().str(), p.grad.shape());
    entries_.push_back({name, group, p, {0, zeros<T, B>(p.shape()), zeros<T, B>(p.shape())}});
  }

  // One update of every parameter from its current gradient. On the GPU one fused
  // launch updates every parameter (kernels::adam_update_all, backend/cuda/adam.cuh),
  // with the same arithmetic as adam_update.
  void step() {
#if defined(SBGAN_WITH_CUDA) && defined(__CUDACC__)
    [[maybe_unused]] std::vector<kernels::AdamTensors<T>> fused;
#endif
    for (auto& e : entries_) {
      const AdamOptions& o = groups_[e.group];
      const std::int64_t t = ++e.state.step;
      const double bias_correction1 = 1 - std::pow(o.beta1, static_cast<double>(t));
      const double bias_correction2 = 1 - std::pow(o.beta2, static_cast<double>(t));
      const double step_size = o.lr / bias_correction1;
      const kernels::AdamScalars<T> s{static_cast<T>(o.beta1),
                                      static_cast<T>(1 - o.beta1),
                                      static_cast<T>(o.beta2),
                                      static_cast<T>(1 - o.beta2),
                                      static_cast<T>(std::sqrt(bias_correction2)),
                                      static_cast<T>(o.eps),
                                      static_cast<T>(-step_size)};
#if defined(SBGAN_WITH_CUDA) && defined(__CUDACC__)  // the CUDA kernels exist only in nvcc units
      if constexpr (std::same_as<B, cuda>) {
        fused.push_back({&e.param.value, &e.param.grad, &e.state.exp_avg, &e.state.exp_avg_sq, s});
        continue;
      }
#endif
      kernels::adam_update(e.param.value, e.param.grad, e.state.exp_avg, e.state.exp_avg_sq, s);
    }
#if defined(SBGAN_WITH_CUDA) && defined(__CUDACC__)
    if constexpr (std::same_as<B, cuda>) kernels::adam_update_all(std::span<const kernels::AdamTensors<T>>(fused));
#endif
  }

  void zero_grad() {
    for (auto& e : entries_) e.param.zero_grad();
  }

  // Groups: their options may be changed between steps (a learning-rate schedule).
  [[nodiscard]] std::size_t group_count() const { return groups_.size(); }
  AdamOptions& group(std::size_t i) { return groups_.at(i); }
  [[nodiscard]] const AdamOptions& group(std::size_t i) const { return groups_.at(i); }
  // Sets the learning rate of every group, as the reference's schedules do.
  void set_lr(double lr) {
    for (auto& g : groups_) g.lr = lr;
  }

  // State by parameter name, for checkpoints.
  [[nodiscard]] std::size_t parameter_count() const { return entries_.size(); }
  [[nodiscard]] std::vector<std::string> parameter_names() const {
    std::vector<std::string> names;
    for (const auto& e : entries_) names.push_back(e.name);
    return names;
  }
  AdamState<T, B>& state(std::string_view name) { return find(name).state; }
  [[nodiscard]] const AdamState<T, B>& state(std::string_view name) const {
    return const_cast<Adam*>(this)->find(name).state;
  }
  // f(name, AdamState&) for every parameter, in the order they were added.
  template <class F>
  void visit_state(F&& f) {
    for (auto& e : entries_) f(std::string_view(e.name), e.state);
  }

 private:
  struct Entry {
    std::string name;
    std::size_t group;
    Parameter<T, B> param;  // shares storage with the layer's parameter
    AdamState<T, B> state;
  };

  static AdamOptions checked(const AdamOptions& o) {
    if (!(o.lr >= 0)) throw error("Adam: invalid learning rate " + std::to_string(o.lr));
    if (!(o.eps >= 0)) throw error("Adam: invalid epsilon " + std::to_string(o.eps));
    if (!(o.beta1 >= 0 && o.beta1 < 1)) throw error("Adam: invalid beta1 " + std::to_string(o.beta1));
    if (!(o.beta2 >= 0 && o.beta2 < 1)) throw error("Adam: invalid beta2 " + std::to_string(o.beta2));
    return o;
  }

  Entry& find(std::string_view name) {
    for (auto& e : entries_)
      if (e.name == name) return e;
    throw error("Adam: no parameter named '" + std::string(name) + "'");
  }

  AdamOptions defaults_;
  std::vector<AdamOptions> groups_;
  std::vector<Entry> entries_;
};

}  // namespace sbgan
