#include "likeness/color.hpp"

#include <array>
#include <cmath>

namespace likeness {

float srgb_to_linear(float v) { return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f); }
float linear_to_srgb(float v) {
  v = std::clamp(v, 0.f, 1.f);
  return v <= 0.0031308f ? v * 12.92f : 1.055f * std::pow(v, 1 / 2.4f) - 0.055f;
}

namespace {
constexpr int kSteps = 65535;  // linear quantisation of the way back: 0.05 levels at worst

const std::array<float, 256>& to_linear_lut() {
  static const auto lut = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = srgb_to_linear(i / 255.f);
    return t;
  }();
  return lut;
}

const std::vector<uchar>& to_srgb_lut() {
  static const auto lut = [] {
    std::vector<uchar> t(kSteps + 1);
    for (int i = 0; i <= kSteps; ++i)
      t[i] = cv::saturate_cast<uchar>(std::lround(255 * linear_to_srgb(float(i) / kSteps)));
    return t;
  }();
  return lut;
}
}  // namespace

cv::Mat srgb_to_linear(const cv::Mat& srgb8) {
  CV_Assert(srgb8.depth() == CV_8U);
  cv::Mat out(srgb8.size(), CV_MAKETYPE(CV_32F, srgb8.channels()));
  const auto& lut = to_linear_lut();
  const int n = srgb8.cols * srgb8.channels();
  cv::parallel_for_(cv::Range(0, srgb8.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const uchar* s = srgb8.ptr<uchar>(y);
      float* d = out.ptr<float>(y);
      for (int i = 0; i < n; ++i) d[i] = lut[s[i]];
    }
  });
  return out;
}

cv::Mat linear_to_srgb8(const cv::Mat& linear) {
  CV_Assert(linear.depth() == CV_32F);
  cv::Mat out(linear.size(), CV_MAKETYPE(CV_8U, linear.channels()));
  const auto& lut = to_srgb_lut();
  const int n = linear.cols * linear.channels();
  cv::parallel_for_(cv::Range(0, linear.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const float* s = linear.ptr<float>(y);
      uchar* d = out.ptr<uchar>(y);
      for (int i = 0; i < n; ++i) {
        const float v = std::clamp(s[i], 0.f, 1.f);  // a NaN passes clamp; it becomes 0 here
        d[i] = lut[v == v ? int(v * kSteps + 0.5f) : 0];
      }
    }
  });
  return out;
}

cv::Vec3f linear_color(const cv::Scalar& bgr) {
  return {srgb_to_linear(float(bgr[0] / 255)), srgb_to_linear(float(bgr[1] / 255)),
          srgb_to_linear(float(bgr[2] / 255))};
}

}  // namespace likeness
