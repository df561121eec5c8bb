#pragma once
// Every numerical tolerance the tests use, in one place, with the reason for it.
namespace sbgan::tolerance {

// Central differences in double: step h balances truncation error O(h²·f''') ≈ 1e-12
// against rounding error ε·|f|/h ≈ 1e-10, so agreement to 1e-6 (relative to
// max(1, |value|)) leaves a margin of several orders and still catches any wrong term.
inline constexpr double fd_step = 1e-6;
inline constexpr double fd_relative = 1e-6;

// Golden data from PyTorch (computed in float64 from float32-representable inputs).
// Our float32 run: error relative to the largest reference magnitude.
inline constexpr double golden_float = 1e-5;
// Our float32 run of a composed network (a ten-layer critic and its second-order
// pass): rounding compounds through the layers; measured 1.9e-5 worst case.
inline constexpr double golden_float_composed = 5e-5;
// Our float64 run against PyTorch's float64: only summation order differs.
inline constexpr double golden_double = 1e-10;
// Adam in float vs torch.optim.Adam over 10 steps: measured 0 (bit-identical); 1.3e-7 if PyTorch's moments are unfused.
inline constexpr double adam_float = 1e-6;
// Float through near-singular terms (minibatch-stddev 1/s³ at s = 2.5e-4, official pixel norm 1/r²): PyTorch's own float errs 3.1e-4, ours 4.6e-4.
inline constexpr double golden_float_ill_conditioned = 1e-3;

// The vectorised CPU Gumbel-softmax (backend/cpu/gumbel_softmax_simd.hpp) against its
// scalar reference, float, over the odd shapes, offsets, τ and ε of test_gumbel.cpp's
// [simd] tests (measured values from those tests):
// - simd::log16 and exp16 against double precision, in ulp of the float nearest the
//   exact value: their exhaustive maxima (simd_math.hpp), 0.83 and 1.01, rounded up.
inline constexpr double simd_log_ulps = 1.0;
inline constexpr double simd_exp_ulps = 1.05;
// - exponential noise E = −log u, relative to the exact value: simd::log16 is within
//   1.01 ulp (2^-23 relative) of log u; measured 7.7e-8.
inline constexpr double gumbel_fast_exponential = 2.4e-7;
// - Gumbel noise g = −log E, |fast − reference| relative to max(1, |g|): two float
//   logarithms on each side, each ≤ 1 ulp; measured 1.2e-7 (one ulp).
inline constexpr double gumbel_fast_noise = 5e-7;
// - soft sample, absolute (values in [0, 1]): the reference rounds logits
//   z = (log(p+ε) + g)/τ of magnitude up to 2^6 (ulp 7.6e-6) before its exponential,
//   which bounds its soft values' error near 4e-6; the fast path rounds q = (p+ε)/E
//   instead (a few ulp relative) and sums in float. Measured 6.6e-7.
inline constexpr double gumbel_fast_soft = 1e-5;
// - one-hot: identical except at pixels whose two largest exact perturbed logits lie
//   within this gap: each path may misjudge a logit difference by twice its logit error
//   (1.5e-5 above), so two paths can disagree only below 3e-5; 3× margin. Measured: 7
//   such pixels of 156362 and no differing pixel.
inline constexpr double gumbel_fast_tie_gap = 1e-4;
// - backward, relative to max(1, largest reference magnitude): the channel sum
//   Σ soft·dy in float instead of double (≤ K·2^-24 relative, 2.1e-6 for K = 35) and
//   four float roundings per element; measured 8.7e-7.
inline constexpr double gumbel_fast_backward = 1e-5;

// CUDA against the CPU backend on the same float32 inputs (tests labelled `gpu`),
// error relative to max(1, largest CPU magnitude). Element-wise kernels: only
// fused multiply-adds and the device's transcendental functions differ (a few ulp).
inline constexpr double cuda_elementwise = 1e-6;
// Reductions (sums, norms, statistics, losses): a different summation order over up
// to ~10^6 terms, float accumulation error ~ sqrt(n)·ε.
inline constexpr double cuda_reduction = 1e-5;
// Convolutions and GEMMs: cuDNN/cuBLAS pick other algorithms (Winograd, FFT, TF32
// is disabled) and summation orders; as golden_float for single layers.
inline constexpr double cuda_gemm = 1e-5;
// The same kernels in float64 against a float64 reference (a direct convolution,
// a naive product): only the algorithm and summation order differ, ~1e-15 per
// term; FFT and Winograd convolutions add transform rounding, still far below
// 1e-10 (as golden_double).
inline constexpr double cuda_gemm_double = 1e-10;
// Whole networks and a full SB-GAN training iteration: errors compound through
// tens of layers and a second-order pass, as golden_float_composed.
inline constexpr double cuda_composed = 1e-4;

}  // namespace sbgan::tolerance
