#pragma once
// Minibatch standard deviation on the device (ProGAN's critic layer), with the
// contracts and formulas of sbgan/backend/cpu/minibatch_stddev.hpp: group m holds
// samples m, m + M, …, m + (G−1)·M; per feature f, s_f = sqrt(mean_g d² + ε).
//
// One thread per (group m, feature f) gathers the G samples (adjacent threads take
// adjacent features: coalesced) and computes that feature's statistics in double,
// in the CPU's order, so the per-feature values match it exactly. The per-group
// sums over features (S, S', D) are block reductions in double (group_reduce.cuh);
// only their summation order differs from the CPU's.
#include "sbgan/backend/cuda/group_reduce.cuh"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace minibatch_stddev_cuda {

struct Layout {
  index_t samples, features, hw, group, groups;
  // The batch index of member g of group m.
  [[nodiscard]] __host__ __device__ index_t sample(index_t g, index_t m) const { return g * groups + m; }
  // Elements per sample of the output: one more channel.
  [[nodiscard]] __host__ __device__ index_t per_output() const { return features + hw; }
};

template <class T>
Layout layout_of(const Tensor<T, cuda>& x, index_t group) {
  const index_t n = x.shape().n(), hw = x.shape().h() * x.shape().w();
  return {n, x.shape().c() * hw, hw, group, n / group};
}

struct FeatureStats {
  double mean, s;
};

// Mean and s = sqrt(biased variance + ε) of feature f over group m, as the CPU's stats().
template <class T>
__device__ FeatureStats stats(const T* x, const Layout& l, index_t m, index_t f, double epsilon) {
  double sum = 0;
  for (index_t g = 0; g < l.group; ++g) sum += x[l.sample(g, m) * l.features + f];
  const double mean = sum / static_cast<double>(l.group);
  double sq = 0;
  for (index_t g = 0; g < l.group; ++g) {
    const double d = x[l.sample(g, m) * l.features + f] - mean;
    sq += d * d;
  }
  return {mean, sqrt(sq / static_cast<double>(l.group) + epsilon)};
}

// A_f = Σ_g d·w for feature f of group m, as the CPU's.
template <class T>
__device__ double cross(const T* x, const T* w, const Layout& l, index_t m, index_t f, const FeatureStats& st) {
  double a = 0;
  for (index_t g = 0; g < l.group; ++g) {
    const index_t i = l.sample(g, m) * l.features + f;
    a += (x[i] - st.mean) * w[i];
  }
  return a;
}

// Groups = the M sample groups, elements = their F features (index m·F + f).
inline cuda_detail::GroupLayout features_of(const Layout& l) { return {l.groups, 1, l.features, l.features, 0}; }

// Groups = the M sample groups, elements = the extra channel of their G samples in t.
inline cuda_detail::GroupLayout extra_channel_of(const Layout& l) {
  return {l.groups, l.group, l.hw, l.per_output(), l.groups * l.per_output(), l.features};
}

// per_group[m] = Σ of the extra channel of t over group m, divided by `divisor`.
template <class T>
Tensor<double, cuda> extra_channel_sums(const T* t, const Layout& l, double divisor) {
  Tensor<double, cuda> out(Shape{l.groups});
  double* o = out.data();
  cuda_detail::reduce_groups<1>(
      extra_channel_of(l), [=] __device__(index_t, index_t i, double(&acc)[1]) { acc[0] += t[i]; },
      [=] __device__(index_t m, const double(&sum)[1]) { o[m] = sum[0] / divisor; });
  return out;
}

// out[:, C] (+)= per_group[m] over every sample of group m.
template <class T, bool Add>
void fill_extra_channel(T* out, const Layout& l, const double* per_group) {
  const index_t hw = l.hw, features = l.features, per = l.per_output(), groups = l.groups;
  cuda_detail::launch(l.samples * hw, [=] __device__(index_t t) {
    const index_t b = t / hw;
    const T value = static_cast<T>(per_group[b % groups]);
    T& p = out[b * per + features + (t - b * hw)];
    if constexpr (Add)
      p += value;
    else
      p = value;
  });
}

}  // namespace minibatch_stddev_cuda

// y = [x, S per group] (assigns y, [N, C + 1, H, W]). group divides N.
template <class T>
void minibatch_stddev_forward(const Tensor<T, cuda>& x, index_t group, double epsilon, Tensor<T, cuda>& y) {
  using namespace minibatch_stddev_cuda;
  const Layout l = layout_of(x, group);
  const T* xs = x.data();
  T* ys = y.data();
  Tensor<double, cuda> mean_s(Shape{l.groups});
  double* ms = mean_s.data();
  const double features = static_cast<double>(l.features);
  // Σ_f s_f per group; each (m, f) also copies its G inputs through to y.
  cuda_detail::reduce_groups<1>(
      features_of(l),
      [=] __device__(index_t m, index_t i, double(&acc)[1]) {
        const index_t f = i - m * l.features;
        acc[0] += stats(xs, l, m, f, epsilon).s;
        for (index_t g = 0; g < l.group; ++g) {
          const index_t b = l.sample(g, m);
          ys[b * l.per_output() + f] = xs[b * l.features + f];
        }
      },
      [=] __device__(index_t m, const double(&sum)[1]) { ms[m] = sum[0] / features; });
  fill_extra_channel<T, false>(ys, l, ms);
}

// dx += dy[:, :C] + D/(F·G)·d/s_f
template <class T>
void minibatch_stddev_backward(const Tensor<T, cuda>& x, const Tensor<T, cuda>& dy, index_t group, double epsilon,
                               Tensor<T, cuda>& dx) {
  using namespace minibatch_stddev_cuda;
  const Layout l = layout_of(x, group);
  const T *xs = x.data(), *gs = dy.data();
  T* ds = dx.data();
  const auto k = extra_channel_sums(gs, l, static_cast<double>(l.features * l.group));
  const double* ks = k.data();
  cuda_detail::launch(l.groups * l.features, [=] __device__(index_t t) {
    const index_t m = t / l.features, f = t - m * l.features;
    const auto st = stats(xs, l, m, f, epsilon);
    for (index_t g = 0; g < l.group; ++g) {
      const index_t b = l.sample(g, m), i = b * l.features + f;
      // Rounded as the CPU rounds: first the pass-through, then the statistics term.
      T sum = ds[i] + gs[b * l.per_output() + f];
      sum += static_cast<T>(ks[m] * (xs[i] - st.mean) / st.s);
      ds[i] = sum;
    }
  });
}

// dgy += J·w (w passed through, S' on the extra channel);
// dx  += D/(F·G)·((w − w̄)/s_f − A_f·d/(G·s_f³))
template <class T>
void minibatch_stddev_second(const Tensor<T, cuda>& x, const Tensor<T, cuda>& gy, const Tensor<T, cuda>& w,
                             index_t group, double epsilon, Tensor<T, cuda>& dx, Tensor<T, cuda>& dgy) {
  using namespace minibatch_stddev_cuda;
  const Layout l = layout_of(x, group);
  const T *xs = x.data(), *gs = gy.data(), *ws = w.data();
  T *ds = dx.data(), *dgs = dgy.data();
  const double fg = static_cast<double>(l.features * l.group);
  // S' = Σ_f A_f/s_f / (F·G) per group.
  Tensor<double, cuda> directional(Shape{l.groups});
  double* dir = directional.data();
  cuda_detail::reduce_groups<1>(
      features_of(l),
      [=] __device__(index_t m, index_t i, double(&acc)[1]) {
        const index_t f = i - m * l.features;
        const auto st = stats(xs, l, m, f, epsilon);
        acc[0] += cross(xs, ws, l, m, f, st) / st.s;
      },
      [=] __device__(index_t m, const double(&sum)[1]) { dir[m] = sum[0] / fg; });
  const auto k = extra_channel_sums(gs, l, fg);
  const double* ks = k.data();
  cuda_detail::launch(l.groups * l.features, [=] __device__(index_t t) {
    const index_t m = t / l.features, f = t - m * l.features;
    const auto st = stats(xs, l, m, f, epsilon);
    const double a = cross(xs, ws, l, m, f, st);
    double w_mean = 0;
    for (index_t g = 0; g < l.group; ++g) w_mean += ws[l.sample(g, m) * l.features + f];
    w_mean /= static_cast<double>(l.group);
    const double curvature = a / (static_cast<double>(l.group) * st.s * st.s * st.s);
    for (index_t g = 0; g < l.group; ++g) {
      const index_t b = l.sample(g, m), i = b * l.features + f;
      dgs[b * l.per_output() + f] += ws[i];
      ds[i] += static_cast<T>(ks[m] * ((ws[i] - w_mean) / st.s - curvature * (xs[i] - st.mean)));
    }
  });
  fill_extra_channel<T, true>(dgs, l, dir);
}

}  // namespace sbgan::kernels
