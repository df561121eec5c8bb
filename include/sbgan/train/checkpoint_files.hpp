#pragma once
// Checkpoint files in a run's directory: one per saved step, named
// "checkpoint-<step, 12 digits>.safetensors" so that a listing sorts by step; the
// newest one to resume from; and pruning to the last N.
//
// Only names of exactly that form count. The atomic writer's temporary files
// (".checkpoint-….safetensors.tmp-…") start with a dot and never match, so a save
// interrupted by a crash is never taken for a checkpoint, and pruning leaves them
// alone (another process may still be writing one).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sbgan/train/checkpoint.hpp"
#include "sbgan/train/checkpoint_values.hpp"

namespace sbgan::train {

inline constexpr std::string_view checkpoint_file_prefix = "checkpoint-";
inline constexpr std::string_view checkpoint_file_suffix = ".safetensors";

// "checkpoint-000000001234.safetensors" (more digits when the step needs them).
inline std::string checkpoint_file_name(std::int64_t step) {
  if (step < 0) throw checkpoint_error("checkpoint_file_name: the step must not be negative, got " + std::to_string(step));
  std::string digits = std::to_string(step);
  if (digits.size() < 12) digits.insert(0, 12 - digits.size(), '0');
  return std::string(checkpoint_file_prefix) + digits + std::string(checkpoint_file_suffix);
}

inline std::filesystem::path checkpoint_path(const std::filesystem::path& directory, std::int64_t step) {
  return directory / checkpoint_file_name(step);
}

// The step a checkpoint file name carries, or nothing when the name is not one.
inline std::optional<std::int64_t> checkpoint_step(std::string_view file_name) {
  if (file_name.size() <= checkpoint_file_prefix.size() + checkpoint_file_suffix.size() ||
      !file_name.starts_with(checkpoint_file_prefix) || !file_name.ends_with(checkpoint_file_suffix))
    return std::nullopt;
  const std::string_view digits = file_name.substr(
      checkpoint_file_prefix.size(), file_name.size() - checkpoint_file_prefix.size() - checkpoint_file_suffix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return scalar_from_text<std::int64_t>(digits);
}

// Every checkpoint file in `directory` with its step, lowest step first. A missing
// directory holds none; a path that is not a directory is an error.
inline std::vector<std::pair<std::int64_t, std::filesystem::path>> list_checkpoints(
    const std::filesystem::path& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(directory, ec);
  if (!fs::exists(status)) return {};
  if (!fs::is_directory(status))
    throw checkpoint_error("checkpoint directory " + directory.string() + " is not a directory");
  std::vector<std::pair<std::int64_t, fs::path>> found;
  fs::directory_iterator it(directory, ec);
  if (ec) throw checkpoint_error("checkpoint directory " + directory.string() + " cannot be listed: " + ec.message());
  for (const auto& entry : it) {
    const auto step = checkpoint_step(entry.path().filename().string());
    if (step && entry.is_regular_file(ec)) found.emplace_back(*step, entry.path());
  }
  // Two names of one step ("…01.safetensors", "…001.safetensors") sort by name,
  // so the choice is the same on every run.
  std::sort(found.begin(), found.end());
  return found;
}

// The checkpoint with the highest step in `directory`, or nothing when it has none.
inline std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& directory) {
  auto all = list_checkpoints(directory);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

// Deletes all but the `keep` checkpoints of highest step; returns what it deleted.
inline std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& directory, std::size_t keep) {
  if (keep == 0)
    throw checkpoint_error("prune_checkpoints: keep must be at least 1 (keeping none would delete the checkpoint to "
                           "resume from)");
  auto all = list_checkpoints(directory);
  std::vector<std::filesystem::path> removed;
  if (all.size() <= keep) return removed;
  for (std::size_t i = 0; i + keep < all.size(); ++i) {
    std::error_code ec;
    std::filesystem::remove(all[i].second, ec);
    if (ec) throw checkpoint_error("prune_checkpoints: cannot delete " + all[i].second.string() + ": " + ec.message());
    removed.push_back(all[i].second);
  }
  return removed;
}

}  // namespace sbgan::train
