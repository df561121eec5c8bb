#pragma once
// Scalars as checkpoint metadata text, exactly: safetensors metadata is a map of
// strings, so every scalar a checkpoint keeps (RNG offsets, the step, a learning
// rate, a trainer's own counters) is written as text that reads back to the same
// value. Integers in decimal; floating point in the shortest form that round-trips
// (std::to_chars), so a restored learning rate is bit-identical.
//
// A registered value is stored with its kind, "int:42", "uint:7", "float:0.0001",
// "bool:true", "string:fade", so reading it back into another kind is refused by
// name rather than reinterpreted.
#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace sbgan::train {

// The scalar types a trainer may register: bool, any integer, float, double,
// std::string.
template <class V>
concept CheckpointScalar = std::same_as<V, bool> || std::integral<V> || std::floating_point<V> ||
                           std::same_as<V, std::string>;

template <CheckpointScalar V>
constexpr std::string_view scalar_kind() {
  if constexpr (std::is_same_v<V, bool>) return "bool";
  else if constexpr (std::is_same_v<V, std::string>) return "string";
  else if constexpr (std::floating_point<V>) return "float";
  else if constexpr (std::is_signed_v<V>) return "int";
  else return "uint";
}

// The value as text, without its kind.
template <CheckpointScalar V>
std::string scalar_to_text(const V& v) {
  if constexpr (std::is_same_v<V, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<V, std::string>) {
    return v;
  } else {
    char buffer[64];
    const auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
    return std::string(buffer, r.ptr);
  }
}

// The value the whole of `text` spells, or nothing (also when it is out of V's range).
template <CheckpointScalar V>
std::optional<V> scalar_from_text(std::string_view text) {
  if constexpr (std::is_same_v<V, bool>) {
    if (text == "true") return true;
    if (text == "false") return false;
    return std::nullopt;
  } else if constexpr (std::is_same_v<V, std::string>) {
    return std::string(text);
  } else {
    // from_chars takes no '+', no spaces and no '-' for unsigned types, and must
    // consume the whole text.
    V v{};
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
    return v;
  }
}

// "kind:text".
template <CheckpointScalar V>
std::string tagged_scalar(const V& v) {
  return std::string(scalar_kind<V>()) + ":" + scalar_to_text(v);
}

// Splits "kind:text"; nothing when there is no colon.
struct TaggedText {
  std::string_view kind;
  std::string_view text;
};
inline std::optional<TaggedText> split_tagged(std::string_view tagged) {
  const auto colon = tagged.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return TaggedText{tagged.substr(0, colon), tagged.substr(colon + 1)};
}

// A "kind:text" value of kind V read back; nothing when the kind or text differ.
template <CheckpointScalar V>
std::optional<V> scalar_from_tagged(std::string_view tagged) {
  const auto t = split_tagged(tagged);
  if (!t || t->kind != scalar_kind<V>()) return std::nullopt;
  return scalar_from_text<V>(t->text);
}

}  // namespace sbgan::train
