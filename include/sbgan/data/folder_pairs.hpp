#pragma once
// Generic image/label folder pairs: every <label_dir>/<stem>.png is a label map, its
// image is <image_dir>/<stem> with extension .png, .jpg or .jpeg (the first that
// exists). Scenes are in sorted stem order; a label map without an image is
// reported at construction, naming the label file and the image paths tried.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/load_scene.hpp"
#include "sbgan/data/scene.hpp"

namespace sbgan::data {

class FolderPairsDataset final : public SceneDataset {
 public:
  FolderPairsDataset(const std::filesystem::path& image_dir, const std::filesystem::path& label_dir, LabelRemap remap)
      : remap_(std::move(remap)) {
    namespace fs = std::filesystem;
    expect_directory(image_dir, "folder pairs (images)");
    expect_directory(label_dir, "folder pairs (labels)");
    for (const auto& entry : fs::directory_iterator(label_dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".png") continue;
      const std::string stem = entry.path().stem().string();
      fs::path image;
      for (const char* ext : {".png", ".jpg", ".jpeg"})
        if (fs::is_regular_file(image_dir / (stem + ext))) {
          image = image_dir / (stem + ext);
          break;
        }
      if (image.empty())
        throw error("folder pairs: label map " + entry.path().string() + " has no image (looked for " +
                    (image_dir / stem).string() + ".png, .jpg, .jpeg)");
      items_.push_back({image, entry.path(), stem});
    }
    if (items_.empty()) throw error("folder pairs: no .png label maps in " + label_dir.string());
    std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.name < b.name; });
  }

  [[nodiscard]] index_t size() const override { return static_cast<index_t>(items_.size()); }
  [[nodiscard]] std::int32_t num_classes() const override { return remap_.num_classes; }
  [[nodiscard]] Scene load(index_t i) const override {
    if (i < 0 || i >= size())
      throw error("folder pairs: scene " + std::to_string(i) + " out of range (size " + std::to_string(size()) + ")");
    const Item& it = items_[static_cast<std::size_t>(i)];
    return load_scene_files(it.image, it.label, remap_, it.name);
  }

 private:
  struct Item {
    std::filesystem::path image, label;
    std::string name;
  };
  LabelRemap remap_;
  std::vector<Item> items_;
};

}  // namespace sbgan::data
