#pragma once
#include <string>

#include "likeness/stage.hpp"

namespace likeness::cli {

// Live progress on stderr when it is a terminal: which photo, which stage,
// how far. Silent otherwise or with --quiet.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  ~ProgressLine();
  void update(const Progress& p);
  void finish();

 private:
  bool enabled_;
  bool dirty_ = false;
};

}  // namespace likeness::cli
