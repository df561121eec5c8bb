// Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/ (the
// files are kept in the repository; run this again only to renew them):
//
//   g++ -std=c++20 -fopenmp -I include -isystem /usr/include/eigen3 fuzz/make_corpus.cpp -o /tmp/make_corpus
//   /tmp/make_corpus fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sbgan/io/png.hpp>
#include <sbgan/io/safetensors.hpp>
#include <sbgan/models/config.hpp>

#include "checkpoint_model.hpp"

using namespace sbgan;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::vector<unsigned char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s: %zu bytes\n", p.c_str(), bytes.size());
}

void write_text(const fs::path& p, const std::string& text) { write(p, std::vector<unsigned char>(text.begin(), text.end())); }

void collect(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}

// w x h pixels of `comp` interleaved channels, a simple pattern.
std::vector<unsigned char> pattern(int w, int h, int comp, int modulo) {
  std::vector<unsigned char> px(static_cast<std::size_t>(w * h * comp));
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i % static_cast<std::size_t>(modulo));
  return px;
}

void png_seeds(const fs::path& dir) {
  struct Image {
    const char* name;
    int w, h, comp, modulo;
  };
  for (const Image& im : {Image{"grey_labels_4x3.png", 4, 3, 1, 35}, Image{"rgb_3x2.png", 3, 2, 3, 256},
                          Image{"grey_alpha_2x2.png", 2, 2, 2, 256}, Image{"rgba_2x3.png", 2, 3, 4, 256},
                          Image{"grey_1x1.png", 1, 1, 1, 2}, Image{"grey_out_of_range_5x1.png", 5, 1, 1, 256}}) {
    std::vector<unsigned char> out;
    const auto px = pattern(im.w, im.h, im.comp, im.modulo);
    stbi_write_png_to_func(collect, &out, im.w, im.h, im.comp, px.data(), im.w * im.comp);
    write(dir / im.name, out);
  }
  std::vector<unsigned char> out;
  auto px = pattern(4, 4, 3, 256);
  stbi_write_bmp_to_func(collect, &out, 4, 4, 3, px.data());
  write(dir / "rgb_4x4.bmp", out);
  out.clear();
  stbi_write_tga_to_func(collect, &out, 4, 4, 3, px.data());
  write(dir / "rgb_4x4.tga", out);
  out.clear();
  px = pattern(8, 8, 3, 256);
  stbi_write_jpg_to_func(collect, &out, 8, 8, 3, px.data(), 90);
  write(dir / "rgb_8x8.jpg", out);
  write_text(dir / "grey_2x2.pgm", std::string("P5\n2 2\n255\n") + std::string("\x01\x02\x03\x04", 4));
}

void checkpoint_seeds(const fs::path& dir) {
  fuzz_support::CheckpointModel m;
  m.conv.visit_parameters([](std::string_view, Parameter<float>& p) {
    for (index_t i = 0; i < p.grad.numel(); ++i) p.grad[i] = 0.01f * static_cast<float>(i % 7) - 0.03f;
  });
  m.adam.step();
  m.noise.set_offset(42);
  m.progress = {1, 8, "fade", 1, 0, 2};
  m.images_seen = 2;
  write(dir / "checkpoint.safetensors", io::serialize_safetensors(m.ckpt.to_archive()));

  // A plain safetensors file with every dtype family, rank 0 to 5 and an empty tensor.
  io::TensorArchive a;
  a.metadata["format"] = "pt";
  const auto stored = [](io::Dtype d, std::vector<std::int64_t> shape, std::size_t bytes) {
    io::StoredTensor t;
    t.dtype = d;
    t.shape = std::move(shape);
    t.bytes.resize(bytes);
    for (std::size_t i = 0; i < bytes; ++i) t.bytes[i] = static_cast<unsigned char>(i * 37 + 1);
    return t;
  };
  a.tensors["f16"] = stored(io::Dtype::F16, {2, 2}, 8);
  a.tensors["bf16"] = stored(io::Dtype::BF16, {3}, 6);
  a.tensors["f64"] = stored(io::Dtype::F64, {}, 8);
  a.tensors["i8"] = stored(io::Dtype::I8, {1, 1, 1, 1, 2}, 2);
  a.tensors["bool"] = stored(io::Dtype::BOOL, {2}, 2);
  a.tensors["u64"] = stored(io::Dtype::U64, {1}, 8);
  a.tensors["empty"] = stored(io::Dtype::F32, {0, 3}, 0);
  write(dir / "dtypes.safetensors", io::serialize_safetensors(a));
}

void config_seeds(const fs::path& dir) {
  write_text(dir / "empty_object.json", "{}");
  write_text(dir / "base_demo.json", R"({"base": "demo", "seed": 3})");
  write_text(dir / "demo_full.json", to_json(SBGanConfig::demo()).dump(1));
  write_text(dir / "ade_paper.json", to_json(SBGanConfig::ade_indoor().with_paper_choices()).dump());
  write_text(dir / "override.json",
             R"({"base": "cityscapes25k", "spade": {"nf": 32, "norm": "instance"}, "end2end": {"batch": 2}, "layout_gan": {"batch": [1, 2, 3, 4, 5, 6, 7]}})");
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path root = argc > 1 ? argv[1] : "fuzz/corpus";
  for (const char* t : {"png", "checkpoint", "config"}) fs::create_directories(root / t);
  png_seeds(root / "png");
  checkpoint_seeds(root / "checkpoint");
  config_seeds(root / "config");
  return 0;
}
