// PNG reading and writing, palettes and sample grids: exact round trips of label
// maps and RGB images, the errors for missing, corrupt and truncated files and for
// label values outside [0, K), the Cityscapes colours, and the grid layout.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sbgan/io/image_grid.hpp>
#include <sbgan/io/palette.hpp>
#include <sbgan/io/png.hpp>
#include <string>

using namespace sbgan;
using Catch::Matchers::Contains;

namespace {

// A fresh directory under the system temp folder, removed with the object.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("sbgan_io_png_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

Tensor<std::uint8_t> random_pixels(index_t c, index_t h, index_t w, unsigned seed) {
  std::mt19937 rng(seed);
  Tensor<std::uint8_t> t(Shape{1, c, h, w});
  for (auto& v : t) v = static_cast<std::uint8_t>(rng() & 0xff);
  return t;
}

std::vector<char> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("label PNG round trip is exact and keeps 0..255", "[io][png]") {
  TempDir dir;
  Tensor<std::int32_t> labels(Shape{1, 1, 5, 7});
  for (index_t i = 0; i < labels.numel(); ++i) labels[i] = static_cast<std::int32_t>((i * 37) % 34);
  labels[3] = 255;
  const auto file = dir.path / "labels.png";
  io::write_label_png(file, labels);
  const Tensor<std::int32_t> back = io::read_label_png(file);
  REQUIRE(back.shape() == labels.shape());
  for (index_t i = 0; i < labels.numel(); ++i) CHECK(back[i] == labels[i]);
}

TEST_CASE("RGB PNG round trip is exact, as bytes and as [-1, 1] images", "[io][png]") {
  TempDir dir;
  const Tensor<std::uint8_t> pixels = random_pixels(3, 6, 9, 7);
  io::write_pixels(dir.path / "a.png", pixels);
  const Tensor<std::uint8_t> back = io::read_pixels(dir.path / "a.png", 3);
  REQUIRE(back.shape() == pixels.shape());
  for (index_t i = 0; i < pixels.numel(); ++i) CHECK(back[i] == pixels[i]);

  // Network image: (x/255 − 0.5)/0.5, corners of the range exact.
  const Tensor<float> image = io::read_image(dir.path / "a.png");
  REQUIRE(image.shape() == Shape({1, 3, 6, 9}));
  for (index_t i = 0; i < image.numel(); ++i) CHECK(image[i] == (static_cast<float>(pixels[i]) / 255.0f - 0.5f) / 0.5f);
  io::write_image(dir.path / "b.png", image);
  const Tensor<std::uint8_t> again = io::read_pixels(dir.path / "b.png", 3);
  for (index_t i = 0; i < pixels.numel(); ++i) CHECK(again[i] == pixels[i]);
  CHECK(io::to_network_image(Tensor<std::uint8_t>(Shape{1})).numel() == 1);
  Tensor<std::uint8_t> ends(Shape{2});
  ends[0] = 0;
  ends[1] = 255;
  const Tensor<float> e = io::to_network_image(ends);
  CHECK(e[0] == -1.0f);
  CHECK(e[1] == 1.0f);
}

TEST_CASE("PNG errors name the file and the reason", "[io][png][errors]") {
  TempDir dir;
  const auto missing = dir.path / "nope.png";
  CHECK_THROWS_WITH(io::read_label_png(missing), Contains("nope.png") && Contains("no such file"));
  CHECK_THROWS_AS(io::read_image(missing), sbgan::error);

  // Not a PNG at all.
  write_bytes(dir.path / "garbage.png", std::vector<char>(64, 'x'));
  CHECK_THROWS_WITH(io::read_image(dir.path / "garbage.png"), Contains("garbage.png") && Contains("cannot decode"));

  // A valid PNG cut in half.
  io::write_pixels(dir.path / "whole.png", random_pixels(3, 32, 32, 3));
  auto bytes = file_bytes(dir.path / "whole.png");
  REQUIRE(bytes.size() > 100);
  bytes.resize(bytes.size() / 2);
  write_bytes(dir.path / "truncated.png", bytes);
  CHECK_THROWS_WITH(io::read_image(dir.path / "truncated.png"), Contains("truncated.png") && Contains("cannot decode"));

  // A corrupted byte inside the compressed data.
  bytes = file_bytes(dir.path / "whole.png");
  for (std::size_t i = 60; i < bytes.size() - 20; i += 7) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  write_bytes(dir.path / "corrupt.png", bytes);
  CHECK_THROWS_WITH(io::read_image(dir.path / "corrupt.png"), Contains("corrupt.png"));

  // An empty file.
  write_bytes(dir.path / "empty.png", {});
  CHECK_THROWS_WITH(io::read_label_png(dir.path / "empty.png"), Contains("empty.png") && Contains("empty"));

  // A colour image is not a label map.
  CHECK_THROWS_WITH(io::read_label_png(dir.path / "whole.png"), Contains("whole.png") && Contains("single-channel"));
}

TEST_CASE("label values outside 0..K-1 are refused with the file, value and K", "[io][png][errors]") {
  TempDir dir;
  Tensor<std::int32_t> labels(Shape{1, 1, 2, 3});
  for (index_t i = 0; i < labels.numel(); ++i) labels[i] = static_cast<std::int32_t>(i);
  labels[4] = 40;
  io::write_label_png(dir.path / "l.png", labels);
  CHECK(io::read_label_png(dir.path / "l.png", 41).numel() == 6);
  CHECK_THROWS_WITH(io::read_label_png(dir.path / "l.png", 35),
                    Contains("l.png") && Contains("value 40") && Contains("K = 35"));
  // Values that do not fit a byte cannot be written, and the old file survives.
  labels[0] = 300;
  CHECK_THROWS_WITH(io::write_label_png(dir.path / "l.png", labels), Contains("l.png") && Contains("300"));
  CHECK(io::read_label_png(dir.path / "l.png")[4] == 40);
}

TEST_CASE("palettes follow cityscapesScripts and stay distinct for ADE", "[io][palette]") {
  const io::Palette c35 = io::cityscapes_35();
  REQUIRE(c35.size() == 35);
  CHECK(c35.colour(7) == io::Rgb{128, 64, 128});    // road
  CHECK(c35.colour(11) == io::Rgb{70, 70, 70});     // building
  CHECK(c35.colour(23) == io::Rgb{70, 130, 180});   // sky
  CHECK(c35.colour(26) == io::Rgb{0, 0, 142});      // car
  CHECK(c35.colour(33) == io::Rgb{119, 11, 32});    // bicycle
  CHECK(c35.colour(34) == io::Rgb{0, 0, 142});      // license plate
  const io::Palette c19 = io::cityscapes_19();
  REQUIRE(c19.size() == 20);
  CHECK(c19.colour(0) == io::Rgb{128, 64, 128});
  CHECK(c19.colour(10) == io::Rgb{70, 130, 180});
  CHECK(c19.colour(18) == io::Rgb{119, 11, 32});
  CHECK(c19.colour(255) == io::Rgb{0, 0, 0});
  CHECK_THROWS_WITH(c19.colour(20), Contains("cityscapes-19") && Contains("20"));
  const io::Palette ade = io::ade_95();
  REQUIRE(ade.size() == 95);
  CHECK(ade.colour(0) == io::Rgb{128, 0, 0});  // labelcolormap's first entries
  CHECK(ade.colour(1) == io::Rgb{0, 128, 0});
  CHECK(ade.colour(2) == io::Rgb{128, 128, 0});
  for (std::int32_t a = 0; a < 95; ++a)
    for (std::int32_t b = a + 1; b < 95; ++b) CHECK_FALSE(ade.colour(a) == ade.colour(b));
}

TEST_CASE("layouts colourise from ids and from one-hot maps alike", "[io][palette]") {
  Tensor<std::int32_t> ids(Shape{1, 1, 2, 2});
  ids[0] = 7;
  ids[1] = 23;
  ids[2] = 26;
  ids[3] = 255;
  const auto rgb = io::colorize(ids, io::cityscapes_35());
  REQUIRE(rgb.shape() == Shape({1, 3, 2, 2}));
  CHECK(rgb(0, 0, 0, 0) == 128);
  CHECK(rgb(0, 2, 0, 1) == 180);
  CHECK(rgb(0, 2, 1, 0) == 142);
  CHECK(rgb(0, 0, 1, 1) == 0);
  Tensor<float> soft(Shape{1, 35, 2, 2});
  std::fill(soft.begin(), soft.end(), 0.01f);
  for (index_t i = 0; i < 3; ++i) soft[ids[i] * 4 + i] = 0.6f;
  soft[0 * 4 + 3] = 0.7f;  // class 0, black
  const auto rgb2 = io::colorize(soft, io::cityscapes_35());
  for (index_t i = 0; i < 9; ++i) CHECK(rgb2[i] == rgb[i]);
  ids[0] = 40;
  CHECK_THROWS_WITH(io::colorize(ids, io::cityscapes_35()), Contains("40"));
}

TEST_CASE("sample grid puts each layout beside its image, one row per sample", "[io][grid]") {
  TempDir dir;
  const index_t n = 3, h = 4, w = 6;
  Tensor<std::int32_t> labels(Shape{n, 1, h, w});
  for (index_t i = 0; i < labels.numel(); ++i) labels[i] = (i / (h * w)) == 1 ? 23 : 7;
  Tensor<float> images(Shape{n, 3, h, w});
  for (index_t i = 0; i < images.numel(); ++i) images[i] = (i / (3 * h * w)) == 2 ? 1.0f : -1.0f;
  const io::GridOptions opt{.pairs_per_row = 1, .padding = 2};
  const auto grid = io::sample_grid(labels, images, io::cityscapes_35(), opt);
  REQUIRE(grid.shape() == Shape({1, 3, n * h + (n + 1) * 2, 2 * w + 3 * 2}));
  auto px = [&](index_t c, index_t y, index_t x) { return static_cast<int>(grid(0, c, y, x)); };
  CHECK(px(0, 2, 2) == 128);               // row 0 layout: road
  CHECK(px(2, 2 + h + 2, 2) == 180);       // row 1 layout: sky
  CHECK(px(0, 2, 2 + w + 2) == 0);         // row 0 image: black
  CHECK(px(1, 2 + 2 * (h + 2), 2 + w + 2) == 255);  // row 2 image: white
  CHECK(px(0, 0, 0) == 255);               // padding is white
  io::write_sample_grid(dir.path / "grid.png", labels, images, io::cityscapes_35(), opt);
  const auto back = io::read_pixels(dir.path / "grid.png", 3);
  REQUIRE(back.shape() == grid.shape());
  for (index_t i = 0; i < grid.numel(); ++i) CHECK(back[i] == grid[i]);
  CHECK_THROWS_AS(io::sample_grid(labels, Tensor<float>(Shape{2, 3, h, w}), io::cityscapes_35(), opt), sbgan::error);
}
