#pragma once
// The R1 penalty (Mescheder et al. 2018) on real data:
//   R1 = γ/2 · mean_n ‖∇ₓD(realₙ)‖²,  the norm over all C·H·W entries of a sample
// with its exact gradient with respect to the critic's parameters, through the
// second-order pass, as torch.autograd.grad(D(real).sum(), real,
// create_graph=True) gives it. The squared norm is smooth, so no special case is
// needed at zero.
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/losses/input_gradient_penalty.hpp"
#include "sbgan/losses/loss_result.hpp"

namespace sbgan {

struct R1Options {
  double gamma = 10;            // γ
  bool input_gradient = false;  // also return ∂R1/∂real
};

template <SecondOrderLayer Critic>
class R1Penalty {
 public:
  using T = typename Critic::value_type;
  using B = typename Critic::backend;
  using tensor = Tensor<T, B>;

  R1Penalty() = default;
  explicit R1Penalty(const R1Options& options) : options_(options) {
    if (!(options.gamma >= 0)) throw error(describe() + ": gamma must be non-negative");
  }

  [[nodiscard]] const R1Options& options() const { return options_; }

  // Returns the penalty and adds its gradient into the critic's parameter grads
  // (unless grads is skip).
  PenaltyResult<T, B> apply(Critic& critic, const tensor& real, ParamGrads grads = ParamGrads::accumulate) const {
    expect_penalty_batch(describe(), "real", real.shape());
    const double gamma = options_.gamma;
    auto pass = penalise_input_gradient(
        critic, real,
        [gamma](const std::vector<double>& squared) {
          NormPenalty p;
          const double n = static_cast<double>(squared.size());
          for (double sq : squared) {
            p.value += gamma / 2 * sq / n;
            p.coefficients.push_back(gamma / n);  // ∂/∂gₙ of γ/(2N)·‖gₙ‖²
          }
          return p;
        },
        grads, options_.input_gradient);
    PenaltyResult<T, B> out;
    out.value = pass.value;
    out.gradient_norms = std::move(pass.gradient_norms);
    if (options_.input_gradient) out.grad_real = pass.grad_input;
    return out;
  }

  [[nodiscard]] std::string describe() const {
    std::ostringstream s;
    s << "R1Penalty(gamma " << options_.gamma << ")";
    return s.str();
  }

 private:
  R1Options options_;
};

}  // namespace sbgan
