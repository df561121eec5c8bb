#pragma once
// Batches for training, prepared on a background thread while the model trains.
//
// Order: epoch e visits the data set in a permutation drawn from (seed, e); batch b
// of the epoch holds permutation entries [b·N, (b+1)·N), and a last partial batch
// is dropped (the reference's drop_last). Each sample's random choices (flip, crop
// offset) come from a Generator keyed by (seed, epoch, position in the epoch), so
// batch (e, b) is the same whatever happened before it: a run restored from a
// checkpoint at (epoch, batch) with the same seed continues with the same batches.
//
// Per sample: optional random square crop along the long edge (ADE's
// RandomCropLongEdge, same window for image and labels), then labels resized to
// H x W by PIL's NEAREST and the image by PIL's BILINEAR or BICUBIC, then an
// optional horizontal flip of both (p = 0.5). Images become [-1, 1] floats.
//
// The worker thread fills a bounded queue (prefetch batches). An exception in it
// (a corrupt file, a label out of range) is stored and re-thrown by next() with its
// message; the destructor stops and joins the worker, which checks for the stop
// request between samples, so destruction waits for at most one sample.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/data/preprocess.hpp"
#include "sbgan/data/scene.hpp"
#include "sbgan/io/png.hpp"

namespace sbgan::data {

struct BatchLoaderOptions {
  index_t batch_size = 8;
  index_t height = 64;  // output resolution
  index_t width = 128;
  Resample resample = Resample::bilinear;  // stages 1 and 3; bicubic for SPADE pre-training
  bool flip = true;
  bool crop_long_edge = false;  // ADE: random square crop before resizing
  bool shuffle = true;
  std::uint64_t seed = 0;
  index_t prefetch = 2;  // batches prepared ahead
};

// Where a loader stands: the next batch it returns is batch `position` of `epoch`.
struct LoaderPosition {
  index_t epoch = 0;
  index_t position = 0;
  friend bool operator==(const LoaderPosition&, const LoaderPosition&) = default;
};

struct Batch {
  Tensor<float> images;         // [N, 3, H, W] in [-1, 1]
  Tensor<std::int32_t> labels;  // [N, 1, H, W]
  LoaderPosition at;            // which batch this is
  std::vector<std::string> names;
};

// The sample order of one epoch (Fisher–Yates from Philox draws of (seed, epoch)).
inline std::vector<index_t> epoch_order(index_t size, std::uint64_t seed, index_t epoch, bool shuffle) {
  std::vector<index_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), index_t{0});
  if (!shuffle) return order;
  Generator gen(seed, 0x0D0E000000000000ULL + static_cast<std::uint64_t>(epoch));
  for (index_t i = size - 1; i > 0; --i) std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(random_below(gen, i + 1))]);
  return order;
}

// One sample prepared as the options say; `gen` supplies its random choices.
inline Scene prepare_sample(const Scene& raw, const BatchLoaderOptions& opt, Generator& gen) {
  Scene s = raw;
  if (opt.crop_long_edge) {
    const SquareWindow w = random_long_edge_square(gen, s.labels.shape().h(), s.labels.shape().w());
    s.labels = crop(s.labels, w.top, w.left, w.side, w.side);
    s.image = crop(s.image, w.top, w.left, w.side, w.side);
  }
  s.labels = resize_nearest_pil(s.labels, opt.height, opt.width);
  s.image = resize_image(s.image, opt.height, opt.width, opt.resample);
  if (opt.flip && random_coin(gen)) {
    s.labels = flip_horizontal(s.labels);
    s.image = flip_horizontal(s.image);
  }
  return s;
}

// Batch `at` of a data set, computed directly (what the loader's worker runs).
inline Batch make_batch(const SceneDataset& data, const BatchLoaderOptions& opt, const LoaderPosition& at,
                        const std::vector<index_t>& order, const std::atomic<bool>* stop = nullptr) {
  const index_t n = opt.batch_size, h = opt.height, w = opt.width;
  Batch b{Tensor<float>(Shape{n, 3, h, w}), Tensor<std::int32_t>(Shape{n, 1, h, w}), at, {}};
  for (index_t k = 0; k < n; ++k) {
    if (stop && stop->load()) return b;
    const index_t slot = at.position * n + k;
    Generator gen(opt.seed, 0x5A3F000000000000ULL + static_cast<std::uint64_t>(at.epoch));
    gen.set_offset(static_cast<std::uint64_t>(slot) * 16);  // a sample uses at most 3 blocks
    const Scene s = prepare_sample(data.load(order[static_cast<std::size_t>(slot)]), opt, gen);
    const Tensor<float> image = io::to_network_image(s.image);
    std::copy(image.begin(), image.end(), b.images.data() + k * 3 * h * w);
    std::copy(s.labels.begin(), s.labels.end(), b.labels.data() + k * h * w);
    b.names.push_back(s.name);
  }
  return b;
}

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const SceneDataset> data, BatchLoaderOptions options, LoaderPosition start = {})
      : data_(std::move(data)), opt_(options), next_(start) {
    if (!data_) throw error("BatchLoader: no data set");
    if (opt_.batch_size < 1 || opt_.height < 1 || opt_.width < 1 || opt_.prefetch < 1)
      throw error("BatchLoader: batch size, resolution and prefetch must be positive, got batch " +
                  std::to_string(opt_.batch_size) + ", " + std::to_string(opt_.height) + "x" +
                  std::to_string(opt_.width) + ", prefetch " + std::to_string(opt_.prefetch));
    if (data_->size() < opt_.batch_size)
      throw error("BatchLoader: the data set has " + std::to_string(data_->size()) + " scenes, fewer than one batch of " +
                  std::to_string(opt_.batch_size));
    if (start.epoch < 0 || start.position < 0 || start.position >= batches_per_epoch())
      throw error("BatchLoader: start position (epoch " + std::to_string(start.epoch) + ", batch " +
                  std::to_string(start.position) + ") is outside an epoch of " + std::to_string(batches_per_epoch()) +
                  " batches");
    worker_ = std::thread([this] { run(); });
  }
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  ~BatchLoader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    stop_flag_ = true;
    space_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  [[nodiscard]] index_t batches_per_epoch() const { return data_->size() / opt_.batch_size; }
  // The batch next() returns next; store it in a checkpoint to resume.
  [[nodiscard]] LoaderPosition position() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_;
  }

  // The next batch, waiting for the worker if needed; re-throws the worker's error.
  Batch next() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || failure_; });
    if (queue_.empty()) std::rethrow_exception(failure_);
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    next_ = advance(b.at);
    lock.unlock();
    space_.notify_one();
    return b;
  }

 private:
  [[nodiscard]] LoaderPosition advance(LoaderPosition p) const {
    if (++p.position == batches_per_epoch()) p = {p.epoch + 1, 0};
    return p;
  }

  void run() {
    LoaderPosition at = next_;
    std::vector<index_t> order;
    index_t order_epoch = -1;
    try {
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          space_.wait(lock, [&] { return stop_ || static_cast<index_t>(queue_.size()) < opt_.prefetch; });
          if (stop_) return;
        }
        if (order_epoch != at.epoch) {
          order = epoch_order(data_->size(), opt_.seed, at.epoch, opt_.shuffle);
          order_epoch = at.epoch;
        }
        Batch b = make_batch(*data_, opt_, at, order, &stop_flag_);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (stop_) return;
          queue_.push_back(std::move(b));
        }
        ready_.notify_one();
        at = advance(at);
      }
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        failure_ = std::current_exception();
      }
      ready_.notify_all();
    }
  }

  std::shared_ptr<const SceneDataset> data_;
  BatchLoaderOptions opt_;
  mutable std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Batch> queue_;
  std::exception_ptr failure_;
  LoaderPosition next_;
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};  // stop_, readable between samples without the lock
  std::thread worker_;
};

}  // namespace sbgan::data
