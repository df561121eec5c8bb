#pragma once
// Data sets described by the reference's list files (`datasets/<name>_im_info_<split>.txt`
// and `<name>_lbl_info_<split>.txt`): line i of the image list and line i of the
// label list are one scene. A line is a path (relative to the data root unless
// absolute), optionally followed by a flag column; rows flagged 1 get the fixed
// crop box if one is given (Cityscapes-25K: the 20K predicted-label rows are cut to
// x in [256, 1792), y in [0, 768) to drop the ego car). Empty lines are skipped.
// Pairs are sorted by image path (the reference sorts both lists). Missing list
// files, lists of different lengths, and listed files that do not exist are
// reported at construction, naming the list, the line and the file.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/load_scene.hpp"
#include "sbgan/data/preprocess.hpp"
#include "sbgan/data/scene.hpp"

namespace sbgan::data {

struct CropBox {
  index_t top, left, height, width;
};

class ListPairsDataset final : public SceneDataset {
 public:
  ListPairsDataset(const std::filesystem::path& root, const std::filesystem::path& image_list,
                   const std::filesystem::path& label_list, LabelRemap remap,
                   std::optional<CropBox> flagged_crop = std::nullopt)
      : remap_(std::move(remap)), flagged_crop_(flagged_crop) {
    expect_directory(root, "list data set");
    const auto images = read_list(root, image_list), labels = read_list(root, label_list);
    if (images.size() != labels.size())
      throw error("list data set: " + image_list.string() + " has " + std::to_string(images.size()) + " entries but " +
                  label_list.string() + " has " + std::to_string(labels.size()));
    if (images.empty()) throw error("list data set: " + image_list.string() + " lists no files");
    for (std::size_t i = 0; i < images.size(); ++i)
      items_.push_back({images[i].path, labels[i].path, labels[i].path.stem().string(), labels[i].flag || images[i].flag});
    std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.image < b.image; });
  }

  [[nodiscard]] index_t size() const override { return static_cast<index_t>(items_.size()); }
  [[nodiscard]] std::int32_t num_classes() const override { return remap_.num_classes; }
  [[nodiscard]] Scene load(index_t i) const override {
    if (i < 0 || i >= size())
      throw error("list data set: scene " + std::to_string(i) + " out of range (size " + std::to_string(size()) + ")");
    const Item& it = items_[static_cast<std::size_t>(i)];
    Scene s = load_scene_files(it.image, it.label, remap_, it.name);
    if (it.flagged && flagged_crop_) {
      const CropBox& b = *flagged_crop_;
      s.image = crop(s.image, b.top, b.left, b.height, b.width);
      s.labels = crop(s.labels, b.top, b.left, b.height, b.width);
    }
    return s;
  }

 private:
  struct Entry {
    std::filesystem::path path;
    bool flag;
  };
  struct Item {
    std::filesystem::path image, label;
    std::string name;
    bool flagged;
  };

  static std::vector<Entry> read_list(const std::filesystem::path& root, const std::filesystem::path& list) {
    std::ifstream in(list);
    if (!in) throw error("list data set: cannot open list file " + list.string());
    std::vector<Entry> out;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      std::istringstream fields(line);
      std::string file;
      int flag = 0;
      if (!(fields >> file)) continue;
      if (!(fields >> flag)) flag = 0;
      const std::filesystem::path p = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file) : root / file;
      if (!std::filesystem::is_regular_file(p))
        throw error("list data set: " + list.string() + " line " + std::to_string(number) + " names " + p.string() +
                    ", which does not exist");
      out.push_back({p, flag == 1});
    }
    return out;
  }

  LabelRemap remap_;
  std::optional<CropBox> flagged_crop_;
  std::vector<Item> items_;
};

// ADE-Indoor as the reference ships it: <root>/ade_indoor_{im,lbl}_info_<split>.txt,
// label values 0..94 used as they are (K = 95).
inline ListPairsDataset ade_indoor(const std::filesystem::path& root, const std::string& split) {
  return {root, root / ("ade_indoor_im_info_" + split + ".txt"), root / ("ade_indoor_lbl_info_" + split + ".txt"),
          identity(95)};
}

// Cityscapes-25K: trainId labels (255 -> 19, K = 20) and the ego-car crop on flagged rows.
inline ListPairsDataset cityscapes_25k(const std::filesystem::path& root, const std::string& split) {
  return {root, root / ("cityscapes_full_weighted_im_info_" + split + ".txt"),
          root / ("cityscapes_full_weighted_lbl_info_" + split + ".txt"), cityscapes_train_ids(),
          CropBox{0, 256, 768, 1536}};
}

}  // namespace sbgan::data
