#pragma once
// Host inputs for the CUDA parity tests, each from its own seed (the device gets a
// copy): normal noise, one-hot layouts and per-pixel class probabilities.
#include <cstdint>

#include <sbgan/core/factories.hpp>
#include <sbgan/core/generator.hpp>
#include <sbgan/layers/channel_softmax.hpp>

namespace test_support {

inline sbgan::Tensor<float> normal(std::uint64_t seed, const sbgan::Shape& s) {
  sbgan::Generator g(seed, 0x696e707574ULL);
  return g.normal<float>(s);
}

// [N, K, H, W], one-hot over K: the argmax of normal noise at every pixel.
inline sbgan::Tensor<float> one_hot_layout(std::uint64_t seed, const sbgan::Shape& s) {
  const auto noise = normal(seed, s);
  auto layout = sbgan::zeros<float>(s);
  for (sbgan::index_t n = 0; n < s.n(); ++n)
    for (sbgan::index_t i = 0; i < s.h(); ++i)
      for (sbgan::index_t j = 0; j < s.w(); ++j) {
        sbgan::index_t best = 0;
        for (sbgan::index_t k = 1; k < s.c(); ++k)
          if (noise(n, k, i, j) > noise(n, best, i, j)) best = k;
        layout(n, best, i, j) = 1;
      }
  return layout;
}

// [N, K, H, W] class probabilities: a softmax over K of normal noise.
inline sbgan::Tensor<float> probabilities(std::uint64_t seed, const sbgan::Shape& s) {
  return sbgan::ChannelSoftmax<float>().forward(normal(seed, s)).output;
}

}  // namespace test_support
