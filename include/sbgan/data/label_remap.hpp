#pragma once
// From the byte values of a label PNG to the class channels a model sees, and
// between id maps and one-hot layouts.
//
// A LabelRemap is a 256-entry table (byte value -> class in [0, K), or "not
// allowed"), so every data set says exactly which values it accepts: applying it to
// a value it does not allow throws an error naming the file, the value and K.
// The reference's label sets (§2.1):
// - cityscapes_label_ids(): raw label ids 0..33 are channels, 255 goes to the
//   extra channel 34 (`--label_seg 34`), K = 35;
// - cityscapes_train_ids(): trainId PNGs (the 25K set) 0..18, 255 -> 19, K = 20;
// - cityscapes_ids_to_train_ids(): cityscapesScripts' id -> trainId (ignored ids,
//   and 255, -> 255), used to save samples as trainIds (`city35to19`);
// - identity(K): values 0..K−1 as they are (ADE-Indoor, K = 95: 0 is an ordinary
//   class, the ADE "unknown" shift is not applied).
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/io/palette.hpp"

namespace sbgan::data {

inline constexpr std::int32_t ignore_label = 255;

struct LabelRemap {
  static constexpr std::int32_t not_allowed = -1;
  std::string name;
  std::int32_t num_classes = 0;  // K; outputs lie in [0, K), or are 255 where the table says so
  // Every value starts "not allowed": a table allows only what it is told to.
  std::array<std::int32_t, 256> table = [] {
    std::array<std::int32_t, 256> t{};
    t.fill(not_allowed);
    return t;
  }();

  [[nodiscard]] std::int32_t operator()(std::int32_t value) const {
    return value >= 0 && value < 256 ? table[static_cast<std::size_t>(value)] : not_allowed;
  }

  // A remapped copy; `source` (the file) names the culprit in errors.
  [[nodiscard]] Tensor<std::int32_t> apply(const Tensor<std::int32_t>& labels, const std::string& source) const {
    Tensor<std::int32_t> out(labels.shape());
    for (index_t i = 0; i < labels.numel(); ++i) {
      const std::int32_t v = (*this)(labels[i]);
      if (v == not_allowed)
        throw error("label map " + source + ": value " + std::to_string(labels[i]) + " is not a class of " + name +
                    " (K = " + std::to_string(num_classes) + ", allowed: " + allowed_values() + ")");
      out[i] = v;
    }
    return out;
  }

  // "0..33, 255" style summary of the accepted byte values.
  [[nodiscard]] std::string allowed_values() const {
    std::string s;
    for (int v = 0; v < 256;) {
      if (table[static_cast<std::size_t>(v)] == not_allowed) {
        ++v;
        continue;
      }
      int end = v;
      while (end + 1 < 256 && table[static_cast<std::size_t>(end + 1)] != not_allowed) ++end;
      if (!s.empty()) s += ", ";
      s += end == v ? std::to_string(v) : std::to_string(v) + ".." + std::to_string(end);
      v = end + 1;
    }
    return s.empty() ? "none" : s;
  }
};

namespace remap_detail {
inline LabelRemap blank(std::string name, std::int32_t k) {
  LabelRemap r{std::move(name), k, {}};
  r.table.fill(LabelRemap::not_allowed);
  return r;
}
}  // namespace remap_detail

// Values 0..K−1 unchanged; with `ignore_to` >= 0, 255 becomes that class too.
inline LabelRemap identity(std::int32_t num_classes, std::int32_t ignore_to = LabelRemap::not_allowed) {
  if (num_classes < 1 || num_classes > 256)
    throw error("LabelRemap identity: K must be in 1..256, got " + std::to_string(num_classes));
  LabelRemap r = remap_detail::blank("identity(K=" + std::to_string(num_classes) + ")", num_classes);
  for (std::int32_t v = 0; v < num_classes; ++v) r.table[static_cast<std::size_t>(v)] = v;
  if (ignore_to != LabelRemap::not_allowed) {
    if (ignore_to < 0 || ignore_to >= num_classes)
      throw error("LabelRemap identity: ignore class " + std::to_string(ignore_to) + " is outside [0, " +
                  std::to_string(num_classes) + ")");
    r.table[ignore_label] = ignore_to;
  }
  return r;
}

// Cityscapes labelIds PNGs as the reference's 35 channels; 255 -> 34. (Stage 3's
// `--label_seg 35` would put 255 outside K = 35; it never occurs in labelIds PNGs,
// so one table serves both stages.)
inline LabelRemap cityscapes_label_ids() {
  LabelRemap r = remap_detail::blank("cityscapes label ids", 35);
  for (std::int32_t v = 0; v < 34; ++v) r.table[static_cast<std::size_t>(v)] = v;
  r.table[ignore_label] = 34;
  return r;
}

// Cityscapes trainId PNGs (0..18, 255 ignore) as 20 channels, ignore -> 19.
inline LabelRemap cityscapes_train_ids() {
  LabelRemap r = remap_detail::blank("cityscapes train ids", 20);
  for (std::int32_t v = 0; v < 19; ++v) r.table[static_cast<std::size_t>(v)] = v;
  r.table[ignore_label] = 19;
  return r;
}

// cityscapesScripts id -> trainId; ids without a train id (and 255) -> 255.
inline LabelRemap cityscapes_ids_to_train_ids() {
  LabelRemap r = remap_detail::blank("cityscapes id -> train id", 19);
  for (const auto& l : io::cityscapes_labels()) r.table[static_cast<std::size_t>(l.id)] = l.train_id;
  r.table[34] = ignore_label;  // the reference's extra channel (license plate / 255)
  r.table[ignore_label] = ignore_label;
  return r;
}

// cityscapesScripts id -> trainId as 20 channels: the 19 train ids, and every id
// without one (and 255) on channel 19, as the 25K set's trainId PNGs are read.
// Turns labelIds data (the procedural scenes, gtFine) into the K = 20 channels.
inline LabelRemap cityscapes_ids_to_train_id_channels() {
  LabelRemap r = cityscapes_ids_to_train_ids();
  r.name = "cityscapes id -> train id channels (ignore -> 19)";
  r.num_classes = 20;
  for (auto& v : r.table)
    if (v == ignore_label) v = 19;
  return r;
}

// [N, 1, H, W] ids -> [N, K, H, W] one-hot (the reference's scatter). Every id must
// be in [0, K); `source` names the data in the error.
template <class T = float>
Tensor<T, cpu> one_hot(const Tensor<std::int32_t>& labels, std::int32_t num_classes, const std::string& source = "labels") {
  const Shape& s = labels.shape();
  if (s.rank() != 4 || s.c() != 1) throw shape_error("one_hot: labels must be [N, 1, H, W], got " + s.str());
  if (num_classes < 1) throw error("one_hot: K must be positive, got " + std::to_string(num_classes));
  const index_t plane = s.h() * s.w();
  for (index_t i = 0; i < labels.numel(); ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw error("one_hot(" + source + "): label " + std::to_string(labels[i]) + " at element " + std::to_string(i) +
                  " is outside [0, " + std::to_string(num_classes) + ") (K = " + std::to_string(num_classes) + ")");
  Tensor<T, cpu> out(Shape{s.n(), num_classes, s.h(), s.w()});
  std::fill(out.begin(), out.end(), T(0));
  for (index_t n = 0; n < s.n(); ++n)
    for (index_t i = 0; i < plane; ++i) out[(n * num_classes + labels[n * plane + i]) * plane + i] = T(1);
  return out;
}

// [N, K, H, W] -> [N, 1, H, W] per-pixel argmax (first maximum on ties).
template <class T>
Tensor<std::int32_t> argmax_labels(const Tensor<T, cpu>& layout) {
  const Shape& s = layout.shape();
  if (s.rank() != 4 || s.c() < 1) throw shape_error("argmax_labels: layout must be [N, K, H, W], got " + s.str());
  const index_t plane = s.h() * s.w(), k = s.c();
  Tensor<std::int32_t> out(Shape{s.n(), 1, s.h(), s.w()});
  for (index_t n = 0; n < s.n(); ++n) {
    const T* base = layout.data() + n * k * plane;
    for (index_t i = 0; i < plane; ++i) {
      index_t best = 0;
      for (index_t c = 1; c < k; ++c)
        if (base[c * plane + i] > base[best * plane + i]) best = c;
      out[n * plane + i] = static_cast<std::int32_t>(best);
    }
  }
  return out;
}

}  // namespace sbgan::data
