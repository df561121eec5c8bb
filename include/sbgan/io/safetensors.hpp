#pragma once
// Reading and writing safetensors files: the tensor-file format of weight files
// (the converted VGG19) and of checkpoints.
//
// Layout: an unsigned 64-bit little-endian length N; N bytes of a JSON object that
// maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} and may
// hold "__metadata__", a map of strings to strings; then the data buffer, offsets
// relative to its start, tensors row-major and little-endian. The tensors must
// cover the buffer exactly, without gaps or overlaps (the format's own rule, so
// that no bytes can hide in a file).
//
// The reader trusts nothing: every way a file can be malformed (truncated, header
// length past the end, bad JSON, duplicate names, offsets out of range, overlapping
// or leaving gaps, unknown dtype, a shape that does not match the byte count)
// throws sbgan::error naming the file and the tensor. The writer replaces its
// target atomically: it writes a temporary file in the same directory, syncs it to
// disk and renames it over the target, so a crash leaves the old file or the new
// one, never a mixture.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::io {

// ---------------------------------------------------------------------------------
// Element types

enum class Dtype { BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64 };

inline std::string_view dtype_name(Dtype d) {
  switch (d) {
    case Dtype::BOOL: return "BOOL";
    case Dtype::U8: return "U8";
    case Dtype::I8: return "I8";
    case Dtype::U16: return "U16";
    case Dtype::I16: return "I16";
    case Dtype::U32: return "U32";
    case Dtype::I32: return "I32";
    case Dtype::U64: return "U64";
    case Dtype::I64: return "I64";
    case Dtype::F16: return "F16";
    case Dtype::BF16: return "BF16";
    case Dtype::F32: return "F32";
    case Dtype::F64: return "F64";
  }
  return "?";
}

inline std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::BOOL:
    case Dtype::U8:
    case Dtype::I8: return 1;
    case Dtype::U16:
    case Dtype::I16:
    case Dtype::F16:
    case Dtype::BF16: return 2;
    case Dtype::U32:
    case Dtype::I32:
    case Dtype::F32: return 4;
    case Dtype::U64:
    case Dtype::I64:
    case Dtype::F64: return 8;
  }
  return 0;
}

inline std::optional<Dtype> parse_dtype(std::string_view name) {
  for (Dtype d : {Dtype::BOOL, Dtype::U8, Dtype::I8, Dtype::U16, Dtype::I16, Dtype::U32, Dtype::I32, Dtype::U64,
                  Dtype::I64, Dtype::F16, Dtype::BF16, Dtype::F32, Dtype::F64})
    if (dtype_name(d) == name) return d;
  return std::nullopt;
}

// The dtype a Tensor<T> is stored as.
template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, double>) return Dtype::F64;
  else if constexpr (std::is_same_v<T, float>) return Dtype::F32;
  else if constexpr (std::is_same_v<T, bool>) return Dtype::BOOL;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return Dtype::U8;
  else if constexpr (std::is_same_v<T, std::int8_t>) return Dtype::I8;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return Dtype::U16;
  else if constexpr (std::is_same_v<T, std::int16_t>) return Dtype::I16;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return Dtype::U32;
  else if constexpr (std::is_same_v<T, std::int32_t>) return Dtype::I32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return Dtype::U64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return Dtype::I64;
  else static_assert(sizeof(T) == 0, "safetensors: no dtype for this element type");
}

namespace safetensors_detail {

// Little-endian bytes <-> values, whatever the host's byte order.
template <class U>
U load_le(const unsigned char* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  if constexpr (std::endian::native == std::endian::big && sizeof(U) > 1) {
    auto* b = reinterpret_cast<unsigned char*>(&v);
    std::reverse(b, b + sizeof(U));
  }
  return v;
}

template <class U>
void store_le(U v, unsigned char* p) {
  std::memcpy(p, &v, sizeof(U));
  if constexpr (std::endian::native == std::endian::big && sizeof(U) > 1) std::reverse(p, p + sizeof(U));
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa · 2⁻²⁴
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  }
  const std::uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)
                                            : sign | ((exponent + 112u) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

inline float bfloat16_to_float(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

// Element i of a buffer of dtype d, converted to T as static_cast converts.
template <class T>
T element(Dtype d, const unsigned char* bytes, std::size_t i) {
  const unsigned char* p = bytes + i * dtype_size(d);
  switch (d) {
    case Dtype::BOOL: return static_cast<T>(*p != 0);
    case Dtype::U8: return static_cast<T>(*p);
    case Dtype::I8: return static_cast<T>(load_le<std::int8_t>(p));
    case Dtype::U16: return static_cast<T>(load_le<std::uint16_t>(p));
    case Dtype::I16: return static_cast<T>(load_le<std::int16_t>(p));
    case Dtype::U32: return static_cast<T>(load_le<std::uint32_t>(p));
    case Dtype::I32: return static_cast<T>(load_le<std::int32_t>(p));
    case Dtype::U64: return static_cast<T>(load_le<std::uint64_t>(p));
    case Dtype::I64: return static_cast<T>(load_le<std::int64_t>(p));
    case Dtype::F16: return static_cast<T>(half_to_float(load_le<std::uint16_t>(p)));
    case Dtype::BF16: return static_cast<T>(bfloat16_to_float(load_le<std::uint16_t>(p)));
    case Dtype::F32: return static_cast<T>(load_le<float>(p));
    case Dtype::F64: return static_cast<T>(load_le<double>(p));
  }
  return T{};
}

// a·b, or nothing when it overflows `limit`.
inline std::optional<std::uint64_t> checked_product(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  if (a != 0 && b > limit / a) return std::nullopt;
  return a * b;
}

}  // namespace safetensors_detail

// ---------------------------------------------------------------------------------
// Tensors as stored

// One tensor as the file holds it: dtype, shape of any rank, little-endian bytes.
struct StoredTensor {
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> bytes;

  [[nodiscard]] std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }

  [[nodiscard]] std::string shape_str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  // Stored in the dtype of T (float as F32, double as F64, ...).
  template <class T>
  static StoredTensor from(const Tensor<T, cpu>& t) {
    StoredTensor s;
    s.dtype = dtype_of<T>();
    for (int i = 0; i < t.shape().rank(); ++i) s.shape.push_back(t.shape()[i]);
    const auto n = static_cast<std::size_t>(t.shape().numel());
    s.bytes.resize(n * sizeof(T));
    if (n == 0) return s;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(s.bytes.data(), t.data(), s.bytes.size());
    } else {
      for (std::size_t i = 0; i < n; ++i) safetensors_detail::store_le<T>(t.data()[i], s.bytes.data() + i * sizeof(T));
    }
    return s;
  }

  // As a Tensor<T>, each element converted as static_cast converts (F32 to double
  // is exact; F64 to float rounds). `name` is for the error message.
  template <class T>
  [[nodiscard]] Tensor<T, cpu> to_tensor(std::string_view name = "tensor") const {
    if (shape.size() > static_cast<std::size_t>(Shape::max_rank))
      throw error("safetensors: '" + std::string(name) + "' has rank " + std::to_string(shape.size()) +
                  "; sbgan tensors hold rank 0 to 4");
    Shape s;
    switch (shape.size()) {
      case 0: s = Shape{}; break;
      case 1: s = Shape{shape[0]}; break;
      case 2: s = Shape{shape[0], shape[1]}; break;
      case 3: s = Shape{shape[0], shape[1], shape[2]}; break;
      default: s = Shape{shape[0], shape[1], shape[2], shape[3]}; break;
    }
    const auto n = static_cast<std::size_t>(s.numel());
    if (bytes.size() != n * dtype_size(dtype))
      throw error("safetensors: '" + std::string(name) + "' holds " + std::to_string(bytes.size()) +
                  " bytes, its shape " + shape_str() + " and dtype " + std::string(dtype_name(dtype)) + " need " +
                  std::to_string(n * dtype_size(dtype)));
    Tensor<T, cpu> t(s);
    if (n == 0) return t;
    // Same dtype on a little-endian host: one copy (bool goes element by element,
    // since a stored byte other than 0 or 1 is not a valid bool).
    if (dtype == dtype_of<T>() && std::endian::native == std::endian::little && !std::is_same_v<T, bool>) {
      std::memcpy(t.data(), bytes.data(), bytes.size());
    } else {
      T* out = t.data();
      for (std::size_t i = 0; i < n; ++i) out[i] = safetensors_detail::element<T>(dtype, bytes.data(), i);
    }
    return t;
  }
};

// A whole file: named tensors and the "__metadata__" strings.
struct TensorArchive {
  std::map<std::string, StoredTensor> tensors;
  std::map<std::string, std::string> metadata;

  [[nodiscard]] bool contains(const std::string& name) const { return tensors.count(name) != 0; }

  [[nodiscard]] const StoredTensor& at(const std::string& name) const {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw error("safetensors: no tensor named '" + name + "'");
    return it->second;
  }

  template <class T>
  [[nodiscard]] Tensor<T, cpu> get(const std::string& name) const {
    return at(name).template to_tensor<T>(name);
  }

  // Every tensor as a Tensor<T>, by name.
  template <class T>
  [[nodiscard]] std::map<std::string, Tensor<T, cpu>> to_tensors() const {
    std::map<std::string, Tensor<T, cpu>> out;
    for (const auto& [name, stored] : tensors) out.emplace(name, stored.template to_tensor<T>(name));
    return out;
  }

  // Adds or replaces a tensor (a deep copy of its values).
  template <class T>
  void put(const std::string& name, const Tensor<T, cpu>& t) {
    if (name.empty() || name == "__metadata__")
      throw error("safetensors: '" + name + "' cannot name a tensor");
    tensors[name] = StoredTensor::from(t);
  }
};

// ---------------------------------------------------------------------------------
// Reading

namespace safetensors_detail {

// The header may be up to 100 MB, the limit of the reference implementation; more
// is a corrupt length, not a real header.
inline constexpr std::uint64_t max_header_bytes = 100'000'000;
// The deepest nesting of arrays and objects a header may have (a real one has 3).
inline constexpr int max_header_depth = 64;

struct Entry {
  std::string name;
  StoredTensor tensor;  // dtype and shape; bytes filled by the caller
  std::uint64_t begin = 0, end = 0;
};

struct Header {
  std::vector<Entry> entries;  // sorted by offset
  std::map<std::string, std::string> metadata;
};

[[noreturn]] inline void fail(const std::string& source, const std::string& what) {
  throw error("safetensors file " + source + ": " + what);
}

inline std::uint64_t unsigned_field(const nlohmann::json& j, const std::string& source, const std::string& what) {
  if (!j.is_number_unsigned()) {
    const std::string why = j.is_number_integer() ? "is negative" : j.is_number() ? "is not an integer" : "is not a number";
    fail(source, what + " " + why + " (" + j.dump() + ")");
  }
  return j.get<std::uint64_t>();
}

inline nlohmann::json parse_json(std::string_view text, const std::string& source) {
  // Duplicate keys would let two entries claim one name; nlohmann keeps the last
  // silently, so the parse callback tracks the keys of every open object.
  // Nesting is limited too: a real header is 3 levels deep, and the JSON library
  // prints and copies values recursively, so a header of a million '[' would
  // overflow the stack when an error message shows it.
  std::vector<std::vector<std::string>> open_objects;
  const nlohmann::json::parser_callback_t watch = [&](int depth, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    using ev = nlohmann::json::parse_event_t;
    if ((event == ev::object_start || event == ev::array_start) && depth >= max_header_depth)
      fail(source, "header nests deeper than " + std::to_string(max_header_depth) + " levels");
    if (event == ev::object_start) {
      open_objects.emplace_back();
    } else if (event == ev::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == ev::key && !open_objects.empty()) {
      auto& keys = open_objects.back();
      const std::string key = parsed.get<std::string>();
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) fail(source, "header repeats the key '" + key + "'");
      keys.push_back(key);
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), watch);
  } catch (const nlohmann::json::exception& e) {
    fail(source, std::string("header is not valid JSON: ") + e.what());
  }
}

// Parses and validates the header against a data buffer of `data_size` bytes.
inline Header parse_header(std::string_view text, std::uint64_t data_size, const std::string& source) {
  // The JSON reader stops at a NUL byte and ignores what follows, so a damaged
  // header ("}" then NUL where a padding space was) would read as intact. JSON text
  // holds no raw NUL anywhere; the reference reader refuses it too.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos)
    fail(source, "header holds a NUL byte at offset " + std::to_string(nul) + " (corrupt file)");
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') fail(source, "header is not a JSON object");
  const nlohmann::json root = parse_json(text, source);
  if (!root.is_object()) fail(source, "header is not a JSON object");

  Header h;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(source, "__metadata__ must map strings to strings, got " + value.dump());
      for (const auto& [key, text_value] : value.items()) {
        if (!text_value.is_string())
          fail(source, "__metadata__ value of '" + key + "' must be a string, got " + text_value.dump());
        h.metadata[key] = text_value.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!value.is_object()) fail(source, where + " must be an object, got " + value.dump());
    for (const auto& [key, unused] : value.items()) {
      (void)unused;
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        fail(source, where + " has an unknown field '" + key + "'");
    }
    if (!value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
      fail(source, where + " needs the fields dtype, shape and data_offsets");

    Entry e;
    e.name = name;
    const auto& dtype = value.at("dtype");
    if (!dtype.is_string()) fail(source, where + ": dtype must be a string, got " + dtype.dump());
    const auto parsed = parse_dtype(dtype.get<std::string>());
    if (!parsed)
      fail(source, where + " has an unknown dtype " + dtype.dump() +
                       " (this reader knows BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64)");
    e.tensor.dtype = *parsed;

    const auto& shape = value.at("shape");
    if (!shape.is_array()) fail(source, where + ": shape must be an array, got " + shape.dump());
    std::uint64_t numel = 1;
    constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    for (const auto& d : shape) {
      const std::uint64_t dim = unsigned_field(d, source, where + ": shape entry");
      const auto product = checked_product(numel, dim, limit);
      if (dim > limit || !product) fail(source, where + ": shape " + shape.dump() + " is too large");
      numel = *product;
      e.tensor.shape.push_back(static_cast<std::int64_t>(dim));
    }
    const auto bytes = checked_product(numel, dtype_size(e.tensor.dtype), limit);
    if (!bytes) fail(source, where + ": shape " + shape.dump() + " is too large");

    const auto& offsets = value.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2)
      fail(source, where + ": data_offsets must be [begin, end], got " + offsets.dump());
    e.begin = unsigned_field(offsets[0], source, where + ": data_offsets begin");
    e.end = unsigned_field(offsets[1], source, where + ": data_offsets end");
    if (e.end < e.begin) fail(source, where + ": data_offsets end " + std::to_string(e.end) + " precedes begin " +
                                          std::to_string(e.begin));
    if (e.end > data_size)
      fail(source, where + " ends at byte " + std::to_string(e.end) + " of the data, but the file holds only " +
                       std::to_string(data_size) + " data bytes (out of range or truncated file)");
    if (e.end - e.begin != *bytes)
      fail(source, where + ": shape " + e.tensor.shape_str() + " of " + std::string(dtype_name(e.tensor.dtype)) +
                       " needs " + std::to_string(*bytes) + " bytes, data_offsets give " +
                       std::to_string(e.end - e.begin));
    h.entries.push_back(std::move(e));
  }

  // The tensors must tile the data buffer: sorted by offset, each begins where the
  // previous one ended, the last ends at the end of the file.
  std::sort(h.entries.begin(), h.entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : h.entries) {
    if (e.begin < covered)
      fail(source, "tensor '" + e.name + "' (bytes " + std::to_string(e.begin) + " to " + std::to_string(e.end) +
                       ") overlaps tensor '" + previous->name + "' (bytes " + std::to_string(previous->begin) + " to " +
                       std::to_string(previous->end) + ")");
    if (e.begin > covered)
      fail(source, "data bytes " + std::to_string(covered) + " to " + std::to_string(e.begin) +
                       " belong to no tensor (gap before '" + e.name + "')");
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size)
    fail(source, "the data holds " + std::to_string(data_size) + " bytes but the tensors cover only " +
                     std::to_string(covered) + " (trailing bytes belong to no tensor)");
  return h;
}

// Reads the 8-byte length and checks it against the file size; returns N.
inline std::uint64_t header_length(const unsigned char* prefix, std::uint64_t file_size, const std::string& source) {
  if (file_size < 8)
    fail(source, "is " + std::to_string(file_size) +
                     " bytes, too short for the 8-byte header length (truncated, or not a safetensors file)");
  const auto n = load_le<std::uint64_t>(prefix);
  if (n > max_header_bytes) fail(source, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > file_size - 8)
    fail(source, "header length " + std::to_string(n) + " runs past the end of the file (" +
                     std::to_string(file_size) + " bytes; truncated?)");
  if (n == 0) fail(source, "header is empty");
  return n;
}

inline TensorArchive assemble(Header&& h) {
  TensorArchive a;
  a.metadata = std::move(h.metadata);
  for (Entry& e : h.entries) a.tensors.emplace(std::move(e.name), std::move(e.tensor));
  return a;
}

}  // namespace safetensors_detail

// Parses a whole safetensors file held in memory; `source` names it in errors.
inline TensorArchive parse_safetensors(const unsigned char* data, std::size_t size,
                                       const std::string& source = "(memory)") {
  using namespace safetensors_detail;
  const std::uint64_t n = header_length(data, size, source);
  const std::uint64_t data_size = size - 8 - n;
  Header h = parse_header(std::string_view(reinterpret_cast<const char*>(data) + 8, n), data_size, source);
  const unsigned char* buffer = data + 8 + n;
  for (Entry& e : h.entries) e.tensor.bytes.assign(buffer + e.begin, buffer + e.end);
  return assemble(std::move(h));
}

inline TensorArchive parse_safetensors(const std::vector<unsigned char>& bytes, const std::string& source = "(memory)") {
  return parse_safetensors(bytes.data(), bytes.size(), source);
}

// Reads a safetensors file; tensors are read straight into their buffers.
inline TensorArchive read_safetensors(const std::filesystem::path& path) {
  using namespace safetensors_detail;
  const std::string source = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) fail(source, "does not exist");
  if (!std::filesystem::is_regular_file(status)) fail(source, "is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(source, "cannot be opened: " + std::string(std::strerror(errno)));
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) fail(source, "cannot be read");
  const auto file_size = static_cast<std::uint64_t>(end);

  const auto read_exactly = [&](unsigned char* dst, std::uint64_t count, const std::string& what) {
    in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(count));
    if (static_cast<std::uint64_t>(in.gcount()) != count) fail(source, "ended while reading " + what);
  };
  unsigned char prefix[8] = {};
  if (file_size >= 8) read_exactly(prefix, 8, "the header length");
  const std::uint64_t n = header_length(prefix, file_size, source);
  std::string text(static_cast<std::size_t>(n), '\0');
  read_exactly(reinterpret_cast<unsigned char*>(text.data()), n, "the header");
  Header h = parse_header(text, file_size - 8 - n, source);
  // Sorted, gap-free entries: the data follows in the order of the entries.
  for (Entry& e : h.entries) {
    e.tensor.bytes.resize(static_cast<std::size_t>(e.end - e.begin));
    if (!e.tensor.bytes.empty()) read_exactly(e.tensor.bytes.data(), e.end - e.begin, "tensor '" + e.name + "'");
  }
  return assemble(std::move(h));
}

// ---------------------------------------------------------------------------------
// Writing

namespace safetensors_detail {

// The header text (padded with spaces so the data starts 8-byte aligned) and the
// tensors in data order: widest dtype first, then by name, so every tensor is
// aligned to its element size, as the reference writer does.
struct Layout {
  std::string header;
  std::vector<const std::pair<const std::string, StoredTensor>*> order;
};

inline Layout layout(const TensorArchive& a) {
  Layout l;
  for (const auto& entry : a.tensors) {
    const StoredTensor& t = entry.second;
    if (entry.first.empty() || entry.first == "__metadata__")
      throw error("safetensors: '" + entry.first + "' cannot name a tensor");
    std::optional<std::uint64_t> numel = 1;
    for (std::int64_t d : t.shape) {
      if (d < 0) throw error("safetensors: tensor '" + entry.first + "' has a negative dimension");
      numel = checked_product(*numel, static_cast<std::uint64_t>(d), std::numeric_limits<std::uint64_t>::max() / 8);
      if (!numel) throw error("safetensors: tensor '" + entry.first + "' has a shape too large to store");
    }
    if (t.bytes.size() != *numel * dtype_size(t.dtype))
      throw error("safetensors: tensor '" + entry.first + "' holds " + std::to_string(t.bytes.size()) +
                  " bytes, its shape " + t.shape_str() + " needs " + std::to_string(*numel * dtype_size(t.dtype)));
    l.order.push_back(&entry);
  }
  std::stable_sort(l.order.begin(), l.order.end(),
                   [](auto* x, auto* y) { return dtype_size(x->second.dtype) > dtype_size(y->second.dtype); });
  nlohmann::json header = nlohmann::json::object();
  if (!a.metadata.empty()) header["__metadata__"] = a.metadata;
  std::uint64_t offset = 0;
  for (auto* entry : l.order) {
    const StoredTensor& t = entry->second;
    header[entry->first] = {{"dtype", std::string(dtype_name(t.dtype))},
                            {"shape", t.shape},
                            {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  try {
    l.header = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw error(std::string("safetensors: a tensor name or metadata string is not valid UTF-8: ") + e.what());
  }
  l.header.append((8 - l.header.size() % 8) % 8, ' ');
  return l;
}

inline void write_all(int fd, const unsigned char* p, std::size_t n, const std::string& target) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw error("safetensors: writing " + target + " failed: " + std::strerror(errno));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace safetensors_detail

// The file's bytes, for callers that keep them in memory.
inline std::vector<unsigned char> serialize_safetensors(const TensorArchive& a) {
  const auto l = safetensors_detail::layout(a);
  // Sized once and filled with memcpy (vector::insert here trips GCC 12's
  // -Warray-bounds false positive).
  std::size_t total = 8 + l.header.size();
  for (auto* entry : l.order) total += entry->second.bytes.size();
  std::vector<unsigned char> out(total);
  safetensors_detail::store_le<std::uint64_t>(l.header.size(), out.data());
  std::size_t at = 8;
  std::memcpy(out.data() + at, l.header.data(), l.header.size());
  at += l.header.size();
  for (auto* entry : l.order) {
    if (!entry->second.bytes.empty()) std::memcpy(out.data() + at, entry->second.bytes.data(), entry->second.bytes.size());
    at += entry->second.bytes.size();
  }
  return out;
}

// Writes `a` to `path`, atomically replacing any file there.
inline void write_safetensors(const std::filesystem::path& path, const TensorArchive& a) {
  using namespace safetensors_detail;
  const Layout l = layout(a);
  const std::string target = path.string();
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!path.has_filename()) throw error("safetensors: " + target + " does not name a file");

  // A fresh temporary name in the target's directory (rename is atomic only within
  // one file system); O_EXCL so two writers never share one.
  std::random_device entropy;
  std::filesystem::path temporary;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    // Appended piece by piece: "." + string trips GCC 12's -Wrestrict false positive.
    std::string name = ".";
    name += path.filename().string();
    name += ".tmp-";
    name += std::to_string(::getpid());
    name += '-';
    name += std::to_string(entropy());
    temporary = directory / name;
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      throw error("safetensors: cannot create a temporary file in " + directory.string() + ": " +
                  std::strerror(errno));
  }
  if (fd < 0) throw error("safetensors: cannot find a free temporary name in " + directory.string());

  try {
    unsigned char length[8];
    store_le<std::uint64_t>(l.header.size(), length);
    write_all(fd, length, 8, target);
    write_all(fd, reinterpret_cast<const unsigned char*>(l.header.data()), l.header.size(), target);
    for (auto* entry : l.order) write_all(fd, entry->second.bytes.data(), entry->second.bytes.size(), target);
    if (::fsync(fd) != 0) throw error("safetensors: syncing " + target + " failed: " + std::strerror(errno));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw error("safetensors: closing " + target + " failed: " + std::strerror(errno));
    if (::rename(temporary.c_str(), path.c_str()) != 0)
      throw error("safetensors: cannot move the new file onto " + target + ": " + std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  // Make the rename itself durable. The file is complete and in place already;
  // some file systems refuse to sync a directory, which costs durability against a
  // power cut only, so that refusal is not an error.
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

}  // namespace sbgan::io
