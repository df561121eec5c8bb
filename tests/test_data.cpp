// The data pipeline: label remapping against cityscapesScripts, one-hot, PIL's
// resampling (golden data from Pillow, tools/golden/data_resize.py), flips and crops,
// the file-based data sets on fixtures written here in their real directory layouts,
// the procedural scenes, and the background batch loader.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <sbgan/data/batch_loader.hpp>
#include <sbgan/data/cityscapes.hpp>
#include <sbgan/data/folder_pairs.hpp>
#include <sbgan/data/label_remap.hpp>
#include <sbgan/data/list_pairs.hpp>
#include <sbgan/data/preprocess.hpp>
#include <sbgan/data/procedural_scenes.hpp>
#include <sbgan/io/png.hpp>

#include "support/golden.hpp"

using namespace sbgan;
using namespace sbgan::data;
using Catch::Matchers::Contains;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("sbgan_data_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

Tensor<std::int32_t> ids(index_t h, index_t w, std::initializer_list<std::int32_t> values) {
  Tensor<std::int32_t> t(Shape{1, 1, h, w});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

// A label map of `value`s with a distinct image, written at the given paths.
void write_pair(const std::filesystem::path& image, const std::filesystem::path& label, std::int32_t value,
                index_t h = 4, index_t w = 8) {
  std::filesystem::create_directories(image.parent_path());
  std::filesystem::create_directories(label.parent_path());
  Tensor<std::int32_t> l(Shape{1, 1, h, w});
  std::fill(l.begin(), l.end(), value);
  io::write_label_png(label, l);
  Tensor<std::uint8_t> px(Shape{1, 3, h, w});
  for (index_t i = 0; i < px.numel(); ++i) px[i] = static_cast<std::uint8_t>((value * 7 + i) % 256);
  io::write_pixels(image, px);
}

template <class T>
bool same(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

TEST_CASE("Cityscapes id -> trainId follows cityscapesScripts", "[data][remap]") {
  const LabelRemap to_train = cityscapes_ids_to_train_ids();
  const std::map<std::int32_t, std::int32_t> expected{{7, 0},   {8, 1},   {11, 2},  {12, 3},  {13, 4},  {17, 5},
                                                      {19, 6},  {20, 7},  {21, 8},  {22, 9},  {23, 10}, {24, 11},
                                                      {25, 12}, {26, 13}, {27, 14}, {28, 15}, {31, 16}, {32, 17},
                                                      {33, 18}};
  for (std::int32_t id = 0; id < 34; ++id) {
    const auto it = expected.find(id);
    CHECK(to_train(id) == (it == expected.end() ? 255 : it->second));
  }
  CHECK(to_train(34) == 255);
  CHECK(to_train(255) == 255);
  CHECK(to_train(100) == LabelRemap::not_allowed);

  // The reference's K = 35 set: ids as channels, 255 -> 34, nothing else.
  const LabelRemap k35 = cityscapes_label_ids();
  CHECK(k35.num_classes == 35);
  const auto mapped = k35.apply(ids(1, 4, {0, 33, 255, 7}), "a.png");
  CHECK(mapped[0] == 0);
  CHECK(mapped[1] == 33);
  CHECK(mapped[2] == 34);
  CHECK(mapped[3] == 7);
  CHECK_THROWS_WITH(k35.apply(ids(1, 2, {3, 40}), "city/x_gtFine_labelIds.png"),
                    Contains("x_gtFine_labelIds.png") && Contains("value 40") && Contains("K = 35") &&
                        Contains("0..33, 255"));
  const LabelRemap t20 = cityscapes_train_ids();
  CHECK(t20.num_classes == 20);
  CHECK(t20(255) == 19);
  CHECK(t20(18) == 18);
  CHECK(t20(19) == LabelRemap::not_allowed);
  const LabelRemap ade = identity(95);
  CHECK(ade(0) == 0);
  CHECK(ade(94) == 94);
  CHECK(ade(95) == LabelRemap::not_allowed);
  CHECK(ade(255) == LabelRemap::not_allowed);
}

TEST_CASE("one_hot scatters ids into K channels and argmax inverts it", "[data][remap]") {
  Tensor<std::int32_t> labels(Shape{2, 1, 2, 3});
  for (index_t i = 0; i < labels.numel(); ++i) labels[i] = static_cast<std::int32_t>((i * 5) % 7);
  const Tensor<float> oh = one_hot(labels, 7);
  REQUIRE(oh.shape() == Shape({2, 7, 2, 3}));
  for (index_t n = 0; n < 2; ++n)
    for (index_t i = 0; i < 6; ++i)
      for (index_t c = 0; c < 7; ++c)
        CHECK(oh[(n * 7 + c) * 6 + i] == (c == labels[n * 6 + i] ? 1.0f : 0.0f));
  CHECK(same(argmax_labels(oh), labels));
  CHECK(same(argmax_labels(one_hot<double>(labels, 9)), labels));
  CHECK_THROWS_WITH(one_hot(labels, 6, "batch 3"), Contains("batch 3") && Contains("label 6") && Contains("K = 6"));
}

TEST_CASE("resampling matches Pillow exactly (NEAREST labels, BILINEAR and BICUBIC images)", "[data][resize][golden]") {
  const auto rgb = cast<std::uint8_t>(golden::load<double>("data_resize", "rgb"));
  const auto labels = cast<std::int32_t>(golden::load<double>("data_resize", "labels"));
  for (const char* name : {"up", "down", "odd"}) {
    for (auto [filter, tag] : {std::pair{Resample::bilinear, "bilinear"}, std::pair{Resample::bicubic, "bicubic"}}) {
      const auto expected = cast<std::uint8_t>(golden::load<double>("data_resize", std::string(name) + "_" + tag));
      const auto got = resize_image(rgb, expected.shape().h(), expected.shape().w(), filter);
      INFO(name << " " << tag);
      REQUIRE(got.shape() == expected.shape());
      index_t mismatches = 0;
      for (index_t i = 0; i < got.numel(); ++i) mismatches += got[i] != expected[i];
      CHECK(mismatches == 0);
      // The float path has no rounding: bilinear weights are convex, so it stays within
      // the two byte roundings (half a level each) of Pillow. (Bicubic overshoots on
      // this noise, which the byte path clips between its passes.)
      if (filter == Resample::bilinear) {
        const auto f = resize_image(cast<float>(rgb), expected.shape().h(), expected.shape().w(), filter);
        for (index_t i = 0; i < f.numel(); ++i) CHECK(std::abs(f[i] - static_cast<float>(got[i])) <= 1.0f);
      }
    }
    const auto expected = cast<std::int32_t>(golden::load<double>("data_resize", std::string("labels_") + name));
    const auto got = resize_nearest_pil(labels, expected.shape().h(), expected.shape().w());
    INFO(name << " nearest");
    CHECK(same(got, expected));
  }
}

TEST_CASE("resampling on known small cases", "[data][resize]") {
  // PIL nearest samples at pixel centres: 4 -> 2 takes columns 1 and 3; 2 -> 4 repeats.
  const auto row = ids(1, 4, {10, 11, 12, 13});
  CHECK(same(resize_nearest_pil(row, 1, 2), ids(1, 2, {11, 13})));
  CHECK(same(resize_nearest_pil(ids(1, 2, {5, 6}), 1, 4), ids(1, 4, {5, 5, 6, 6})));
  CHECK(pil_nearest_sources(1024, 256)[0] == 2);
  CHECK(pil_nearest_sources(1024, 256)[255] == 1022);
  // A constant image stays constant; identity size is a copy.
  Tensor<std::uint8_t> flat(Shape{1, 3, 5, 5});
  std::fill(flat.begin(), flat.end(), std::uint8_t{77});
  for (auto r : {Resample::bilinear, Resample::bicubic}) {
    const auto y = resize_image(flat, 3, 8, r);
    for (auto v : y) CHECK(v == 77);
    const auto same_size = resize_image(flat, 5, 5, r);
    CHECK_FALSE(same_size.shares_storage_with(flat));
    CHECK(same(same_size, flat));
  }
  // Bilinear 2 -> 4 on a ramp 0, 100: centres at 0.25, 0.75, 1.25, 1.75 of the input.
  Tensor<float> ramp(Shape{1, 1, 1, 2});
  ramp[0] = 0;
  ramp[1] = 100;
  const auto up = resize_image(ramp, 1, 4, Resample::bilinear);
  CHECK(up[0] == Approx(0.0));
  CHECK(up[1] == Approx(25.0));
  CHECK(up[2] == Approx(75.0));
  CHECK(up[3] == Approx(100.0));
  // Short side as torchvision's Resize(int).
  CHECK(short_side_size(1024, 2048, 256) == std::pair<index_t, index_t>{256, 512});
  CHECK(short_side_size(683, 512, 256) == std::pair<index_t, index_t>{341, 256});
  CHECK_THROWS_AS(resize_image(flat, 0, 4, Resample::bilinear), sbgan::error);
}

TEST_CASE("flips, crops and the long-edge square crop", "[data][preprocess]") {
  const auto t = ids(2, 3, {1, 2, 3, 4, 5, 6});
  CHECK(same(flip_horizontal(t), ids(2, 3, {3, 2, 1, 6, 5, 4})));
  CHECK(same(crop(t, 1, 1, 1, 2), ids(1, 2, {5, 6})));
  CHECK_THROWS_WITH(crop(t, 1, 2, 1, 2), Contains("does not fit"));
  Generator a(5), b(5);
  for (int k = 0; k < 20; ++k) {
    const auto wa = random_long_edge_square(a, 10, 16), wb = random_long_edge_square(b, 10, 16);
    CHECK(wa.top == 0);
    CHECK(wa.side == 10);
    CHECK(wa.left == wb.left);
    CHECK(wa.left >= 0);
    CHECK(wa.left < 6);
  }
  CHECK(random_long_edge_square(a, 7, 7).left == 0);
}

TEST_CASE("Cityscapes layout: pairs by name, remaps ids, reports missing images and directories", "[data][files]") {
  TempDir dir;
  const auto root = dir.path / "cityscapes";
  for (auto [city, stem, value] : {std::tuple{"aachen", "aachen_000001_000019", 7}, std::tuple{"bremen", "bremen_000000_000019", 255},
                                   std::tuple{"aachen", "aachen_000000_000019", 26}})
    write_pair(root / "leftImg8bit" / "train" / city / (std::string(stem) + "_leftImg8bit.png"),
               root / "gtFine" / "train" / city / (std::string(stem) + "_gtFine_labelIds.png"), value);
  // Files the loader must ignore.
  write_pair(root / "leftImg8bit" / "train" / "aachen" / "x.png", root / "gtFine" / "train" / "aachen" / "x_gtFine_color.png", 1);
  const CityscapesDataset data(root, "train");
  REQUIRE(data.size() == 3);
  CHECK(data.num_classes() == 35);
  const Scene s0 = data.load(0);
  CHECK(s0.name == "aachen_000000_000019");
  CHECK(s0.labels.shape() == Shape({1, 1, 4, 8}));
  CHECK(s0.labels[0] == 26);
  CHECK(s0.image.shape() == Shape({1, 3, 4, 8}));
  CHECK(s0.image[1] == static_cast<std::uint8_t>((26 * 7 + 1) % 256));
  CHECK(data.load(2).labels[5] == 34);  // 255 -> the extra channel
  CHECK_THROWS_AS(data.load(3), sbgan::error);

  // A label value outside the K = 35 set, named with its file.
  write_pair(root / "leftImg8bit" / "val" / "lindau" / "lindau_1_leftImg8bit.png",
             root / "gtFine" / "val" / "lindau" / "lindau_1_gtFine_labelIds.png", 40);
  CHECK_THROWS_WITH(CityscapesDataset(root, "val").load(0), Contains("lindau_1_gtFine_labelIds.png") && Contains("40"));

  // A label map whose image is missing: both files named, at construction.
  io::write_label_png(root / "gtFine" / "train" / "bremen" / "bremen_000005_000019_gtFine_labelIds.png", ids(1, 1, {7}));
  CHECK_THROWS_WITH(CityscapesDataset(root, "train"),
                    Contains("bremen_000005_000019_gtFine_labelIds.png") &&
                        Contains("bremen_000005_000019_leftImg8bit.png"));
  CHECK_THROWS_WITH(CityscapesDataset(dir.path / "nowhere", "train"), Contains("nowhere") && Contains("does not exist"));
  CHECK_THROWS_WITH(CityscapesDataset(root, "test"), Contains("test"));
}

TEST_CASE("ADE-Indoor list files and Cityscapes-25K flagged crops", "[data][files]") {
  TempDir dir;
  const auto root = dir.path / "ade";
  write_pair(root / "images" / "bedroom" / "ADE_train_00000002.jpg.png", root / "labels" / "bedroom" / "ADE_train_00000002.png", 94);
  write_pair(root / "images" / "kitchen" / "ADE_train_00000001.png", root / "labels" / "kitchen" / "ADE_train_00000001.png", 0, 6, 5);
  {
    std::ofstream im(root / "ade_indoor_im_info_train.txt"), lbl(root / "ade_indoor_lbl_info_train.txt");
    im << "images/kitchen/ADE_train_00000001.png\nimages/bedroom/ADE_train_00000002.jpg.png\n\n";
    lbl << "labels/kitchen/ADE_train_00000001.png\nlabels/bedroom/ADE_train_00000002.png\n";
  }
  const ListPairsDataset data = ade_indoor(root, "train");
  REQUIRE(data.size() == 2);
  CHECK(data.num_classes() == 95);
  // Sorted by image path: bedroom before kitchen.
  CHECK(data.load(0).name == "ADE_train_00000002");
  CHECK(data.load(0).labels[0] == 94);
  CHECK(data.load(1).labels.shape() == Shape({1, 1, 6, 5}));
  CHECK_THROWS_WITH(ade_indoor(root, "val"), Contains("ade_indoor_im_info_val.txt"));
  {
    std::ofstream im(root / "ade_indoor_im_info_val.txt"), lbl(root / "ade_indoor_lbl_info_val.txt");
    im << "images/kitchen/ADE_train_00000001.png\n";
    lbl << "labels/kitchen/missing.png\n";
  }
  CHECK_THROWS_WITH(ade_indoor(root, "val"), Contains("line 1") && Contains("missing.png"));

  // 25K: trainIds (255 -> 19), rows flagged 1 cropped to the ego-car-free box.
  const auto c25 = dir.path / "c25k";
  write_pair(c25 / "extra.png", c25 / "extra_lbl.png", 255, 1024, 2048);
  write_pair(c25 / "fine.png", c25 / "fine_lbl.png", 3, 16, 32);
  {
    std::ofstream im(c25 / "cityscapes_full_weighted_im_info_train.txt"),
        lbl(c25 / "cityscapes_full_weighted_lbl_info_train.txt");
    im << "extra.png 1\nfine.png 0\n";
    lbl << "extra_lbl.png 1\nfine_lbl.png 0\n";
  }
  const ListPairsDataset wide = cityscapes_25k(c25, "train");
  const Scene extra = wide.load(0), fine = wide.load(1);
  CHECK(extra.labels.shape() == Shape({1, 1, 768, 1536}));
  CHECK(extra.labels[0] == 19);
  CHECK(extra.image(0, 0, 0, 0) == static_cast<std::uint8_t>((255 * 7 + 256) % 256));  // column 256 of row 0
  CHECK(fine.labels.shape() == Shape({1, 1, 16, 32}));
}

TEST_CASE("image/label folder pairs", "[data][files]") {
  TempDir dir;
  write_pair(dir.path / "img" / "b.png", dir.path / "lbl" / "b.png", 5);
  write_pair(dir.path / "img" / "a.jpg", dir.path / "lbl" / "a.png", 6);  // PNG bytes under .jpg: stb sniffs content
  const FolderPairsDataset data(dir.path / "img", dir.path / "lbl", identity(10));
  REQUIRE(data.size() == 2);
  CHECK(data.load(0).name == "a");
  CHECK(data.load(0).labels[0] == 6);
  CHECK(data.load(1).labels[0] == 5);
  io::write_label_png(dir.path / "lbl" / "c.png", ids(1, 1, {1}));
  CHECK_THROWS_WITH(FolderPairsDataset(dir.path / "img", dir.path / "lbl", identity(10)),
                    Contains("c.png") && Contains("has no image"));
  CHECK_THROWS_WITH(FolderPairsDataset(dir.path / "nope", dir.path / "lbl", identity(10)), Contains("nope"));
}

TEST_CASE("procedural scenes are deterministic and structured like streets", "[data][procedural]") {
  namespace cid = cityscapes_id;
  const index_t h = 64, w = 128;
  const Scene a = generate_procedural_scene(3, 17, h, w), b = generate_procedural_scene(3, 17, h, w);
  CHECK(same(a.labels, b.labels));
  CHECK(same(a.image, b.image));
  CHECK_FALSE(same(generate_procedural_scene(4, 17, h, w).labels, a.labels));
  CHECK_FALSE(same(generate_procedural_scene(3, 18, h, w).image, a.image));

  std::map<std::int32_t, double> frequency;
  std::map<std::int32_t, int> scenes_with;
  const int count = 24;
  index_t columns = 0, ordered_columns = 0, cars = 0, cars_on_road = 0, poles = 0, poles_on_ground = 0;
  double ms = 0;
  for (int i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Scene s = generate_procedural_scene(11, i, h, w);
    ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::map<std::int32_t, index_t> here;
    for (auto v : s.labels) ++here[v];
    for (auto [cls, n] : here) {
      frequency[cls] += static_cast<double>(n) / static_cast<double>(h * w * count);
      ++scenes_with[cls];
    }
    for (auto [cls, n] : here) CHECK(cls < 35);
    // Sky above road in every column holding both.
    for (index_t x = 0; x < w; ++x) {
      index_t lowest_sky = -1, highest_road = h;
      for (index_t y = 0; y < h; ++y) {
        if (s.labels[y * w + x] == cid::sky) lowest_sky = y;
        if (s.labels[y * w + x] == cid::road && highest_road == h) highest_road = y;
      }
      if (lowest_sky >= 0 && highest_road < h) {
        ++columns;
        ordered_columns += lowest_sky < highest_road;
      }
    }
    // Every car region touches road (a road pixel below or beside its lowest row);
    // poles stand on sidewalk, road or terrain, never on sky.
    for (index_t x = 0; x < w; ++x)
      for (index_t y = 0; y + 1 < h; ++y) {
        const auto here_cls = s.labels[y * w + x], below = s.labels[(y + 1) * w + x];
        if (here_cls == cid::car && below != cid::car) {
          ++cars;
          cars_on_road += below == cid::road || (x > 0 && s.labels[y * w + x - 1] == cid::road) ||
                          (x + 1 < w && s.labels[y * w + x + 1] == cid::road);
        }
        if (here_cls == cid::pole && below != cid::pole && below != cid::traffic_sign && below != cid::traffic_light) {
          ++poles;
          poles_on_ground += below != cid::sky && below != cid::building;
        }
      }
  }
  INFO("procedural 64x128: " << ms / count << " ms per scene");
  WARN("procedural scene 64x128: " << ms / count << " ms per scene (-O1)");
  CHECK(ms / count < 10.0);
  CHECK(ordered_columns >= columns * 95 / 100);
  CHECK(columns > count * w / 2);
  CHECK(cars > 0);
  CHECK(cars_on_road >= cars * 9 / 10);
  CHECK(poles > 0);
  CHECK(poles_on_ground >= poles * 9 / 10);
  for (auto cls : {cid::road, cid::sidewalk, cid::building, cid::pole, cid::traffic_sign, cid::traffic_light,
                   cid::vegetation, cid::terrain, cid::sky, cid::person, cid::car}) {
    INFO("class " << cls << " frequency " << frequency[cls]);
    CHECK(scenes_with[cls] > 0);
  }
  for (auto cls : {cid::road, cid::sky, cid::sidewalk}) CHECK(scenes_with[cls] == count);
  CHECK(frequency[cid::sky] > 0.1);
  CHECK(frequency[cid::sky] < 0.45);
  CHECK(frequency[cid::road] > 0.1);
  CHECK(frequency[cid::road] < 0.4);
  CHECK(frequency[cid::building] > 0.05);
  CHECK(frequency[cid::car] > 0.01);
  CHECK(frequency[cid::car] < 0.2);
  CHECK(frequency[cid::pole] < 0.03);

  // The same scene at another resolution keeps its structure: the class at a
  // low-resolution pixel agrees with the high-resolution one at its centre mostly.
  const Scene small = generate_procedural_scene(11, 5, 32, 64), big = generate_procedural_scene(11, 5, 128, 256);
  index_t agree = 0;
  for (index_t y = 0; y < 32; ++y)
    for (index_t x = 0; x < 64; ++x) agree += small.labels[y * 64 + x] == big.labels[(4 * y + 2) * 256 + 4 * x + 2];
  CHECK(agree > 32 * 64 * 85 / 100);

  // Colours tell classes apart: mean road, sky and vegetation colours differ clearly.
  const ProceduralScenes data({.seed = 2, .size = 4, .height = 32, .width = 64});
  CHECK(data.size() == 4);
  CHECK(data.num_classes() == 35);
  CHECK(same(data.load(1).labels, generate_procedural_scene(2, 1, 32, 64).labels));
  CHECK_THROWS_AS(data.load(4), sbgan::error);
  CHECK_THROWS_AS(generate_procedural_scene(0, 0, 4, 4), sbgan::error);
}

namespace {

// Loads scenes from another data set; scene `fail_at` throws.
struct FailingScenes final : SceneDataset {
  ProceduralScenes inner{{.seed = 1, .size = 12, .height = 16, .width = 32}};
  index_t fail_at;
  explicit FailingScenes(index_t f) : fail_at(f) {}
  [[nodiscard]] index_t size() const override { return inner.size(); }
  [[nodiscard]] std::int32_t num_classes() const override { return 35; }
  [[nodiscard]] Scene load(index_t i) const override {
    if (i == fail_at) throw error("label map scene_" + std::to_string(i) + ".png: value 99 is outside [0, 35)");
    return inner.load(i);
  }
};

// Scenes that take a while, to see how fast the destructor returns.
struct SlowScenes final : SceneDataset {
  ProceduralScenes inner{{.seed = 1, .size = 64, .height = 16, .width = 32}};
  [[nodiscard]] index_t size() const override { return inner.size(); }
  [[nodiscard]] std::int32_t num_classes() const override { return 35; }
  [[nodiscard]] Scene load(index_t i) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return inner.load(i);
  }
};

}  // namespace

TEST_CASE("batch loader: deterministic order, resumable, errors surface, prompt shutdown", "[data][loader]") {
  auto scenes = std::make_shared<ProceduralScenes>(ProceduralOptions{.seed = 9, .size = 10, .height = 32, .width = 64});
  const BatchLoaderOptions opt{.batch_size = 3, .height = 16, .width = 32, .seed = 42};
  std::vector<Batch> first;
  {
    BatchLoader loader(scenes, opt);
    CHECK(loader.batches_per_epoch() == 3);  // 10 scenes, drop_last
    for (int k = 0; k < 7; ++k) first.push_back(loader.next());
    CHECK(loader.position() == LoaderPosition{2, 1});
  }
  REQUIRE(first[0].images.shape() == Shape({3, 3, 16, 32}));
  REQUIRE(first[0].labels.shape() == Shape({3, 1, 16, 32}));
  for (auto v : first[0].images) CHECK((v >= -1.0f && v <= 1.0f));
  CHECK(first[4].at == LoaderPosition{1, 1});
  // Each epoch visits distinct scenes, and epochs are ordered differently.
  std::vector<std::string> epoch0, epoch1;
  for (int k = 0; k < 3; ++k) epoch0.insert(epoch0.end(), first[static_cast<std::size_t>(k)].names.begin(), first[static_cast<std::size_t>(k)].names.end());
  for (int k = 3; k < 6; ++k) epoch1.insert(epoch1.end(), first[static_cast<std::size_t>(k)].names.begin(), first[static_cast<std::size_t>(k)].names.end());
  CHECK(std::set<std::string>(epoch0.begin(), epoch0.end()).size() == 9);
  CHECK(epoch0 != epoch1);

  // Same seed: the same batches. Another seed: others.
  {
    BatchLoader again(scenes, opt);
    for (int k = 0; k < 7; ++k) {
      const Batch b = again.next();
      CHECK(same(b.images, first[static_cast<std::size_t>(k)].images));
      CHECK(same(b.labels, first[static_cast<std::size_t>(k)].labels));
    }
    BatchLoaderOptions other = opt;
    other.seed = 43;
    BatchLoader different(scenes, other);
    CHECK_FALSE(same(different.next().images, first[0].images));
  }
  // Resume from (epoch 1, batch 1): the rest of the sequence, flips included.
  {
    BatchLoader resumed(scenes, opt, LoaderPosition{1, 1});
    for (int k = 4; k < 7; ++k) {
      const Batch b = resumed.next();
      CHECK(b.at == first[static_cast<std::size_t>(k)].at);
      CHECK(b.names == first[static_cast<std::size_t>(k)].names);
      CHECK(same(b.images, first[static_cast<std::size_t>(k)].images));
      CHECK(same(b.labels, first[static_cast<std::size_t>(k)].labels));
    }
  }
  // Flips happen: some sample differs from its unflipped resize.
  {
    BatchLoaderOptions no_flip = opt;
    no_flip.flip = false;
    BatchLoader plain(scenes, no_flip);
    index_t differing = 0;
    for (int k = 0; k < 3; ++k) differing += !same(plain.next().labels, first[static_cast<std::size_t>(k)].labels);
    CHECK(differing > 0);
  }
  CHECK_THROWS_WITH(BatchLoader(scenes, opt, LoaderPosition{0, 3}), Contains("outside an epoch"));
  CHECK_THROWS_WITH(BatchLoader(scenes, BatchLoaderOptions{.batch_size = 11}), Contains("fewer than one batch"));

  // A worker error reaches the consumer with its message.
  {
    BatchLoaderOptions plain = opt;
    plain.shuffle = false;
    BatchLoader failing(std::make_shared<FailingScenes>(4), plain);
    CHECK(failing.next().names.size() == 3);  // scenes 0..2
    CHECK_THROWS_WITH(failing.next(), Contains("scene_4.png") && Contains("value 99"));
  }
  // Destruction while the worker is busy returns within about one sample's time.
  {
    auto loader = std::make_unique<BatchLoader>(std::make_shared<SlowScenes>(), BatchLoaderOptions{.batch_size = 8, .height = 16, .width = 32});
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const auto t0 = std::chrono::steady_clock::now();
    loader.reset();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    WARN("BatchLoader destructor returned in " << ms << " ms (one sample takes 20 ms)");
    CHECK(ms < 100.0);
  }
}
