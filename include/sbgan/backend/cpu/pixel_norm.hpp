#pragma once
// Pixel normalization on the CPU: every pixel's feature vector is divided by a
// power of its mean square over the channels (ProGAN's generator).
//   r = mean_c(x²) + ε,   y = x·r^p,
//   p = −1/2 for PixelNormForm::paper    (ProGAN: x·rsqrt(mean x² + ε)),
//   p = −1   for PixelNormForm::official (SB-GAN's code: x / (mean x² + ε), no root).
//   backward: dx += r^p·dy + (2p/C)·r^(p−1)·x·Σ_c x·dy
// x is [N, C, H, W], or [N, C] (a latent vector: one pixel per sample). The sums
// over channels are accumulated in double.
#include <algorithm>
#include <cmath>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan {

// Which pixel norm: the ProGAN paper's, or the one SB-GAN's official code runs.
enum class PixelNormForm { paper, official };

}  // namespace sbgan

namespace sbgan::kernels {

namespace pixel_norm_cpu {

// Positions one task handles: channel-major inner loops stay contiguous, and the
// per-position sums fit on the stack.
inline constexpr index_t tile = 256;

struct Layout {
  index_t n, c, hw;
};

template <class T>
Layout layout_of(const Tensor<T, cpu>& x) {
  const index_t n = x.shape()[0], c = x.shape()[1];
  return {n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
}

// r^p for the mean square plus ε.
template <PixelNormForm Form>
double power(double r) {
  if constexpr (Form == PixelNormForm::paper)
    return 1.0 / std::sqrt(r);
  else
    return 1.0 / r;
}

// The exponent p as a coefficient: 2p is −1 (paper) or −2 (official).
template <PixelNormForm Form>
constexpr double two_p = Form == PixelNormForm::paper ? -1.0 : -2.0;

// Calls body(sample, first position, count) for every tile of positions.
template <class F>
void for_each_tile(const Layout& l, F&& body) {
  const index_t tiles = (l.hw + tile - 1) / tile;
  cpu_detail::parallel_for(
      l.n * tiles,
      [&](index_t t) {
        const index_t b = t / tiles, first = (t % tiles) * tile;
        body(b, first, std::min(tile, l.hw - first));
      },
      l.c * std::min(tile, l.hw));
}

}  // namespace pixel_norm_cpu

// y = x·r^p (assigns y).
template <PixelNormForm Form, class T>
void pixel_norm_forward(const Tensor<T, cpu>& x, double epsilon, Tensor<T, cpu>& y) {
  using namespace pixel_norm_cpu;
  const Layout l = layout_of(x);
  const T* xs = x.data();
  T* ys = y.data();
  for_each_tile(l, [&](index_t b, index_t first, index_t count) {
    double factor[tile];
    std::fill_n(factor, count, 0.0);
    const T* xb = xs + b * l.c * l.hw + first;
    T* yb = ys + b * l.c * l.hw + first;
    for (index_t ch = 0; ch < l.c; ++ch)
      for (index_t p = 0; p < count; ++p) factor[p] += static_cast<double>(xb[ch * l.hw + p]) * xb[ch * l.hw + p];
    for (index_t p = 0; p < count; ++p) factor[p] = power<Form>(factor[p] / static_cast<double>(l.c) + epsilon);
    for (index_t ch = 0; ch < l.c; ++ch)
      for (index_t p = 0; p < count; ++p) yb[ch * l.hw + p] = static_cast<T>(xb[ch * l.hw + p] * factor[p]);
  });
}

// dx += r^p·dy + (2p/C)·r^(p−1)·x·Σ_c x·dy
template <PixelNormForm Form, class T>
void pixel_norm_backward(const Tensor<T, cpu>& x, const Tensor<T, cpu>& dy, double epsilon, Tensor<T, cpu>& dx) {
  using namespace pixel_norm_cpu;
  const Layout l = layout_of(x);
  const T *xs = x.data(), *gs = dy.data();
  T* ds = dx.data();
  for_each_tile(l, [&](index_t b, index_t first, index_t count) {
    double square[tile], cross[tile];
    std::fill_n(square, count, 0.0);
    std::fill_n(cross, count, 0.0);
    const index_t offset = b * l.c * l.hw + first;
    const T *xb = xs + offset, *gb = gs + offset;
    T* db = ds + offset;
    for (index_t ch = 0; ch < l.c; ++ch)
      for (index_t p = 0; p < count; ++p) {
        const double v = xb[ch * l.hw + p];
        square[p] += v * v;
        cross[p] += v * gb[ch * l.hw + p];
      }
    // square becomes r^p, cross the coefficient of x.
    for (index_t p = 0; p < count; ++p) {
      const double r = square[p] / static_cast<double>(l.c) + epsilon;
      square[p] = power<Form>(r);
      cross[p] *= two_p<Form> / static_cast<double>(l.c) * square[p] / r;
    }
    for (index_t ch = 0; ch < l.c; ++ch)
      for (index_t p = 0; p < count; ++p)
        db[ch * l.hw + p] += static_cast<T>(square[p] * gb[ch * l.hw + p] + cross[p] * xb[ch * l.hw + p]);
  });
}

}  // namespace sbgan::kernels
