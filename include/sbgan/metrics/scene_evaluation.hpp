#pragma once
// Whether an SB-GAN has learned its data, in the numbers the demo and
// `sbgan eval` print: layout statistics of generated layouts against the data's
// (class-frequency total variation distance, vertical placement error), and the
// SPADE generator's reconstruction error on real (layout, image) pairs.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/data/batch_loader.hpp"
#include "sbgan/data/label_remap.hpp"
#include "sbgan/metrics/layout_statistics.hpp"
#include "sbgan/models/layout_generator.hpp"

namespace sbgan {

// The first `count` scenes of a data set (all when count <= 0) at height x width,
// unflipped: one-hot layouts and images in [-1, 1].
struct RealPairs {
  Tensor<float> layouts;  // [N, K, H, W]
  Tensor<float> images;   // [N, 3, H, W]
};
inline RealPairs real_pairs(const data::SceneDataset& set, index_t count, index_t height, index_t width) {
  data::BatchLoaderOptions o;
  o.batch_size = count > 0 ? std::min(count, set.size()) : set.size();
  o.height = height;
  o.width = width;
  o.flip = false;
  o.shuffle = false;
  const data::Batch b = data::make_batch(set, o, {0, 0}, data::epoch_order(set.size(), 0, 0, false));
  return {data::one_hot<float>(b.labels, set.num_classes(), "data set"), b.images};
}

// Layout statistics of the data set (labels at height x width).
inline LayoutStatistics data_layout_statistics(const data::SceneDataset& set, index_t height, index_t width,
                                               index_t count = 0) {
  LayoutStatistics stats(set.num_classes());
  stats.add(real_pairs(set, count, height, width).layouts);
  return stats;
}

// Statistics of `count` layouts G_SB draws at its current resolution (inference
// mode: argmax of p, no Gumbel noise), from latents of `g`.
template <class Model>
LayoutStatistics generated_layout_statistics(Model& model, index_t count, Generator& g, index_t batch = 32) {
  LayoutStatistics stats(model.config().classes);
  for (index_t done = 0; done < count; done += batch) {
    const index_t n = std::min(batch, count - done);
    stats.add(cast<double>(model.sample_layouts(n, g, LayoutSampling::inference).output));
  }
  return stats;
}

struct LayoutComparison {
  double total_variation = 0;   // of the class frequencies
  double placement_error = 0;   // mean |Δ mean row| over the data's classes
};
inline LayoutComparison compare_layouts(const LayoutStatistics& generated, const LayoutStatistics& data) {
  return {total_variation(generated.frequencies(), data.frequencies()), vertical_placement_error(generated, data)};
}

// Mean |G_SPADE(layout) − image| over real pairs, in eval mode (batch norms use
// their running statistics; nothing in the model changes).
template <class Model>
double reconstruction_error(Model& model, const RealPairs& pairs, index_t batch = 8) {
  using T = typename Model::value_type;
  model.g_spade().set_training(false);
  double sum = 0;
  const index_t n = pairs.layouts.shape().n();
  const Shape& ls = pairs.layouts.shape();
  for (index_t start = 0; start < n; start += batch) {
    const index_t m = std::min(batch, n - start);
    Tensor<float> layouts(Shape{m, ls.c(), ls.h(), ls.w()});
    std::copy(pairs.layouts.data() + start * ls.c() * ls.h() * ls.w(),
              pairs.layouts.data() + (start + m) * ls.c() * ls.h() * ls.w(), layouts.data());
    const auto fake = model.g_spade().forward(cast<T>(layouts)).output;
    const float* real = pairs.images.data() + start * fake.numel() / m;
    for (index_t i = 0; i < fake.numel(); ++i) sum += std::abs(double(fake[i]) - double(real[i]));
  }
  model.g_spade().set_training(true);
  return sum / double(pairs.images.numel());
}

}  // namespace sbgan
