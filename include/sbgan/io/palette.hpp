#pragma once
// Colour palettes for label maps, and layout -> RGB conversion for viewing.
//
// - cityscapes_35: the official cityscapesScripts labels table, label ids 0..33 at
//   their own index, and index 34 (the reference's extra channel, where ids 255 and
//   the license plate, id −1, end up) in the license plate's colour (0, 0, 142).
// - cityscapes_19: the 19 train ids in the same table's colours; 19 (the 25K
//   configuration's "don't care" channel) and 255 (ignore) are black.
// - ade_95: the reference's ADE-Indoor class list and its colormap file are not
//   known (reference §13), so this is the colour map SPADE itself falls back to for
//   any class count other than 35: bit-interleaved colours of i + 1 (pix2pixHD's
//   labelcolormap), deterministic and distinct for every id.
//
// Ids the palette does not cover (other than 255, drawn in `ignore`) throw.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::io {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

struct Palette {
  std::string name;
  std::vector<Rgb> colours;  // colours[id]
  Rgb ignore{0, 0, 0};       // drawn for the ignore value 255

  [[nodiscard]] std::int32_t size() const { return static_cast<std::int32_t>(colours.size()); }
  [[nodiscard]] Rgb colour(std::int32_t id) const {
    if (id >= 0 && id < size()) return colours[static_cast<std::size_t>(id)];
    if (id == 255) return ignore;
    throw error("palette " + name + ": label " + std::to_string(id) + " has no colour (expected 0.." +
                std::to_string(size() - 1) + " or 255)");
  }
};

// cityscapesScripts' labels table: (label id, train id, colour), ids 0..33.
struct CityscapesLabel {
  std::int32_t id;
  std::int32_t train_id;  // 255 = ignored in training/evaluation
  Rgb colour;
  const char* name;
};

inline const std::array<CityscapesLabel, 34>& cityscapes_labels() {
  static const std::array<CityscapesLabel, 34> table{{
      {0, 255, {0, 0, 0}, "unlabeled"},
      {1, 255, {0, 0, 0}, "ego vehicle"},
      {2, 255, {0, 0, 0}, "rectification border"},
      {3, 255, {0, 0, 0}, "out of roi"},
      {4, 255, {0, 0, 0}, "static"},
      {5, 255, {111, 74, 0}, "dynamic"},
      {6, 255, {81, 0, 81}, "ground"},
      {7, 0, {128, 64, 128}, "road"},
      {8, 1, {244, 35, 232}, "sidewalk"},
      {9, 255, {250, 170, 160}, "parking"},
      {10, 255, {230, 150, 140}, "rail track"},
      {11, 2, {70, 70, 70}, "building"},
      {12, 3, {102, 102, 156}, "wall"},
      {13, 4, {190, 153, 153}, "fence"},
      {14, 255, {180, 165, 180}, "guard rail"},
      {15, 255, {150, 100, 100}, "bridge"},
      {16, 255, {150, 120, 90}, "tunnel"},
      {17, 5, {153, 153, 153}, "pole"},
      {18, 255, {153, 153, 153}, "polegroup"},
      {19, 6, {250, 170, 30}, "traffic light"},
      {20, 7, {220, 220, 0}, "traffic sign"},
      {21, 8, {107, 142, 35}, "vegetation"},
      {22, 9, {152, 251, 152}, "terrain"},
      {23, 10, {70, 130, 180}, "sky"},
      {24, 11, {220, 20, 60}, "person"},
      {25, 12, {255, 0, 0}, "rider"},
      {26, 13, {0, 0, 142}, "car"},
      {27, 14, {0, 0, 70}, "truck"},
      {28, 15, {0, 60, 100}, "bus"},
      {29, 255, {0, 0, 90}, "caravan"},
      {30, 255, {0, 0, 110}, "trailer"},
      {31, 16, {0, 80, 100}, "train"},
      {32, 17, {0, 0, 230}, "motorcycle"},
      {33, 18, {119, 11, 32}, "bicycle"},
  }};
  return table;
}

// Cityscapes label ids as the reference's K = 35 channels.
inline Palette cityscapes_35() {
  Palette p{"cityscapes-35", {}, {0, 0, 0}};
  for (const auto& l : cityscapes_labels()) p.colours.push_back(l.colour);
  p.colours.push_back({0, 0, 142});  // channel 34: license plate (id −1) / remapped 255
  return p;
}

// Cityscapes train ids 0..18, plus 19 (don't care) in black.
inline Palette cityscapes_19() {
  Palette p{"cityscapes-19", std::vector<Rgb>(20), {0, 0, 0}};
  for (const auto& l : cityscapes_labels())
    if (l.train_id != 255) p.colours[static_cast<std::size_t>(l.train_id)] = l.colour;
  return p;
}

// pix2pixHD / SPADE labelcolormap(N): the bits of i + 1 spread over r, g, b from the
// top bit down, so neighbouring ids get very different colours.
inline Palette bit_interleaved_palette(std::int32_t n, std::string name) {
  Palette p{std::move(name), {}, {0, 0, 0}};
  for (std::int32_t i = 0; i < n; ++i) {
    unsigned id = static_cast<unsigned>(i) + 1u, r = 0, g = 0, b = 0;
    for (unsigned j = 0; j < 7; ++j) {
      r |= (id & 1u) << (7 - j);
      g |= ((id >> 1) & 1u) << (7 - j);
      b |= ((id >> 2) & 1u) << (7 - j);
      id >>= 3;
    }
    p.colours.push_back({static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b)});
  }
  return p;
}

inline Palette ade_95() { return bit_interleaved_palette(95, "ade-95"); }

// The palette that fits K channels: Cityscapes-35, Cityscapes-19 (+ ignore),
// ADE-95, or SPADE's bit-interleaved colour map for any other K.
inline Palette palette_for_classes(std::int32_t k) {
  if (k == 35) return cityscapes_35();
  if (k == 20) return cityscapes_19();
  if (k == 95) return ade_95();
  return bit_interleaved_palette(k, "labelcolormap-" + std::to_string(k));
}

// Sample n of an id map [N, 1, H, W] as RGB bytes [1, 3, H, W].
inline Tensor<std::uint8_t> colorize(const Tensor<std::int32_t>& labels, const Palette& palette, index_t n = 0) {
  const Shape& s = labels.shape();
  if (s.rank() != 4 || s.c() != 1 || n < 0 || n >= s.n())
    throw shape_error("colorize: labels must be [N, 1, H, W] with sample " + std::to_string(n) + ", got " + s.str());
  const index_t plane = s.h() * s.w();
  Tensor<std::uint8_t> rgb(Shape{1, 3, s.h(), s.w()});
  for (index_t i = 0; i < plane; ++i) {
    const Rgb c = palette.colour(labels[n * plane + i]);
    rgb[i] = c.r;
    rgb[plane + i] = c.g;
    rgb[2 * plane + i] = c.b;
  }
  return rgb;
}

// Sample n of a one-hot or probability layout [N, K, H, W], by per-pixel argmax
// (the first maximum on ties, as torch.argmax).
template <class T>
Tensor<std::uint8_t> colorize(const Tensor<T, cpu>& layout, const Palette& palette, index_t n = 0) {
  const Shape& s = layout.shape();
  if (s.rank() != 4 || s.c() < 1 || n < 0 || n >= s.n())
    throw shape_error("colorize: layout must be [N, K, H, W] with sample " + std::to_string(n) + ", got " + s.str());
  const index_t plane = s.h() * s.w(), k = s.c();
  Tensor<std::int32_t> ids(Shape{1, 1, s.h(), s.w()});
  const T* base = layout.data() + n * k * plane;
  for (index_t i = 0; i < plane; ++i) {
    index_t best = 0;
    for (index_t c = 1; c < k; ++c)
      if (base[c * plane + i] > base[best * plane + i]) best = c;
    ids[i] = static_cast<std::int32_t>(best);
  }
  return colorize(ids, palette);
}

}  // namespace sbgan::io
