// Resampling that averages when it reduces. cv::warpAffine samples: taking
// a 200 px face crop out of a 12 MP photo with it aliases. Reducing the
// whole photo first costs more than the crop itself; these reduce only the
// part of the source the output sees.
#pragma once
#include <opencv2/core.hpp>

namespace likeness {

// cv::resize(src, out, size, 0, 0, cv::INTER_AREA) for a reduction, by a
// whole factor k first (OpenCV's fast area path) and by the remainder
// after: `src`'s sides must be multiples of k (k <= 1: one resize).
cv::Mat area_in_two_steps(const cv::Mat& src, int k, cv::Size size);

// The photo reduced by `scale` (< 1) with area averaging, the fast way:
// OpenCV averages by a whole factor k several times faster than by a
// fractional one, so it goes by k first (the right and bottom edges cut to
// whole blocks: under k px of the photo) and then by the remainder. `sx`
// and `sy` get the exact scale of each axis (output px per source px of the
// whole photo's width and height), to map positions back.
cv::Mat reduce_area(const cv::Mat& src, double scale, double* sx, double* sy);

// cv::warpAffine(src, out, m, size, interpolation, border, value), where
// `m` maps source to output pixels. When `m` shrinks by more than
// `oversample` (scale < 1 / oversample), the source's part under the output
// is first reduced by area averaging to `oversample` times the output's
// scale, and warped from there.
cv::Mat warp_reduced(const cv::Mat& src, const cv::Matx23d& m, cv::Size size, double oversample = 2.0,
                     int interpolation = 1 /* cv::INTER_LINEAR */, int border = 1 /* cv::BORDER_REPLICATE */,
                     const cv::Scalar& value = cv::Scalar());

}  // namespace likeness
