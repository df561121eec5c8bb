#pragma once
// Checkpoints: the whole state of a training run in one safetensors file.
//
// A trainer owns several networks, optimizers and random generators. It registers
// each of them once, by name, with a CheckpointState; save(path) then writes
// everything and load(path) restores everything:
//
//   CheckpointState ckpt("demo", config_json);
//   ckpt.add_network("G", generator);          // tensors "G.<parameter or buffer>"
//   ckpt.add_optimizer("G", adam_g);           // "optim.G.<parameter>.exp_avg" ...
//   ckpt.add_generator("noise", noise_rng);    // metadata "rng.noise.seed" ...
//   ckpt.track_progress(progress);             // stage, resolution, phase, step, epoch, index
//   ckpt.add_value("best_fid", best_fid);      // anything else, typed
//   ckpt.save(checkpoint_path(dir, progress.step));   // checkpoint_files.hpp
//
// The file (safetensors, readable by Python's `safetensors` package):
//   tensors   "<network>.<name>" for every parameter and buffer, as each network
//             names them (visit_parameters / visit_buffers), in the network's
//             dtype (F32 for float models, F64 for double ones);
//             "optim.<optimizer>.<parameter>.exp_avg", ".exp_avg_sq" (same dtype)
//             and ".step" (I64 scalar), PyTorch's names for Adam's state
//   metadata  sbgan.format_version, sbgan.checksum (checkpoint_checksum.hpp),
//             config.name, config.json, progress.*, rng.<name>.seed|stream|offset,
//             optim.<name>.groups and optim.<name>.group.<i>.lr|beta1|beta2|eps,
//             value.<name>
//
// load() checks everything before it changes anything: the format version, the
// checksum, the config (name and JSON), that every expected tensor is present with
// its dtype and shape and no other is, that every expected metadata entry is
// present and well-formed and no other is. Any refusal throws checkpoint_error
// naming the file and what is wrong, and leaves every registered object as it was.
// save() refuses NaN and Inf, so a diverged run cannot replace its last good
// checkpoint with a poisoned one; writing is atomic (temp file, fsync, rename).
//
// Registered objects are held by reference: they must outlive the CheckpointState
// and stay where they are. Networks are visited afresh at each save and load, so
// their tensors may be replaced between calls.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbgan/core/error.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/io/safetensors.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/optim/adam.hpp"
#include "sbgan/train/checkpoint_checksum.hpp"
#include "sbgan/train/checkpoint_values.hpp"
#if defined(SBGAN_WITH_CUDA)
#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/transfer.hpp"
#endif

namespace sbgan::train {

struct checkpoint_error : error {
  using error::error;
};

// The layout described above. A reader refuses every other version.
inline constexpr int checkpoint_format_version = 1;

// Where a run stands; saved with the checkpoint when tracked.
struct TrainingProgress {
  std::int64_t stage = 1;       // 1 layout GAN, 2 SPADE, 3 end to end
  std::int64_t resolution = 0;  // the layout generator's current height
  std::string phase;            // "fade" or "stabilize" in stage 1
  std::int64_t step = 0;        // global iteration
  std::int64_t epoch = 0;       // data loader: the epoch under way
  std::int64_t index = 0;       //              and the next sample within it
};

// Anything with parameters (and optionally buffers) that names its scalar and backend.
template <class M>
concept CheckpointNetwork = requires {
  typename M::value_type;
  typename M::backend;
} && HasParametersOf<M, typename M::value_type, typename M::backend>;

namespace checkpoint_detail {

inline constexpr const char* version_key = "sbgan.format_version";
inline constexpr const char* checksum_key = "sbgan.checksum";
inline constexpr const char* config_name_key = "config.name";
inline constexpr const char* config_json_key = "config.json";

[[noreturn]] inline void refuse(const std::string& source, const std::string& what) {
  throw checkpoint_error("checkpoint " + source + ": " + what);
}

template <class T, class B>
Tensor<T, cpu> host_copy(const Tensor<T, B>& t) {
  if constexpr (std::is_same_v<B, cpu>) {
    return t;
  } else {
#if defined(SBGAN_WITH_CUDA)
    return to_host(t);
#else
    static_assert(sizeof(T) == 0, "checkpoint: a device tensor needs SBGAN_WITH_CUDA");
#endif
  }
}

// Copies into the existing storage of dst, so that every handle to it (an
// optimizer's, a context's) sees the restored values.
template <class T, class B>
void copy_from_host(const Tensor<T, cpu>& src, Tensor<T, B>& dst) {
  const auto bytes = static_cast<std::size_t>(src.numel()) * sizeof(T);
  if (bytes == 0) return;
  if constexpr (std::is_same_v<B, cpu>) {
    std::memcpy(dst.data(), src.data(), bytes);
  } else {
#if defined(SBGAN_WITH_CUDA)
    SBGAN_CUDA_CHECK(cudaMemcpy(dst.data(), src.data(), bytes, cudaMemcpyHostToDevice));
#else
    static_assert(sizeof(T) == 0, "checkpoint: a device tensor needs SBGAN_WITH_CUDA");
#endif
  }
}

inline std::vector<std::int64_t> dims_of(const Shape& s) {
  std::vector<std::int64_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
  return d;
}

inline std::string dims_str(const std::vector<std::int64_t>& d) {
  io::StoredTensor t;
  t.shape = d;
  return t.shape_str();
}

// One tensor the checkpoint saves and restores. prepare() decodes a stored tensor
// (already checked for dtype and shape) and returns the action that installs it;
// nothing is changed until every prepare() has succeeded.
struct TensorSlot {
  std::string name;
  io::Dtype dtype = io::Dtype::F32;
  std::vector<std::int64_t> shape;
  std::function<io::StoredTensor()> read;
  std::function<std::function<void()>(const io::StoredTensor&, const std::string& source)> prepare;
};

// One metadata entry, the same way.
struct MetaSlot {
  std::string key;
  std::function<std::string()> read;
  std::function<std::function<void()>(const std::string& text, const std::string& source)> prepare;
};

struct Slots {
  std::vector<TensorSlot> tensors;
  std::vector<MetaSlot> metadata;
};

template <class T, class B>
TensorSlot tensor_slot(std::string name, Tensor<T, B> t) {
  TensorSlot s;
  s.name = std::move(name);
  s.dtype = io::dtype_of<T>();
  s.shape = dims_of(t.shape());
  s.read = [t, name = s.name] {
    const Tensor<T, cpu> host = host_copy(t);
    if constexpr (std::is_floating_point_v<T>) {
      for (index_t i = 0; i < host.numel(); ++i)
        if (!std::isfinite(host[i]))
          throw checkpoint_error("checkpoint: tensor '" + name + "' holds " + std::to_string(host[i]) +
                                 " at element " + std::to_string(i) +
                                 "; refusing to save a non-finite state (the previous checkpoint stays as it was)");
    }
    return io::StoredTensor::from(host);
  };
  s.prepare = [t](const io::StoredTensor& stored, const std::string&) mutable -> std::function<void()> {
    Tensor<T, cpu> host = stored.template to_tensor<T>("checkpoint tensor");
    return [t, host]() mutable { copy_from_host(host, t); };
  };
  return s;
}

// A scalar kept as tagged text ("int:42").
template <CheckpointScalar V>
MetaSlot scalar_slot(std::string key, V& value) {
  MetaSlot s;
  s.key = std::move(key);
  s.read = [&value] { return tagged_scalar(value); };
  s.prepare = [&value, key = s.key](const std::string& text, const std::string& source) -> std::function<void()> {
    const auto tagged = split_tagged(text);
    if (!tagged || tagged->kind != scalar_kind<V>())
      refuse(source, "metadata '" + key + "' is '" + text + "', expected a value of kind '" +
                         std::string(scalar_kind<V>()) + "' (\"" + std::string(scalar_kind<V>()) + ":...\")");
    const auto parsed = scalar_from_text<V>(tagged->text);
    if (!parsed)
      refuse(source, "metadata '" + key + "' is '" + text + "', malformed or out of range for the registered " +
                         std::string(scalar_kind<V>()) + " variable");
    return [&value, v = *parsed] { value = v; };
  };
  return s;
}

// An untagged number read by a setter (RNG state, optimizer options).
template <class V, class Set>
MetaSlot number_slot(std::string key, std::function<V()> get, Set set, const char* expected) {
  MetaSlot s;
  s.key = std::move(key);
  s.read = [get] { return scalar_to_text(get()); };
  s.prepare = [set, key = s.key, expected](const std::string& text, const std::string& source) -> std::function<void()> {
    const auto parsed = scalar_from_text<V>(text);
    if (!parsed) refuse(source, "metadata '" + key + "' is '" + text + "', expected " + expected);
    return [set, v = *parsed] { set(v); };
  };
  return s;
}

// A structural entry that must read exactly `text`, as a shape must match.
inline MetaSlot fixed_slot(std::string key, std::string text, const char* what) {
  MetaSlot s;
  s.key = std::move(key);
  s.read = [text] { return text; };
  s.prepare = [text, what, key = s.key](const std::string& stored, const std::string& source) {
    if (stored != text) refuse(source, "metadata '" + key + "' is " + stored + ", expected " + text + " " + what);
    return std::function<void()>([] {});
  };
  return s;
}

// One Adam option; values Adam itself would refuse are refused here, before
// anything changes.
inline MetaSlot adam_option_slot(std::string key, double& option, bool is_beta) {
  MetaSlot s;
  s.key = std::move(key);
  s.read = [&option] { return scalar_to_text(option); };
  s.prepare = [&option, is_beta, key = s.key](const std::string& text,
                                               const std::string& source) -> std::function<void()> {
    const auto v = scalar_from_text<double>(text);
    if (!v) refuse(source, "metadata '" + key + "' is '" + text + "', expected a floating-point number");
    if (!(*v >= 0) || (is_beta && !(*v < 1)))
      refuse(source, "metadata '" + key + "' is " + text + ", outside Adam's valid range");
    return [&option, v = *v] { option = v; };
  };
  return s;
}

// "a", "b" and 3 more.
inline std::string name_list(const std::vector<std::string>& names) {
  std::string s;
  const std::size_t shown = std::min<std::size_t>(names.size(), 5);
  for (std::size_t i = 0; i < shown; ++i) s += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > shown) s += " and " + std::to_string(names.size() - shown) + " more";
  return s;
}

// Where two configs first differ, as "/path is A in the checkpoint, B here".
inline std::string first_difference(const nlohmann::json& stored, const nlohmann::json& current) {
  const auto patch = nlohmann::json::diff(stored, current);
  if (patch.empty()) return "";
  const std::string path = patch[0].at("path").get<std::string>();
  const nlohmann::json::json_pointer pointer(path);
  const auto show = [&](const nlohmann::json& j) { return j.contains(pointer) ? j.at(pointer).dump() : "absent"; };
  return (path.empty() ? std::string("the whole config") : path) + " is " + show(stored) + " in the checkpoint, " +
         show(current) + " here";
}

}  // namespace checkpoint_detail

class CheckpointState {
 public:
  // What load/restore do with entries this state does not register: refuse them
  // (the default: a run's checkpoint must be exactly this run's), or skip them (a
  // sampler reading only the networks of a training checkpoint). Everything
  // registered is required and checked either way.
  enum class Extra { refuse, ignore };

  // The config this run was built from: a name and its JSON text. A checkpoint of
  // another config (another name, or the same name with other contents) is refused.
  CheckpointState(std::string config_name, std::string config_json)
      : config_name_(std::move(config_name)), config_json_(std::move(config_json)) {
    if (config_name_.empty()) throw checkpoint_error("CheckpointState: the config name is empty");
    try {
      config_ = nlohmann::json::parse(config_json_);
    } catch (const nlohmann::json::exception& e) {
      throw checkpoint_error("CheckpointState: the JSON of config '" + config_name_ + "' does not parse: " + e.what());
    }
  }

  [[nodiscard]] const std::string& config_name() const { return config_name_; }
  [[nodiscard]] const std::string& config_json() const { return config_json_; }

  // Every parameter and buffer of `network`, as "<name>.<its own name>".
  template <CheckpointNetwork M>
  void add_network(const std::string& name, M& network) {
    if (name == "optim") throw checkpoint_error("CheckpointState: 'optim' is reserved for optimizer state");
    claim(network_names_, "network", name);
    sources_.push_back([&network, prefix = name + "."](checkpoint_detail::Slots& out) {
      using T = typename M::value_type;
      using B = typename M::backend;
      network.visit_parameters([&](std::string_view n, Parameter<T, B>& p) {
        out.tensors.push_back(checkpoint_detail::tensor_slot(prefix + std::string(n), p.value));
      });
      sbgan::visit_buffers(network, [&](std::string_view n, auto& t) {
        out.tensors.push_back(checkpoint_detail::tensor_slot(prefix + std::string(n), t));
      });
    });
  }

  // Adam's moments and step counts under "optim.<name>.<parameter>.*", and the
  // options of each parameter group (a schedule changes the learning rate).
  template <class T, class B>
  void add_optimizer(const std::string& name, Adam<T, B>& adam) {
    claim(optimizer_names_, "optimizer", name);
    sources_.push_back([&adam, prefix = "optim." + name + "."](checkpoint_detail::Slots& out) {
      adam.visit_state([&](std::string_view parameter, AdamState<T, B>& state) {
        const std::string base = prefix + std::string(parameter) + ".";
        out.tensors.push_back(checkpoint_detail::tensor_slot(base + "exp_avg", state.exp_avg));
        out.tensors.push_back(checkpoint_detail::tensor_slot(base + "exp_avg_sq", state.exp_avg_sq));
        out.tensors.push_back(step_slot(base + "step", state));
      });
      const std::size_t groups = adam.group_count();
      out.metadata.push_back(checkpoint_detail::fixed_slot(prefix + "groups", std::to_string(groups),
                                                           "parameter groups in this run"));
      for (std::size_t g = 0; g < groups; ++g) {
        const std::string group = prefix + "group." + std::to_string(g) + ".";
        AdamOptions& options = adam.group(g);
        out.metadata.push_back(checkpoint_detail::adam_option_slot(group + "lr", options.lr, false));
        out.metadata.push_back(checkpoint_detail::adam_option_slot(group + "beta1", options.beta1, true));
        out.metadata.push_back(checkpoint_detail::adam_option_slot(group + "beta2", options.beta2, true));
        out.metadata.push_back(checkpoint_detail::adam_option_slot(group + "eps", options.eps, false));
      }
    });
  }

  // The generator's seed, stream and offset; load() restores all three.
  void add_generator(const std::string& name, Generator& generator) {
    using checkpoint_detail::number_slot;
    claim(generator_names_, "generator", name);
    sources_.push_back([&generator, prefix = "rng." + name + "."](checkpoint_detail::Slots& out) {
      // Seed and stream are fixed at construction, so restoring replaces the
      // generator; the three entries are installed in this order.
      out.metadata.push_back(number_slot<std::uint64_t>(
          prefix + "seed", [&generator] { return generator.seed(); },
          [&generator](std::uint64_t seed) { generator = Generator(seed, generator.stream()); },
          "an unsigned 64-bit integer"));
      out.metadata.push_back(number_slot<std::uint64_t>(
          prefix + "stream", [&generator] { return generator.stream(); },
          [&generator](std::uint64_t stream) { generator = Generator(generator.seed(), stream); },
          "an unsigned 64-bit integer"));
      out.metadata.push_back(number_slot<std::uint64_t>(
          prefix + "offset", [&generator] { return generator.offset(); },
          [&generator](std::uint64_t offset) { generator.set_offset(offset); }, "an unsigned 64-bit integer"));
    });
  }

  // A scalar of the trainer's own, as metadata "value.<name>".
  template <CheckpointScalar V>
  void add_value(const std::string& name, V& value) {
    claim(value_names_, "value", name);
    sources_.push_back([&value, key = "value." + name](checkpoint_detail::Slots& out) {
      out.metadata.push_back(checkpoint_detail::scalar_slot(key, value));
    });
  }

  // Stage, resolution, phase, step and data-loader position, as "progress.*".
  void track_progress(TrainingProgress& progress) {
    if (tracks_progress_) throw checkpoint_error("CheckpointState: progress is already tracked");
    tracks_progress_ = true;
    sources_.push_back([&progress](checkpoint_detail::Slots& out) {
      using checkpoint_detail::scalar_slot;
      out.metadata.push_back(scalar_slot("progress.stage", progress.stage));
      out.metadata.push_back(scalar_slot("progress.resolution", progress.resolution));
      out.metadata.push_back(scalar_slot("progress.phase", progress.phase));
      out.metadata.push_back(scalar_slot("progress.step", progress.step));
      out.metadata.push_back(scalar_slot("progress.epoch", progress.epoch));
      out.metadata.push_back(scalar_slot("progress.index", progress.index));
    });
  }

  // Everything registered, as the archive save() writes (checksum included).
  [[nodiscard]] io::TensorArchive to_archive() const {
    const checkpoint_detail::Slots slots = collect();
    io::TensorArchive a;
    a.metadata[checkpoint_detail::version_key] = std::to_string(checkpoint_format_version);
    a.metadata[checkpoint_detail::config_name_key] = config_name_;
    a.metadata[checkpoint_detail::config_json_key] = config_json_;
    for (const auto& m : slots.metadata) a.metadata[m.key] = m.read();
    for (const auto& t : slots.tensors) a.tensors[t.name] = t.read();
    a.metadata[checkpoint_detail::checksum_key] = checksum_text(archive_checksum(a, checkpoint_detail::checksum_key));
    return a;
  }

  // Writes the checkpoint atomically; a failure leaves any file at `path` as it was.
  void save(const std::filesystem::path& path) const { io::write_safetensors(path, to_archive()); }

  // Restores every registered object from `path`, or refuses and changes nothing.
  void load(const std::filesystem::path& path, Extra extra = Extra::refuse) {
    const std::string source = path.string();
    io::TensorArchive a;
    try {
      a = io::read_safetensors(path);
    } catch (const error& e) {
      checkpoint_detail::refuse(source, std::string("cannot be read: ") + e.what());
    }
    restore(a, source, extra);
  }

  // As load(), from an archive in memory; `source` names it in messages.
  void restore(const io::TensorArchive& a, const std::string& source = "(memory)", Extra extra = Extra::refuse) {
    using checkpoint_detail::name_list;
    using checkpoint_detail::refuse;
    check_identity(a, source);

    const checkpoint_detail::Slots slots = collect();
    std::vector<std::function<void()>> installs;

    // Tensors: all present, none extra, each with its dtype and shape.
    std::set<std::string> expected;
    std::vector<std::string> missing, unexpected;
    for (const auto& t : slots.tensors) {
      expected.insert(t.name);
      if (!a.contains(t.name)) missing.push_back(t.name);
    }
    for (const auto& [name, unused] : a.tensors)
      if (!expected.count(name) && extra == Extra::refuse) unexpected.push_back(name);
    if (!missing.empty())
      refuse(source, "lacks the tensor" + std::string(missing.size() > 1 ? "s " : " ") + name_list(missing) +
                         " that this run expects");
    if (!unexpected.empty())
      refuse(source, "holds the unexpected tensor" + std::string(unexpected.size() > 1 ? "s " : " ") +
                         name_list(unexpected) + ", which this run does not have");
    for (const auto& t : slots.tensors) {
      const io::StoredTensor& stored = a.at(t.name);
      if (stored.dtype != t.dtype || stored.shape != t.shape)
        refuse(source, "tensor '" + t.name + "' has shape " + stored.shape_str() + " " +
                           std::string(io::dtype_name(stored.dtype)) + ", expected " +
                           checkpoint_detail::dims_str(t.shape) + " " + std::string(io::dtype_name(t.dtype)));
    }

    // Metadata: the same rules.
    std::set<std::string> expected_keys = {checkpoint_detail::version_key, checkpoint_detail::checksum_key,
                                           checkpoint_detail::config_name_key, checkpoint_detail::config_json_key};
    missing.clear();
    unexpected.clear();
    for (const auto& m : slots.metadata) {
      expected_keys.insert(m.key);
      if (!a.metadata.count(m.key)) missing.push_back(m.key);
    }
    for (const auto& [key, unused] : a.metadata)
      if (!expected_keys.count(key) && extra == Extra::refuse) unexpected.push_back(key);
    if (!missing.empty())
      refuse(source, "lacks the metadata " + name_list(missing) + " that this run expects");
    if (!unexpected.empty())
      refuse(source, "holds the unexpected metadata " + name_list(unexpected) + ", which this run does not have");

    for (const auto& t : slots.tensors) installs.push_back(t.prepare(a.at(t.name), source));
    for (const auto& m : slots.metadata) installs.push_back(m.prepare(a.metadata.at(m.key), source));
    // Everything is checked and decoded; from here on nothing can fail but a
    // device copy.
    for (auto& install : installs) install();
  }

  // The file's format version, checksum and config against this state's; throws
  // checkpoint_error naming the first difference. restore() starts with it.
  void check_identity(const io::TensorArchive& a, const std::string& source) const {
    using checkpoint_detail::refuse;
    const auto meta = [&](const char* key) -> const std::string* {
      const auto it = a.metadata.find(key);
      return it == a.metadata.end() ? nullptr : &it->second;
    };
    const std::string* version = meta(checkpoint_detail::version_key);
    if (!version)
      refuse(source, std::string("is not an sbgan checkpoint (its metadata has no ") + checkpoint_detail::version_key +
                         ")");
    if (*version != std::to_string(checkpoint_format_version))
      refuse(source, "has format version " + *version + "; this build reads version " +
                         std::to_string(checkpoint_format_version) + " only");

    const std::string* stored_checksum = meta(checkpoint_detail::checksum_key);
    if (!stored_checksum) refuse(source, std::string("has no ") + checkpoint_detail::checksum_key);
    const auto expected = parse_checksum_text(*stored_checksum);
    if (!expected) refuse(source, "has a malformed checksum '" + *stored_checksum + "' (expected fnv1a64:<16 hex digits>)");
    const std::uint64_t actual = archive_checksum(a, checkpoint_detail::checksum_key);
    if (actual != *expected)
      refuse(source, "checksum mismatch: the file records " + *stored_checksum + " but its content hashes to " +
                         checksum_text(actual) + " (the file is corrupt)");

    const std::string* name = meta(checkpoint_detail::config_name_key);
    const std::string* json = meta(checkpoint_detail::config_json_key);
    if (!name || !json) refuse(source, "has no config name or config JSON in its metadata");
    if (*name != config_name_)
      refuse(source, "was written for config '" + *name + "'; this run uses config '" + config_name_ + "'");
    // Nesting is limited while parsing: comparing and printing JSON recurses, so a
    // config of a million nested '[' (behind a recomputed checksum) would overflow
    // the stack in the message below.
    constexpr int max_config_depth = 64;
    const nlohmann::json::parser_callback_t limit_depth = [&](int depth, nlohmann::json::parse_event_t event,
                                                              nlohmann::json&) {
      using ev = nlohmann::json::parse_event_t;
      if ((event == ev::object_start || event == ev::array_start) && depth >= max_config_depth)
        refuse(source, "holds a config JSON nested deeper than " + std::to_string(max_config_depth) + " levels");
      return true;
    };
    nlohmann::json stored;
    try {
      stored = nlohmann::json::parse(*json, limit_depth);
    } catch (const nlohmann::json::exception& e) {
      refuse(source, std::string("holds a config JSON that does not parse: ") + e.what());
    }
    if (stored != config_)
      refuse(source, "was written for another version of config '" + config_name_ +
                         "': " + checkpoint_detail::first_difference(stored, config_));
  }
  // The names of the tensors save() writes, in the order registered.
  [[nodiscard]] std::vector<std::string> tensor_names() const {
    std::vector<std::string> names;
    for (const auto& t : collect().tensors) names.push_back(t.name);
    return names;
  }

 private:
  using Source = std::function<void(checkpoint_detail::Slots&)>;

  static void claim(std::set<std::string>& names, const char* kind, const std::string& name) {
    if (name.empty()) throw checkpoint_error(std::string("CheckpointState: a ") + kind + " needs a non-empty name");
    if (!names.insert(name).second)
      throw checkpoint_error(std::string("CheckpointState: a ") + kind + " named '" + name + "' is already registered");
  }

  template <class T, class B>
  static checkpoint_detail::TensorSlot step_slot(std::string name, AdamState<T, B>& state) {
    checkpoint_detail::TensorSlot s;
    s.name = std::move(name);
    s.dtype = io::Dtype::I64;
    s.read = [&state] {
      io::StoredTensor t;
      t.dtype = io::Dtype::I64;
      t.bytes.resize(8);
      io::safetensors_detail::store_le<std::int64_t>(state.step, t.bytes.data());
      return t;
    };
    s.prepare = [&state, name = s.name](const io::StoredTensor& stored,
                                         const std::string& source) -> std::function<void()> {
      const auto step = io::safetensors_detail::load_le<std::int64_t>(stored.bytes.data());
      if (step < 0) checkpoint_detail::refuse(source, "tensor '" + name + "' holds the negative step " + std::to_string(step));
      return [&state, step] { state.step = step; };
    };
    return s;
  }

  // Every slot of every registered object; refuses two slots of one name.
  [[nodiscard]] checkpoint_detail::Slots collect() const {
    checkpoint_detail::Slots slots;
    for (const auto& source : sources_) source(slots);
    std::set<std::string> seen;
    for (const auto& t : slots.tensors)
      if (!seen.insert(t.name).second)
        throw checkpoint_error("CheckpointState: two registered tensors are both named '" + t.name + "'");
    seen.clear();
    for (const auto& m : slots.metadata)
      if (!seen.insert(m.key).second)
        throw checkpoint_error("CheckpointState: two registered metadata entries are both named '" + m.key + "'");
    return slots;
  }

  // Version first (another version may mean another checksum), then the checksum
  // (a corrupt file says so rather than some symptom of it), then the config.


  std::string config_name_;
  std::string config_json_;
  nlohmann::json config_;
  std::vector<Source> sources_;
  std::set<std::string> network_names_, optimizer_names_, generator_names_, value_names_;
  bool tracks_progress_ = false;
};

}  // namespace sbgan::train
