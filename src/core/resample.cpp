#include "likeness/resample.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace likeness {

cv::Mat area_in_two_steps(const cv::Mat& src, int k, cv::Size size) {
  CV_Assert(k <= 1 || (src.cols % k == 0 && src.rows % k == 0));
  cv::Mat out;
  if (k <= 1) {
    cv::resize(src, out, size, 0, 0, cv::INTER_AREA);
    return out;
  }
  cv::Mat blocks;
  cv::resize(src, blocks, cv::Size(src.cols / k, src.rows / k), 0, 0, cv::INTER_AREA);
  cv::resize(blocks, out, size, 0, 0, cv::INTER_AREA);
  return out;
}

cv::Mat reduce_area(const cv::Mat& src, double scale, double* sx, double* sy) {
  const cv::Size out(std::max(1, int(std::lround(src.cols * scale))), std::max(1, int(std::lround(src.rows * scale))));
  const int k = scale > 0 ? int(1.0 / scale) : 1;
  const bool blocks = k >= 2 && src.cols >= 2 * k && src.rows >= 2 * k;
  const cv::Size used = blocks ? cv::Size(src.cols / k * k, src.rows / k * k) : src.size();
  const cv::Mat small = area_in_two_steps(src(cv::Rect(cv::Point(), used)), blocks ? k : 1, out);
  if (sx) *sx = double(out.width) / used.width;
  if (sy) *sy = double(out.height) / used.height;
  return small;
}

cv::Mat warp_reduced(const cv::Mat& src, const cv::Matx23d& m, cv::Size size, double oversample, int interpolation,
                     int border, const cv::Scalar& value) {
  cv::Mat out;
  // The output's scale: the geometric mean of the two axes' (an area ratio).
  const double scale = std::sqrt(std::abs(m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0)));
  const double f = scale * std::max(1.0, oversample);
  if (src.empty() || !(f < 1.0)) {
    cv::warpAffine(src, out, m, size, interpolation, border, value);
    return out;
  }
  // The output's corners in the source, with a margin for the kernels.
  cv::Matx23d inv;
  cv::invertAffineTransform(m, inv);
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (const cv::Point2d c : {cv::Point2d(0, 0), cv::Point2d(size.width, 0), cv::Point2d(0, size.height),
                              cv::Point2d(size.width, size.height)}) {
    const double x = inv(0, 0) * c.x + inv(0, 1) * c.y + inv(0, 2), y = inv(1, 0) * c.x + inv(1, 1) * c.y + inv(1, 2);
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  const double margin = 4.0 / f + 2;
  const cv::Rect whole(0, 0, src.cols, src.rows);
  cv::Rect seen = cv::Rect(cv::Point(int(std::floor(x0 - margin)), int(std::floor(y0 - margin))),
                           cv::Point(int(std::ceil(x1 + margin)), int(std::ceil(y1 + margin)))) &
                  whole;
  // OpenCV averages by a whole factor several times faster than by a
  // fractional one: by k first (the part's sides cut to whole blocks: the
  // margin is wider than a block, and at the photo's own right or bottom
  // edge under a block goes, less than half an output pixel), then by the
  // small remainder.
  const int k = int(1.0 / f);
  if (k >= 2) seen = cv::Rect(seen.x, seen.y, seen.width / k * k, seen.height / k * k);
  if (seen.area() == 0) {  // the output lies wholly outside the photo
    cv::warpAffine(src, out, m, size, interpolation, border, value);
    return out;
  }
  const cv::Size reduced(std::max(1, int(std::lround(seen.width * f))), std::max(1, int(std::lround(seen.height * f))));
  const cv::Mat small = area_in_two_steps(src(seen), k >= 2 && seen.width >= k && seen.height >= k ? k : 1, reduced);
  // A reduced pixel q sits at source (q + 0.5) / f - 0.5 + seen's corner.
  const double fx = double(reduced.width) / seen.width, fy = double(reduced.height) / seen.height;
  const double ox = seen.x + 0.5 / fx - 0.5, oy = seen.y + 0.5 / fy - 0.5;
  const cv::Matx23d mr(m(0, 0) / fx, m(0, 1) / fy, m(0, 2) + m(0, 0) * ox + m(0, 1) * oy,  //
                       m(1, 0) / fx, m(1, 1) / fy, m(1, 2) + m(1, 0) * ox + m(1, 1) * oy);
  cv::warpAffine(small, out, mr, size, interpolation, border, value);
  return out;
}

}  // namespace likeness
