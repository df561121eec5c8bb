// A WGAN-GP trained from scratch with the library's layers and its exact
// second-order pass: a generator learns to map Gaussian noise onto a ring of
// eight Gaussian modes, against a critic regularised with the gradient penalty
// λ·E[(‖∇ₓD(x̂)‖ − 1)²], whose parameter gradient comes from backward_second.
//
//   critic_wgan_gp [--steps N] [--seed S]
//
// Every 250 steps it prints the critic's Wasserstein estimate, the penalty, and
// how far generated points lie from the nearest mode (falls as G learns). It
// exits with status 3 when training did not at least halve that distance, so
// ctest can hold it to having learned.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <string>
#include <vector>

#include <sbgan/sbgan.hpp>

using namespace sbgan;
using T = float;

namespace {

using Critic = Sequential<Linear<T>, LeakyReLU<T>, Linear<T>, LeakyReLU<T>, Linear<T>>;
using Gen = Sequential<Linear<T>, ReLU<T>, Linear<T>, ReLU<T>, Linear<T>>;

constexpr int modes = 8;
constexpr T ring_radius = 2, mode_stddev = 0.05f;

// Real data: points on a ring of Gaussian modes.
Tensor<T> sample_ring(Generator& gen, index_t n) {
  auto which = gen.uniform<T>(Shape{n});
  auto noise = gen.normal<T>(Shape{n, 2}, 0, mode_stddev);
  Tensor<T> x(Shape{n, 2});
  for (index_t i = 0; i < n; ++i) {
    const int k = std::min(modes - 1, int(which[i] * modes));
    const T angle = T(2 * std::numbers::pi) * T(k) / modes;
    x[2 * i] = ring_radius * std::cos(angle) + noise[2 * i];
    x[2 * i + 1] = ring_radius * std::sin(angle) + noise[2 * i + 1];
  }
  return x;
}

double mean_distance_to_nearest_mode(const Tensor<T>& x) {
  double total = 0;
  for (index_t i = 0; i < x.shape().n(); ++i) {
    double best = 1e30;
    for (int k = 0; k < modes; ++k) {
      const double a = 2 * std::numbers::pi * k / modes;
      best = std::min(best, std::hypot(x[2 * i] - ring_radius * std::cos(a), x[2 * i + 1] - ring_radius * std::sin(a)));
    }
    total += best;
  }
  return total / double(x.shape().n());
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 2000;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--steps") steps = std::atoi(argv[i + 1]);
    else if (arg == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: critic_wgan_gp [--steps N] [--seed S]\n");
      return 2;
    }
  }
  Generator init(seed), gen(seed, 1);
  const index_t batch = 128, hidden = 64, latent = 2;
  Critic critic(Linear<T>({2, hidden}, init), LeakyReLU<T>(0.2f), Linear<T>({hidden, hidden}, init),
                LeakyReLU<T>(0.2f), Linear<T>({hidden, 1}, init));
  Gen generator(Linear<T>({latent, hidden}, init), ReLU<T>(), Linear<T>({hidden, hidden}, init), ReLU<T>(),
                Linear<T>({hidden, 2}, init));
  // Adam with WGAN-GP's betas; each network has its own optimizer.
  Adam<T> opt_d({.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.9});
  Adam<T> opt_g({.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.9});
  opt_d.add(critic);
  opt_g.add(generator);
  // The exact penalty: α per sample, per-sample norms, its parameter gradient
  // through the critic's second-order pass. λ = 10 suits images in [-1, 1];
  // the ring's scale is small.
  GradientPenalty<Critic> penalty_loss({.lambda = 0.1});
  const int critic_steps = 5;

  const auto minus_mean = full<T>(Shape{batch, 1}, T(-1) / T(batch));
  const auto plus_mean = full<T>(Shape{batch, 1}, T(1) / T(batch));
  std::printf("step  wasserstein  penalty  distance-to-mode\n");
  double first_distance = 0, last_distance = 0;
  for (int step = 0; step <= steps; ++step) {
    double wasserstein = 0, penalty = 0;
    for (int k = 0; k < critic_steps; ++k) {
      const auto real = sample_ring(gen, batch);
      const auto fake = generator.forward(gen.normal<T>(Shape{batch, latent})).output;
      auto c_real = critic.forward(real);
      auto c_fake = critic.forward(fake);
      // L_D = mean D(fake) − mean D(real) + GP; the three passes accumulate.
      input_gradient(critic, c_real, minus_mean, real.shape());
      input_gradient(critic, c_fake, plus_mean, fake.shape());
      penalty = penalty_loss.apply(critic, real, fake, gen).value;
      wasserstein = (kernels::sum(c_real.output) - kernels::sum(c_fake.output)) / double(batch);
      opt_d.step();
      opt_d.zero_grad();
    }
    // L_G = −mean D(G(z)), through a critic whose parameters stay untouched.
    const auto z = gen.normal<T>(Shape{batch, latent});
    auto c_gen = generator.forward(z);
    auto c_critic = critic.forward(c_gen.output);
    const auto d_fake = input_gradient(critic, c_critic, minus_mean, c_gen.output.shape(), ParamGrads::skip);
    input_gradient(generator, c_gen, d_fake, z.shape());
    opt_g.step();
    opt_g.zero_grad();

    if (step % 250 == 0) {
      const double distance = mean_distance_to_nearest_mode(generator.forward(gen.normal<T>(Shape{2048, latent})).output);
      if (step == 0) first_distance = distance;
      last_distance = distance;
      std::printf("%5d  %11.4f  %7.4f  %16.4f\n", step, wasserstein, penalty, distance);
      if (!std::isfinite(wasserstein) || !std::isfinite(penalty)) {
        std::fprintf(stderr, "training diverged at step %d (non-finite loss)\n", step);
        return 1;
      }
    }
  }
  std::printf("distance to the nearest mode: %.4f at the start, %.4f at the end\n", first_distance, last_distance);
  if (!(last_distance < 0.5 * first_distance)) {
    std::fprintf(stderr, "the generator did not learn: distance fell by less than half\n");
    return 3;
  }
  return 0;
}
