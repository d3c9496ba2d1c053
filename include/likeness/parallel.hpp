// Parallel loops on the calling job's threads (threads.hpp): never more
// threads than the job's budget, never a queue behind another job's loop.
#pragma once
#include <opencv2/core.hpp>

#include "likeness/threads.hpp"

namespace likeness {

// f(sub-range) over contiguous pieces of `range`, on the job's threads.
template <class F>
void parallel_ranges(const cv::Range& range, const F& f) {
  parallel_for(range.end - range.start, [&](int b, int e) { f(cv::Range(range.start + b, range.start + e)); });
}

// f(y) for every row 0..rows-1, on the job's threads: for loops whose rows
// are independent.
template <class F>
void each_row(int rows, const F& f) {
  parallel_for(rows, [&](int b, int e) {
    for (int y = b; y < e; ++y) f(y);
  });
}

}  // namespace likeness
