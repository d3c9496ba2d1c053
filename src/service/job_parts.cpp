#include "job_parts.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace likeness {

void ProgressMapper::operator()(const Progress& p) {
  double f = 0;
  if (phase_ == "check")
    f = kCheckShare * std::clamp(p.fraction, 0.0, 1.0);
  else
    f = kCheckShare + (1 - kCheckShare - kWriteShare) * std::max(0.0, p.job);
  const auto now = std::chrono::steady_clock::now();
  if (p.stage == last_stage_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_stage_ = p.stage;
  last_ = now;
  std::string item = p.item;
  for (const auto& [stored, given] : names_)
    for (size_t at; (at = item.find(stored)) != std::string::npos;) item.replace(at, stored.size(), given);
  emit_({{"fraction", std::round(f * 1000) / 1000}, {"stage", p.stage}, {"item", item}});
}

std::vector<MadeOutput> made_outputs(const ShootFiles& made,
                                     const std::vector<std::pair<std::string, std::string>>& names) {
  std::vector<MadeOutput> out;
  for (const json& e : made.report["portraits"]) {
    if (!e.value("passed", false)) continue;
    const int rank = e.value("rank", 0);
    std::string source = std::filesystem::path(e.value("source", "")).filename().string();
    for (const auto& [file, given] : names)
      if (file == source) {
        source = given;
        break;
      }
    json meta = {{"likeness", e["likeness"]},
                 {"choice", e["choice"]},
                 {"quality", e["quality"]},
                 {"fit", e["fit"]},
                 {"summary", e["summary"]},
                 {"edits", e["edits"]},
                 {"digital_source_type", e["digital_source_type"]},
                 {"usage", e["usage"]},
                 {"variation", e["variation"]},
                 {"source", source}};
    out.push_back({e["file"], "portrait", rank, meta});
    out.push_back({e["edit_map"], "edit_map", rank});
    out.push_back({e["sidecar"], "sidecar", rank});
    if (e.contains("before")) out.push_back({e["before"], "before", rank});
  }
  out.push_back({"contact_sheet.jpg", "sheet", 0});
  out.push_back({"report.json", "report", 0});
  return out;
}

}  // namespace likeness
