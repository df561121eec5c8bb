#pragma once
// What a long run shows while it trains: a progress line (stage, step, losses,
// images/s, ETA) and a CSV log with one row per reported step.
//
// The CSV log has a fixed header (every loss term of every stage), so one file
// holds a whole run; a term a stage does not have is left empty. Opening a log that
// exists appends to it (a resumed run continues its log) after checking that its
// header is this one; rows are flushed as written, so a killed run keeps its log.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sbgan/core/error.hpp"

namespace sbgan::train {

// One reported step: where the run is and the named loss terms.
struct StepReport {
  int stage = 1;
  std::string phase;              // e.g. "16x32 fade", "epoch 3", "D2 warm-up"
  std::int64_t step = 0;          // global step of the run
  std::int64_t stage_step = 0;    // steps done in this stage
  std::int64_t stage_steps = 0;   // steps the stage runs in all
  std::int64_t images = 0;        // images in this step's batch
  std::vector<std::pair<std::string, double>> losses;
};

// "1h02m", "4m05s", "12s".
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

// Measures throughput within a stage and formats the line. Time spent outside
// steps (checkpoints, sample grids) is excluded by pausing around it.
class ProgressMeter {
 public:
  using clock = std::chrono::steady_clock;

  // Call when a stage starts (or resumes) at `stage_step`.
  void start_stage(std::int64_t stage_step) {
    stage_start_step_ = stage_step;
    busy_ = 0;
    images_ = 0;
    last_ = clock::now();
  }
  // Call after every step.
  void step_done(std::int64_t images) {
    const auto now = clock::now();
    busy_ += std::chrono::duration<double>(now - last_).count();
    last_ = now;
    images_ += images;
  }
  // Call after work that should not count (checkpoints, samples).
  void skip_time() { last_ = clock::now(); }

  [[nodiscard]] double images_per_second() const { return busy_ > 0 ? double(images_) / busy_ : 0.0; }
  [[nodiscard]] double eta_seconds(const StepReport& r) const {
    const std::int64_t done = r.stage_step - stage_start_step_;
    if (done <= 0) return NAN;
    return busy_ / double(done) * double(r.stage_steps - r.stage_step);
  }

  [[nodiscard]] std::string line(const StepReport& r) const {
    std::ostringstream out;
    out << "[stage " << r.stage << (r.phase.empty() ? "" : " " + r.phase) << "] step " << r.stage_step << "/"
        << r.stage_steps << " (run " << r.step << ")";
    char buf[64];
    for (const auto& [name, value] : r.losses) {
      std::snprintf(buf, sizeof buf, " %s %.4g", name.c_str(), value);
      out << buf;
    }
    std::snprintf(buf, sizeof buf, " | %.1f img/s | ETA %s", images_per_second(), format_duration(eta_seconds(r)).c_str());
    out << buf;
    return out.str();
  }

 private:
  std::int64_t stage_start_step_ = 0;
  double busy_ = 0;
  std::int64_t images_ = 0;
  clock::time_point last_ = clock::now();
};

// The CSV log: stage, phase, step, stage_step, seconds, images_per_s, then the
// loss columns.
class CsvLog {
 public:
  CsvLog(const std::filesystem::path& path, std::vector<std::string> loss_columns)
      : path_(path), columns_(std::move(loss_columns)) {
    std::string header = "stage,phase,step,stage_step,seconds,images_per_s";
    for (const auto& c : columns_) header += "," + c;
    const bool exists = std::filesystem::exists(path_) && std::filesystem::file_size(path_) > 0;
    if (exists) {
      std::ifstream in(path_);
      std::string first;
      std::getline(in, first);
      if (first != header)
        throw error("CSV log " + path_.string() + " has the header '" + first + "', expected '" + header +
                    "'; move it away or use another output directory");
    }
    out_.open(path_, std::ios::app);
    if (!out_) throw error("cannot open the CSV log " + path_.string() + " for writing");
    if (!exists) out_ << header << '\n' << std::flush;
  }

  void write(const StepReport& r, double seconds, double images_per_second) {
    std::map<std::string, double> values(r.losses.begin(), r.losses.end());
    for (const auto& [name, unused] : values)
      if (std::find(columns_.begin(), columns_.end(), name) == columns_.end())
        throw error("CSV log " + path_.string() + ": no column for the loss '" + name + "'");
    out_ << r.stage << ',' << r.phase << ',' << r.step << ',' << r.stage_step << ',' << seconds << ','
         << images_per_second;
    for (const auto& c : columns_) {
      out_ << ',';
      if (auto it = values.find(c); it != values.end()) out_ << it->second;
    }
    out_ << '\n' << std::flush;
  }

 private:
  std::filesystem::path path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

}  // namespace sbgan::train
