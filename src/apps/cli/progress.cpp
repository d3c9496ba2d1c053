#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace likeness::cli {

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(const Progress& p) {
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K%s  %-9s %3d%%", p.item.c_str(), p.stage.c_str(), int(p.fraction * 100));
  std::fflush(stderr);
  dirty_ = true;
}

void ProgressLine::finish() {
  if (enabled_ && dirty_) std::fprintf(stderr, "\r\033[K");
  dirty_ = false;
}

}  // namespace likeness::cli
