#include "likeness/recipe.hpp"

#include "likeness/error.hpp"

namespace likeness {

json Recipe::to_json() const {
  json steps_json = json::array();
  for (const auto& s : steps) steps_json.push_back({{"stage", s.stage}, {"version", s.version}, {"params", s.params}});
  return {{"steps", steps_json}};
}

Recipe Recipe::from_json(const json& j) {
  Recipe r;
  if (!j.is_object() || !j.contains("steps") || !j["steps"].is_array())
    throw Error(ErrorCode::usage, "a recipe is {\"steps\": [{\"stage\", \"version\", \"params\"}, ...]}");
  for (const auto& s : j["steps"]) {
    if (!s.is_object() || !s.contains("stage") || !s["stage"].is_string())
      throw Error(ErrorCode::usage, "every recipe step needs a \"stage\" name");
    Step step;
    step.stage = s["stage"];
    const Stage& stage = find_stage(step.stage);
    step.version = s.value("version", stage.version());
    step.params = s.value("params", json::object());
    r.steps.push_back(std::move(step));
  }
  return r;
}

Recipe Recipe::resolved() const {
  Recipe r;
  for (const auto& s : steps) {
    const Stage& stage = find_stage(s.stage);
    if (s.version != stage.version())
      throw Error(ErrorInfo{ErrorCode::usage,
                            "recipe asks for version " + std::to_string(s.version) + " but this build has version " +
                                std::to_string(stage.version()),
                            s.stage,
                            {},
                            {}});
    r.steps.push_back({s.stage, s.version, resolve_params(s.stage, stage.params(), s.params)});
  }
  return r;
}

Step* Recipe::find(const std::string& stage) {
  for (auto& s : steps)
    if (s.stage == stage) return &s;
  return nullptr;
}

const Step* Recipe::find(const std::string& stage) const { return const_cast<Recipe*>(this)->find(stage); }

json RunResult::provenance() const {
  json out = json::array();
  for (const auto& s : steps)
    out.push_back({{"stage", s.stage},
                   {"version", s.version},
                   {"params", s.params},
                   {"key", s.key},
                   {"ms", std::round(s.ms * 10) / 10},
                   {"cached", s.cached},
                   {"changed", s.changed}});
  return out;
}

Recipe Recipe::until(const std::string& stage) const {
  Recipe r;
  for (const auto& s : steps) {
    r.steps.push_back(s);
    if (s.stage == stage) return r;
  }
  throw Error(ErrorCode::usage, "the recipe has no '" + stage + "' step");
}

}  // namespace likeness
