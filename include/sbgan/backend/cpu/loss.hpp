#pragma once
// Kernels of the GAN losses and gradient penalties: reductions that return their
// value in double and add their gradient into a tensor in the same sweep, and the
// per-sample operations of the penalties (interpolation, norms, scaling).
//
// Sums run over fixed blocks whose partial sums are added in order, so a result
// does not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace cpu_detail_loss {

inline constexpr index_t block = 8192;

// Σ f(i) over [begin, end), in double.
template <class F>
double blocked_sum(index_t begin, index_t end, F&& f) {
  const index_t blocks = (end - begin + block - 1) / block;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  cpu_detail::parallel_for(
      blocks,
      [&](index_t k) {
        const index_t b = begin + k * block, e = std::min(b + block, end);
        double s = 0;
        for (index_t i = b; i < e; ++i) s += f(i);
        partial[static_cast<std::size_t>(k)] = s;
      },
      block);
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

template <class T>
void same_size(const char* kernel, const Tensor<T, cpu>& a, const Tensor<T, cpu>& b) {
  if (a.numel() != b.numel())
    throw shape_error(std::string(kernel) + ": operands differ in size, " + a.shape().str() + " vs " +
                      b.shape().str());
}

template <class T>
void per_sample_operand(const char* kernel, const Tensor<T, cpu>& x, index_t samples) {
  if (x.shape().rank() == 0 || x.shape().n() != samples)
    throw shape_error(std::string(kernel) + ": expected " + std::to_string(samples) + " samples, got " +
                      x.shape().str());
}

}  // namespace cpu_detail_loss

// Σ max(0, 1 + s·d) with s = ±1, the hinge margin of SPADE's GANLoss
// (real: s = −1, −min(d − 1, 0); fake: s = +1, −min(−d − 1, 0)); adds
// scale·∂/∂d into grad. At the kink (1 + s·d = 0) the gradient is half of the
// one-sided value, as torch.min's backward splits a tie between its operands.
template <class T>
double hinge_sum(const Tensor<T, cpu>& d, T s, T scale, Tensor<T, cpu>& grad) {
  cpu_detail_loss::same_size("hinge_sum", d, grad);
  const T* ds = d.data();
  T* g = grad.data();
  const T full = scale * s, half = full / T(2);
  return cpu_detail_loss::blocked_sum(0, d.numel(), [&](index_t i) {
    const T margin = T(1) + s * ds[i];
    if (margin > T(0)) {
      g[i] += full;
      return static_cast<double>(margin);
    }
    if (margin == T(0)) g[i] += half;
    return 0.0;
  });
}

// out[n] = α[n]·a[n] + (1 − α[n])·b[n], one weight per sample (α: [N]).
template <class T>
void per_sample_lerp(const Tensor<T, cpu>& a, const Tensor<T, cpu>& b, const Tensor<T, cpu>& alpha,
                     Tensor<T, cpu>& out) {
  cpu_detail_loss::same_size("per_sample_lerp", a, b);
  cpu_detail_loss::same_size("per_sample_lerp", a, out);
  const index_t n = a.shape().n(), per = a.shape().per_sample();
  cpu_detail_loss::per_sample_operand("per_sample_lerp weights", alpha, n);
  const T *as = a.data(), *bs = b.data(), *al = alpha.data();
  T* o = out.data();
  cpu_detail::parallel_chunks(a.numel(), [&](index_t begin, index_t end) {
    for (index_t i = begin; i < end; ++i) {
      const T w = al[i / per];
      o[i] = w * as[i] + (T(1) - w) * bs[i];
    }
  });
}

// The backward of per_sample_lerp: da[n] += α[n]·dout[n], db[n] += (1 − α[n])·dout[n].
// Either destination may be empty (not wanted).
template <class T>
void per_sample_lerp_backward(const Tensor<T, cpu>& dout, const Tensor<T, cpu>& alpha, Tensor<T, cpu>& da,
                              Tensor<T, cpu>& db) {
  const index_t n = dout.shape().n(), per = dout.shape().per_sample();
  cpu_detail_loss::per_sample_operand("per_sample_lerp_backward weights", alpha, n);
  if (!da.empty()) cpu_detail_loss::same_size("per_sample_lerp_backward", dout, da);
  if (!db.empty()) cpu_detail_loss::same_size("per_sample_lerp_backward", dout, db);
  const T *d = dout.data(), *al = alpha.data();
  T *pa = da.data(), *pb = db.data();
  cpu_detail::parallel_chunks(dout.numel(), [&](index_t begin, index_t end) {
    for (index_t i = begin; i < end; ++i) {
      const T w = al[i / per];
      if (pa) pa[i] += w * d[i];
      if (pb) pb[i] += (T(1) - w) * d[i];
    }
  });
}

// Σ over each sample's elements of x², in double: one value per sample.
template <class T>
std::vector<double> per_sample_squared_norms(const Tensor<T, cpu>& x) {
  const index_t n = x.shape().n(), per = x.shape().per_sample();
  const T* xs = x.data();
  std::vector<double> out(static_cast<std::size_t>(n));
  for (index_t s = 0; s < n; ++s)
    out[static_cast<std::size_t>(s)] = cpu_detail_loss::blocked_sum(s * per, (s + 1) * per, [xs](index_t i) {
      const double v = xs[i];
      return v * v;
    });
  return out;
}

// y[n] += c[n]·x[n], one coefficient per sample.
template <class T>
void per_sample_axpy(std::span<const double> c, const Tensor<T, cpu>& x, Tensor<T, cpu>& y) {
  cpu_detail_loss::same_size("per_sample_axpy", x, y);
  const index_t n = x.shape().n(), per = x.shape().per_sample();
  if (static_cast<index_t>(c.size()) != n)
    throw shape_error("per_sample_axpy: " + std::to_string(c.size()) + " coefficients for " + std::to_string(n) +
                      " samples");
  const T* xs = x.data();
  T* ys = y.data();
  cpu_detail::parallel_chunks(x.numel(), [&](index_t begin, index_t end) {
    for (index_t i = begin; i < end; ++i) ys[i] += static_cast<T>(c[static_cast<std::size_t>(i / per)]) * xs[i];
  });
}

}  // namespace sbgan::kernels
