#pragma once
// Reading one (image file, label file) pair into a Scene, shared by the file-based
// data sets. The label bytes go through the data set's LabelRemap, whose error names
// the label file and the offending value. When the two files differ in size (some
// ADE pairs), the image is resized to the label map's size (PIL bilinear), so the
// ids stay exact, as the reference resizes one to the other before cropping.
#include <filesystem>
#include <string>

#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/preprocess.hpp"
#include "sbgan/data/scene.hpp"
#include "sbgan/io/png.hpp"

namespace sbgan::data {

inline Scene load_scene_files(const std::filesystem::path& image_file, const std::filesystem::path& label_file,
                              const LabelRemap& remap, std::string name) {
  Scene s;
  s.labels = remap.apply(io::read_label_png(label_file), label_file.string());
  s.image = io::read_pixels(image_file, 3);
  const Shape& ls = s.labels.shape();
  if (s.image.shape().h() != ls.h() || s.image.shape().w() != ls.w())
    s.image = resize_image(s.image, ls.h(), ls.w(), Resample::bilinear);
  s.name = std::move(name);
  return s;
}

// Throws unless `dir` is an existing directory; `what` says which data set wants it.
inline void expect_directory(const std::filesystem::path& dir, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw error(what + ": data directory " + dir.string() + " does not exist or is not a directory");
}

}  // namespace sbgan::data
