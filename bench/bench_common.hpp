#pragma once
// Shared by the bench_*.cpp translation units: inputs, counters, and the nominal
// FLOP model of BENCHMARKS.md's workloads.
//
// FLOP counts are nominal and the same for sbgan and PyTorch: 2·MACs of every
// convolution and linear layer of a forward pass (element-wise work, norms, pooling,
// resizing and softmax are not counted); a backward pass (data and weight gradients)
// counts 2× its forward; the exact gradient penalty counts 6× the critic's forward
// (the forward at the interpolates, the input gradient, and its derivative: a
// forward-mode push, a weight term and a reverse sweep of two).
// Only the library's small headers are included here: each bench_*.cpp includes
// the blocks and models it needs, so every translation unit stays lean.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "sbgan/backend/cpu/gumbel_softmax.hpp"  // one_hot_argmax_channels
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan_bench {

using sbgan::index_t;
using sbgan::Shape;
using sbgan::Tensor;

// One-hot layouts [n, k, h, w]: the argmax of uniform noise, so every class appears.
inline Tensor<float> random_one_hot(sbgan::Generator& g, index_t n, index_t k, index_t h, index_t w) {
  const auto noise = g.uniform<float>(Shape{n, k, h, w});
  Tensor<float> out(Shape{n, k, h, w});
  sbgan::kernels::one_hot_argmax_channels(noise, out);
  return out;
}

// GFLOP/s from a per-iteration FLOP count; GB/s from a per-iteration byte count.
inline void set_gflops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP"] = flops * 1e-9;
}
inline void set_gbytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB"] = bytes * 1e-9;
}

// ---- the FLOP model ---------------------------------------------------------------

// Output size of a window: floor((in + 2·pad − k) / stride) + 1.
constexpr index_t window_out(index_t in, index_t k, index_t stride, index_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// 2·MACs of a convolution producing an oh×ow map.
constexpr double conv_flops(index_t n, index_t cin, index_t cout, index_t kh, index_t kw, index_t oh, index_t ow) {
  return 2.0 * double(n) * double(cin) * double(cout) * double(kh) * double(kw) * double(oh) * double(ow);
}
// A k×k, stride-1, 'same' convolution on an h×w map.
constexpr double same_conv_flops(index_t n, index_t cin, index_t cout, index_t k, index_t h, index_t w) {
  return conv_flops(n, cin, cout, k, k, h, w);
}

// SPADE norm on a `channels`-channel map: mlp_shared (K → hidden), mlp_gamma and
// mlp_beta (hidden → channels), all 3×3.
constexpr double spade_norm_flops(index_t n, index_t channels, index_t classes, index_t hidden, index_t h, index_t w) {
  return same_conv_flops(n, classes, hidden, 3, h, w) + 2 * same_conv_flops(n, hidden, channels, 3, h, w);
}

// SPADE residual block fin → fout on an h×w map.
constexpr double spade_block_flops(index_t n, index_t fin, index_t fout, index_t classes, index_t hidden, index_t h,
                                   index_t w) {
  const index_t mid = std::min(fin, fout);
  double f = spade_norm_flops(n, fin, classes, hidden, h, w) + same_conv_flops(n, fin, mid, 3, h, w) +
             spade_norm_flops(n, mid, classes, hidden, h, w) + same_conv_flops(n, mid, fout, 3, h, w);
  if (fin != fout) f += spade_norm_flops(n, fin, classes, hidden, h, w) + same_conv_flops(n, fin, fout, 1, h, w);
  return f;
}

// SPADE generator forward: fc at the start size, seven blocks, conv_img.
inline double spade_generator_flops(index_t n, index_t classes, index_t nf, index_t hidden, index_t height,
                                    index_t width, int upsamplings) {
  const index_t sh = height >> upsamplings, sw = width >> upsamplings;
  const index_t widths[8] = {16, 16, 16, 16, 8, 4, 2, 1};
  double f = same_conv_flops(n, classes, 16 * nf, 3, sh, sw);
  index_t h = sh, w = sw;
  for (int i = 0; i < 7; ++i) {
    const bool up = i == 0 ? false : (i == 2 ? upsamplings == 6 : true);
    if (up) h *= 2, w *= 2;
    f += spade_block_flops(n, widths[i] * nf, widths[i + 1] * nf, classes, hidden, h, w);
  }
  return f + same_conv_flops(n, nf, 3, 3, height, width);
}

// One patch discriminator (4×4 kernels, padding 2) on an h×w input.
inline double patch_discriminator_flops(index_t n, index_t input_channels, index_t ndf, int layers,
                                        bool last_inner_stride_one, index_t h, index_t w) {
  double f = 0;
  index_t c = input_channels, next = ndf;
  for (int s = 0; s <= layers; ++s) {
    index_t stride = 2;
    if (s == layers) stride = 1, next = 1;                                   // the prediction
    else if (s > 0 && last_inner_stride_one && s == layers - 1) stride = 1;  // paper form
    const index_t oh = window_out(h, 4, stride, 2), ow = window_out(w, 4, stride, 2);
    f += conv_flops(n, c, next, 4, 4, oh, ow);
    c = next, next = std::min<index_t>(next * 2, 512), h = oh, w = ow;
  }
  return f;
}

// Multiscale: scale i sees the input average-pooled (3×3, stride 2, pad 1) i times.
inline double multiscale_discriminator_flops(index_t n, index_t input_channels, index_t ndf, int layers,
                                             bool last_inner_stride_one, int scales, index_t h, index_t w) {
  double f = 0;
  for (int i = 0; i < scales; ++i) {
    f += patch_discriminator_flops(n, input_channels, ndf, layers, last_inner_stride_one, h, w);
    h = window_out(h, 3, 2, 1), w = window_out(w, 3, 2, 1);
  }
  return f;
}

// Progressive layout generator at its final level: fc1, the initial 3×3 conv, two
// 3×3 convs per up block, the last block's 1×1 toSeg.
inline double progan_generator_flops(index_t n, index_t latent, const std::vector<index_t>& channels, index_t classes,
                                     index_t base_height, index_t aspect) {
  index_t h = base_height, w = aspect * base_height;
  double f = 2.0 * double(n) * double(latent) * double(channels[0] * h * w) +
             same_conv_flops(n, channels[0], channels[0], 3, h, w);
  for (std::size_t i = 1; i < channels.size(); ++i) {
    h *= 2, w *= 2;
    f += same_conv_flops(n, channels[i - 1], channels[i], 3, h, w) + same_conv_flops(n, channels[i], channels[i], 3, h, w);
  }
  return f + same_conv_flops(n, channels.back(), classes, 1, h, w);
}

// Progressive critic with every level active: the top level's 1×1 fromSeg, two 3×3
// convs per level, the final block (3×3 stride (1, aspect), h0×h0 valid, linear).
inline double progan_critic_flops(index_t n, index_t classes, const std::vector<index_t>& channels, index_t base_height,
                                  index_t aspect, bool minibatch_stddev) {
  const std::size_t top = channels.size() - 1;
  index_t h = base_height << top, w = aspect * h;
  double f = same_conv_flops(n, classes, channels[top], 1, h, w);
  for (std::size_t l = top; l >= 1; --l) {
    f += same_conv_flops(n, channels[l], channels[l], 3, h, w) + same_conv_flops(n, channels[l], channels[l - 1], 3, h, w);
    h /= 2, w /= 2;
  }
  const index_t c = channels[0];
  f += conv_flops(n, c + (minibatch_stddev ? 1 : 0), c, 3, 3, base_height, base_height);
  f += conv_flops(n, c, c, base_height, base_height, 1, 1);
  return f + 2.0 * double(n) * double(c);
}

}  // namespace sbgan_bench
