// W8 of BENCHMARKS.md: one WGAN-GP critic step on the progressive layout critic
// (all levels active, 4×8 … 128×256, minibatch stddev, K = 35, N = 4): D(real),
// D(fake), the exact gradient penalty (λ = 10) through the second-order pass, the
// backward passes, and an Adam step (lr 1e-3, β = (0, 0.99), as stage 1).
#include "bench_common.hpp"

#include <sbgan/blocks/progan_critic.hpp>
#include <sbgan/losses/improved_wgan.hpp>
#include <sbgan/optim/adam.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

constexpr index_t classes = 35, n = 4, h = 128, w = 256;

void W8_critic_step(benchmark::State& state) {
  Generator init(8);
  auto options = ProgressiveCriticOptions::reference(h, classes, 2);
  options.minibatch_group = 4;
  using Critic = ProgressiveCritic<float>;
  Critic critic(options, init);
  ImprovedWganLoss<Critic> loss(ImprovedWganOptions{10, 0, 1});
  Adam<float> opt({1e-3, 0.0, 0.99, 1e-8});
  opt.add(critic);
  const auto real = random_one_hot(init, n, classes, h, w);
  const auto fake = random_one_hot(init, n, classes, h, w);
  Generator rng(8, 1);
  auto step = [&] {
    const auto d = loss.discriminator_loss(critic, real, fake, rng);
    benchmark::DoNotOptimize(d.value);
    opt.step();
    opt.zero_grad();
  };
  step();  // warm-up
  for (auto _ : state) step();
  // D(real) and D(fake) forward + backward (3× each), the penalty (6×).
  set_gflops(state, 12 * progan_critic_flops(n, classes, options.channels, options.base_height, options.aspect, true));
}

}  // namespace

BENCHMARK(W8_critic_step)->Name("W8_wgan_gp_critic_step")->Unit(benchmark::kMillisecond)->UseRealTime();
