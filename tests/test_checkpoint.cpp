// Checkpoints: a small training run (a progressive critic and a spectral-norm /
// batch-norm head, two Adams, two generators, progress and the trainer's own
// values) saved and restored into fresh objects bit for bit, with one more step
// giving the same parameters in both (exact resume); every refusal (other version,
// other config, missing, extra or misshapen tensors, bad metadata, truncation,
// flipped bits) with its message and the target left untouched; the file helpers.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sbgan/sbgan.hpp>
#include <sbgan/train/checkpoint.hpp>
#include <sbgan/train/checkpoint_files.hpp>
#include <string>
#include <vector>

using namespace sbgan;
using namespace sbgan::train;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using bytes = std::vector<unsigned char>;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sbgan::error& e) {
    return e.what();
  }
  return "";
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("sbgan-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

bytes read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), {});
}

// Removes the old file first: ext4 flushes a file truncated and rewritten in
// place when it is closed, which would make the damage sweeps slow.
void write_bytes(const fs::path& p, const bytes& b) {
  fs::remove(p);
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

const std::string demo_config = R"({"classes": 3, "lr": 0.0001, "betas": [0.0, 0.99]})";

ProgressiveCriticOptions critic_options() {
  ProgressiveCriticOptions o;
  o.classes = 3;
  o.channels = {6, 4};
  o.base_height = 4;
  return o;
}

// A small run: everything a trainer registers, of every kind.
template <class T>
struct Run {
  using Head = Sequential<SpectralNorm<Conv2d<T>>, BatchNorm<T>, LeakyReLU<T>>;

  Generator init;
  ProgressiveCritic<T> critic;
  Head head;
  Adam<T> critic_adam;
  Adam<T> head_adam{AdamOptions{2e-3, 0.5, 0.9, 1e-6}};
  Generator noise;
  Generator gumbel;
  TrainingProgress progress;
  std::int64_t images_seen = 0;
  std::int32_t warmup_left = 5;
  double best_fid = 0;
  bool pretrained = false;
  std::string note;
  CheckpointState ckpt;

  explicit Run(std::uint64_t seed, const std::string& config_name = "demo", const std::string& config = demo_config)
      : init(seed),
        critic(critic_options(), init),
        head(SpectralNorm<Conv2d<T>>(Conv2d<T>({3, 4, 3, 1, 1}, init), init), BatchNorm<T>({4}), LeakyReLU<T>(0.2)),
        noise(seed + 100, 1),
        gumbel(seed + 200, 2),
        ckpt(config_name, config) {
    critic_adam.add(critic_adam.add_group({1e-3, 0.0, 0.99, 1e-8}), critic, "");
    head_adam.add(head);
    ckpt.add_network("critic", critic);
    ckpt.add_network("head", head);
    ckpt.add_optimizer("critic", critic_adam);
    ckpt.add_optimizer("head", head_adam);
    ckpt.add_generator("noise", noise);
    ckpt.add_generator("gumbel", gumbel);
    ckpt.track_progress(progress);
    ckpt.add_value("images_seen", images_seen);
    ckpt.add_value("warmup_left", warmup_left);
    ckpt.add_value("best_fid", best_fid);
    ckpt.add_value("pretrained", pretrained);
    ckpt.add_value("note", note);
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // One training step of both networks on inputs drawn from the run's generators
  // (so it depends on their offsets), then both optimizers step.
  void train_step() {
    const auto x = noise.template normal<T>(critic.input_shape(2));
    const auto cc = critic.forward(x);
    Tensor<T> dx = zeros<T>(x.shape());
    critic.backward(cc, full<T>(cc.output.shape(), T(1)), dx, ParamGrads::accumulate);
    const auto h = gumbel.template normal<T>(Shape{2, 3, 5, 5});
    const auto hc = head.forward(h);
    Tensor<T> dh = zeros<T>(h.shape());
    head.backward(hc, hc.output, dh, ParamGrads::accumulate);
    critic_adam.step();
    head_adam.step();
    critic_adam.zero_grad();
    head_adam.zero_grad();
    progress.step += 1;
    progress.index += 2;
    images_seen += 2;
  }
};

template <class T>
void append_bytes(std::map<std::string, bytes>& out, const std::string& name, const Tensor<T>& t) {
  bytes b(static_cast<std::size_t>(t.numel()) * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), t.data(), b.size());
  out[name] = std::move(b);
}

template <class V>
void append_value(std::map<std::string, bytes>& out, const std::string& name, const V& v) {
  bytes b(sizeof(V));
  std::memcpy(b.data(), &v, sizeof(V));
  out[name] = std::move(b);
}

// Every bit of a run's state, read from the objects themselves (not through the
// checkpoint code), so that equality means bit-identical state.
template <class T>
std::map<std::string, bytes> snapshot(Run<T>& r) {
  std::map<std::string, bytes> s;
  r.critic.visit_parameters([&](std::string_view n, Parameter<T>& p) { append_bytes(s, "critic." + std::string(n), p.value); });
  r.head.visit_parameters([&](std::string_view n, Parameter<T>& p) { append_bytes(s, "head." + std::string(n), p.value); });
  r.head.visit_buffers([&](std::string_view n, Tensor<T>& t) { append_bytes(s, "head.buffer." + std::string(n), t); });
  for (auto* adam : {&r.critic_adam, &r.head_adam}) {
    const std::string which = adam == &r.critic_adam ? "critic" : "head";
    adam->visit_state([&](std::string_view n, AdamState<T>& st) {
      const std::string base = "adam." + which + "." + std::string(n);
      append_bytes(s, base + ".exp_avg", st.exp_avg);
      append_bytes(s, base + ".exp_avg_sq", st.exp_avg_sq);
      append_value(s, base + ".step", st.step);
    });
    for (std::size_t g = 0; g < adam->group_count(); ++g) {
      const AdamOptions& o = adam->group(g);
      append_value(s, "adam." + which + ".group" + std::to_string(g), std::array<double, 4>{o.lr, o.beta1, o.beta2, o.eps});
    }
  }
  for (auto* g : {&r.noise, &r.gumbel}) {
    const std::string which = g == &r.noise ? "noise" : "gumbel";
    append_value(s, "rng." + which, std::array<std::uint64_t, 3>{g->seed(), g->stream(), g->offset()});
  }
  const TrainingProgress& p = r.progress;
  append_value(s, "progress", std::array<std::int64_t, 5>{p.stage, p.resolution, p.step, p.epoch, p.index});
  s["progress.phase"] = bytes(p.phase.begin(), p.phase.end());
  append_value(s, "images_seen", r.images_seen);
  append_value(s, "warmup_left", r.warmup_left);
  append_value(s, "best_fid", r.best_fid);
  append_value(s, "pretrained", r.pretrained);
  s["note"] = bytes(r.note.begin(), r.note.end());
  return s;
}

// A run three steps in, with a changed learning rate and progress, saved to `path`.
template <class T>
void trained_run(Run<T>& a, const fs::path& path) {
  for (int i = 0; i < 3; ++i) a.train_step();
  a.critic_adam.set_lr(3.7e-4);
  a.progress = {1, 8, "fade", a.progress.step, 4, a.progress.index};
  a.best_fid = 0.1 + 1e-17 * 3;  // not a short decimal: must round-trip exactly
  a.pretrained = true;
  a.warmup_left = -2;
  a.note = "résumé, \"quoted\"\nsecond line";
  a.ckpt.save(path);
}

// Recomputes the checksum of a hand-edited archive, so that a test reaches the
// check it is about rather than the checksum.
void reseal(io::TensorArchive& a) {
  a.metadata["sbgan.checksum"] = checksum_text(archive_checksum(a, "sbgan.checksum"));
}

// Loading `path` into `target` is refused with a message containing `expected`,
// and leaves every bit of `target` as it was.
template <class T>
void require_refused(Run<T>& target, const fs::path& path, const std::string& expected) {
  const auto before = snapshot(target);
  std::string message;
  try {
    target.ckpt.load(path);
  } catch (const checkpoint_error& e) {
    message = e.what();
  }
  INFO("message: " << message);
  REQUIRE_THAT(message, Contains(expected));
  REQUIRE_THAT(message, Contains(path.string()));
  REQUIRE(snapshot(target) == before);
}

}  // namespace

TEMPLATE_TEST_CASE("a checkpoint restores a run bit for bit and resumes it exactly", "[checkpoint]", float, double) {
  using T = TestType;
  TempDir dir("ckpt-roundtrip");
  const fs::path path = dir.path / checkpoint_file_name(3);
  Run<T> a(1);
  trained_run(a, path);
  const std::uint64_t saved_offset = a.noise.offset();

  Run<T> b(2);  // other weights, fresh optimizers, other generator seeds
  REQUIRE(snapshot(b) != snapshot(a));
  b.ckpt.load(path);
  REQUIRE(snapshot(b) == snapshot(a));
  CHECK(b.noise.seed() == 101);
  CHECK(b.gumbel.stream() == 2);
  CHECK(b.noise.offset() > 0);
  CHECK(b.progress.phase == "fade");
  CHECK(b.critic_adam.group(0).lr == 3.7e-4);
  CHECK(b.note == a.note);
  CHECK(b.critic_adam.state("blocks.0.conv1.weight").step == 3);

  // One more step of each gives bit-identical parameters, moments and offsets.
  a.train_step();
  b.train_step();
  REQUIRE(snapshot(b) == snapshot(a));

  // The file: the network's own names, F32 for float models and F64 for double
  // ones, the Adam step as an I64 scalar, the metadata as documented.
  const auto archive = io::read_safetensors(path);
  const io::Dtype dtype = std::is_same_v<T, float> ? io::Dtype::F32 : io::Dtype::F64;
  CHECK(archive.at("critic.blocks.0.conv1.weight").dtype == dtype);
  CHECK(archive.at("head.1.running_mean").dtype == dtype);
  CHECK(archive.at("head.0.weight_u").dtype == dtype);
  CHECK(archive.at("optim.critic.blocks.1.fc3.weight.exp_avg_sq").dtype == dtype);
  CHECK(archive.at("optim.head.0.weight_orig.step").dtype == io::Dtype::I64);
  CHECK(archive.at("optim.head.0.weight_orig.step").shape.empty());
  CHECK(archive.metadata.at("sbgan.format_version") == "1");
  CHECK(archive.metadata.at("config.name") == "demo");
  CHECK(archive.metadata.at("config.json") == demo_config);
  CHECK(archive.metadata.at("progress.step") == "int:3");
  CHECK(archive.metadata.at("progress.phase") == "string:fade");
  CHECK(archive.metadata.at("rng.noise.seed") == "101");
  CHECK(archive.metadata.at("rng.noise.offset") == std::to_string(saved_offset));
  CHECK(archive.metadata.at("optim.critic.group.0.lr") == "0.00037");
  CHECK(archive.metadata.at("value.pretrained") == "bool:true");
  CHECK(archive.metadata.at("value.warmup_left") == "int:-2");
  CHECK_THAT(archive.metadata.at("sbgan.checksum"), Catch::Matchers::StartsWith("fnv1a64:"));
  // Nothing else is in the file.
  const auto names = a.ckpt.tensor_names();
  CHECK(names.size() == archive.tensors.size());
  for (const auto& n : names) CHECK(archive.contains(n));
}

TEST_CASE("a checkpoint written by a float run is refused by a double run", "[checkpoint][errors]") {
  TempDir dir("ckpt-dtype");
  const fs::path path = dir.path / "f32.safetensors";
  Run<float> a(1);
  trained_run(a, path);
  Run<double> b(2);
  require_refused(b, path, "tensor 'critic.blocks.0.from_mask.weight' has shape [4, 3, 1, 1] F32, expected [4, 3, 1, 1] F64");
}

TEST_CASE("a refused checkpoint names what is wrong and changes nothing", "[checkpoint][errors]") {
  TempDir dir("ckpt-refusals");
  const fs::path good = dir.path / "good.safetensors";
  const fs::path bad = dir.path / "bad.safetensors";
  Run<float> a(1);
  trained_run(a, good);
  const bytes file = read_bytes(good);
  Run<float> b(2);
  b.train_step();  // some state of its own, which a refusal must keep
  auto archive = io::read_safetensors(good);
  const auto edited = [&](auto&& edit) {
    auto copy = archive;
    edit(copy);
    reseal(copy);
    io::write_safetensors(bad, copy);
  };

  SECTION("another format version") {
    edited([](io::TensorArchive& x) { x.metadata["sbgan.format_version"] = "2"; });
    require_refused(b, bad, "has format version 2; this build reads version 1 only");
  }
  SECTION("no format version: not an sbgan checkpoint") {
    edited([](io::TensorArchive& x) { x.metadata.erase("sbgan.format_version"); });
    require_refused(b, bad, "is not an sbgan checkpoint");
  }
  SECTION("another config name") {
    Run<float> other(2, "cityscapes");
    require_refused(other, good, "was written for config 'demo'; this run uses config 'cityscapes'");
  }
  SECTION("the same config name with other contents") {
    Run<float> other(2, "demo", R"({"classes": 3, "lr": 0.0002, "betas": [0.0, 0.99]})");
    require_refused(other, good, "another version of config 'demo': /lr is 0.0001 in the checkpoint, 0.0002 here");
  }
  SECTION("a config that matches up to formatting is accepted") {
    Run<float> other(2, "demo", R"({ "betas": [0.0, 0.99], "classes": 3, "lr": 1e-4 })");
    other.ckpt.load(good);
    REQUIRE(snapshot(other) == snapshot(a));
  }
  SECTION("a missing tensor") {
    edited([](io::TensorArchive& x) { x.tensors.erase("critic.blocks.0.conv1.weight"); });
    require_refused(b, bad, "lacks the tensor 'critic.blocks.0.conv1.weight' that this run expects");
  }
  SECTION("a missing optimizer moment") {
    edited([](io::TensorArchive& x) { x.tensors.erase("optim.head.0.bias.exp_avg"); });
    require_refused(b, bad, "lacks the tensor 'optim.head.0.bias.exp_avg'");
  }
  SECTION("an extra tensor") {
    edited([](io::TensorArchive& x) { x.put("critic.blocks.9.weight", zeros<float>(Shape{2})); });
    require_refused(b, bad, "holds the unexpected tensor 'critic.blocks.9.weight', which this run does not have");
  }
  SECTION("a tensor of another shape") {
    edited([](io::TensorArchive& x) { x.put("head.1.running_var", zeros<float>(Shape{5})); });
    require_refused(b, bad, "tensor 'head.1.running_var' has shape [5] F32, expected [4] F32");
  }
  SECTION("a missing generator state") {
    edited([](io::TensorArchive& x) { x.metadata.erase("rng.gumbel.offset"); });
    require_refused(b, bad, "lacks the metadata 'rng.gumbel.offset'");
  }
  SECTION("unexpected metadata") {
    edited([](io::TensorArchive& x) { x.metadata["rng.extra.seed"] = "1"; });
    require_refused(b, bad, "holds the unexpected metadata 'rng.extra.seed'");
  }
  SECTION("a malformed generator offset") {
    edited([](io::TensorArchive& x) { x.metadata["rng.noise.offset"] = "-4"; });
    require_refused(b, bad, "metadata 'rng.noise.offset' is '-4', expected an unsigned 64-bit integer");
  }
  SECTION("a value of another kind") {
    edited([](io::TensorArchive& x) { x.metadata["value.images_seen"] = "float:6.5"; });
    require_refused(b, bad, "metadata 'value.images_seen' is 'float:6.5', expected a value of kind 'int'");
  }
  SECTION("a value out of range of the registered variable") {
    edited([](io::TensorArchive& x) { x.metadata["value.warmup_left"] = "int:3000000000"; });
    require_refused(b, bad, "'int:3000000000', malformed or out of range for the registered int variable");
  }
  SECTION("another number of optimizer groups") {
    edited([](io::TensorArchive& x) { x.metadata["optim.head.groups"] = "2"; });
    require_refused(b, bad, "metadata 'optim.head.groups' is 2, expected 1 parameter groups in this run");
  }
  SECTION("an invalid learning rate") {
    edited([](io::TensorArchive& x) { x.metadata["optim.head.group.0.beta2"] = "1"; });
    require_refused(b, bad, "'optim.head.group.0.beta2' is 1, outside Adam's valid range");
  }
  SECTION("a negative Adam step") {
    edited([](io::TensorArchive& x) {
      auto& step = x.tensors.at("optim.head.0.bias.step");
      for (auto& byte : step.bytes) byte = 0xff;
    });
    require_refused(b, bad, "tensor 'optim.head.0.bias.step' holds the negative step -1");
  }
  SECTION("a flipped bit in the data") {
    bytes damaged = file;
    damaged[damaged.size() - 3] ^= 0x10;
    write_bytes(bad, damaged);
    require_refused(b, bad, "checksum mismatch");
  }
  SECTION("a changed digit in the header's metadata") {
    // The offset of a generator is text in the header; the format alone cannot
    // see a changed digit, the checksum does.
    bytes damaged = file;
    const std::string text(damaged.begin(), damaged.end());
    const std::string key = "\"rng.noise.offset\":\"";
    const auto at = text.find(key);
    REQUIRE(at != std::string::npos);
    damaged[at + key.size()] ^= 0x01;  // '1' <-> '0', '2' <-> '3', ...
    write_bytes(bad, damaged);
    require_refused(b, bad, "checksum mismatch");
  }
  SECTION("a stored checksum that is not one") {
    edited([](io::TensorArchive&) {});
    auto copy = io::read_safetensors(bad);
    copy.metadata["sbgan.checksum"] = "crc32:1234";
    io::write_safetensors(bad, copy);
    require_refused(b, bad, "malformed checksum 'crc32:1234'");
  }
  SECTION("not a safetensors file") {
    write_bytes(bad, bytes{'h', 'e', 'l', 'l', 'o'});
    require_refused(b, bad, "cannot be read");
  }
  SECTION("a file that does not exist") {
    require_refused(b, dir.path / "absent.safetensors", "does not exist");
  }
}

TEST_CASE("every truncation and every header bit flip of a checkpoint is refused", "[checkpoint][errors]") {
  TempDir dir("ckpt-damage");
  const fs::path good = dir.path / "good.safetensors";
  const fs::path bad = dir.path / "bad.safetensors";
  Run<float> a(1);
  trained_run(a, good);
  const bytes file = read_bytes(good);
  const auto saved = snapshot(a);
  Run<float> b(2);
  auto before = snapshot(b);

  int truncations = 0;
  for (std::size_t size = 0; size < file.size(); size += 97) {
    write_bytes(bad, bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(size)));
    const std::string message = error_of([&] { b.ckpt.load(bad); });
    INFO("truncated to " << size << " of " << file.size() << " bytes: " << message);
    REQUIRE_THAT(message, Contains("cannot be read"));
    ++truncations;
  }
  REQUIRE(snapshot(b) == before);
  CHECK(truncations > 50);

  // One bit of every 3rd byte of the length prefix and the header, cycling
  // through the bit positions. A flip either is refused or (a padding space
  // turned into a NUL, which the JSON reader treats as the end of the text)
  // changes nothing the file means: then the load must restore the saved state.
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= std::uint64_t{file[static_cast<std::size_t>(i)]} << (8 * i);
  int refused = 0, harmless = 0;
  for (std::size_t at = 0; at < 8 + header_length; at += 3) {
    bytes damaged = file;
    damaged[at] ^= static_cast<unsigned char>(1u << (at % 8));
    write_bytes(bad, damaged);
    const std::string message = error_of([&] { b.ckpt.load(bad); });
    INFO("bit " << at % 8 << " of byte " << at << ": " << message);
    if (message.empty()) {
      REQUIRE(snapshot(b) == saved);
      before = saved;
      ++harmless;
    } else {
      REQUIRE_THAT(message, Contains(bad.string()));
      REQUIRE(snapshot(b) == before);
      ++refused;
    }
  }
  CHECK(refused > 100);
  CHECK(harmless < 8);
}

TEST_CASE("save refuses a non-finite state and keeps the previous file", "[checkpoint][errors]") {
  TempDir dir("ckpt-nan");
  const fs::path path = dir.path / checkpoint_file_name(3);
  Run<float> a(1);
  trained_run(a, path);
  const bytes saved = read_bytes(path);
  a.head_adam.state("0.bias").exp_avg[1] = std::numeric_limits<float>::quiet_NaN();
  const std::string message = error_of([&] { a.ckpt.save(path); });
  CHECK_THAT(message, Contains("tensor 'optim.head.0.bias.exp_avg' holds nan at element 1"));
  CHECK(read_bytes(path) == saved);
  // Nothing but the target was created either.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("CheckpointState refuses bad registrations", "[checkpoint][errors]") {
  Generator init(0);
  Conv2d<float> conv({2, 3, 3, 1, 1}, init);
  Adam<float> adam;
  adam.add(conv);
  std::int64_t counter = 0;
  CheckpointState ckpt("demo", "{}");
  ckpt.add_network("G", conv);
  CHECK_THAT(error_of([&] { ckpt.add_network("G", conv); }), Contains("a network named 'G' is already registered"));
  CHECK_THAT(error_of([&] { ckpt.add_network("", conv); }), Contains("a network needs a non-empty name"));
  CHECK_THAT(error_of([&] { ckpt.add_network("optim", conv); }), Contains("'optim' is reserved"));
  ckpt.add_optimizer("G", adam);  // names of different kinds do not collide
  ckpt.add_value("counter", counter);
  CHECK_THAT(error_of([&] { ckpt.add_value("counter", counter); }), Contains("a value named 'counter'"));
  CHECK_THAT(error_of([] { CheckpointState("demo", "{\"a\": "); }), Contains("JSON of config 'demo' does not parse"));
  CHECK_THAT(error_of([] { CheckpointState("", "{}"); }), Contains("config name is empty"));
  // Two networks whose names make the same tensor name.
  CheckpointState clash("demo", "{}");
  clash.add_network("G.0", conv);
  Sequential<Conv2d<float>> wrapped(Conv2d<float>({2, 3, 3, 1, 1}, init));
  clash.add_network("G", wrapped);
  CHECK_THAT(error_of([&] { (void)clash.to_archive(); }),
             Contains("two registered tensors are both named 'G.0.weight'"));
}

TEST_CASE("checkpoint scalars are stored exactly and typed", "[checkpoint]") {
  for (const double v : {0.1, 1e-300, 4.9e-324, -0.0, 1.0 / 3.0, 1e300})
    CHECK(std::bit_cast<std::uint64_t>(*scalar_from_text<double>(scalar_to_text(v))) == std::bit_cast<std::uint64_t>(v));
  CHECK(*scalar_from_text<float>(scalar_to_text(0.1f)) == 0.1f);
  CHECK(tagged_scalar(std::uint64_t{18446744073709551615ULL}) == "uint:18446744073709551615");
  CHECK(tagged_scalar(std::int16_t{-7}) == "int:-7");
  CHECK(tagged_scalar(std::string("a:b")) == "string:a:b");
  CHECK(split_tagged("string:a:b")->text == "a:b");
  CHECK_FALSE(scalar_from_text<std::int8_t>("128"));
  CHECK_FALSE(scalar_from_text<std::uint32_t>("-1"));
  CHECK_FALSE(scalar_from_text<std::int64_t>("12 "));
  CHECK_FALSE(scalar_from_text<std::int64_t>(""));
  CHECK_FALSE(scalar_from_text<bool>("1"));
}

TEST_CASE("latest_checkpoint picks the highest step and ignores other files", "[checkpoint][files]") {
  TempDir dir("ckpt-files");
  CHECK(checkpoint_file_name(1234) == "checkpoint-000000001234.safetensors");
  CHECK(checkpoint_step("checkpoint-000000001234.safetensors") == 1234);
  CHECK(checkpoint_step("checkpoint-1234567890123.safetensors") == 1234567890123);
  CHECK_FALSE(checkpoint_step(".checkpoint-000000000099.safetensors.tmp-12-34"));
  CHECK_FALSE(checkpoint_step("checkpoint-.safetensors"));
  CHECK_FALSE(checkpoint_step("checkpoint-12a.safetensors"));
  CHECK_FALSE(checkpoint_step("checkpoint-99999999999999999999.safetensors"));  // beyond int64
  CHECK_THAT(error_of([] { (void)checkpoint_file_name(-1); }), Contains("must not be negative"));

  CHECK_FALSE(latest_checkpoint(dir.path));
  CHECK_FALSE(latest_checkpoint(dir.path / "not-yet-created"));
  Run<float> a(1);
  for (const std::int64_t step : {5, 40, 12, 9}) {
    a.progress.step = step;
    a.ckpt.save(checkpoint_path(dir.path, step));
  }
  // A temporary file of a save that never finished, with a higher step, and
  // files that are not checkpoints.
  write_bytes(dir.path / ".checkpoint-000000000099.safetensors.tmp-12-34", bytes{1, 2, 3});
  write_bytes(dir.path / "checkpoint-latest.safetensors", bytes{1});
  write_bytes(dir.path / "notes.txt", bytes{1});
  fs::create_directory(dir.path / "checkpoint-000000000077.safetensors");  // a directory, not a file
  REQUIRE(latest_checkpoint(dir.path) == checkpoint_path(dir.path, 40));

  Run<float> b(2);
  b.ckpt.load(*latest_checkpoint(dir.path));
  CHECK(b.progress.step == 40);

  const auto removed = prune_checkpoints(dir.path, 2);
  CHECK(removed == std::vector<fs::path>{checkpoint_path(dir.path, 5), checkpoint_path(dir.path, 9)});
  const auto left = list_checkpoints(dir.path);
  REQUIRE(left.size() == 2);
  CHECK(left[0].first == 12);
  CHECK(left[1].first == 40);
  CHECK(fs::exists(dir.path / ".checkpoint-000000000099.safetensors.tmp-12-34"));
  CHECK(fs::exists(dir.path / "notes.txt"));
  CHECK(prune_checkpoints(dir.path, 5).empty());
  CHECK_THAT(error_of([&] { (void)prune_checkpoints(dir.path, 0); }), Contains("keep must be at least 1"));
  CHECK_THAT(error_of([&] { (void)latest_checkpoint(dir.path / "notes.txt"); }), Contains("is not a directory"));
}
