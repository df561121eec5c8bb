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
