#pragma once
// The Cityscapes directory layout:
//   <root>/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png
//   <root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png
// Scenes are the label files in sorted path order. Every label file must have its
// image; a missing one is reported at construction, naming both files, so a long
// run does not fail hours in. The default LabelRemap is the reference's K = 35 set
// (label ids 0..33, 255 -> 34); cityscapes_train_ids() reads trainId PNGs instead.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/load_scene.hpp"
#include "sbgan/data/scene.hpp"

namespace sbgan::data {

class CityscapesDataset final : public SceneDataset {
 public:
  CityscapesDataset(const std::filesystem::path& root, const std::string& split, LabelRemap remap = cityscapes_label_ids(),
                    std::string label_suffix = "_gtFine_labelIds.png")
      : remap_(std::move(remap)) {
    namespace fs = std::filesystem;
    expect_directory(root, "Cityscapes");
    const fs::path label_dir = root / "gtFine" / split, image_dir = root / "leftImg8bit" / split;
    expect_directory(label_dir, "Cityscapes (labels of split '" + split + "')");
    expect_directory(image_dir, "Cityscapes (images of split '" + split + "')");
    for (const auto& entry : fs::recursive_directory_iterator(label_dir)) {
      const std::string file = entry.path().filename().string();
      if (!entry.is_regular_file() || file.size() <= label_suffix.size() ||
          file.compare(file.size() - label_suffix.size(), label_suffix.size(), label_suffix) != 0)
        continue;
      const std::string stem = file.substr(0, file.size() - label_suffix.size());
      const fs::path image = image_dir / fs::relative(entry.path().parent_path(), label_dir) / (stem + "_leftImg8bit.png");
      if (!fs::is_regular_file(image))
        throw error("Cityscapes: label map " + entry.path().string() + " has no image (expected " + image.string() + ")");
      items_.push_back({image, entry.path(), stem});
    }
    if (items_.empty())
      throw error("Cityscapes: no *" + label_suffix + " files under " + label_dir.string());
    std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.label < b.label; });
  }

  [[nodiscard]] index_t size() const override { return static_cast<index_t>(items_.size()); }
  [[nodiscard]] std::int32_t num_classes() const override { return remap_.num_classes; }
  [[nodiscard]] Scene load(index_t i) const override {
    if (i < 0 || i >= size())
      throw error("Cityscapes: scene " + std::to_string(i) + " out of range (size " + std::to_string(size()) + ")");
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
