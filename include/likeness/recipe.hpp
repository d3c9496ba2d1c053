#pragma once
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "likeness/stage.hpp"

namespace likeness {

struct Step {
  std::string stage;
  int version = 0;
  json params = json::object();
};

// An ordered list of steps; round-trips through JSON.
struct Recipe {
  std::vector<Step> steps;

  json to_json() const;
  static Recipe from_json(const json& j);  // throws usage on bad structure
  // Fills defaults and validates every step against the registry.
  Recipe resolved() const;
  Step* find(const std::string& stage);
  const Step* find(const std::string& stage) const;
  // The recipe up to and including `stage` (throws usage when absent).
  Recipe until(const std::string& stage) const;
};

struct StepRecord {
  std::string stage;
  int version = 0;
  json params;
  std::string key;
  double ms = 0;
  bool cached = false;
  // Whether the step's image differs from its input's: a stage that finds
  // nothing to do (a clean photo for denoise) hands its input's pixels on,
  // and the manifest then claims no action for it.
  bool changed = true;
};

// In-memory LRU of stage results keyed by step key.
class FrameCache {
 public:
  explicit FrameCache(size_t capacity = 32) : capacity_(capacity) {}
  std::shared_ptr<const Frame> get(const std::string& key);
  void put(const std::string& key, std::shared_ptr<const Frame> frame);
  size_t hits() const { return hits_; }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const Frame>>> lru_;
  std::map<std::string, decltype(lru_)::iterator> index_;
  size_t hits_ = 0;
};

struct RunResult {
  std::shared_ptr<const Frame> frame;
  std::vector<StepRecord> steps;  // the provenance log
  json provenance() const;
};

// Key of a step: hash(previous key, stage id, version, canonical params, model digests).
std::string step_key(const std::string& previous, const Stage& stage, const json& params);

// Refuses (Error{usage}, naming the step and parameter) a whole recipe in
// which a step lacks a stage it needs before it (Stage::needs_before):
// checked before any work, where a recipe is planned whole.
void check_needs(const Recipe& recipe, const std::string& item = "");

RunResult run_recipe(std::shared_ptr<const Frame> source, const std::string& source_key, const Recipe& recipe,
                     JobContext& ctx, FrameCache* cache);

}  // namespace likeness
