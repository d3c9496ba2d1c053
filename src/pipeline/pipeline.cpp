#include <chrono>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/hash.hpp"
#include "likeness/inference.hpp"
#include "likeness/model_store.hpp"
#include "likeness/recipe.hpp"

namespace likeness {

cv::Matx23d Layer::to(const cv::Matx23d& target_from_source) const {
  cv::Matx23d inv;
  cv::invertAffineTransform(from_source, inv);  // source from layer
  const cv::Matx23d& t = target_from_source;
  const cv::Matx33d T(t(0, 0), t(0, 1), t(0, 2), t(1, 0), t(1, 1), t(1, 2), 0, 0, 1);
  const cv::Matx33d I(inv(0, 0), inv(0, 1), inv(0, 2), inv(1, 0), inv(1, 1), inv(1, 2), 0, 0, 1);
  const cv::Matx33d M = T * I;
  return {M(0, 0), M(0, 1), M(0, 2), M(1, 0), M(1, 1), M(1, 2)};
}

std::shared_ptr<const Frame> FrameCache::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  ++hits_;
  return it->second->second;
}

void FrameCache::put(const std::string& key, std::shared_ptr<const Frame> frame) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.emplace_front(key, std::move(frame));
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

std::string step_key(const std::string& previous, const Stage& stage, const json& params) {
  Sha256 h;
  h.field(previous).field(stage.id()).field(std::to_string(stage.version())).field(params.dump());
  for (const auto& m : stage.models_for(params)) h.field(m).field(ModelStore::shared().digest(m));
  for (const auto& f : stage.inputs_for(params)) h.field("input").field(sha256_file(f));
  return h.hex();
}

void check_needs(const Recipe& recipe, const std::string& item) {
  const Recipe r = recipe.resolved();
  for (size_t i = 0; i < r.steps.size(); ++i)
    for (const Stage::Need& need : find_stage(r.steps[i].stage).needs_before(r.steps[i].params)) {
      bool found = false;
      for (size_t j = 0; j < i; ++j) found = found || r.steps[j].stage == need.stage;
      if (!found) throw Error(ErrorInfo{ErrorCode::usage, need.why, r.steps[i].stage, need.param, item});
    }
}

RunResult run_recipe(std::shared_ptr<const Frame> source, const std::string& source_key, const Recipe& recipe,
                     JobContext& ctx, FrameCache* cache) {
  const Recipe r = recipe.resolved();
  const ThreadBudget budget(ctx.threads);
  RunResult result;
  std::shared_ptr<const Frame> current = std::move(source);
  std::string key = source_key;
  for (const auto& step : r.steps) {
    ctx.check_cancel();
    const Stage& stage = find_stage(step.stage);
    StepRecord rec{step.stage, step.version, step.params, step_key(key, stage, step.params), 0, false};
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const Frame> next = cache ? cache->get(rec.key) : nullptr;
    if (next) {
      rec.cached = true;
    } else {
      ctx.report(step.stage, 0);
      try {
        next = std::make_shared<const Frame>(stage.run(*current, step.params, ctx));
      } catch (const cv::Exception& e) {
        throw Error(ErrorInfo{ErrorCode::internal, std::string("OpenCV: ") + e.what(), step.stage, {}, ctx.item});
      }
      if (cache) cache->put(rec.key, next);
    }
    rec.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    rec.changed = next->image.data != current->image.data || next->image.size() != current->image.size() ||
                  next->image.type() != current->image.type();
    ctx.report(step.stage, 1);
    key = rec.key;
    current = next;
    result.steps.push_back(std::move(rec));
  }
  result.frame = current;
  return result;
}

}  // namespace likeness
