#pragma once
// A trained SB-GAN read back from a training checkpoint: the config stored in its
// metadata, and the five networks' weights (optimizer state and the trainer's
// other entries are left aside). What `sbgan sample` and `sbgan synthesize` use.
//
//   const io::TensorArchive a = io::read_safetensors(path);
//   SBGanConfig cfg = checkpoint_config(a, path.string());
//   SBGAN<> model(cfg, init);
//   load_networks(model, a, path.string());
#include <string>

#include "sbgan/io/safetensors.hpp"
#include "sbgan/models/config.hpp"
#include "sbgan/train/checkpoint.hpp"

namespace sbgan::train {

// The networks under the names the trainer's checkpoints give them.
template <class Model>
void register_networks(CheckpointState& state, Model& model) {
  state.add_network("G_SB", model.g_sb());
  state.add_network("D_SB", model.d_sb());
  state.add_network("G_SPADE", model.g_spade());
  state.add_network("D_SPADE", model.d_spade());
  state.add_network("D2", model.d2());
}

inline SBGanConfig checkpoint_config(const io::TensorArchive& a, const std::string& source) {
  const auto it = a.metadata.find("config.json");
  if (it == a.metadata.end()) throw checkpoint_error("checkpoint " + source + " holds no config (metadata 'config.json')");
  try {
    return config_from_json_text(it->second, source + " (config.json)");
  } catch (const config_error& e) {
    throw checkpoint_error(std::string("checkpoint ") + e.what());
  }
}

// Installs the networks' weights, or refuses (checkpoint_error) and changes nothing.
template <class Model>
void load_networks(Model& model, const io::TensorArchive& a, const std::string& source) {
  CheckpointState state(model.config().name, to_json(model.config()).dump());
  register_networks(state, model);
  state.restore(a, source, CheckpointState::Extra::ignore);
}

}  // namespace sbgan::train
