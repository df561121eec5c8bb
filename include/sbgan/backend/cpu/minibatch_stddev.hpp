#pragma once
// Minibatch standard deviation on the CPU (ProGAN's critic layer).
//
// The batch of N = G·M samples is split as ProGAN's reshape [G, M, C, H, W] splits
// it: group m holds samples m, m + M, …, m + (G−1)·M. For each group and each
// feature f = (c, h, w), with d = x − mean over the group,
//   s_f = sqrt(mean_g d² + ε)               (biased variance)
//   S   = mean_f s_f                         (one scalar per group)
// and the output is x with one more channel holding S, replicated over H, W.
//
// Backward, with D = Σ of dy's extra channel over the group's samples and pixels
// and F = C·H·W:
//   dx += dy[:, :C] + D/(F·G) · d/s_f
// Second order (Q = ⟨Jₓᵀ·gy, w⟩; D from gy; A_f = Σ_g d·w; w̄ the group mean of w):
//   dgy[:, :C] += w,   dgy[:, C] += S' = 1/(F·G) · Σ_f A_f/s_f   (= J·w)
//   dx += D/(F·G) · ((w − w̄)/s_f − A_f·d/(G·s_f³))
// Per-feature statistics are computed in double; sums over features run over
// fixed blocks, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace minibatch_stddev_cpu {

inline constexpr index_t block = 512;

struct Layout {
  index_t samples, features, hw, group, groups;
  // The batch index of member g of group m.
  [[nodiscard]] index_t sample(index_t g, index_t m) const { return g * groups + m; }
};

template <class T>
Layout layout_of(const Tensor<T, cpu>& x, index_t group) {
  const index_t n = x.shape().n(), hw = x.shape().h() * x.shape().w();
  return {n, x.shape().c() * hw, hw, group, n / group};
}

// Calls body(first, last) on fixed blocks of [0, count), in parallel when it pays.
template <class F>
void for_each_block(index_t count, index_t cost_per_item, F&& body) {
  const index_t blocks = (count + block - 1) / block;
  cpu_detail::parallel_for(
      blocks, [&](index_t b) { body(b * block, std::min(count, (b + 1) * block)); }, block * cost_per_item);
}

// Σ term(f) over [0, count) in double, summed block by block.
template <class F>
double blocked_sum(index_t count, index_t cost_per_item, F&& term) {
  std::vector<double> partial(static_cast<std::size_t>((count + block - 1) / block), 0.0);
  for_each_block(count, cost_per_item, [&](index_t first, index_t last) {
    double s = 0;
    for (index_t f = first; f < last; ++f) s += term(f);
    partial[static_cast<std::size_t>(first / block)] = s;
  });
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

// Mean and s = sqrt(biased variance + ε) of feature f over group m; x has `per`
// elements per sample.
struct FeatureStats {
  double mean, s;
};
template <class T>
FeatureStats stats(const T* x, index_t per, const Layout& l, index_t m, index_t f, double epsilon) {
  double sum = 0;
  for (index_t g = 0; g < l.group; ++g) sum += x[l.sample(g, m) * per + f];
  const double mean = sum / static_cast<double>(l.group);
  double sq = 0;
  for (index_t g = 0; g < l.group; ++g) {
    const double d = x[l.sample(g, m) * per + f] - mean;
    sq += d * d;
  }
  return {mean, std::sqrt(sq / static_cast<double>(l.group) + epsilon)};
}

// Σ of the extra channel (the last hw elements of each sample of t) over group m.
template <class T>
double extra_channel_sum(const T* t, const Layout& l, index_t m) {
  const index_t per = l.features + l.hw;
  double s = 0;
  for (index_t g = 0; g < l.group; ++g) {
    const T* p = t + l.sample(g, m) * per + l.features;
    for (index_t i = 0; i < l.hw; ++i) s += p[i];
  }
  return s;
}

// out[:, :C] (+)= x (per sample), for `out` with one more channel than x.
template <class T, bool Add>
void pass_through(const T* x, const Layout& l, T* out) {
  const index_t per = l.features + l.hw;
  cpu_detail::parallel_for(
      l.samples,
      [&](index_t b) {
        const T* src = x + b * l.features;
        T* dst = out + b * per;
        for (index_t f = 0; f < l.features; ++f) {
          if constexpr (Add)
            dst[f] += src[f];
          else
            dst[f] = src[f];
        }
      },
      l.features);
}

// The same as above in the other direction: out (+)= t[:, :C].
template <class T>
void pass_back(const T* t, const Layout& l, T* out) {
  const index_t per = l.features + l.hw;
  cpu_detail::parallel_for(
      l.samples,
      [&](index_t b) {
        const T* src = t + b * per;
        T* dst = out + b * l.features;
        for (index_t f = 0; f < l.features; ++f) dst[f] += src[f];
      },
      l.features);
}

// out[:, C] (+)= value over every sample of group m.
template <class T, bool Add>
void fill_extra_channel(T* out, const Layout& l, index_t m, double value) {
  const index_t per = l.features + l.hw;
  for (index_t g = 0; g < l.group; ++g) {
    T* p = out + l.sample(g, m) * per + l.features;
    for (index_t i = 0; i < l.hw; ++i) {
      if constexpr (Add)
        p[i] += static_cast<T>(value);
      else
        p[i] = static_cast<T>(value);
    }
  }
}

}  // namespace minibatch_stddev_cpu

// y = [x, S per group] (assigns y, [N, C + 1, H, W]). group divides N.
template <class T>
void minibatch_stddev_forward(const Tensor<T, cpu>& x, index_t group, double epsilon, Tensor<T, cpu>& y) {
  using namespace minibatch_stddev_cpu;
  const Layout l = layout_of(x, group);
  const T* xs = x.data();
  pass_through<T, false>(xs, l, y.data());
  for (index_t m = 0; m < l.groups; ++m) {
    const double total = blocked_sum(l.features, l.group, [&](index_t f) { return stats(xs, l.features, l, m, f, epsilon).s; });
    fill_extra_channel<T, false>(y.data(), l, m, total / static_cast<double>(l.features));
  }
}

// dx += dy[:, :C] + D/(F·G)·d/s_f
template <class T>
void minibatch_stddev_backward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, index_t group, double epsilon,
                               Tensor<T, cpu>& dx) {
  using namespace minibatch_stddev_cpu;
  const Layout l = layout_of(x, group);
  const T *xs = x.data(), *gs = dy.data();
  T* ds = dx.data();
  pass_back(gs, l, ds);
  for (index_t m = 0; m < l.groups; ++m) {
    const double k = extra_channel_sum(gs, l, m) / static_cast<double>(l.features * l.group);
    for_each_block(l.features, 2 * l.group, [&](index_t first, index_t last) {
      for (index_t f = first; f < last; ++f) {
        const auto st = stats(xs, l.features, l, m, f, epsilon);
        for (index_t g = 0; g < l.group; ++g) {
          const index_t i = l.sample(g, m) * l.features + f;
          ds[i] += static_cast<T>(k * (xs[i] - st.mean) / st.s);
        }
      }
    });
  }
}

// dgy += J·w (w passed through, S' on the extra channel);
// dx  += D/(F·G)·((w − w̄)/s_f − A_f·d/(G·s_f³))
template <class T>
void minibatch_stddev_second(const Tensor<T, cpu>& x, const Tensor<T, cpu>& gy, const Tensor<T, cpu>& w,
                             index_t group, double epsilon, Tensor<T, cpu>& dx, Tensor<T, cpu>& dgy) {
  using namespace minibatch_stddev_cpu;
  const Layout l = layout_of(x, group);
  const T *xs = x.data(), *gs = gy.data(), *ws = w.data();
  T* ds = dx.data();
  const double fg = static_cast<double>(l.features * l.group);
  pass_through<T, true>(ws, l, dgy.data());
  // A_f = Σ_g d·w, for feature f of group m.
  const auto cross = [&](index_t m, index_t f, const FeatureStats& st) {
    double a = 0;
    for (index_t g = 0; g < l.group; ++g) {
      const index_t i = l.sample(g, m) * l.features + f;
      a += (xs[i] - st.mean) * ws[i];
    }
    return a;
  };
  for (index_t m = 0; m < l.groups; ++m) {
    const double directional = blocked_sum(l.features, 3 * l.group, [&](index_t f) {
      const auto st = stats(xs, l.features, l, m, f, epsilon);
      return cross(m, f, st) / st.s;
    });
    fill_extra_channel<T, true>(dgy.data(), l, m, directional / fg);
    const double k = extra_channel_sum(gs, l, m) / fg;
    for_each_block(l.features, 5 * l.group, [&](index_t first, index_t last) {
      for (index_t f = first; f < last; ++f) {
        const auto st = stats(xs, l.features, l, m, f, epsilon);
        const double a = cross(m, f, st);
        double w_mean = 0;
        for (index_t g = 0; g < l.group; ++g) w_mean += ws[l.sample(g, m) * l.features + f];
        w_mean /= static_cast<double>(l.group);
        const double curvature = a / (static_cast<double>(l.group) * st.s * st.s * st.s);
        for (index_t g = 0; g < l.group; ++g) {
          const index_t i = l.sample(g, m) * l.features + f;
          ds[i] += static_cast<T>(k * ((ws[i] - w_mean) / st.s - curvature * (xs[i] - st.mean)));
        }
      }
    });
  }
}

}  // namespace sbgan::kernels
