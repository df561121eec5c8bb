#pragma once
// Shared by the layer tests: random configurations and the layer checker as a
// Catch2 requirement that prints the checker's report on failure.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

#include <sbgan/testing/layer_checker.hpp>

namespace test_support {

// Random configurations come from this engine; the seed is part of the test.
struct Dice {
  std::mt19937_64 engine;
  explicit Dice(std::uint64_t seed) : engine(seed) {}
  sbgan::index_t operator()(sbgan::index_t lo, sbgan::index_t hi) {
    return std::uniform_int_distribution<sbgan::index_t>(lo, hi)(engine);
  }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(engine); }
};

template <class L>
void require_checked(L& layer, const sbgan::Shape& input, std::uint64_t seed) {
  const auto report = sbgan::testing::check_layer(layer, input, seed);
  INFO(layer.describe() << " on " << input << ": " << report.summary());
  REQUIRE(report.ok());
}

}  // namespace test_support
