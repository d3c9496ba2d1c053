// The guided filter with a colour guide (He, Sun and Tang, "Guided Image
// Filtering", 2013), computed the fast way (He and Sun, "Fast Guided
// Filter", 2015): its per-window linear coefficients are smooth, so they are
// found on the guide and input reduced by `subsample` and applied to the
// full-size guide. Our own implementation.
#pragma once
#include <opencv2/core.hpp>

namespace likeness {

// guide: CV_8UC3 (or CV_32FC3 in 0..1); p: CV_32F, the guide's size.
// radius and eps in full-size pixels and 0..1 guide units. Returns q
// (CV_32F), computed where `where` (CV_8U, the guide's size; empty: every
// pixel) is set and equal to p elsewhere.
cv::Mat guided_filter(const cv::Mat& guide, const cv::Mat& p, int radius, double eps, int subsample = 2,
                      const cv::Mat& where = cv::Mat());

}  // namespace likeness
