// Small numeric helpers shared by the measuring code.
#pragma once
#include <algorithm>
#include <cmath>

namespace likeness {

// 0 at or below lo, 1 at or above hi, linear between.
inline double ramp(double x, double lo, double hi) { return std::clamp((x - lo) / (hi - lo), 0.0, 1.0); }
// v to the nearest multiple of step (figures in reports).
inline double round_to(double v, double step) { return std::round(v / step) * step; }

}  // namespace likeness
