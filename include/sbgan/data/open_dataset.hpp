#pragma once
// One entry point from a path (or "procedural") to a data set for a config's K:
//
//   procedural                      the built-in street scenes at the config's image
//                                   size, config.dataset_size of them, seeded by the
//                                   config's seed
//   DIR with gtFine/<split>/        Cityscapes (label ids, or train-id channels for K = 20)
//   DIR with ade_indoor_*_info_<split>.txt         ADE-Indoor list files (K = 95)
//   DIR with cityscapes_full_weighted_*_info_<split>.txt   Cityscapes-25K lists (K = 20)
//   DIR with images/ and labels/    generic folder pairs, label values 0..K−1
//
// The label channels follow K: 35 -> Cityscapes label ids (255 -> 34); 20 ->
// Cityscapes train ids (from label ids for gtFine and the procedural scenes, from
// trainId PNGs for the 25K lists; ignore -> 19); any other K -> values 0..K−1.
// Anything else is refused with a message that lists what was looked for.
#include <filesystem>
#include <memory>
#include <string>

#include "sbgan/core/error.hpp"
#include "sbgan/data/cityscapes.hpp"
#include "sbgan/data/folder_pairs.hpp"
#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/list_pairs.hpp"
#include "sbgan/data/procedural_scenes.hpp"
#include "sbgan/data/remapped_scenes.hpp"

namespace sbgan::data {

struct OpenDatasetOptions {
  std::int32_t classes = 35;   // the config's K
  index_t height = 256;        // procedural scenes' size
  index_t width = 512;
  index_t procedural_size = 2975;
  std::uint64_t seed = 0;
  std::string split = "train";
};

// The channels of label-id data (Cityscapes ids) for K.
inline LabelRemap label_id_channels(std::int32_t classes) {
  if (classes == 35) return cityscapes_label_ids();
  if (classes == 20) return cityscapes_ids_to_train_id_channels();
  throw error("Cityscapes label ids map to K = 35 (ids) or K = 20 (train ids), not K = " + std::to_string(classes));
}

inline std::shared_ptr<const SceneDataset> open_dataset(const std::string& spec, const OpenDatasetOptions& o) {
  namespace fs = std::filesystem;
  if (spec == "procedural") {
    auto scenes = std::make_shared<ProceduralScenes>(ProceduralOptions{o.seed, o.procedural_size, o.height, o.width, true});
    if (o.classes == 35) return scenes;
    return std::make_shared<RemappedScenes>(scenes, label_id_channels(o.classes));
  }
  const fs::path root(spec);
  if (!fs::is_directory(root)) throw error("data: " + spec + " is not a directory (nor 'procedural')");
  if (fs::is_directory(root / "gtFine"))
    return std::make_shared<CityscapesDataset>(root, o.split, label_id_channels(o.classes));
  if (fs::exists(root / ("ade_indoor_im_info_" + o.split + ".txt"))) {
    if (o.classes != 95) throw error("data: " + spec + " is ADE-Indoor (K = 95) but the config has K = " + std::to_string(o.classes));
    return std::make_shared<ListPairsDataset>(ade_indoor(root, o.split));
  }
  if (fs::exists(root / ("cityscapes_full_weighted_im_info_" + o.split + ".txt"))) {
    if (o.classes != 20) throw error("data: " + spec + " is Cityscapes-25K (K = 20) but the config has K = " + std::to_string(o.classes));
    return std::make_shared<ListPairsDataset>(cityscapes_25k(root, o.split));
  }
  if (fs::is_directory(root / "images") && fs::is_directory(root / "labels"))
    return std::make_shared<FolderPairsDataset>(root / "images", root / "labels", identity(o.classes));
  throw error("data: " + spec + " is none of the known layouts: gtFine/" + o.split + " (Cityscapes), ade_indoor_im_info_" +
              o.split + ".txt (ADE-Indoor), cityscapes_full_weighted_im_info_" + o.split +
              ".txt (Cityscapes-25K), images/ + labels/ (folder pairs)");
}

}  // namespace sbgan::data
