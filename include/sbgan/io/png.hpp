#pragma once
// Reading and writing 8-bit images: label maps (one channel, each value a class id)
// and RGB pictures, through stb_image / stb_image_write.
//
// stb is compiled into every translation unit that includes this header, with
// static linkage (STB_IMAGE_STATIC, STB_IMAGE_WRITE_STATIC), so the library stays
// header-only and two units never clash. A program that includes stb_image.h (or
// stb_image_write.h) itself before this header keeps its own copy: we then use its
// declarations and it must supply the implementation, as stb requires. (Including
// stb with STB_IMAGE_IMPLEMENTATION *after* this header in the same unit would
// define it twice; include this header instead.)
//
// Tensors: labels are Tensor<std::int32_t> [1, 1, H, W]; pixels are
// Tensor<std::uint8_t> [1, 3, H, W] (what the file holds, for exact resampling);
// network images are Tensor<float> [1, 3, H, W] in [-1, 1], the reference's
// normalisation (x/255 − 0.5)/0.5. Going back rounds to the nearest byte (the
// reference truncates), so a read-convert-convert-write round trip is exact.
//
// Only PNG and JPEG are compiled in (STBI_ONLY_PNG, STBI_ONLY_JPEG): the data sets
// need no other format, and stb's other decoders (BMP, GIF, PSD, TGA, HDR, PIC,
// PNM) have known memory-safety bugs on corrupt files. Before a JPEG reaches stb,
// its Huffman tables are checked (stb_image 2.27 writes past a table that declares
// more than 256 codes; fixed upstream in 2.28).
//
// Every failure throws sbgan::error naming the file: a missing or unreadable file,
// a corrupt or truncated PNG (with stb's reason), a label map that is not one
// 8-bit channel, label values outside [0, K) (read_label_png with K), a write that
// cannot finish. Writes go to a temporary file renamed over the target, so a failed
// write leaves the old file as it was.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#endif
#if !defined(STBI_INCLUDE_STB_IMAGE_H)
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#undef STB_IMAGE_IMPLEMENTATION
#endif
#if !defined(INCLUDE_STB_IMAGE_WRITE_H)
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace sbgan::io {

namespace png_detail {

inline std::vector<unsigned char> read_file_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw error("cannot read image " + path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error("cannot read image " + path.string() + ": cannot open the file");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw error("cannot read image " + path.string() + ": read error");
  if (bytes.empty()) throw error("cannot read image " + path.string() + ": the file is empty");
  return bytes;
}

// False when a JPEG holds a Huffman table (DHT segment) that declares more than
// 256 codes, which stb_image 2.27 would write past its arrays. It mirrors how stb
// reads a DHT segment, and applies that at every place stb could read one: the
// segments before the frame header, walked by their lengths as stb walks them, and
// every 0xFF 0xC4 pair after it (inside entropy-coded data, 0xFF followed by
// anything but 0x00 is a marker to stb too). Anything else is left to stb.
inline bool jpeg_huffman_tables_fit(const unsigned char* data, std::size_t size) {
  const auto byte = [&](std::size_t at) -> unsigned { return at < size ? data[at] : 0u; };  // stb reads 0 past the end
  const auto be16 = [&](std::size_t at) -> unsigned { return byte(at) << 8 | byte(at + 1); };
  // The DHT segment whose length field is at `at`, read as stb_image 2.27 reads it.
  const auto dht_fits = [&](std::size_t at) {
    long remaining = static_cast<long>(be16(at)) - 2;
    at += 2;
    while (remaining > 0) {
      const unsigned q = byte(at++);
      if ((q >> 4) > 1 || (q & 15) > 3) return true;  // stb refuses the table
      unsigned codes = 0;
      for (int i = 0; i < 16; ++i) codes += byte(at++);
      if (codes > 256) return false;
      at += codes;
      remaining -= 17 + static_cast<long>(codes);
    }
    return true;
  };
  // stb's marker reading: 0xFF, any number of 0xFF fill bytes, the marker.
  std::size_t at = 0;
  const auto next_marker = [&]() -> int {
    if (byte(at++) != 0xFF) return -1;
    unsigned m = 0xFF;
    while (m == 0xFF && at < size) m = byte(at++);
    return m == 0xFF ? -1 : static_cast<int>(m);
  };
  if (size < 2 || data[0] != 0xFF) return true;  // not a JPEG
  if (next_marker() != 0xD8) return true;         // no SOI: stb refuses it
  // Segments up to the frame header (SOF0..SOF15 but DHT, JPG and DAC).
  const auto is_sof = [](int m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; };
  while (at < size) {
    const int m = next_marker();
    if (m < 0) continue;  // stb skips bytes that are not a marker here
    if (m == 0xC4 && !dht_fits(at)) return false;
    if (is_sof(m) || m == 0xD8 || m == 0xD9 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) break;
    const unsigned length = be16(at);
    if (length < 2) break;
    at += length;
  }
  // From the frame header on: every 0xFF 0xC4 (with any fill bytes between).
  for (std::size_t i = at > 0 ? at - 1 : 0; i + 1 < size; ++i) {
    if (data[i] != 0xFF) continue;
    std::size_t j = i + 1;
    while (j < size && data[j] == 0xFF) ++j;
    if (j < size && data[j] == 0xC4 && !dht_fits(j + 1)) return false;
    i = j - 1;
  }
  return true;
}

// Empty when every chunk of a PNG fits in the file; otherwise what is wrong. stb
// would find it too, but only after allocating what the chunk declares (up to
// 2 GB for an IDAT chunk of a 100-byte file). Not a PNG: empty, left to stb.
inline std::string png_chunks_problem(const unsigned char* data, std::size_t size) {
  static constexpr unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || !std::equal(signature, signature + 8, data)) return {};
  std::size_t at = 8;
  while (size - at >= 8) {
    const std::uint64_t length = std::uint64_t{data[at]} << 24 | std::uint64_t{data[at + 1]} << 16 |
                                 std::uint64_t{data[at + 2]} << 8 | data[at + 3];
    const std::string type(reinterpret_cast<const char*>(data + at + 4), 4);
    const bool last = type == "IEND";  // stb stops there, before its CRC
    const std::uint64_t left = size - at - 8;  // for the chunk's data and CRC
    if (length + (last ? 0 : 4) > left)
      return "corrupt or truncated PNG (a chunk declares " + std::to_string(length) + " bytes of data, the file holds " +
             std::to_string(left) + " more bytes)";
    if (last) break;
    at += 12 + static_cast<std::size_t>(length);
  }
  return {};
}

struct StbPixels {
  unsigned char* data = nullptr;
  ~StbPixels() { stbi_image_free(data); }
};

inline void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}

// Writes `bytes` to a sibling temporary file and renames it over `path`.
inline void replace_file(const std::filesystem::path& path, const std::vector<unsigned char>& bytes) {
  thread_local std::mt19937_64 salt{std::random_device{}()};
  const std::filesystem::path tmp = path.string() + ".tmp" + std::to_string(salt() % 1000000007ULL);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw error("cannot write image " + path.string() + ": cannot create " + tmp.string());
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw error("cannot write image " + path.string() + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw error("cannot write image " + path.string() + ": " + ec.message());
  }
}

}  // namespace png_detail

// The most pixels an image may declare (8192 x 8192): a corrupt header that claims
// more is refused before stb allocates for it.
inline constexpr std::uint64_t max_image_pixels = std::uint64_t{1} << 26;

// Decodes a PNG or a JPEG into `channels` channels
// (1 or 3), returned as [1, channels, H, W] bytes. `expect_channels_in_file`, when
// non-zero, refuses files that do not store exactly that many channels (a label map
// saved as RGB would otherwise be silently turned into grey levels).
inline Tensor<std::uint8_t> read_pixels(const std::filesystem::path& path, int channels,
                                        int expect_channels_in_file = 0) {
  if (channels != 1 && channels != 3)
    throw error("read_pixels(" + path.string() + "): channels must be 1 or 3, got " + std::to_string(channels));
  const auto bytes = png_detail::read_file_bytes(path);
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw error("cannot read image " + path.string() + ": the file is larger than 2 GB");
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!png_detail::jpeg_huffman_tables_fit(bytes.data(), bytes.size()))
    throw error("cannot decode image " + path.string() + ": corrupt JPEG (a Huffman table declares more than 256 codes)");
  if (const std::string problem = png_detail::png_chunks_problem(bytes.data(), bytes.size()); !problem.empty())
    throw error("cannot decode image " + path.string() + ": " + problem);
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp))
    throw error("cannot decode image " + path.string() + ": " + stbi_failure_reason());
  if (w < 1 || h < 1)
    throw error("cannot decode image " + path.string() + ": it declares " + std::to_string(w) + "x" +
                std::to_string(h) + " pixels (corrupt file)");
  if (static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(h) > max_image_pixels)
    throw error("cannot read image " + path.string() + ": it declares " + std::to_string(w) + "x" + std::to_string(h) +
                " pixels, more than the limit of " + std::to_string(max_image_pixels) + " (corrupt file?)");
  if (stbi_is_16_bit_from_memory(bytes.data(), len))
    throw error("cannot read image " + path.string() + ": 16-bit images are not supported (expected 8 bits per channel)");
  if (expect_channels_in_file != 0 && comp != expect_channels_in_file)
    throw error("cannot read label map " + path.string() + ": expected a single-channel 8-bit grey PNG, the file has " +
                std::to_string(comp) + " channels (a colour or palette image?)");
  png_detail::StbPixels pixels;
  pixels.data = stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, channels);
  if (!pixels.data) throw error("cannot decode image " + path.string() + ": " + stbi_failure_reason());
  if (w < 1 || h < 1) throw error("cannot decode image " + path.string() + ": it has no pixels (corrupt file)");
  Tensor<std::uint8_t> out(Shape{1, channels, h, w});
  const index_t plane = static_cast<index_t>(h) * w;
  for (index_t i = 0; i < plane; ++i)
    for (int c = 0; c < channels; ++c) out[c * plane + i] = pixels.data[i * channels + c];
  return out;
}

// Encodes sample `n` of a [N, C, H, W] byte tensor (C = 1 or 3) as a PNG file.
inline void write_pixels(const std::filesystem::path& path, const Tensor<std::uint8_t>& pixels, index_t n = 0) {
  const Shape& s = pixels.shape();
  if (s.rank() != 4 || (s.c() != 1 && s.c() != 3) || n < 0 || n >= s.n() || s.h() < 1 || s.w() < 1)
    throw error("cannot write image " + path.string() + ": pixels must be [N, 1 or 3, H, W] with sample " +
                std::to_string(n) + " present, got " + s.str());
  const index_t c = s.c(), plane = s.h() * s.w();
  std::vector<unsigned char> interleaved(static_cast<std::size_t>(plane * c));
  const std::uint8_t* src = pixels.data() + n * c * plane;
  for (index_t i = 0; i < plane; ++i)
    for (index_t k = 0; k < c; ++k) interleaved[static_cast<std::size_t>(i * c + k)] = src[k * plane + i];
  std::vector<unsigned char> encoded;
  const int w = static_cast<int>(s.w()), h = static_cast<int>(s.h()), comp = static_cast<int>(c);
  if (!stbi_write_png_to_func(png_detail::append_bytes, &encoded, w, h, comp, interleaved.data(), w * comp))
    throw error("cannot write image " + path.string() + ": PNG encoding failed");
  png_detail::replace_file(path, encoded);
}

// Throws unless every label is in [0, K); `source` (a file name) goes in the message.
inline void check_label_range(const Tensor<std::int32_t>& labels, std::int32_t num_classes, const std::string& source) {
  for (index_t i = 0; i < labels.numel(); ++i) {
    const std::int32_t v = labels[i];
    if (v < 0 || v >= num_classes)
      throw error("label map " + source + ": value " + std::to_string(v) + " at element " + std::to_string(i) +
                  " is outside [0, " + std::to_string(num_classes) + ") (K = " + std::to_string(num_classes) + ")");
  }
}

// The raw values of a single-channel 8-bit label PNG, [1, 1, H, W] (0..255; 255 is
// often "ignore" and is remapped by the data sets, so no range check here).
inline Tensor<std::int32_t> read_label_png(const std::filesystem::path& path) {
  const Tensor<std::uint8_t> raw = read_pixels(path, 1, 1);
  Tensor<std::int32_t> labels(raw.shape());
  for (index_t i = 0; i < raw.numel(); ++i) labels[i] = raw[i];
  return labels;
}

// The same, checked at load: every value must be a class id in [0, K).
inline Tensor<std::int32_t> read_label_png(const std::filesystem::path& path, std::int32_t num_classes) {
  Tensor<std::int32_t> labels = read_label_png(path);
  check_label_range(labels, num_classes, path.string());
  return labels;
}

// Writes sample n of [N, 1, H, W] labels; values must fit in a byte.
inline void write_label_png(const std::filesystem::path& path, const Tensor<std::int32_t>& labels, index_t n = 0) {
  const Shape& s = labels.shape();
  if (s.rank() != 4 || s.c() != 1)
    throw error("cannot write label map " + path.string() + ": labels must be [N, 1, H, W], got " + s.str());
  if (n < 0 || n >= s.n())
    throw error("cannot write label map " + path.string() + ": sample " + std::to_string(n) + " of " + s.str());
  const index_t plane = s.h() * s.w();
  Tensor<std::uint8_t> bytes(Shape{1, 1, s.h(), s.w()});
  for (index_t i = 0; i < plane; ++i) {
    const std::int32_t v = labels[n * plane + i];
    if (v < 0 || v > 255)
      throw error("cannot write label map " + path.string() + ": value " + std::to_string(v) +
                  " does not fit in an 8-bit PNG (expected 0..255)");
    bytes[i] = static_cast<std::uint8_t>(v);
  }
  write_pixels(path, bytes);
}

// Bytes -> network image: (x/255 − 0.5)/0.5 in [-1, 1], same shape.
inline Tensor<float> to_network_image(const Tensor<std::uint8_t>& pixels) {
  Tensor<float> out(pixels.shape());
  for (index_t i = 0; i < pixels.numel(); ++i) out[i] = (static_cast<float>(pixels[i]) / 255.0f - 0.5f) / 0.5f;
  return out;
}

// Network image -> bytes: (x + 1)/2 · 255, clamped to [0, 255] and rounded; NaN -> 0.
inline Tensor<std::uint8_t> to_pixels(const Tensor<float>& image) {
  Tensor<std::uint8_t> out(image.shape());
  for (index_t i = 0; i < image.numel(); ++i) {
    const float v = (image[i] + 1.0f) * 0.5f * 255.0f;
    out[i] = std::isnan(v) ? std::uint8_t{0} : static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
  }
  return out;
}

// An RGB file as a network image [1, 3, H, W] in [-1, 1].
inline Tensor<float> read_image(const std::filesystem::path& path) { return to_network_image(read_pixels(path, 3)); }

// Writes sample n of a [N, 3, H, W] network image.
inline void write_image(const std::filesystem::path& path, const Tensor<float>& image, index_t n = 0) {
  if (image.shape().rank() != 4 || image.shape().c() != 3)
    throw error("cannot write image " + path.string() + ": image must be [N, 3, H, W], got " + image.shape().str());
  write_pixels(path, to_pixels(image), n);
}

}  // namespace sbgan::io
