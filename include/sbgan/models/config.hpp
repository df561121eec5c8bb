#pragma once
// SBGanConfig: every size, choice and training fact of one SB-GAN set-up, with the
// reference's ready configs (reference §2, §3–§8) and a small `demo` one, and a
// strict JSON form for `--config FILE`.
//
// Groups: the data and image size; layout_gan (G_SB, D_SB and stage 1, §3–§5);
// spade (the SPADE generator, its discriminator and stage 2, §6); end2end (D2 and
// stage 3, §7–§8). Where the SB-GAN paper and the official code differ, the config
// holds the choice (pixel-norm form, fade-in, minibatch stddev, drift, 3- or 4-layer
// patch discriminator, detached layout in SPADE, λ_D2); the ready configs take the
// official code's, with_paper_choices() switches all of them.
//
// JSON: one object with the same names as the members below, groups as nested
// objects. An optional "base" names a ready config to start from; keys given
// override it (without "base" the defaults, which are the Cityscapes reference's).
// An unknown key, a value of the wrong type, or a value out of range throws
// config_error naming the key ("spade.nf: must be positive, got 0").
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbgan/blocks/patch_discriminator.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/layers/pixel_norm.hpp"
#include "sbgan/models/spade_generator.hpp"

namespace sbgan {

struct config_error : error {
  using error::error;
};

// The SPADE norms' parameter-free normalization.
enum class SpadeNormKind { batch, instance };

// The patch discriminator's form (reference §6.3).
enum class PatchDiscriminatorForm {
  official,  // n_layers_D = 3, every inner stride 2 (the SB-GAN fork)
  paper      // n_layers_D = 4, the last inner stride 1 (SPADE paper, upstream)
};

// Stage 1: the progressive layout GAN (reference §3–§5).
struct LayoutGanConfig {
  index_t latent = 512;          // z's size; the reference hard-codes 512
  index_t max_resolution = 256;  // the largest layout's short side (max_dim)
  index_t fmap_base = 8192;      // level i has min(fmap_max, fmap_base / 2^(i+1)) channels
  index_t fmap_max = 512;
  PixelNormForm pixel_norm = PixelNormForm::official;  // official: x / (mean x² + ε)
  bool fade_in = false;               // official: hard-coded off; each new resolution trains 2 phases at full weight
  index_t minibatch_stddev_group = 0; // official: no such layer; ProGAN: 4
  double drift = 0;                   // official: none; ProGAN: 0.001
  double gp_lambda = 10;              // WGAN-GP's λ
  double temperature = 1;             // Gumbel-softmax τ (--T)
  double gumbel_epsilon = 1e-5;       // ℓ = log(p + ε)
  double lr = 1e-3;                   // --lr_pgan, G and D, constant
  double beta1 = 0, beta2 = 0.99;
  index_t epochs_per_phase = 150;     // images per phase = epochs_per_phase · dataset_size
  std::vector<index_t> batch{16, 16, 16, 16, 16, 16, 4};  // per resolution 4, 8, ..., max_resolution

  // The layout short sides of the schedule: 4, 8, ..., max_resolution.
  [[nodiscard]] std::vector<index_t> resolutions() const {
    std::vector<index_t> r;
    for (index_t s = 4; s <= max_resolution; s *= 2) {
      r.push_back(s);
      if (s > max_resolution / 2) break;  // s * 2 would pass max_resolution (or overflow)
    }
    return r;
  }
  // Feature channels per level, lowest resolution first (G_SB's blocks, D_SB's levels).
  [[nodiscard]] std::vector<index_t> channels() const {
    std::vector<index_t> c;
    for (std::size_t i = 0; i < resolutions().size(); ++i)
      c.push_back(std::min(fmap_max, fmap_base >> static_cast<int>(i + 1)));
    return c;
  }
};

// Stage 2: SPADE on real layouts (reference §6).
struct SpadeConfig {
  index_t nf = 64;       // ngf
  index_t hidden = 128;  // the SPADE norms' hidden width
  SpadeNormKind norm = SpadeNormKind::batch;            // 'spectralspadesyncbatch3x3'
  SpadeUpsampling upsampling = SpadeUpsampling::more;   // num_upsampling_layers
  bool detach_layout = true;                            // the fork's seg.detach(); paper: false
  index_t ndf = 64;
  PatchDiscriminatorForm discriminator = PatchDiscriminatorForm::official;
  int discriminator_scales = 2;  // num_D
  double lr = 2e-4;              // base lr; TTUR: G lr/2, D 2·lr
  double beta1 = 0, beta2 = 0.9; // hard-coded under TTUR
  double lambda_feat = 10, lambda_vgg = 10;
  index_t batch = 24;
  index_t niter = 100, niter_decay = 100;  // constant epochs, then linear decay epochs
  index_t epochs = 200;                    // the checkpoint stage 3 starts from

  [[nodiscard]] double generator_lr() const { return lr / 2; }
  [[nodiscard]] double discriminator_lr() const { return lr * 2; }
};

// Stage 3: end-to-end fine-tuning with D2 (reference §7, §8).
struct End2EndConfig {
  index_t layout_resolution = 128;  // G_SB's short side in stage 3 (upsampled to the image)
  double lambda_pgan = 10;          // scales G_SB's and D_SB's losses (penalty included)
  double lambda_d2 = 0.1;           // scales every D2 term; the paper's form: 1
  double lr_pgan = 1e-5;            // G_SB and D_SB, betas below, constant
  double pgan_beta1 = 0, pgan_beta2 = 0.99;
  double spade_generator_lr = 1e-4, spade_discriminator_lr = 4e-4;  // betas as SpadeConfig's
  double d2_lr = 2e-4;
  double d2_beta1 = 0, d2_beta2 = 0.99;
  index_t d2_pretrain_epochs = 1;
  index_t batch = 8;
  index_t niter = 50, niter_decay = 50;
  index_t epochs = 71;  // run for the released checkpoint [inferred in the reference]
};

struct SBGanConfig {
  std::string name = "cityscapes";
  index_t classes = 35;          // K (semantic_nc)
  index_t height = 256;          // image size in stages 2 and 3; layouts share the aspect
  index_t width = 512;
  index_t dataset_size = 2975;   // N, training images
  std::uint64_t seed = 0;
  LayoutGanConfig layout_gan;
  SpadeConfig spade;
  End2EndConfig end2end;

  [[nodiscard]] index_t aspect() const { return height > 0 ? width / height : 0; }
  // Stage 1: steps of one phase at layout short side r.
  [[nodiscard]] index_t steps_per_phase(index_t r) const {
    const auto res = layout_gan.resolutions();
    for (std::size_t i = 0; i < res.size(); ++i)
      if (res[i] == r) return layout_gan.epochs_per_phase * dataset_size / layout_gan.batch.at(i);
    throw config_error(name + ": layout resolution " + std::to_string(r) + " is not in the schedule");
  }
  // Stage 3: iterations per epoch, int(N / batch); nearest upsampling G_SB -> SPADE.
  [[nodiscard]] index_t end2end_iterations_per_epoch() const { return dataset_size / end2end.batch; }
  [[nodiscard]] index_t end2end_scaling() const { return height / end2end.layout_resolution; }

  [[nodiscard]] SpadeGeneratorOptions spade_generator_options() const {
    SpadeGeneratorOptions o;
    o.label_channels = classes;
    o.nf = spade.nf;
    o.hidden = spade.hidden;
    o.height = height;
    o.width = width;
    o.upsampling = spade.upsampling;
    o.detach_layout = spade.detach_layout;
    return o;
  }
  [[nodiscard]] PatchDiscriminatorOptions patch_options(index_t input_channels) const {
    return spade.discriminator == PatchDiscriminatorForm::official ? PatchDiscriminatorOptions::official(input_channels, spade.ndf)
                                                                   : PatchDiscriminatorOptions::paper(input_channels, spade.ndf);
  }

  // Throws config_error naming the first bad key.
  void validate() const;

  // Cityscapes-5K (reference §2.1): label ids 0..33 plus 255 → 34, K = 35, 256x512.
  static SBGanConfig cityscapes() { return SBGanConfig{}; }
  // Cityscapes-25K: 19 trainIds plus ignore as class 19, K = 20 (the stage-1 script's
  // K = 35 contradicts the stage-3 scripts, which need 20).
  static SBGanConfig cityscapes25k() {
    SBGanConfig c;
    c.name = "cityscapes25k";
    c.classes = 20;
    c.dataset_size = 40821;
    c.layout_gan.epochs_per_phase = 20;
    c.layout_gan.batch = {32, 32, 32, 32, 32, 32, 8};
    c.spade.batch = 32;
    c.spade.niter = c.spade.niter_decay = 30;
    c.spade.epochs = 30;
    c.end2end.layout_resolution = 256;
    c.end2end.niter = c.end2end.niter_decay = 30;
    c.end2end.epochs = 31;
    return c;
  }
  // ADE-Indoor: K = 95, 256x256, 'normal' upsampling.
  static SBGanConfig ade_indoor() {
    SBGanConfig c;
    c.name = "ade_indoor";
    c.classes = 95;
    c.width = 256;
    c.dataset_size = 4377;
    c.layout_gan.epochs_per_phase = 100;
    c.layout_gan.batch = {36, 36, 36, 36, 36, 36, 12};
    c.spade.upsampling = SpadeUpsampling::normal;
    c.spade.batch = 48;
    c.spade.niter = c.spade.niter_decay = 150;
    c.spade.epochs = 300;
    c.end2end.lr_pgan = 1e-4;
    c.end2end.batch = 16;
    c.end2end.epochs = 81;
    return c;
  }
  // Small enough for all three stages on two CPU cores in minutes: the Cityscapes
  // 19 trainIds plus ignore (K = 20) at 32x64, narrow networks, short schedules.
  static SBGanConfig demo() {
    SBGanConfig c;
    c.name = "demo";
    c.classes = 20;
    c.height = 32;
    c.width = 64;
    c.dataset_size = 256;
    c.layout_gan.latent = 64;
    c.layout_gan.max_resolution = 16;
    c.layout_gan.fmap_base = 256;  // channels 64, 64, 32
    c.layout_gan.fmap_max = 64;
    c.layout_gan.epochs_per_phase = 16;
    c.layout_gan.batch = {16, 16, 16};
    c.spade.nf = 8;
    c.spade.hidden = 32;
    c.spade.upsampling = SpadeUpsampling::normal;  // starts at 1x2
    c.spade.ndf = 8;
    c.spade.batch = 4;
    c.spade.niter = c.spade.niter_decay = 1;
    c.spade.epochs = 2;
    c.end2end.layout_resolution = 16;
    c.end2end.lr_pgan = 1e-5;
    c.end2end.batch = 4;
    c.end2end.niter = c.end2end.niter_decay = 1;
    c.end2end.epochs = 2;
    return c;
  }
  static SBGanConfig by_name(const std::string& name) {
    if (name == "cityscapes") return cityscapes();
    if (name == "cityscapes25k") return cityscapes25k();
    if (name == "ade_indoor") return ade_indoor();
    if (name == "demo") return demo();
    throw config_error("unknown config '" + name + "'; expected cityscapes, cityscapes25k, ade_indoor or demo");
  }

  // The paper's forms wherever the official code departs from them.
  [[nodiscard]] SBGanConfig with_paper_choices() const {
    SBGanConfig c = *this;
    c.layout_gan.pixel_norm = PixelNormForm::paper;
    c.layout_gan.fade_in = true;
    c.layout_gan.minibatch_stddev_group = 4;
    c.layout_gan.drift = 0.001;
    c.spade.discriminator = PatchDiscriminatorForm::paper;
    c.spade.detach_layout = false;
    c.end2end.lambda_d2 = 1;
    return c;
  }
};

namespace config_detail {

using json = nlohmann::json;

template <class E>
struct enum_names;
template <>
struct enum_names<PixelNormForm> {
  static constexpr const char* names[] = {"paper", "official"};
  static constexpr PixelNormForm values[] = {PixelNormForm::paper, PixelNormForm::official};
};
template <>
struct enum_names<SpadeNormKind> {
  static constexpr const char* names[] = {"batch", "instance"};
  static constexpr SpadeNormKind values[] = {SpadeNormKind::batch, SpadeNormKind::instance};
};
template <>
struct enum_names<SpadeUpsampling> {
  static constexpr const char* names[] = {"normal", "more"};
  static constexpr SpadeUpsampling values[] = {SpadeUpsampling::normal, SpadeUpsampling::more};
};
template <>
struct enum_names<PatchDiscriminatorForm> {
  static constexpr const char* names[] = {"official", "paper"};
  static constexpr PatchDiscriminatorForm values[] = {PatchDiscriminatorForm::official, PatchDiscriminatorForm::paper};
};

template <class E>
std::string enum_name(E e) {
  for (std::size_t i = 0; i < std::size(enum_names<E>::values); ++i)
    if (enum_names<E>::values[i] == e) return enum_names<E>::names[i];
  throw config_error("config: enum value out of range");
}

template <class E>
std::string enum_choices() {
  std::string s;
  for (const char* n : enum_names<E>::names) s += (s.empty() ? "'" : ", '") + std::string(n) + "'";
  return s;
}

[[noreturn]] inline void bad(const std::string& key, const std::string& message) {
  throw config_error("config key " + key + ": " + message);
}

inline void read(const json& j, const std::string& key, std::string& out) {
  if (!j.is_string()) bad(key, "must be a string, got " + j.dump());
  out = j.get<std::string>();
}
inline void read(const json& j, const std::string& key, bool& out) {
  if (!j.is_boolean()) bad(key, "must be true or false, got " + j.dump());
  out = j.get<bool>();
}
inline void read(const json& j, const std::string& key, double& out) {
  if (!j.is_number()) bad(key, "must be a number, got " + j.dump());
  out = j.get<double>();
}
inline void read(const json& j, const std::string& key, index_t& out) {
  if (!j.is_number_integer()) bad(key, "must be an integer, got " + j.dump());
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()))
    bad(key, "out of range: " + j.dump());
  out = j.get<index_t>();
}
inline void read(const json& j, const std::string& key, int& out) {
  index_t v = 0;
  read(j, key, v);
  out = static_cast<int>(v);
  if (out != v) bad(key, "out of range: " + j.dump());
}
inline void read(const json& j, const std::string& key, std::uint64_t& out) {
  if (!j.is_number_unsigned()) bad(key, "must be a non-negative integer, got " + j.dump());
  out = j.get<std::uint64_t>();
}
inline void read(const json& j, const std::string& key, std::vector<index_t>& out) {
  if (!j.is_array()) bad(key, "must be an array of integers, got " + j.dump());
  std::vector<index_t> v;
  for (std::size_t i = 0; i < j.size(); ++i) {
    index_t x = 0;
    read(j[i], key + "[" + std::to_string(i) + "]", x);
    v.push_back(x);
  }
  out = v;
}
template <class E>
  requires std::is_enum_v<E>
void read(const json& j, const std::string& key, E& out) {
  std::string s;
  if (j.is_string()) s = j.get<std::string>();
  for (std::size_t i = 0; i < std::size(enum_names<E>::values); ++i)
    if (s == enum_names<E>::names[i]) {
      out = enum_names<E>::values[i];
      return;
    }
  bad(key, "must be one of " + enum_choices<E>() + ", got " + j.dump());
}

// Reads the keys of object `j` (path `path`) through `fields`; any other key throws.
using field_reader = std::function<void(const json&, const std::string&)>;
inline void read_object(const json& j, const std::string& path, const std::map<std::string, field_reader>& fields) {
  if (!j.is_object()) bad(path.empty() ? "(root)" : path, "must be a JSON object, got " + j.dump());
  for (const auto& [key, value] : j.items()) {
    const std::string full = path.empty() ? key : path + "." + key;
    const auto it = fields.find(key);
    if (it == fields.end()) {
      std::string known;
      for (const auto& [k, _] : fields) known += (known.empty() ? "" : ", ") + k;
      bad(full, "unknown key (known here: " + known + ")");
    }
    it->second(value, full);
  }
}

template <class V>
field_reader into(V& v) {
  return [&v](const json& j, const std::string& key) { read(j, key, v); };
}

template <class V>
json to_value(const V& v) {
  if constexpr (std::is_enum_v<V>)
    return enum_name(v);
  else
    return v;
}

// Each group's members once, for reading and writing: f(key, member).
template <class G, class F>
void members(G& g, F&& f) {
  if constexpr (std::is_same_v<std::remove_const_t<G>, LayoutGanConfig>) {
    f("latent", g.latent); f("max_resolution", g.max_resolution); f("fmap_base", g.fmap_base);
    f("fmap_max", g.fmap_max); f("pixel_norm", g.pixel_norm); f("fade_in", g.fade_in);
    f("minibatch_stddev_group", g.minibatch_stddev_group); f("drift", g.drift); f("gp_lambda", g.gp_lambda);
    f("temperature", g.temperature); f("gumbel_epsilon", g.gumbel_epsilon); f("lr", g.lr); f("beta1", g.beta1);
    f("beta2", g.beta2); f("epochs_per_phase", g.epochs_per_phase); f("batch", g.batch);
  } else if constexpr (std::is_same_v<std::remove_const_t<G>, SpadeConfig>) {
    f("nf", g.nf); f("hidden", g.hidden); f("norm", g.norm); f("upsampling", g.upsampling);
    f("detach_layout", g.detach_layout); f("ndf", g.ndf); f("discriminator", g.discriminator);
    f("discriminator_scales", g.discriminator_scales); f("lr", g.lr); f("beta1", g.beta1); f("beta2", g.beta2);
    f("lambda_feat", g.lambda_feat); f("lambda_vgg", g.lambda_vgg); f("batch", g.batch); f("niter", g.niter);
    f("niter_decay", g.niter_decay); f("epochs", g.epochs);
  } else {
    static_assert(std::is_same_v<std::remove_const_t<G>, End2EndConfig>);
    f("layout_resolution", g.layout_resolution); f("lambda_pgan", g.lambda_pgan); f("lambda_d2", g.lambda_d2);
    f("lr_pgan", g.lr_pgan); f("pgan_beta1", g.pgan_beta1); f("pgan_beta2", g.pgan_beta2);
    f("spade_generator_lr", g.spade_generator_lr); f("spade_discriminator_lr", g.spade_discriminator_lr);
    f("d2_lr", g.d2_lr); f("d2_beta1", g.d2_beta1); f("d2_beta2", g.d2_beta2);
    f("d2_pretrain_epochs", g.d2_pretrain_epochs); f("batch", g.batch); f("niter", g.niter);
    f("niter_decay", g.niter_decay); f("epochs", g.epochs);
  }
}

template <class G>
json group_to_json(const G& g) {
  json j = json::object();
  members(g, [&](const char* key, const auto& v) { j[key] = to_value(v); });
  return j;
}

template <class G>
field_reader group_reader(G& g) {
  return [&g](const json& j, const std::string& path) {
    std::map<std::string, field_reader> fields;
    members(g, [&](const char* key, auto& v) { fields[key] = into(v); });
    read_object(j, path, fields);
  };
}

inline void require(bool ok, const std::string& key, const std::string& message) {
  if (!ok) bad(key, message);
}
inline bool power_of_two(index_t v) { return v > 0 && (v & (v - 1)) == 0; }
inline bool unit_interval(double b) { return b >= 0 && b < 1; }

}  // namespace config_detail

inline void SBGanConfig::validate() const {
  using config_detail::require;
  const auto num = [](auto v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  require(!name.empty(), "name", "must not be empty");
  require(classes > 0, "classes", "must be positive, got " + num(classes));
  require(height > 0 && width > 0, "height/width", "must be positive, got " + num(height) + "x" + num(width));
  require(width % height == 0, "width", "must be a multiple of height (integer aspect), got " + num(height) + "x" + num(width));
  require(dataset_size > 0, "dataset_size", "must be positive, got " + num(dataset_size));

  const LayoutGanConfig& l = layout_gan;
  require(l.latent > 0, "layout_gan.latent", "must be positive, got " + num(l.latent));
  require(config_detail::power_of_two(l.max_resolution) && l.max_resolution >= 4, "layout_gan.max_resolution",
          "must be a power of two of at least 4, got " + num(l.max_resolution));
  require(l.max_resolution <= height, "layout_gan.max_resolution",
          "must not exceed the image height " + num(height) + ", got " + num(l.max_resolution));
  require(l.fmap_base > 0 && l.fmap_max > 0, "layout_gan.fmap_base/fmap_max", "must be positive");
  for (index_t c : l.channels()) require(c > 0, "layout_gan.fmap_base", "leaves a level without channels");
  require(l.minibatch_stddev_group >= 0, "layout_gan.minibatch_stddev_group", "must not be negative");
  require(l.drift >= 0, "layout_gan.drift", "must not be negative, got " + num(l.drift));
  require(l.gp_lambda >= 0, "layout_gan.gp_lambda", "must not be negative, got " + num(l.gp_lambda));
  require(l.temperature > 0, "layout_gan.temperature", "must be positive, got " + num(l.temperature));
  require(l.gumbel_epsilon >= 0, "layout_gan.gumbel_epsilon", "must not be negative");
  require(l.lr > 0, "layout_gan.lr", "must be positive, got " + num(l.lr));
  require(config_detail::unit_interval(l.beta1) && config_detail::unit_interval(l.beta2), "layout_gan.beta1/beta2",
          "must be in [0, 1)");
  require(l.epochs_per_phase > 0, "layout_gan.epochs_per_phase", "must be positive");
  require(l.epochs_per_phase <= std::numeric_limits<index_t>::max() / dataset_size, "layout_gan.epochs_per_phase",
          "times dataset_size (" + num(dataset_size) + ") overflows the count of images per phase, got " +
              num(l.epochs_per_phase));
  require(l.batch.size() == l.resolutions().size(), "layout_gan.batch",
          "needs one batch size per resolution 4.." + num(l.max_resolution) + " (" + num(l.resolutions().size()) +
              "), got " + num(l.batch.size()));
  for (index_t b : l.batch) require(b > 0, "layout_gan.batch", "batch sizes must be positive, got " + num(b));

  const SpadeConfig& s = spade;
  require(s.nf > 0, "spade.nf", "must be positive, got " + num(s.nf));
  require(s.hidden > 0, "spade.hidden", "must be positive, got " + num(s.hidden));
  require(s.ndf > 0, "spade.ndf", "must be positive, got " + num(s.ndf));
  require(s.discriminator_scales >= 1, "spade.discriminator_scales", "must be at least 1");
  require(s.lr > 0, "spade.lr", "must be positive");
  require(config_detail::unit_interval(s.beta1) && config_detail::unit_interval(s.beta2), "spade.beta1/beta2",
          "must be in [0, 1)");
  require(s.lambda_feat >= 0 && s.lambda_vgg >= 0, "spade.lambda_feat/lambda_vgg", "must not be negative");
  require(s.batch > 0 && s.niter >= 0 && s.niter_decay >= 0 && s.epochs >= 0, "spade.batch/niter/niter_decay/epochs",
          "batch must be positive, the epoch counts non-negative");
  try {
    check_spade_generator_options(spade_generator_options());
  } catch (const error& e) {
    config_detail::bad("spade.upsampling", std::string(e.what()));
  }

  const End2EndConfig& e = end2end;
  require(config_detail::power_of_two(e.layout_resolution) && e.layout_resolution >= 4 &&
              e.layout_resolution <= l.max_resolution,
          "end2end.layout_resolution",
          "must be a power of two in [4, layout_gan.max_resolution = " + num(l.max_resolution) + "], got " +
              num(e.layout_resolution));
  require(height % e.layout_resolution == 0, "end2end.layout_resolution",
          "must divide the image height " + num(height) + ", got " + num(e.layout_resolution));
  require(e.lambda_pgan >= 0 && e.lambda_d2 >= 0, "end2end.lambda_pgan/lambda_d2", "must not be negative");
  require(e.lr_pgan > 0 && e.spade_generator_lr > 0 && e.spade_discriminator_lr > 0 && e.d2_lr > 0,
          "end2end.*lr", "learning rates must be positive");
  require(config_detail::unit_interval(e.pgan_beta1) && config_detail::unit_interval(e.pgan_beta2) &&
              config_detail::unit_interval(e.d2_beta1) && config_detail::unit_interval(e.d2_beta2),
          "end2end.*beta*", "must be in [0, 1)");
  require(e.batch > 0 && e.batch <= dataset_size, "end2end.batch", "must be in [1, dataset_size], got " + num(e.batch));
  require(e.d2_pretrain_epochs >= 0 && e.niter >= 0 && e.niter_decay >= 0 && e.epochs >= 0,
          "end2end.d2_pretrain_epochs/niter/niter_decay/epochs", "must not be negative");
}

inline nlohmann::json to_json(const SBGanConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  j["name"] = c.name;
  j["classes"] = c.classes;
  j["height"] = c.height;
  j["width"] = c.width;
  j["dataset_size"] = c.dataset_size;
  j["seed"] = c.seed;
  j["layout_gan"] = config_detail::group_to_json(c.layout_gan);
  j["spade"] = config_detail::group_to_json(c.spade);
  j["end2end"] = config_detail::group_to_json(c.end2end);
  return j;
}

// Strict reading (see the top of this file); the result is validated.
inline SBGanConfig config_from_json(const nlohmann::json& j) {
  using namespace config_detail;
  if (!j.is_object()) bad("(root)", "must be a JSON object, got " + j.dump());
  SBGanConfig c;
  if (j.contains("base")) {
    std::string base;
    read(j["base"], "base", base);
    try {
      c = SBGanConfig::by_name(base);
    } catch (const config_error& e) {
      bad("base", e.what());
    }
  }
  std::string ignored_base;
  read_object(j, "",
              {{"base", into(ignored_base)},
               {"name", into(c.name)},
               {"classes", into(c.classes)},
               {"height", into(c.height)},
               {"width", into(c.width)},
               {"dataset_size", into(c.dataset_size)},
               {"seed", into(c.seed)},
               {"layout_gan", group_reader(c.layout_gan)},
               {"spade", group_reader(c.spade)},
               {"end2end", group_reader(c.end2end)}});
  c.validate();
  return c;
}

inline SBGanConfig config_from_json_text(const std::string& text, const std::string& source = "config") {
  // A config is 3 levels deep. Deeper nesting is refused while parsing: the JSON
  // library prints values recursively, and an error message showing a million
  // nested '[' would overflow the stack.
  constexpr int max_depth = 64;
  const nlohmann::json::parser_callback_t limit_depth = [&](int depth, nlohmann::json::parse_event_t event,
                                                            nlohmann::json&) {
    using ev = nlohmann::json::parse_event_t;
    if ((event == ev::object_start || event == ev::array_start) && depth >= max_depth)
      throw config_error(source + ": not a config: nests deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  // The JSON reader would stop at a NUL byte and ignore whatever follows it.
  if (const auto nul = text.find('\0'); nul != std::string::npos)
    throw config_error(source + ": not valid JSON: a NUL byte at offset " + std::to_string(nul));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, limit_depth);
  } catch (const nlohmann::json::exception& e) {
    throw config_error(source + ": not valid JSON: " + e.what());
  }
  try {
    return config_from_json(j);
  } catch (const config_error& e) {
    throw config_error(source + ": " + e.what());
  }
}

// Loads `--config FILE`.
inline SBGanConfig load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("cannot open config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return config_from_json_text(text.str(), path);
}

}  // namespace sbgan
