#pragma once
// AVX-512 building blocks of the vectorised CPU kernels, 16 float lanes at a time:
//   philox16       Philox4x32-10 for 16 consecutive counters, integer-exact with
//                  philox::generate (same words, same stream layout);
//   log16, exp16   float logarithm and exponential by range reduction + polynomial;
//   exponential16  −log u of 16 words, u = philox::to_unit_open(word);
//   gumbel16       philox::to_gumbel of 16 words: −log(−log u).
// Only defined where the compiler targets AVX-512F (SBGAN_SIMD_AVX512 is 1): the build's
// -march=native on an AVX-512 machine. Elsewhere the kernels keep their scalar
// reference code. Never in a CUDA device pass (intrinsics are host-only).
//
// Accuracy, measured exhaustively against double-precision std::log / std::exp (error
// in units of the last place of the float nearest the exact value), over every float
// of the range (a scratch program, -O2 -march=native, on the AVX-512 CI machine):
//   log16  every positive finite float, subnormals included: max 0.83 ulp, 99.36 %
//          correctly rounded; log(±0) = −inf, log(x < 0) = NaN, log(+inf) = +inf,
//          NaN → NaN, as std::log.
//   exp16  every float in [−104, 89]: max 1.01 ulp where the result is normal,
//          99.23 % correctly rounded; subnormal results within 0.75·2^-149;
//          e^−inf = 0, e^x = +inf above 88.72, NaN → NaN, as std::exp.
// The polynomials are Cephes' (S. L. Moshier) minimax coefficients for logf and expf on
// the reduced ranges below, evaluated with fused multiply-adds.
#include <cstdint>

#if defined(__AVX512F__) && !defined(__CUDA_ARCH__)
#include <immintrin.h>
#define SBGAN_SIMD_AVX512 1
#else
#define SBGAN_SIMD_AVX512 0
#endif

#if SBGAN_SIMD_AVX512
// GCC 12.0-12.2's unmasked AVX-512 intrinsics start from _mm512_undefined_*(), a
// self-initialised variable that -Wuninitialized reports once they are inlined (GCC bug
// 105593; cmake/sbganTargetOptions.cmake silences it for the CMake targets). Silenced
// here for the kernels written with them (this file and gumbel_softmax_simd.hpp) so
// that any build of them is warning-free.
#if defined(__GNUC__) && !defined(__clang__)
#define SBGAN_SIMD_BEGIN                                        \
  _Pragma("GCC diagnostic push")                                \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")         \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define SBGAN_SIMD_END _Pragma("GCC diagnostic pop")
#else
#define SBGAN_SIMD_BEGIN
#define SBGAN_SIMD_END
#endif

SBGAN_SIMD_BEGIN
namespace sbgan::simd {

// ---- Philox4x32-10 ------------------------------------------------------------------

// High 32 bits of the 16 products a·m (m a broadcast constant). vpmuludq multiplies
// the even 32-bit lanes into 64-bit products, so the odd lanes go through a shift.
inline __m512i mulhi_epu32(__m512i a, __m512i m) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  return _mm512_mask_mov_epi32(_mm512_srli_epi64(even, 32), 0xAAAA, odd);
}

// The four words of 16 Philox blocks: word[w] lane b is
// philox::generate(first + b, counter_hi, key).v[w].
struct philox_words {
  __m512i word[4];
};

inline philox_words philox16(std::uint64_t first, std::uint64_t counter_hi, std::uint64_t key) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i first_lo = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first)));
  const __m512i first_hi = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first >> 32)));
  __m512i c0 = _mm512_add_epi32(first_lo, lane);
  // The 64-bit counter first + b carries into its high word where the low word wraps.
  const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, first_lo);
  __m512i c1 = _mm512_mask_add_epi32(first_hi, carry, first_hi, _mm512_set1_epi32(1));
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(counter_hi)));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(counter_hi >> 32)));
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    const __m512i hi0 = mulhi_epu32(c0, m0), lo0 = _mm512_mullo_epi32(c0, m0);
    const __m512i hi1 = mulhi_epu32(c2, m1), lo1 = _mm512_mullo_epi32(c2, m1);
    // 0x96: the three-way exclusive or.
    c0 = _mm512_ternarylogic_epi32(hi1, c1, _mm512_set1_epi32(static_cast<int>(k0)), 0x96);
    c2 = _mm512_ternarylogic_epi32(hi0, c3, _mm512_set1_epi32(static_cast<int>(k1)), 0x96);
    c1 = lo1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return philox_words{{c0, c1, c2, c3}};
}

// The 64 words of philox16 in stream order (element 4b + w is word w of block b):
// out[j] holds elements 16j … 16j + 15. A 4×4 transpose inside each 128-bit lane
// (unpack) followed by one across the lanes (shuffle_i32x4).
inline void stream_order(const philox_words& in, __m512i out[4]) {
  const __m512i w01_lo = _mm512_unpacklo_epi32(in.word[0], in.word[1]);
  const __m512i w01_hi = _mm512_unpackhi_epi32(in.word[0], in.word[1]);
  const __m512i w23_lo = _mm512_unpacklo_epi32(in.word[2], in.word[3]);
  const __m512i w23_hi = _mm512_unpackhi_epi32(in.word[2], in.word[3]);
  // 128-bit lane k of block_r holds block 4k + r, words 0…3.
  const __m512i block0 = _mm512_unpacklo_epi64(w01_lo, w23_lo);
  const __m512i block1 = _mm512_unpackhi_epi64(w01_lo, w23_lo);
  const __m512i block2 = _mm512_unpacklo_epi64(w01_hi, w23_hi);
  const __m512i block3 = _mm512_unpackhi_epi64(w01_hi, w23_hi);
  const __m512i b01_low = _mm512_shuffle_i32x4(block0, block1, 0x44);   // lanes 0, 1 of each
  const __m512i b01_high = _mm512_shuffle_i32x4(block0, block1, 0xEE);  // lanes 2, 3 of each
  const __m512i b23_low = _mm512_shuffle_i32x4(block2, block3, 0x44);
  const __m512i b23_high = _mm512_shuffle_i32x4(block2, block3, 0xEE);
  out[0] = _mm512_shuffle_i32x4(b01_low, b23_low, 0x88);  // lane 0 of blocks 0, 1, 2, 3
  out[1] = _mm512_shuffle_i32x4(b01_low, b23_low, 0xDD);  // lane 1
  out[2] = _mm512_shuffle_i32x4(b01_high, b23_high, 0x88);
  out[3] = _mm512_shuffle_i32x4(b01_high, b23_high, 0xDD);
}

// ---- logarithm ----------------------------------------------------------------------

// log x for positive, finite x (subnormals included): x = m·2^e with m in [√½, √2)
// (getmant/getexp normalise subnormals themselves), then
//   log x = e·ln2 + f − f²/2 + f³·P(f),   f = m − 1 exactly (Sterbenz),
// with ln2 split in two so that e·ln2_hi is exact.
inline __m512 log16_positive(__m512 x) {
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_nan);
  __m512 e = _mm512_getexp_ps(x);
  const __mmask16 above_sqrt2 = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, above_sqrt2, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, above_sqrt2, e, _mm512_set1_ps(1.0f));
  const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 f2 = _mm512_mul_ps(f, f);
  __m512 p = _mm512_set1_ps(7.0376836292e-2f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.1514610310e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.1676998740e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.2420140846e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.4249322787e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.6668057665e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.0000714765e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-2.4999993993e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(3.3333331174e-1f));
  // Small terms first, then f, then the large e·ln2_hi.
  __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, f), f2);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);  // e·ln2_lo
  y = _mm512_fmadd_ps(f2, _mm512_set1_ps(-0.5f), y);
  y = _mm512_add_ps(f, y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), y);  // e·ln2_hi, 9 bits: exact
}

// log x for any float, with std::log's special values.
inline __m512 log16(__m512 x) {
  __m512 y = log16_positive(x);  // NaN for x < 0 (getmant's sign control) and NaN x
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ),
                         _mm512_set1_ps(-__builtin_inff()));
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, inf, _CMP_EQ_OQ), inf);
}

// ---- exponential --------------------------------------------------------------------

// e^x: x = n·ln2 + r with n = round(x·log2 e), |r| ≤ ln2/2, e^r = 1 + r + r²·P(r),
// and vscalefps multiplies by 2^n without building the exponent by hand, which also
// gives gradual underflow and overflow to +inf. x is clamped to [−104, 128] first so
// that ±inf do not make r a NaN (e^−104 rounds to 0, e^128 overflows); the clamps
// keep a NaN (vmaxps/vminps return their second operand when one is NaN).
inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(128.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // n·ln2_hi exact
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 e_r = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(e_r, n);
}

// ---- Gumbel noise -------------------------------------------------------------------

// philox::to_unit_open of 16 words: (word >> 9)·2^-23 + 2^-24, exact in float.
inline __m512 unit_open16(__m512i words) {
  const __m512 k = _mm512_cvtepi32_ps(_mm512_srli_epi32(words, 9));
  return _mm512_fmadd_ps(k, _mm512_set1_ps(1.1920928955078125e-07f), _mm512_set1_ps(5.9604644775390625e-08f));
}

inline __m512 negate16(__m512 x) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
}

// Standard exponential noise E = −log u of 16 words, u = to_unit_open(word): u lies in
// [2^-24, 1 − 2^-24], a positive normal float, and E in [6e-8, 16.7].
inline __m512 exponential16(__m512i words) { return negate16(log16_positive(unit_open16(words))); }

// philox::to_gumbel of 16 words: −log(−log u) = −log E.
inline __m512 gumbel16(__m512i words) { return negate16(log16_positive(exponential16(words))); }

}  // namespace sbgan::simd
SBGAN_SIMD_END
#endif
