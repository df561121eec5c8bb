#pragma once
// A data set seen through a second LabelRemap: its scenes' class ids go through
// `remap` on the way out. The procedural scenes carry Cityscapes label ids (K = 35);
// RemappedScenes(procedural, cityscapes_ids_to_train_id_channels()) serves them as
// the 20 channels of the cityscapes25k and demo configs. A value the remap does not
// allow throws, naming the scene.
#include <memory>
#include <string>
#include <utility>

#include "sbgan/core/error.hpp"
#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/scene.hpp"

namespace sbgan::data {

class RemappedScenes final : public SceneDataset {
 public:
  RemappedScenes(std::shared_ptr<const SceneDataset> source, LabelRemap remap)
      : source_(std::move(source)), remap_(std::move(remap)) {
    if (!source_) throw error("RemappedScenes: no data set");
  }

  [[nodiscard]] index_t size() const override { return source_->size(); }
  [[nodiscard]] std::int32_t num_classes() const override { return remap_.num_classes; }
  [[nodiscard]] Scene load(index_t i) const override {
    Scene s = source_->load(i);
    s.labels = remap_.apply(s.labels, s.name);
    return s;
  }

 private:
  std::shared_ptr<const SceneDataset> source_;
  LabelRemap remap_;
};

}  // namespace sbgan::data
