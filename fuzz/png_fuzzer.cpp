// Fuzz target: the image and label readers (io/png.hpp) and the scene loader
// (data/load_scene.hpp). The input is written to a file, since the readers take
// paths, and read as an RGB image, as a grey image, as a label map (raw and with
// K = 35), and as the label and as the image of a scene whose other file is a
// small valid PNG of another size (so the image is resized to the labels).
// Everything must either work, with the shapes the documentation promises, or
// throw sbgan::error; anything else (a crash, a sanitizer report, another
// exception escaping) is a finding.
#include <cstddef>
#include <cstdint>

#include <sbgan/data/label_remap.hpp>
#include <sbgan/data/load_scene.hpp>
#include <sbgan/io/png.hpp>

#include "fuzz_support.hpp"

using namespace sbgan;
using fuzz_support::broken;
using fuzz_support::expect_message;

namespace {

struct Files {
  fuzz_support::ScratchDir dir;
  std::filesystem::path input = dir.file("input.png");
  std::filesystem::path image = dir.file("image.png");  // 5x3 RGB
  std::filesystem::path label = dir.file("label.png");  // 4x6 grey, values 0..23
  Files() {
    Tensor<std::uint8_t> rgb(Shape{1, 3, 3, 5});
    for (index_t i = 0; i < rgb.numel(); ++i) rgb[i] = static_cast<std::uint8_t>(i * 17);
    io::write_pixels(image, rgb);
    Tensor<std::int32_t> ids(Shape{1, 1, 6, 4});
    for (index_t i = 0; i < ids.numel(); ++i) ids[i] = static_cast<std::int32_t>(i);
    io::write_label_png(label, ids);
  }
};

void check_nchw(const Shape& s, index_t channels, const char* what) {
  if (s.rank() != 4 || s.n() != 1 || s.c() != channels || s.h() < 1 || s.w() < 1)
    broken(std::string(what) + " returned the shape " + s.str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Files files;
  static const data::LabelRemap remap = data::cityscapes_label_ids();
  fuzz_support::write_file(files.input, data, size);

  try {
    check_nchw(io::read_pixels(files.input, 3).shape(), 3, "read_pixels(3)");
  } catch (const error& e) {
    expect_message(e);
  }
  try {
    check_nchw(io::read_pixels(files.input, 1).shape(), 1, "read_pixels(1)");
  } catch (const error& e) {
    expect_message(e);
  }
  try {
    const Tensor<std::int32_t> labels = io::read_label_png(files.input, 35);
    check_nchw(labels.shape(), 1, "read_label_png");
    for (index_t i = 0; i < labels.numel(); ++i)
      if (labels[i] < 0 || labels[i] >= 35) broken("read_label_png(K = 35) let the value " + std::to_string(labels[i]) + " through");
  } catch (const error& e) {
    expect_message(e);
  }
  try {
    const data::Scene s = data::load_scene_files(files.image, files.input, remap, "fuzz");
    check_nchw(s.labels.shape(), 1, "load_scene_files (labels)");
    check_nchw(s.image.shape(), 3, "load_scene_files (image)");
    if (s.image.shape().h() != s.labels.shape().h() || s.image.shape().w() != s.labels.shape().w())
      broken("load_scene_files: image " + s.image.shape().str() + " and labels " + s.labels.shape().str() + " differ in size");
  } catch (const error& e) {
    expect_message(e);
  }
  try {
    const data::Scene s = data::load_scene_files(files.input, files.label, remap, "fuzz");
    if (s.image.shape() != Shape{1, 3, 6, 4}) broken("load_scene_files resized the image to " + s.image.shape().str());
  } catch (const error& e) {
    expect_message(e);
  }
  return 0;
}
