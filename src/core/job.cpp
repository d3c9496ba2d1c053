// A job's own state (its memo, cancellation, where its analyses go): in
// src/core so every library built from the sources, the fuzz target's too,
// has it.
#include <cstdlib>

#include "likeness/error.hpp"
#include "likeness/stage.hpp"

namespace likeness {

bool ResultMemo::find(const std::string& key, cv::Mat& out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = recent_.begin(); it != recent_.end(); ++it)
    if (it->first == key) {
      recent_.splice(recent_.begin(), recent_, it);
      out = recent_.front().second;
      ++hits_;
      return true;
    }
  return false;
}

void ResultMemo::put(const std::string& key, const cv::Mat& value) {
  std::lock_guard<std::mutex> lock(mu_);
  recent_.emplace_front(key, value);
  if (recent_.size() > keep_) recent_.pop_back();
}

std::string JobContext::default_store() {
  const char* e = std::getenv("LIKENESS_ANALYSIS_CACHE");  // tests and benchmarks only
  return e && *e ? e : "";
}

void JobContext::check_cancel() const {
  if (cancel && cancel->load()) throw Error(ErrorCode::cancelled, "cancelled");
}

}  // namespace likeness
