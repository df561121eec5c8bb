#pragma once
// The straight-through Gumbel-softmax sampler on the channel axis of an NCHW tensor
// of probabilities p, fused into one kernel per direction:
//   forward:   z    = (log(p + ε) + g) / τ          g: standard Gumbel noise
//              soft = softmax_c(z)
//              hard = one-hot(argmax_c soft)         ties: the first index, NaN counts
//                                                    as the maximum (torch.argmax)
//   backward:  dp  += soft ⊙ (dy − Σ_c soft·dy) / (τ·(p + ε))
//              the gradient of ⟨soft, dy⟩ with the noise held fixed: straight-through.
//
// Work is split into tiles of consecutive pixels of one image. Inside a tile each stage
// walks the channels in order and the tile's pixels contiguously, so memory is read in
// runs and the tile's K·64 values stay in cache from the first stage to the last.
// The noise is either read from a tensor (to reproduce a reference exactly) or drawn in
// the loop with the element-wise definition of Generator::gumbel (philox::to_gumbel of
// word i % 4 of block offset + i / 4), keeping the block that neighbours share.
//
// This scalar code is the reference. Float tensors with Philox noise take the vectorised
// fast path of gumbel_softmax_simd.hpp where the build targets AVX-512 (same uniforms,
// results within tolerance::gumbel_fast_*), unless SBGAN_REFERENCE_KERNELS=1
// (reference_kernels.hpp). The *_reference and *_fast functions name one path
// explicitly, for tests and benchmarks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "sbgan/backend/cpu/gumbel_softmax_simd.hpp"
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/backend/cpu/reference_kernels.hpp"
#include "sbgan/core/philox.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace gumbel_detail {

inline constexpr index_t tile = 64;

// Rough cost of one element of the forward in units of a multiply-add (a quarter of a
// Philox block, two logarithms, an exponential), for the parallel threshold.
inline constexpr index_t forward_cost = 32;
inline constexpr index_t backward_cost = 4;

// Geometry of the tiles of an NCHW tensor.
struct tiling {
  index_t channels, plane, tiles_per_image;
  explicit tiling(const Shape& s)
      : channels(s.c()), plane(s.h() * s.w()), tiles_per_image((s.h() * s.w() + tile - 1) / tile) {}
  [[nodiscard]] index_t count(const Shape& s) const { return s.n() * tiles_per_image; }
  // Offset of the tile's first pixel in channel 0, and its pixel count.
  [[nodiscard]] index_t base(index_t t) const {
    return (t / tiles_per_image) * channels * plane + (t % tiles_per_image) * tile;
  }
  [[nodiscard]] index_t length(index_t t) const { return std::min(tile, plane - (t % tiles_per_image) * tile); }
};

// Gumbel noise of flat element i of a draw at `pos`: philox::gumbel_at, with the
// four-word block kept for the next elements, which usually share it.
template <class T>
class philox_gumbel {
 public:
  explicit philox_gumbel(const philox::stream_position& pos) : pos_(pos) {}
  T operator()(index_t i) {
    const auto e = static_cast<std::uint64_t>(i);
    if (!valid_ || e / 4 != cached_) {
      block_ = philox::generate(pos_.offset + e / 4, pos_.stream, pos_.key);
      cached_ = e / 4;
      valid_ = true;
    }
    return philox::to_gumbel<T>(block_.v[e % 4]);
  }

 private:
  philox::stream_position pos_;
  philox::block block_{};
  std::uint64_t cached_ = 0;
  bool valid_ = false;
};

// Noise given as a tensor of the input's shape.
template <class T>
struct given_noise {
  const T* values;
  T operator()(index_t i) const { return values[i]; }
};

// Whether v replaces best as the running argmax: strictly greater (so ties keep the
// first index), and a NaN wins over any number, as in torch.argmax.
template <class T>
bool beats(T v, T best) {
  return v > best || (std::isnan(v) && !std::isnan(best));
}

// The fused forward; make_noise() returns a fresh per-tile noise source.
template <class T, class MakeNoise>
void straight_through_forward(const Tensor<T, cpu>& p, MakeNoise make_noise, T tau, T eps, Tensor<T, cpu>& soft,
                              Tensor<T, cpu>& hard) {
  const tiling g(p.shape());
  const T* ps = p.data();
  T* ss = soft.data();
  T* hs = hard.data();
  cpu_detail::parallel_for(
      g.count(p.shape()),
      [&](index_t t) {
        auto noise = make_noise();
        const index_t base = g.base(t), len = g.length(t);
        T peak[tile];
        double total[tile];
        T best[tile];
        index_t arg[tile];
        // Stage 1: the perturbed logits z (kept in `soft`) and their per-pixel maximum.
        for (index_t c = 0; c < g.channels; ++c) {
          const index_t off = base + c * g.plane;
          for (index_t i = 0; i < len; ++i) {
            const T z = (std::log(ps[off + i] + eps) + noise(off + i)) / tau;
            ss[off + i] = z;
            peak[i] = c == 0 ? z : std::max(peak[i], z);
          }
        }
        // Stage 2: exponentials, summed in double.
        std::fill(total, total + len, 0.0);
        for (index_t c = 0; c < g.channels; ++c) {
          const index_t off = base + c * g.plane;
          for (index_t i = 0; i < len; ++i) {
            const T e = std::exp(ss[off + i] - peak[i]);
            ss[off + i] = e;
            total[i] += static_cast<double>(e);
          }
        }
        for (index_t i = 0; i < len; ++i) total[i] = 1.0 / total[i];
        // Stage 3: normalise, take the argmax of the soft sample itself (what the
        // reference compares), and clear the one-hot.
        for (index_t c = 0; c < g.channels; ++c) {
          const index_t off = base + c * g.plane;
          for (index_t i = 0; i < len; ++i) {
            const T y = static_cast<T>(static_cast<double>(ss[off + i]) * total[i]);
            ss[off + i] = y;
            if (c == 0 || beats(y, best[i])) {
              best[i] = y;
              arg[i] = c;
            }
            hs[off + i] = T(0);
          }
        }
        for (index_t i = 0; i < len; ++i) hs[base + arg[i] * g.plane + i] = T(1);
      },
      tile * g.channels * forward_cost);
}

}  // namespace gumbel_detail

// Whether T has a vectorised fast path in this build, and whether it is in use.
template <class T>
inline constexpr bool gumbel_softmax_has_fast_path = SBGAN_SIMD_AVX512 && std::is_same_v<T, float>;
template <class T>
bool gumbel_softmax_fast_path_active() {
  return gumbel_softmax_has_fast_path<T> && !cpu_detail::reference_kernels_requested();
}

// The scalar reference of the forward below: element i of the tensor gets exactly the
// noise Generator::gumbel would write at i for that position.
template <class T>
void gumbel_softmax_st_forward_reference(const Tensor<T, cpu>& p, const philox::stream_position& noise, T tau, T eps,
                                         Tensor<T, cpu>& soft, Tensor<T, cpu>& hard) {
  gumbel_detail::straight_through_forward(
      p, [&] { return gumbel_detail::philox_gumbel<T>(noise); }, tau, eps, soft, hard);
}

// The vectorised forward where T has one, the reference otherwise.
template <class T>
void gumbel_softmax_st_forward_fast(const Tensor<T, cpu>& p, const philox::stream_position& noise, T tau, T eps,
                                    Tensor<T, cpu>& soft, Tensor<T, cpu>& hard) {
#if SBGAN_SIMD_AVX512
  if constexpr (gumbel_softmax_has_fast_path<T>) {
    gumbel_simd::forward(p, noise, tau, eps, soft, hard);
    return;
  }
#endif
  gumbel_softmax_st_forward_reference(p, noise, tau, eps, soft, hard);
}

// Forward with noise drawn from the Philox stream at `noise`: element i uses the
// uniform Generator::gumbel would use at i for that position (the reference path
// reproduces its noise exactly, the fast path to its log's rounding). The caller
// advances its generator by philox::blocks_for_uniform(p.numel()) blocks.
// p, soft and hard share one shape [N, K, H, W].
template <class T>
void gumbel_softmax_st_forward(const Tensor<T, cpu>& p, const philox::stream_position& noise, T tau, T eps,
                               Tensor<T, cpu>& soft, Tensor<T, cpu>& hard) {
  if (gumbel_softmax_fast_path_active<T>())
    gumbel_softmax_st_forward_fast(p, noise, tau, eps, soft, hard);
  else
    gumbel_softmax_st_forward_reference(p, noise, tau, eps, soft, hard);
}

// Forward with the noise given as a tensor of p's shape.
template <class T>
void gumbel_softmax_st_forward(const Tensor<T, cpu>& p, const Tensor<T, cpu>& noise, T tau, T eps,
                               Tensor<T, cpu>& soft, Tensor<T, cpu>& hard) {
  gumbel_detail::straight_through_forward(
      p, [&] { return gumbel_detail::given_noise<T>{noise.data()}; }, tau, eps, soft, hard);
}

// dp += soft ⊙ (dy − Σ_c soft·dy) / (τ·(p + ε)); the channel sum in double. The reference.
template <class T>
void gumbel_softmax_st_backward_reference(const Tensor<T, cpu>& p, const Tensor<T, cpu>& soft, const Tensor<T, cpu>& dy,
                                          T tau, T eps, Tensor<T, cpu>& dp) {
  const gumbel_detail::tiling g(p.shape());
  const T *ps = p.data(), *ss = soft.data(), *gs = dy.data();
  T* ds = dp.data();
  const double inv_tau = 1.0 / static_cast<double>(tau);
  cpu_detail::parallel_for(
      g.count(p.shape()),
      [&](index_t t) {
        const index_t base = g.base(t), len = g.length(t);
        double dotp[gumbel_detail::tile];
        std::fill(dotp, dotp + len, 0.0);
        for (index_t c = 0; c < g.channels; ++c) {
          const index_t off = base + c * g.plane;
          for (index_t i = 0; i < len; ++i) dotp[i] += static_cast<double>(ss[off + i]) * gs[off + i];
        }
        for (index_t c = 0; c < g.channels; ++c) {
          const index_t off = base + c * g.plane;
          for (index_t i = 0; i < len; ++i) {
            const double dz = static_cast<double>(ss[off + i]) * (gs[off + i] - dotp[i]);
            ds[off + i] += static_cast<T>(dz * inv_tau / (static_cast<double>(ps[off + i]) + eps));
          }
        }
      },
      gumbel_detail::tile * g.channels * gumbel_detail::backward_cost);
}

// The vectorised backward where T has one (float sums), the reference otherwise.
template <class T>
void gumbel_softmax_st_backward_fast(const Tensor<T, cpu>& p, const Tensor<T, cpu>& soft, const Tensor<T, cpu>& dy,
                                     T tau, T eps, Tensor<T, cpu>& dp) {
#if SBGAN_SIMD_AVX512
  if constexpr (gumbel_softmax_has_fast_path<T>) {
    gumbel_simd::backward(p, soft, dy, tau, eps, dp);
    return;
  }
#endif
  gumbel_softmax_st_backward_reference(p, soft, dy, tau, eps, dp);
}

// dp += soft ⊙ (dy − Σ_c soft·dy) / (τ·(p + ε)): the gradient of ⟨soft, dy⟩ with the
// noise held fixed.
template <class T>
void gumbel_softmax_st_backward(const Tensor<T, cpu>& p, const Tensor<T, cpu>& soft, const Tensor<T, cpu>& dy, T tau,
                                T eps, Tensor<T, cpu>& dp) {
  if (gumbel_softmax_fast_path_active<T>())
    gumbel_softmax_st_backward_fast(p, soft, dy, tau, eps, dp);
  else
    gumbel_softmax_st_backward_reference(p, soft, dy, tau, eps, dp);
}

// hard = one-hot(argmax_c x), ties to the first index, NaN as the maximum (torch.argmax).
template <class T>
void one_hot_argmax_channels(const Tensor<T, cpu>& x, Tensor<T, cpu>& hard) {
  const gumbel_detail::tiling g(x.shape());
  const T* xs = x.data();
  T* hs = hard.data();
  cpu_detail::parallel_for(
      g.count(x.shape()),
      [&](index_t t) {
        const index_t base = g.base(t), len = g.length(t);
        T best[gumbel_detail::tile];
        index_t arg[gumbel_detail::tile];
        for (index_t c = 0; c < g.channels; ++c) {
          const index_t off = base + c * g.plane;
          for (index_t i = 0; i < len; ++i) {
            const T v = xs[off + i];
            if (c == 0 || gumbel_detail::beats(v, best[i])) {
              best[i] = v;
              arg[i] = c;
            }
            hs[off + i] = T(0);
          }
        }
        for (index_t i = 0; i < len; ++i) hs[base + arg[i] * g.plane + i] = T(1);
      },
      gumbel_detail::tile * g.channels);
}

}  // namespace sbgan::kernels
