#pragma once
// Shared by the CUDA test units: skipping without a GPU, and CPU-vs-CUDA comparison
// at the tolerances of sbgan/testing/tolerances.hpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <sbgan/backend/cuda/device.hpp>
#include <sbgan/backend/cuda/transfer.hpp>
#include <sbgan/core/tensor.hpp>
#include <sbgan/testing/tolerances.hpp>

// Every GPU test starts with this: without a GPU the case says so and passes, so a
// CPU-only CI run compiles all CUDA code and still reports which cases did not run.
#define REQUIRE_GPU_OR_SKIP()                                                 \
  do {                                                                        \
    if (!::sbgan::cuda_available()) {                                         \
      WARN("no CUDA GPU on this machine: skipping (compiled, not executed)"); \
      return;                                                                 \
    }                                                                         \
  } while (0)

namespace test_support {

// Largest |cpu − cuda| relative to max(1, max |cpu|); shapes must match.
template <class T>
double parity_error(const sbgan::Tensor<T, sbgan::cpu>& expected, const sbgan::Tensor<T, sbgan::cuda>& got) {
  REQUIRE(expected.shape() == got.shape());
  const auto host = sbgan::to_host(got);
  double scale = 1, worst = 0;
  for (sbgan::index_t i = 0; i < expected.numel(); ++i) scale = std::max(scale, std::abs(double(expected[i])));
  for (sbgan::index_t i = 0; i < expected.numel(); ++i) {
    const double d = std::abs(double(expected[i]) - double(host[i]));
    if (!(d <= worst)) worst = d;  // a NaN makes the error NaN, which fails every bound
  }
  return worst / scale;
}

template <class T>
void require_parity(const std::string& what, const sbgan::Tensor<T, sbgan::cpu>& expected,
                    const sbgan::Tensor<T, sbgan::cuda>& got, double tolerance) {
  const double error = parity_error(expected, got);
  INFO(what << ": CPU vs CUDA relative error " << error << " (tolerance " << tolerance << ")");
  REQUIRE(error <= tolerance);
}

inline void require_parity(const std::string& what, double expected, double got, double tolerance) {
  const double error = std::abs(expected - got) / std::max(1.0, std::abs(expected));
  INFO(what << ": CPU " << expected << " vs CUDA " << got << ", relative error " << error);
  REQUIRE(error <= tolerance);
}

}  // namespace test_support
