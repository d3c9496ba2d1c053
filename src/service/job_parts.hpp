// What a job's run looks like from outside, the same wherever it runs (the
// server's own workers or `likeness worker` on another machine): its
// progress as the page shows it, and the outputs a shoot made, described.
#pragma once
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "likeness/stage.hpp"
#include "likeness/studio.hpp"

namespace likeness {

using json = nlohmann::json;

// Progress phases of a shoot: checking the photos, rendering, writing.
inline constexpr double kCheckShare = 0.1, kWriteShare = 0.05;

// Turns a shoot's Progress into the job's {fraction, stage, item}, photos
// named as uploaded (`names`: stored file name -> uploaded name), at most
// every 100 ms or at a stage change; `emit` gets each.
class ProgressMapper {
 public:
  ProgressMapper(std::vector<std::pair<std::string, std::string>> names, std::function<void(const json&)> emit)
      : names_(std::move(names)), emit_(std::move(emit)) {}
  void set_phase(const std::string& phase) { phase_ = phase; }
  void operator()(const Progress& p);

 private:
  std::vector<std::pair<std::string, std::string>> names_;
  std::function<void(const json&)> emit_;
  std::string phase_ = "check", last_stage_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now() - std::chrono::seconds(1);
};

// One file of a shoot as the service records it.
struct MadeOutput {
  std::string name, kind;  // kind: portrait, edit_map, sidecar, before, sheet, report
  int rank = 0;
  json meta = json::object();  // for a portrait: what the page shows (likeness, summary, edits ...)
};
// Every file the shoot's report names, in order: each portrait that passed
// with its edit map, sidecar and before view, then the sheet and the report.
std::vector<MadeOutput> made_outputs(const ShootFiles& made,
                                     const std::vector<std::pair<std::string, std::string>>& names);

}  // namespace likeness
