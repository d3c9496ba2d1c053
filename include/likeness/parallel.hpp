// Row-parallel loops on OpenCV's worker pool (its thread count is the job's).
#pragma once
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>

namespace likeness {

// f(y) for every row 0..rows-1, on the worker threads: for loops whose rows
// are independent.
template <class F>
void each_row(int rows, const F& f) {
  cv::parallel_for_(cv::Range(0, rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) f(y);
  });
}

}  // namespace likeness
