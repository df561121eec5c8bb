#pragma once
// The vectorised straight-through Gumbel-softmax kernels: float, AVX-512, the fast path
// of gumbel_softmax.hpp (which keeps the scalar reference and chooses between them).
//
// Forward. The reference computes z = (log(p + ε) + g)/τ with g = −log E, E = −log u
// the exponential noise, and soft = softmax_c(z): three logarithms and an exponential
// per element. Here the two logarithms of z become one, z = log(q)/τ with
// q = (p + ε)/E, and at τ = 1 none is left: softmax_c(log q) = q / Σ_c q. What remains
// per element is the Philox draw, log u, a division, and for τ ≠ 1 log q and an
// exponential. The result differs from the reference by rounding only
// (tolerance::gumbel_fast_soft; fewer roundings than the reference's own), and hard is
// the one-hot of the argmax of soft as in the reference. The uniforms are
// integer-exact: element i gets word i % 4 of Philox block offset + i / 4.
// For inputs outside the contract the results agree in kind: NaN where p + ε is
// negative, infinite or NaN (at τ = 1, also where q = (p + ε)/E overflows, p > 1e31).
//
// Backward: the reference's dp += soft ⊙ (dy − Σ_c soft·dy) / (τ·(p + ε)) with the sum
// in float and 1/τ a multiplication (tolerance::gumbel_fast_backward).
//
// Tiles as in the reference: `tile` consecutive pixels of one image, every stage
// walking the channels in order and the tile's pixels contiguously (vectors of 16
// pixels of one channel), so memory is read in runs. The forward keeps its
// intermediate values in a stack buffer (L1) and writes soft and hard once each, with
// non-temporal stores where every vector is a whole cache line: one pass over memory,
// and no output line read before it is written. A tile of 64 pixels is one Philox×16
// call per channel when its run starts on a block boundary.
#include <algorithm>
#include <cstdint>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/backend/cpu/simd_math.hpp"
#include "sbgan/core/philox.hpp"
#include "sbgan/core/tensor.hpp"

#if SBGAN_SIMD_AVX512
SBGAN_SIMD_BEGIN
namespace sbgan::kernels::gumbel_simd {

inline constexpr index_t lanes = 16;
inline constexpr index_t tile = 64;
inline constexpr index_t vectors_per_tile = tile / lanes;

// Rough cost of one element in multiply-adds, for the parallel threshold.
inline constexpr index_t forward_cost = 8;
inline constexpr index_t backward_cost = 2;

// The lanes of vector v (pixels 16v … 16v + 15) that lie inside a run of `len` pixels.
inline __mmask16 lanes_in(index_t len, index_t v) {
  const index_t left = len - v * lanes;
  return left >= lanes ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

// The Philox words of the flat elements [first, first + count) of a draw at `pos`,
// count ≤ tile: words[v] holds elements first + 16v … first + 16v + 15 (lanes past
// count are scratch). A run that starts on a block boundary comes straight from
// registers; one that starts inside a block is generated from the block's start into a
// buffer and read `lead` words on.
inline void run_words(const philox::stream_position& pos, std::uint64_t first, index_t count,
                      __m512i words[vectors_per_tile]) {
  const auto lead = static_cast<index_t>(first % 4);
  std::uint64_t block = pos.offset + first / 4;
  if (lead == 0) {
    for (index_t v = 0; v * lanes < count; v += 4, block += lanes)
      simd::stream_order(simd::philox16(block, pos.stream, pos.key), words + v);
    return;
  }
  alignas(64) std::uint32_t buffer[tile + 4 * lanes];
  const index_t needed = lead + (count + lanes - 1) / lanes * lanes;  // whole vectors
  for (index_t done = 0; done < needed; done += 4 * lanes, block += lanes) {
    __m512i group[4];
    simd::stream_order(simd::philox16(block, pos.stream, pos.key), group);
    for (index_t j = 0; j < 4; ++j) _mm512_store_si512(buffer + done + j * lanes, group[j]);
  }
  for (index_t v = 0; v * lanes < count; ++v) words[v] = _mm512_loadu_si512(buffer + lead + v * lanes);
}

// Exponential noise of the same elements: E = −log u, philox::to_unit_open's u.
inline void draw_exponential(const philox::stream_position& pos, std::uint64_t first, index_t count, float* out) {
  __m512i words[vectors_per_tile];
  run_words(pos, first, count, words);
  for (index_t v = 0; v * lanes < count; ++v) _mm512_storeu_ps(out + v * lanes, simd::exponential16(words[v]));
}

// Where a float is +inf, −inf or NaN.
inline __mmask16 not_finite(__m512 x) {
  return _mm512_cmp_ps_mask(_mm512_sub_ps(x, x), _mm512_setzero_ps(), _CMP_UNORD_Q);
}

// Where the forward keeps a tile's intermediate values (q, z, e^(z − peak)): a stack
// buffer of up to scratch_channels channels, dense, or else `soft` itself.
inline constexpr index_t scratch_channels = 64;

struct tile_scratch {
  float* values;
  index_t stride;  // between channels
};

// Outputs from this size on are written with non-temporal stores: they would not stay
// in cache for the next layer anyway. Smaller ones might, so they are stored normally.
inline constexpr index_t stream_min_bytes = index_t{16} << 20;

// Stores v at `to` (lanes `in`): a non-temporal store for whole aligned vectors of an
// output that is written once and not read again here, so that its cache lines are
// neither read from memory first nor evict the tile's working set.
inline void store_output(float* to, __m512 v, __mmask16 in, bool stream) {
  if (stream)
    _mm512_stream_ps(to, v);
  else
    _mm512_mask_storeu_ps(to, in, v);
}

// One tile of the forward: `len` pixels from p (channel 0), channels `plane` apart;
// `first` is the flat index of p[0], which names its noise. Full: len == tile (the
// vector loops unroll and the per-pixel state stays in registers). Tempered: τ ≠ 1.
// Stream: soft and hard take non-temporal stores (Full, and every vector aligned).
template <bool Full, bool Tempered>
void forward_tile(const float* p, float* soft, float* hard, index_t len, index_t channels, index_t plane,
                  std::uint64_t first, const philox::stream_position& pos, float inv_tau, float eps,
                  tile_scratch work, bool stream) {
  const index_t vectors = Full ? vectors_per_tile : (len + lanes - 1) / lanes;
  const auto in = [&](index_t v) { return Full ? __mmask16(0xFFFF) : lanes_in(len, v); };
  const __m512 eps_v = _mm512_set1_ps(eps), inv_tau_v = _mm512_set1_ps(inv_tau);
  const __m512 nan = _mm512_set1_ps(__builtin_nanf(""));
  __m512 peak[vectors_per_tile], total[vectors_per_tile], best[vectors_per_tile];
  __m512i arg[vectors_per_tile], words[vectors_per_tile];
  for (index_t v = 0; v < vectors; ++v) total[v] = _mm512_setzero_ps();

  // Stage 1: q = (p + ε)/E. τ = 1: q and its per-pixel sum. τ ≠ 1: z = log(q)/τ and
  // its per-pixel maximum (vmaxps(z, peak) is the reference's std::max(peak, z), NaN
  // included).
  for (index_t c = 0; c < channels; ++c) {
    const index_t off = c * plane;
    float* w = work.values + c * work.stride;
    run_words(pos, first + static_cast<std::uint64_t>(off), len, words);
    for (index_t v = 0; v < vectors; ++v) {
      const __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(in(v), p + off + v * lanes), eps_v);
      const __m512 q = _mm512_div_ps(x, simd::exponential16(words[v]));
      if constexpr (Tempered) {
        const __m512 z = _mm512_mul_ps(simd::log16(q), inv_tau_v);
        _mm512_mask_storeu_ps(w + v * lanes, in(v), z);
        peak[v] = c == 0 ? z : _mm512_max_ps(z, peak[v]);
      } else {
        // log(p + ε) is NaN for p + ε < 0 in the reference, and so is every soft value.
        const __m512 q_or_nan = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), nan);
        _mm512_mask_storeu_ps(w + v * lanes, in(v), q_or_nan);
        total[v] = _mm512_add_ps(total[v], q_or_nan);
      }
    }
  }
  // Stage 2 (τ ≠ 1): the exponentials e^(z − peak) and their sum.
  if constexpr (Tempered) {
    for (index_t c = 0; c < channels; ++c) {
      float* w = work.values + c * work.stride;
      for (index_t v = 0; v < vectors; ++v) {
        const __m512 e = simd::exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(in(v), w + v * lanes), peak[v]));
        _mm512_mask_storeu_ps(w + v * lanes, in(v), e);
        total[v] = _mm512_add_ps(total[v], e);
      }
    }
  }
  // 1/Σ. At τ = 1 an infinite sum (an infinite p) makes every soft value NaN, as the
  // reference's inf − inf does; an all-zero pixel gives 0·inf = NaN in both.
  for (index_t v = 0; v < vectors; ++v) {
    const __m512 inverse = _mm512_div_ps(_mm512_set1_ps(1.0f), total[v]);
    total[v] = Tempered ? inverse : _mm512_mask_mov_ps(inverse, not_finite(total[v]), nan);
  }
  // Stage 3: normalise into soft and take the argmax of the soft sample as the
  // reference does (ties keep the first channel; a NaN beats a number, not another NaN).
  for (index_t c = 0; c < channels; ++c) {
    const index_t off = c * plane;
    const float* w = work.values + c * work.stride;
    const __m512i channel = _mm512_set1_epi32(static_cast<int>(c));
    for (index_t v = 0; v < vectors; ++v) {
      const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(in(v), w + v * lanes), total[v]);
      store_output(soft + off + v * lanes, y, in(v), stream);
      if (c == 0) {
        best[v] = y;
        arg[v] = channel;
        continue;
      }
      const __mmask16 best_is_number = _mm512_cmp_ps_mask(best[v], best[v], _CMP_ORD_Q);
      const __mmask16 beats = _mm512_mask_cmp_ps_mask(best_is_number, y, best[v], _CMP_NLE_UQ);
      best[v] = _mm512_mask_mov_ps(best[v], beats, y);
      arg[v] = _mm512_mask_mov_epi32(arg[v], beats, channel);
    }
  }
  // Stage 4: the one-hot, written once.
  const __m512 one = _mm512_set1_ps(1.0f);
  for (index_t c = 0; c < channels; ++c) {
    const index_t off = c * plane;
    const __m512i channel = _mm512_set1_epi32(static_cast<int>(c));
    for (index_t v = 0; v < vectors; ++v)
      store_output(hard + off + v * lanes, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(arg[v], channel), one), in(v),
                   stream);
  }
}

// One tile of the backward, laid out as forward_tile's.
template <bool Full>
void backward_tile(const float* p, const float* soft, const float* dy, float* dp, index_t len, index_t channels,
                   index_t plane, float inv_tau, float eps) {
  const index_t vectors = Full ? vectors_per_tile : (len + lanes - 1) / lanes;
  const auto in = [&](index_t v) { return Full ? __mmask16(0xFFFF) : lanes_in(len, v); };
  const __m512 eps_v = _mm512_set1_ps(eps), inv_tau_v = _mm512_set1_ps(inv_tau);
  __m512 dot[vectors_per_tile];
  for (index_t v = 0; v < vectors; ++v) dot[v] = _mm512_setzero_ps();
  for (index_t c = 0; c < channels; ++c) {
    const index_t off = c * plane;
    for (index_t v = 0; v < vectors; ++v)
      dot[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(in(v), soft + off + v * lanes),
                               _mm512_maskz_loadu_ps(in(v), dy + off + v * lanes), dot[v]);
  }
  for (index_t c = 0; c < channels; ++c) {
    const index_t off = c * plane;
    for (index_t v = 0; v < vectors; ++v) {
      const index_t at = off + v * lanes;
      const __m512 s = _mm512_maskz_loadu_ps(in(v), soft + at);
      const __m512 dz = _mm512_mul_ps(s, _mm512_sub_ps(_mm512_maskz_loadu_ps(in(v), dy + at), dot[v]));
      // Lanes outside the run divide by ε (or 0) harmlessly: they are never stored.
      const __m512 step =
          _mm512_div_ps(_mm512_mul_ps(dz, inv_tau_v), _mm512_add_ps(_mm512_maskz_loadu_ps(in(v), p + at), eps_v));
      _mm512_mask_storeu_ps(dp + at, in(v), _mm512_add_ps(_mm512_maskz_loadu_ps(in(v), dp + at), step));
    }
  }
}

// Calls f(offset of the tile's first pixel in channel 0, its pixel count) for every tile
// of an NCHW tensor, in parallel.
template <class F>
void for_each_tile(const Shape& s, index_t cost_per_element, F&& f) {
  const index_t channels = s.c(), plane = s.h() * s.w(), tiles_per_image = (plane + tile - 1) / tile;
  cpu_detail::parallel_for(
      s.n() * tiles_per_image,
      [&](index_t t) {
        const index_t start = (t % tiles_per_image) * tile;
        f((t / tiles_per_image) * channels * plane + start, std::min(tile, plane - start));
      },
      tile * channels * cost_per_element);
}

template <bool Tempered>
void forward(const Tensor<float, cpu>& p, const philox::stream_position& noise, float inv_tau, float eps,
             Tensor<float, cpu>& soft, Tensor<float, cpu>& hard) {
  const index_t channels = p.shape().c(), plane = p.shape().h() * p.shape().w();
  const auto aligned = [](const float* at) { return reinterpret_cast<std::uintptr_t>(at) % 64 == 0; };
  // Every vector of a full tile starts on a cache line when the planes and the tensors do.
  const bool stream = p.numel() * static_cast<index_t>(sizeof(float)) >= stream_min_bytes && plane % lanes == 0 &&
                      aligned(soft.data()) && aligned(hard.data());
  for_each_tile(p.shape(), forward_cost, [&](index_t base, index_t len) {
    alignas(64) float scratch[scratch_channels * tile];
    const tile_scratch work = channels <= scratch_channels ? tile_scratch{scratch, tile}
                                                           : tile_scratch{soft.data() + base, plane};
    const auto first = static_cast<std::uint64_t>(base);
    if (len == tile)
      forward_tile<true, Tempered>(p.data() + base, soft.data() + base, hard.data() + base, len, channels, plane,
                                   first, noise, inv_tau, eps, work, stream && work.values == scratch);
    else
      forward_tile<false, Tempered>(p.data() + base, soft.data() + base, hard.data() + base, len, channels, plane,
                                    first, noise, inv_tau, eps, work, false);
    _mm_sfence();  // non-temporal stores are weakly ordered: publish them on this thread
  });
}

inline void forward(const Tensor<float, cpu>& p, const philox::stream_position& noise, float tau, float eps,
                    Tensor<float, cpu>& soft, Tensor<float, cpu>& hard) {
  if (tau == 1.0f)
    forward<false>(p, noise, 1.0f, eps, soft, hard);
  else
    forward<true>(p, noise, 1.0f / tau, eps, soft, hard);
}

inline void backward(const Tensor<float, cpu>& p, const Tensor<float, cpu>& soft, const Tensor<float, cpu>& dy,
                     float tau, float eps, Tensor<float, cpu>& dp) {
  const index_t channels = p.shape().c(), plane = p.shape().h() * p.shape().w();
  const float inv_tau = 1.0f / tau;
  for_each_tile(p.shape(), backward_cost, [&](index_t base, index_t len) {
    if (len == tile)
      backward_tile<true>(p.data() + base, soft.data() + base, dy.data() + base, dp.data() + base, len, channels,
                          plane, inv_tau, eps);
    else
      backward_tile<false>(p.data() + base, soft.data() + base, dy.data() + base, dp.data() + base, len, channels,
                           plane, inv_tau, eps);
  });
}

}  // namespace sbgan::kernels::gumbel_simd
SBGAN_SIMD_END
#endif
