#pragma once
// Sample grids for watching training: for each sample of a batch, its layout in
// palette colours beside the image painted on it, several pairs per row, saved as
// one PNG. Layouts of another size than the images (G_SB at 128 feeding SPADE at
// 256) are nearest-resized to the image size. Padding is white.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/data/preprocess.hpp"
#include "sbgan/io/palette.hpp"
#include "sbgan/io/png.hpp"

namespace sbgan::io {

struct GridOptions {
  index_t pairs_per_row = 1;  // (layout, image) pairs side by side
  index_t padding = 2;        // white pixels around and between tiles
};

namespace grid_detail {

inline Tensor<std::uint8_t> assemble(const std::vector<Tensor<std::uint8_t>>& layouts, const Tensor<float>& images,
                                     const GridOptions& opt) {
  const Shape& s = images.shape();
  const index_t n = s.n(), h = s.h(), w = s.w(), pad = opt.padding, per_row = opt.pairs_per_row;
  const index_t rows = (n + per_row - 1) / per_row;
  const index_t gh = rows * h + (rows + 1) * pad, gw = per_row * 2 * w + (2 * per_row + 1) * pad;
  Tensor<std::uint8_t> grid(Shape{1, 3, gh, gw});
  std::fill(grid.begin(), grid.end(), std::uint8_t{255});
  const Tensor<std::uint8_t> pixels = to_pixels(images);
  auto paste = [&](const std::uint8_t* src, index_t top, index_t left) {
    for (index_t c = 0; c < 3; ++c)
      for (index_t y = 0; y < h; ++y)
        std::copy(src + (c * h + y) * w, src + (c * h + y + 1) * w, grid.data() + (c * gh + top + y) * gw + left);
  };
  for (index_t i = 0; i < n; ++i) {
    const index_t top = pad + (i / per_row) * (h + pad);
    const index_t left = pad + (i % per_row) * 2 * (w + pad);
    const Tensor<std::uint8_t> layout = data::resize_nearest_pil(layouts[static_cast<std::size_t>(i)], h, w);
    paste(layout.data(), top, left);
    paste(pixels.data() + i * 3 * h * w, top, left + w + pad);
  }
  return grid;
}

inline void check(const char* what, index_t layout_n, const Tensor<float>& images, const GridOptions& opt) {
  const Shape& s = images.shape();
  if (s.rank() != 4 || s.c() != 3 || s.n() < 1)
    throw shape_error(std::string(what) + ": images must be [N, 3, H, W], got " + s.str());
  if (layout_n != s.n())
    throw shape_error(std::string(what) + ": " + std::to_string(layout_n) + " layouts for " + std::to_string(s.n()) +
                      " images");
  if (opt.pairs_per_row < 1 || opt.padding < 0)
    throw error(std::string(what) + ": pairs_per_row must be >= 1 and padding >= 0, got " +
                std::to_string(opt.pairs_per_row) + " and " + std::to_string(opt.padding));
}

}  // namespace grid_detail

// Id-map layouts [N, 1, h, w] beside images [N, 3, H, W] in [-1, 1]; RGB bytes [1, 3, ., .].
inline Tensor<std::uint8_t> sample_grid(const Tensor<std::int32_t>& labels, const Tensor<float>& images,
                                        const Palette& palette, const GridOptions& opt = {}) {
  if (labels.shape().rank() != 4 || labels.shape().c() != 1)
    throw shape_error("sample_grid: labels must be [N, 1, H, W], got " + labels.shape().str());
  grid_detail::check("sample_grid", labels.shape().n(), images, opt);
  std::vector<Tensor<std::uint8_t>> layouts;
  for (index_t i = 0; i < labels.shape().n(); ++i) layouts.push_back(colorize(labels, palette, i));
  return grid_detail::assemble(layouts, images, opt);
}

// One-hot or probability layouts [N, K, h, w] (argmax per pixel) beside images.
template <class T>
  requires std::is_floating_point_v<T>
Tensor<std::uint8_t> sample_grid(const Tensor<T, cpu>& layout, const Tensor<float>& images, const Palette& palette,
                                 const GridOptions& opt = {}) {
  if (layout.shape().rank() != 4) throw shape_error("sample_grid: layout must be [N, K, H, W], got " + layout.shape().str());
  grid_detail::check("sample_grid", layout.shape().n(), images, opt);
  std::vector<Tensor<std::uint8_t>> layouts;
  for (index_t i = 0; i < layout.shape().n(); ++i) layouts.push_back(colorize(layout, palette, i));
  return grid_detail::assemble(layouts, images, opt);
}

// Layouts alone [N, K, h, w] (argmax per pixel), `per_row` to a row: what stage 1
// has to show before SPADE is trained.
template <class T>
  requires std::is_floating_point_v<T>
Tensor<std::uint8_t> layout_grid(const Tensor<T, cpu>& layout, const Palette& palette, index_t per_row = 4,
                                 index_t padding = 2) {
  const Shape& s = layout.shape();
  if (s.rank() != 4 || s.n() < 1) throw shape_error("layout_grid: layout must be [N, K, H, W], got " + s.str());
  if (per_row < 1 || padding < 0) throw error("layout_grid: per_row must be >= 1 and padding >= 0");
  const index_t n = s.n(), h = s.h(), w = s.w(), rows = (n + per_row - 1) / per_row;
  const index_t gh = rows * h + (rows + 1) * padding, gw = per_row * w + (per_row + 1) * padding;
  Tensor<std::uint8_t> grid(Shape{1, 3, gh, gw});
  std::fill(grid.begin(), grid.end(), std::uint8_t{255});
  for (index_t i = 0; i < n; ++i) {
    const Tensor<std::uint8_t> tile = colorize(layout, palette, i);
    const index_t top = padding + (i / per_row) * (h + padding), left = padding + (i % per_row) * (w + padding);
    for (index_t c = 0; c < 3; ++c)
      for (index_t y = 0; y < h; ++y)
        std::copy(tile.data() + (c * h + y) * w, tile.data() + (c * h + y + 1) * w,
                  grid.data() + (c * gh + top + y) * gw + left);
  }
  return grid;
}

template <class T>
void write_layout_grid(const std::filesystem::path& path, const Tensor<T, cpu>& layout, const Palette& palette,
                       index_t per_row = 4) {
  write_pixels(path, layout_grid(layout, palette, per_row));
}

// The grid of either kind of layout, written as one PNG (atomically).
template <class Layout>
void write_sample_grid(const std::filesystem::path& path, const Layout& layout, const Tensor<float>& images,
                       const Palette& palette, const GridOptions& opt = {}) {
  write_pixels(path, sample_grid(layout, images, palette, opt));
}

}  // namespace sbgan::io
