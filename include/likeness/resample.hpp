// Resampling that averages when it reduces. cv::warpAffine samples: taking
// a 200 px face crop out of a 12 MP photo with it aliases. Reducing the
// whole photo first costs more than the crop itself; these reduce only the
// part of the source the output sees.
#pragma once
#include <opencv2/core.hpp>

namespace likeness {

// cv::warpAffine(src, out, m, size, interpolation, border, value), where
// `m` maps source to output pixels. When `m` shrinks by more than
// `oversample` (scale < 1 / oversample), the source's part under the output
// is first reduced by area averaging to `oversample` times the output's
// scale, and warped from there.
cv::Mat warp_reduced(const cv::Mat& src, const cv::Matx23d& m, cv::Size size, double oversample = 2.0,
                     int interpolation = 1 /* cv::INTER_LINEAR */, int border = 1 /* cv::BORDER_REPLICATE */,
                     const cv::Scalar& value = cv::Scalar());

}  // namespace likeness
