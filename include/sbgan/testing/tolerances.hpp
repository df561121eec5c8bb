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

}  // namespace sbgan::tolerance
