#pragma once
// The reference's image and label preprocessing (§2.2–2.4), done the way PIL does
// it, so data prepared here match torchvision's PIL transforms pixel for pixel.
//
// Resampling (Pillow's Resample.c and Geometry.c, which the reference runs through
// transforms.Resize):
// - labels, NEAREST: output pixel i takes source floor(s·(i + 0.5)) with
//   s = in/out, the position accumulated in double as Pillow's ImagingScaleAffine
//   does (this is PIL's rule, not PyTorch's floor(s·i) used for layouts inside
//   the models);
// - images, BILINEAR (triangle, support 1) and BICUBIC (Keys, a = −0.5, support 2):
//   separable, horizontal pass then vertical pass. For output i the filter is
//   centred at c = s·(i + 0.5), stretched by f = max(s, 1) when shrinking
//   (antialiasing), taps x in [trunc(c − f·support + 0.5), trunc(c + f·support +
//   0.5)) clipped to the image, weights filter((x − c + 0.5)/f) normalised to sum 1.
//   On bytes, weights are rounded to 22-bit fixed point, each pass adds 2^21 and
//   shifts, and clamps to 0..255, exactly as Pillow's 8-bit path (the horizontal
//   result is stored as bytes before the vertical pass). On float tensors the same
//   weights act in double with no rounding (Pillow's mode "F").
// - Random choices (flip, crop offsets) come from sbgan::Generator, so a seed fixes
//   them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/philox.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::data {

enum class Resample { bilinear, bicubic };

inline const char* resample_name(Resample r) { return r == Resample::bilinear ? "bilinear" : "bicubic"; }

namespace preprocess_detail {

inline void expect_nchw(const char* what, const Shape& s) {
  if (s.rank() != 4 || s.numel() == 0)
    throw shape_error(std::string(what) + ": input must be a non-empty [N, C, H, W] tensor, got " + s.str());
}

inline void expect_size(const char* what, index_t h, index_t w) {
  if (h < 1 || w < 1)
    throw error(std::string(what) + ": output size must be positive, got " + std::to_string(h) + "x" + std::to_string(w));
}

inline double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

inline double keys_cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Pillow's precompute_coeffs: for every output index its first tap and weights.
struct Taps {
  std::vector<index_t> first;
  std::vector<std::vector<double>> weights;
};

inline Taps taps(index_t in, index_t out, Resample r) {
  const double support_unit = r == Resample::bilinear ? 1.0 : 2.0;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filter_scale = std::max(scale, 1.0);
  const double support = support_unit * filter_scale;
  Taps t;
  t.first.resize(static_cast<std::size_t>(out));
  t.weights.resize(static_cast<std::size_t>(out));
  for (index_t i = 0; i < out; ++i) {
    const double centre = (static_cast<double>(i) + 0.5) * scale;
    const index_t lo = std::max<index_t>(static_cast<index_t>(centre - support + 0.5), 0);
    const index_t hi = std::min<index_t>(static_cast<index_t>(centre + support + 0.5), in);
    std::vector<double> w;
    double sum = 0.0;
    for (index_t x = lo; x < hi; ++x) {
      const double arg = (static_cast<double>(x) - centre + 0.5) / filter_scale;
      const double v = r == Resample::bilinear ? triangle(arg) : keys_cubic(arg);
      w.push_back(v);
      sum += v;
    }
    if (sum != 0.0)
      for (double& v : w) v /= sum;
    t.first[static_cast<std::size_t>(i)] = lo;
    t.weights[static_cast<std::size_t>(i)] = std::move(w);
  }
  return t;
}

constexpr int precision_bits = 32 - 8 - 2;

inline std::vector<std::vector<std::int32_t>> fixed_point(const Taps& t) {
  std::vector<std::vector<std::int32_t>> k(t.weights.size());
  for (std::size_t i = 0; i < t.weights.size(); ++i)
    for (double w : t.weights[i]) {
      const double scaled = w * static_cast<double>(1 << precision_bits);
      k[i].push_back(static_cast<std::int32_t>(scaled < 0 ? -0.5 + scaled : 0.5 + scaled));
    }
  return k;
}

inline std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << precision_bits)) {
    if (v >= (255 << precision_bits)) return 255;
    return static_cast<std::uint8_t>(v >> precision_bits);
  }
  return 0;
}

// One separable pass along the width (along_width) or the height of every plane.
template <class T>
Tensor<T> resample_pass(const Tensor<T>& x, index_t out, Resample r, bool along_width) {
  const Shape& s = x.shape();
  const index_t planes = s.n() * s.c(), ih = s.h(), iw = s.w();
  const index_t oh = along_width ? ih : out, ow = along_width ? out : iw;
  const Taps t = taps(along_width ? iw : ih, out, r);
  Tensor<T> y(Shape{s.n(), s.c(), oh, ow});
  [[maybe_unused]] std::vector<std::vector<std::int32_t>> k;
  if constexpr (std::is_same_v<T, std::uint8_t>) k = fixed_point(t);
  for (index_t p = 0; p < planes; ++p) {
    const T* src = x.data() + p * ih * iw;
    T* dst = y.data() + p * oh * ow;
    for (index_t i = 0; i < oh; ++i)
      for (index_t j = 0; j < ow; ++j) {
        const index_t o = along_width ? j : i;
        const index_t first = t.first[static_cast<std::size_t>(o)];
        const index_t stride = along_width ? 1 : iw;
        const T* line = along_width ? src + i * iw + first : src + first * iw + j;
        if constexpr (std::is_same_v<T, std::uint8_t>) {
          const auto& kk = k[static_cast<std::size_t>(o)];
          std::int32_t acc = 1 << (precision_bits - 1);
          for (std::size_t m = 0; m < kk.size(); ++m) acc += static_cast<std::int32_t>(line[static_cast<index_t>(m) * stride]) * kk[m];
          dst[i * ow + j] = clip8(acc);
        } else {
          const auto& w = t.weights[static_cast<std::size_t>(o)];
          double acc = 0.0;
          for (std::size_t m = 0; m < w.size(); ++m) acc += static_cast<double>(line[static_cast<index_t>(m) * stride]) * w[m];
          dst[i * ow + j] = static_cast<T>(acc);
        }
      }
  }
  return y;
}

}  // namespace preprocess_detail

// PIL's NEAREST source indices for resizing `in` pixels to `out`.
inline std::vector<index_t> pil_nearest_sources(index_t in, index_t out) {
  std::vector<index_t> src(static_cast<std::size_t>(out));
  const double step = static_cast<double>(in) / static_cast<double>(out);
  double pos = step * 0.5;
  for (index_t i = 0; i < out; ++i, pos += step) src[static_cast<std::size_t>(i)] = std::min(static_cast<index_t>(pos), in - 1);
  return src;
}

// Nearest resize of [N, C, H, W] (labels or anything else) to H' x W', PIL's rule.
template <class T>
Tensor<T> resize_nearest_pil(const Tensor<T>& x, index_t height, index_t width) {
  preprocess_detail::expect_nchw("resize_nearest_pil", x.shape());
  preprocess_detail::expect_size("resize_nearest_pil", height, width);
  const Shape& s = x.shape();
  const auto rows = pil_nearest_sources(s.h(), height), cols = pil_nearest_sources(s.w(), width);
  Tensor<T> y(Shape{s.n(), s.c(), height, width});
  for (index_t p = 0; p < s.n() * s.c(); ++p) {
    const T* src = x.data() + p * s.h() * s.w();
    T* dst = y.data() + p * height * width;
    for (index_t i = 0; i < height; ++i) {
      const T* row = src + rows[static_cast<std::size_t>(i)] * s.w();
      for (index_t j = 0; j < width; ++j) dst[i * width + j] = row[cols[static_cast<std::size_t>(j)]];
    }
  }
  return y;
}

// Bilinear or bicubic resize of an image [N, C, H, W] (bytes: Pillow's 8-bit path;
// float/double: the same weights without rounding). Sizes that do not change skip
// their pass, as in Pillow.
template <class T>
Tensor<T> resize_image(const Tensor<T>& x, index_t height, index_t width, Resample r) {
  static_assert(std::is_same_v<T, std::uint8_t> || std::is_floating_point_v<T>,
                "resize_image: bytes or floating point images");
  preprocess_detail::expect_nchw("resize_image", x.shape());
  preprocess_detail::expect_size("resize_image", height, width);
  Tensor<T> y = x;
  if (width != x.shape().w()) y = preprocess_detail::resample_pass(y, width, r, true);
  if (height != x.shape().h()) y = preprocess_detail::resample_pass(y, height, r, false);
  return y.shares_storage_with(x) ? clone(x) : y;
}

// Mirror left-right.
template <class T>
Tensor<T> flip_horizontal(const Tensor<T>& x) {
  preprocess_detail::expect_nchw("flip_horizontal", x.shape());
  const Shape& s = x.shape();
  Tensor<T> y(s);
  for (index_t r = 0; r < s.n() * s.c() * s.h(); ++r) {
    const T* src = x.data() + r * s.w();
    T* dst = y.data() + r * s.w();
    for (index_t j = 0; j < s.w(); ++j) dst[j] = src[s.w() - 1 - j];
  }
  return y;
}

// The window rows [top, top + height), columns [left, left + width).
template <class T>
Tensor<T> crop(const Tensor<T>& x, index_t top, index_t left, index_t height, index_t width) {
  preprocess_detail::expect_nchw("crop", x.shape());
  const Shape& s = x.shape();
  if (top < 0 || left < 0 || height < 1 || width < 1 || top + height > s.h() || left + width > s.w())
    throw error("crop: window rows " + std::to_string(top) + ".." + std::to_string(top + height) + ", columns " +
                std::to_string(left) + ".." + std::to_string(left + width) + " does not fit in " + s.str());
  Tensor<T> y(Shape{s.n(), s.c(), height, width});
  for (index_t p = 0; p < s.n() * s.c(); ++p)
    for (index_t i = 0; i < height; ++i) {
      const T* src = x.data() + (p * s.h() + top + i) * s.w() + left;
      std::copy(src, src + width, y.data() + (p * height + i) * width);
    }
  return y;
}

// torchvision's Resize(short_side) target size: the short side becomes `short_side`,
// the long side int(short_side · long / short) (truncated).
inline std::pair<index_t, index_t> short_side_size(index_t height, index_t width, index_t short_side) {
  if (height < 1 || width < 1 || short_side < 1)
    throw error("short_side_size: sizes must be positive, got " + std::to_string(height) + "x" + std::to_string(width) +
                " to short side " + std::to_string(short_side));
  if (width < height)
    return {static_cast<index_t>(static_cast<double>(short_side) * static_cast<double>(height) / static_cast<double>(width)),
            short_side};
  return {short_side,
          static_cast<index_t>(static_cast<double>(short_side) * static_cast<double>(width) / static_cast<double>(height))};
}

// --- random choices -----------------------------------------------------------------

// 64 random bits (one Philox block) from the generator.
inline std::uint64_t random_bits(Generator& gen) {
  const philox::stream_position p = gen.take(1);
  const philox::block b = philox::generate(p.offset, p.stream, p.key);
  return (static_cast<std::uint64_t>(b.v[0]) << 32) | b.v[1];
}

// Uniform in [0, n), n > 0 (bias below 2^-40 for any n < 2^24).
inline index_t random_below(Generator& gen, index_t n) {
  if (n < 1) throw error("random_below: n must be positive, got " + std::to_string(n));
  return static_cast<index_t>(random_bits(gen) % static_cast<std::uint64_t>(n));
}

// A fair coin (the reference's flip with p = 0.5).
inline bool random_coin(Generator& gen) { return (random_bits(gen) >> 63) != 0; }

// RandomCropLongEdge (BigGAN's, used for ADE): a square of the short side, offset
// uniform in [0, long − short) along the long edge (numpy randint's exclusive upper
// bound), 0 when the image is square. Returns {top, left, side}.
struct SquareWindow {
  index_t top, left, side;
};
inline SquareWindow random_long_edge_square(Generator& gen, index_t height, index_t width) {
  const index_t side = std::min(height, width);
  SquareWindow w{0, 0, side};
  if (height > side) w.top = random_below(gen, height - side);
  if (width > side) w.left = random_below(gen, width - side);
  return w;
}

}  // namespace sbgan::data
