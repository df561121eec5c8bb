#pragma once
// Layout statistics: whether a layout generator has learned its data. Class
// frequencies (the share of pixels per class) compared by total variation
// distance, and where each class sits vertically (its pixels' mean row, 0 = top,
// 1 = bottom), accumulated over any number of batches of [N, K, H, W] maps (one-hot
// or probabilities; each pixel counts for its argmax class).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan {

class LayoutStatistics {
 public:
  explicit LayoutStatistics(index_t classes)
      : count_(static_cast<std::size_t>(classes), 0.0), row_sum_(static_cast<std::size_t>(classes), 0.0) {
    if (classes <= 0) throw error("LayoutStatistics: the class count must be positive");
  }

  [[nodiscard]] index_t classes() const { return static_cast<index_t>(count_.size()); }
  [[nodiscard]] double pixels() const { return pixels_; }

  // Adds every pixel of a [N, K, H, W] map.
  template <class T>
  void add(const Tensor<T, cpu>& layouts) {
    const Shape& s = layouts.shape();
    if (s.rank() != 4 || s.c() != classes())
      throw shape_error("LayoutStatistics", "layouts", "[N, " + std::to_string(classes()) + ", H, W]", s);
    const index_t hw = s.h() * s.w();
    for (index_t n = 0; n < s.n(); ++n)
      for (index_t i = 0; i < hw; ++i) {
        const T* p = layouts.data() + n * s.c() * hw + i;
        index_t best = 0;
        for (index_t k = 1; k < s.c(); ++k)
          if (p[k * hw] > p[best * hw]) best = k;
        const double row = s.h() > 1 ? double(i / s.w()) / double(s.h() - 1) : 0.5;
        count_[static_cast<std::size_t>(best)] += 1;
        row_sum_[static_cast<std::size_t>(best)] += row;
        pixels_ += 1;
      }
  }

  // Share of pixels per class (sums to 1).
  [[nodiscard]] std::vector<double> frequencies() const {
    std::vector<double> f(count_.size(), 0.0);
    if (pixels_ > 0)
      for (std::size_t k = 0; k < f.size(); ++k) f[k] = count_[k] / pixels_;
    return f;
  }

  // Mean row of each class's pixels in [0, 1]; NaN for a class never seen.
  [[nodiscard]] std::vector<double> mean_rows() const {
    std::vector<double> r(count_.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t k = 0; k < r.size(); ++k)
      if (count_[k] > 0) r[k] = row_sum_[k] / count_[k];
    return r;
  }

 private:
  std::vector<double> count_, row_sum_;
  double pixels_ = 0;
};

// Total variation distance ½·Σ|p − q| between two class distributions.
inline double total_variation(const std::vector<double>& p, const std::vector<double>& q) {
  if (p.size() != q.size()) throw error("total_variation: distributions of different sizes");
  double d = 0;
  for (std::size_t k = 0; k < p.size(); ++k) d += std::abs(p[k] - q[k]);
  return d / 2;
}

// Mean absolute difference of the classes' mean rows, over classes present in
// the reference with at least `min_share` of its pixels (a class the model never
// draws counts as the largest possible error, 1).
inline double vertical_placement_error(const LayoutStatistics& model, const LayoutStatistics& reference,
                                       double min_share = 0.01) {
  const auto rm = model.mean_rows(), rr = reference.mean_rows(), fr = reference.frequencies();
  double total = 0;
  int classes = 0;
  for (std::size_t k = 0; k < rr.size(); ++k) {
    if (fr[k] < min_share) continue;
    total += std::isnan(rm[k]) ? 1.0 : std::abs(rm[k] - rr[k]);
    ++classes;
  }
  return classes ? total / classes : 0.0;
}

}  // namespace sbgan
