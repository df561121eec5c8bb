#pragma once
// One training example and the small interface every data set offers.
//
// A Scene holds what the files hold: the picture as bytes [1, 3, H, W] (so that
// resampling can follow PIL's 8-bit arithmetic exactly) and the class ids
// [1, 1, H, W], already mapped through the data set's LabelRemap into [0, K).
// io::to_network_image turns the bytes into the [-1, 1] floats a network takes.
#include <cstdint>
#include <string>

#include "sbgan/core/tensor.hpp"

namespace sbgan::data {

struct Scene {
  Tensor<std::uint8_t> image;    // [1, 3, H, W], 0..255
  Tensor<std::int32_t> labels;   // [1, 1, H, W], class ids in [0, num_classes())
  std::string name;              // the label file's stem, or a generated name
};

class SceneDataset {
 public:
  virtual ~SceneDataset() = default;
  [[nodiscard]] virtual index_t size() const = 0;
  // Scene i in [0, size()); safe to call from several threads at once.
  [[nodiscard]] virtual Scene load(index_t i) const = 0;
  // K: the number of label channels (one-hot size).
  [[nodiscard]] virtual std::int32_t num_classes() const = 0;
};

}  // namespace sbgan::data
