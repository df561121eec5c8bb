#pragma once
// Golden data from PyTorch (tools/golden/make_golden.py), loaded with xtensor's
// .npy reader into sbgan tensors.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <sbgan/sbgan.hpp>

#ifndef SBGAN_GOLDEN_DIR
#error "SBGAN_GOLDEN_DIR must point at tests/golden"
#endif

namespace golden {

inline std::string path(const std::string& test_case, const std::string& name) {
  return std::string(SBGAN_GOLDEN_DIR) + "/" + test_case + "/" + name + ".npy";
}

inline bool exists(const std::string& test_case, const std::string& name) {
  return std::filesystem::exists(path(test_case, name));
}

template <class T>
sbgan::Tensor<T> load(const std::string& test_case, const std::string& name) {
  const std::string file = path(test_case, name);
  if (!std::filesystem::exists(file)) throw std::runtime_error("missing golden file " + file);
  const xt::xarray<double> a = xt::load_npy<double>(file);
  sbgan::Shape shape;
  switch (a.dimension()) {
    case 0: shape = sbgan::Shape{1}; break;
    case 1: shape = sbgan::Shape{static_cast<sbgan::index_t>(a.shape()[0])}; break;
    case 2: shape = sbgan::Shape{static_cast<sbgan::index_t>(a.shape()[0]), static_cast<sbgan::index_t>(a.shape()[1])}; break;
    case 4:
      shape = sbgan::Shape{static_cast<sbgan::index_t>(a.shape()[0]), static_cast<sbgan::index_t>(a.shape()[1]),
                           static_cast<sbgan::index_t>(a.shape()[2]), static_cast<sbgan::index_t>(a.shape()[3])};
      break;
    default: throw std::runtime_error("unsupported rank in " + file);
  }
  sbgan::Tensor<T> t(shape);
  std::transform(a.begin(), a.end(), t.begin(), [](double v) { return static_cast<T>(v); });
  return t;
}

// max |actual − expected| / max(max |expected|, tiny): the error relative to the
// reference's scale, so that near-zero entries do not dominate.
template <class T>
double relative_error(const sbgan::Tensor<T>& actual, const sbgan::Tensor<double>& expected) {
  if (actual.numel() != expected.numel()) return INFINITY;
  double diff = 0, scale = 1e-30;
  for (sbgan::index_t i = 0; i < actual.numel(); ++i) {
    const double d = std::abs(static_cast<double>(actual[i]) - expected[i]);
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::abs(expected[i]));
  }
  return diff / scale;
}

// Copies golden values into a tensor of the same element count.
template <class T>
void assign(sbgan::Tensor<T>& dst, const sbgan::Tensor<T>& src) {
  if (dst.numel() != src.numel())
    throw std::runtime_error("golden: size mismatch " + dst.shape().str() + " vs " + src.shape().str());
  std::copy(src.begin(), src.end(), dst.begin());
}

}  // namespace golden
