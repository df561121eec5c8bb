#pragma once
// Normalization kernels shared by instance norm (a group is one (n, c) plane over
// H, W) and batch norm (a group is one channel over N, H, W).
//
// With batch statistics y = (x − μ)·r, r = (var + ε)^{-1/2}, the Jacobian of a group
// of M elements is r·(I − 11ᵀ/M − y·yᵀ/M): symmetric, so the backward pass and the
// forward-mode push of the second-order pass are the same formula.
//   backward: dx += r·(dy − mean(dy) − y·mean(dy·y))
//   second order of Q = ⟨r·(gy − mean(gy) − y·mean(gy·y)), w⟩, with
//     a = mean(gy), b = mean(gy·y), c = mean(w), d = mean(w·y), e = mean(w·gy):
//     ∂Q/∂gy = r·(w − c − y·d)
//     ∂Q/∂x  = r²·(−y·(e − a·c − 3·b·d) − d·(gy − a) − b·(w − c))
//   (y depends on x through μ and r; ∂r/∂x = −r²·y/M.)
// Group sums are accumulated in double.
#include <cmath>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// Which elements share one mean and variance.
enum class NormalizeOver {
  instance,  // per (n, c), over H, W: statistics shaped [N, C]
  channel,   // per c, over N, H, W:   statistics shaped [C]
};

namespace norm_cpu {

// The elements of a group are `segments` contiguous runs of `length` elements.
struct Groups {
  index_t count, segments, length, channels;
  NormalizeOver over;

  Groups(const Shape& s, NormalizeOver o)
      : count(o == NormalizeOver::instance ? s.n() * s.c() : s.c()),
        segments(o == NormalizeOver::instance ? 1 : s.n()),
        length(s.h() * s.w()),
        channels(s.c()),
        over(o) {}

  [[nodiscard]] index_t size() const { return segments * length; }
  [[nodiscard]] index_t offset(index_t group, index_t segment) const {
    return over == NormalizeOver::instance ? group * length : (segment * channels + group) * length;
  }
  // Calls f(offset) for every run of the group.
  template <class F>
  void each_run(index_t group, F&& f) const {
    for (index_t s = 0; s < segments; ++s) f(offset(group, s));
  }
  // Runs f(group) for every group, in parallel when the work is large.
  template <class F>
  void parallel(F&& f) const {
    cpu_detail::parallel_for(count, f, size());
  }
};

template <class T>
void statistics_shape(const char* kernel, const Groups& g, const Tensor<T, cpu>& stat) {
  if (stat.numel() != g.count)
    throw shape_error(std::string(kernel) + ": statistics hold " + std::to_string(stat.numel()) +
                      " values, the input has " + std::to_string(g.count) + " groups");
}

}  // namespace norm_cpu

// invstd = 1 / √(var + ε)
template <class T>
void inverse_std(const Tensor<T, cpu>& var, T eps, Tensor<T, cpu>& invstd) {
  const T* v = var.data();
  T* r = invstd.data();
  for (index_t i = 0; i < var.numel(); ++i)
    r[i] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(v[i]) + static_cast<double>(eps)));
}

// y = (x − mean_g)·invstd_g  (assigns y)
template <class T>
void normalize_forward(const Tensor<T, cpu>& x, NormalizeOver over, const Tensor<T, cpu>& mean,
                       const Tensor<T, cpu>& invstd, Tensor<T, cpu>& y) {
  const norm_cpu::Groups g(x.shape(), over);
  norm_cpu::statistics_shape("normalize_forward", g, mean);
  norm_cpu::statistics_shape("normalize_forward", g, invstd);
  const T *xs = x.data(), *m = mean.data(), *r = invstd.data();
  T* ys = y.data();
  g.parallel([&](index_t grp) {
    const T mu = m[grp], s = r[grp];
    g.each_run(grp, [&](index_t o) {
      for (index_t i = o; i < o + g.length; ++i) ys[i] = (xs[i] - mu) * s;
    });
  });
}

// Batch statistics: dx += invstd_g·(dy − mean_g(dy) − y·mean_g(dy·y)); y is the
// forward's output.
template <class T>
void normalize_backward(const Tensor<T, cpu>& y, const Tensor<T, cpu>& dy, NormalizeOver over,
                        const Tensor<T, cpu>& invstd, Tensor<T, cpu>& dx) {
  const norm_cpu::Groups g(y.shape(), over);
  norm_cpu::statistics_shape("normalize_backward", g, invstd);
  const T *ys = y.data(), *gs = dy.data(), *r = invstd.data();
  T* ds = dx.data();
  const double inv_m = 1.0 / static_cast<double>(g.size());
  g.parallel([&](index_t grp) {
    double sum_g = 0, sum_gy = 0;
    g.each_run(grp, [&](index_t o) {
      for (index_t i = o; i < o + g.length; ++i) {
        sum_g += gs[i];
        sum_gy += static_cast<double>(gs[i]) * ys[i];
      }
    });
    const double a = sum_g * inv_m, b = sum_gy * inv_m, s = r[grp];
    g.each_run(grp, [&](index_t o) {
      for (index_t i = o; i < o + g.length; ++i) ds[i] += static_cast<T>(s * (gs[i] - a - ys[i] * b));
    });
  });
}

// Second order of the batch-statistics backward (see the header comment): adds
// ∂Q/∂x into dx and ∂Q/∂gy into dgy.
template <class T>
void normalize_second(const Tensor<T, cpu>& y, const Tensor<T, cpu>& gy, const Tensor<T, cpu>& w, NormalizeOver over,
                      const Tensor<T, cpu>& invstd, Tensor<T, cpu>& dx, Tensor<T, cpu>& dgy) {
  const norm_cpu::Groups g(y.shape(), over);
  norm_cpu::statistics_shape("normalize_second", g, invstd);
  const T *ys = y.data(), *gs = gy.data(), *ws = w.data(), *r = invstd.data();
  T *ds = dx.data(), *dgs = dgy.data();
  const double inv_m = 1.0 / static_cast<double>(g.size());
  g.parallel([&](index_t grp) {
    double sg = 0, sgy = 0, sw = 0, swy = 0, swg = 0;
    g.each_run(grp, [&](index_t o) {
      for (index_t i = o; i < o + g.length; ++i) {
        const double gi = gs[i], wi = ws[i], yi = ys[i];
        sg += gi;
        sgy += gi * yi;
        sw += wi;
        swy += wi * yi;
        swg += wi * gi;
      }
    });
    const double a = sg * inv_m, b = sgy * inv_m, c = sw * inv_m, d = swy * inv_m, e = swg * inv_m;
    const double s = r[grp], s2 = s * s, k = e - a * c - 3 * b * d;
    g.each_run(grp, [&](index_t o) {
      for (index_t i = o; i < o + g.length; ++i) {
        const double gi = gs[i], wi = ws[i], yi = ys[i];
        dgs[i] += static_cast<T>(s * (wi - c - yi * d));
        ds[i] += static_cast<T>(s2 * (-yi * k - d * (gi - a) - b * (wi - c)));
      }
    });
  });
}

// Fixed statistics (batch norm in evaluation): y is affine in x, so
// dx += scale_g·dy (also the forward-mode push of the second-order pass).
template <class T>
void normalize_fixed_backward(const Tensor<T, cpu>& dy, NormalizeOver over, const Tensor<T, cpu>& scale,
                              Tensor<T, cpu>& dx) {
  const norm_cpu::Groups g(dy.shape(), over);
  norm_cpu::statistics_shape("normalize_fixed_backward", g, scale);
  const T *gs = dy.data(), *sc = scale.data();
  T* ds = dx.data();
  g.parallel([&](index_t grp) {
    const T s = sc[grp];
    g.each_run(grp, [&](index_t o) {
      for (index_t i = o; i < o + g.length; ++i) ds[i] += s * gs[i];
    });
  });
}

// running = (1 − momentum)·running + momentum·factor·batch, PyTorch's running
// statistics update (factor M/(M − 1) turns the biased batch variance unbiased).
template <class T>
void running_average(const Tensor<T, cpu>& batch, T momentum, T factor, Tensor<T, cpu>& running) {
  if (batch.numel() != running.numel())
    throw shape_error("running_average: batch " + batch.shape().str() + " vs running " + running.shape().str());
  const T* b = batch.data();
  T* r = running.data();
  for (index_t i = 0; i < running.numel(); ++i) r[i] = (T(1) - momentum) * r[i] + momentum * (factor * b[i]);
}

// t += value, element-wise (counters kept in tensors, such as num_batches_tracked).
template <class T>
void add_scalar(Tensor<T, cpu>& t, T value) {
  T* p = t.data();
  for (index_t i = 0; i < t.numel(); ++i) p[i] += value;
}

}  // namespace sbgan::kernels
