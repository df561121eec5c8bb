// The critic losses of stage 1 on the full progressive critic, against PyTorch's
// double backward: the parameter gradients of the whole WGAN-GP critic loss and of
// the WGAN critic loss plus R1, at two resolutions (one of them fading in), with
// minibatch stddev off (official code) and on (ProGAN, group 4), float and double.
#include <catch2/catch.hpp>
#include <map>
#include <sbgan/blocks/progan_critic.hpp>
#include <sbgan/losses/improved_wgan.hpp>
#include <sbgan/losses/r1.hpp>
#include <sbgan/losses/wgan.hpp>
#include <sbgan/testing/tolerances.hpp>

#include "support/golden.hpp"

using namespace sbgan;

namespace {

// The bound for the whole critic loss in float32 on the full critic.
constexpr double critic_loss_float = 1e-4;

template <class T>
double bound() {
  return std::is_same_v<T, float> ? critic_loss_float : tolerance::golden_double;
}

struct Case {
  std::string name;
  index_t active_blocks;
  double alpha;
  index_t minibatch_group;
};

template <class T>
ProgressiveCritic<T> critic_for(const Case& c, std::map<std::string, Parameter<T>*>& params) {
  Generator g(1);
  ProgressiveCritic<T> critic({.classes = 4, .channels = {8, 6, 4}, .base_height = 4, .aspect = 2,
                               .minibatch_group = c.minibatch_group},
                              g);
  critic.set_active_blocks(c.active_blocks);
  critic.set_alpha(static_cast<T>(c.alpha));
  critic.visit_parameters([&](std::string_view name, Parameter<T>& p) {
    golden::assign(p.value, golden::load<T>(c.name, "param_" + std::string(name)));
    p.zero_grad();
    params[std::string(name)] = &p;
  });
  return critic;
}

template <class T>
void expect_gradients(const std::map<std::string, Parameter<T>*>& params, const std::string& test_case,
                      const std::string& prefix) {
  for (const auto& [name, p] : params) {
    const double err = golden::relative_error(p->grad, golden::load<double>(test_case, prefix + name));
    INFO(test_case << " " << prefix << name << ": relative error " << err);
    CHECK(err <= bound<T>());
  }
}

const Case cases[] = {{"pgp_8x16_plain", 2, 1.0, 0},
                      {"pgp_8x16_mbstd", 2, 1.0, 4},
                      {"pgp_16x32_plain_fade", 3, 0.5, 0},
                      {"pgp_16x32_mbstd_fade", 3, 0.5, 4}};

}  // namespace

TEMPLATE_TEST_CASE("WGAN-GP critic loss on the progressive critic matches PyTorch's double backward",
                   "[golden][second-order][progressive]", float, double) {
  using T = TestType;
  for (const auto& c : cases) {
    std::map<std::string, Parameter<T>*> params;
    auto critic = critic_for<T>(c, params);
    const auto real = golden::load<T>(c.name, "real"), fake = golden::load<T>(c.name, "fake");
    ImprovedWganLoss<ProgressiveCritic<T>> loss({.lambda = 10});
    const auto result = loss.discriminator_loss(critic, real, fake, golden::load<T>(c.name, "alpha"));
    const double expected = golden::load<double>(c.name, "gp_loss")[0];
    INFO(c.name);
    CHECK(result.value == Approx(expected).epsilon(bound<T>()));
    expect_gradients<T>(params, c.name, "gp_grad_");
  }
}

TEMPLATE_TEST_CASE("WGAN critic loss plus R1 on the progressive critic matches PyTorch's double backward",
                   "[golden][second-order][progressive]", float, double) {
  using T = TestType;
  for (const auto& c : cases) {
    std::map<std::string, Parameter<T>*> params;
    auto critic = critic_for<T>(c, params);
    const auto real = golden::load<T>(c.name, "real"), fake = golden::load<T>(c.name, "fake");
    auto c_real = critic.forward(real);
    auto c_fake = critic.forward(fake);
    const auto wgan = WganLoss{}.critic(c_real.output, c_fake.output);
    auto dx_real = zeros<T>(real.shape()), dx_fake = zeros<T>(fake.shape());
    critic.backward(c_real, wgan.grad_real, dx_real, ParamGrads::accumulate);
    critic.backward(c_fake, wgan.grad_fake, dx_fake, ParamGrads::accumulate);
    const auto r1 = R1Penalty<ProgressiveCritic<T>>({.gamma = 10}).apply(critic, real);
    INFO(c.name);
    CHECK(wgan.value + r1.value == Approx(golden::load<double>(c.name, "r1_loss")[0]).epsilon(bound<T>()));
    expect_gradients<T>(params, c.name, "r1_grad_");
  }
}
