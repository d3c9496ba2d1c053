#include "likeness/color.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/core/utility.hpp>

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

cv::Mat srgb8_to_lab(const cv::Mat& bgr8) {
  CV_Assert(bgr8.type() == CV_8UC3);
  cv::Mat out(bgr8.size(), CV_32FC3);
  const auto& lut = to_linear_lut();
  // sRGB primaries to XYZ, each row divided by the D65 white's X, Y, Z
  // (OpenCV's constants), for B, G, R in that order.
  constexpr float kX[3] = {0.180423f / 0.950456f, 0.357580f / 0.950456f, 0.412453f / 0.950456f};
  constexpr float kY[3] = {0.072169f, 0.715160f, 0.212671f};
  constexpr float kZ[3] = {0.950227f / 1.088754f, 0.119193f / 1.088754f, 0.019334f / 1.088754f};
  auto f = [](float t) { return t > 0.008856f ? cube_root(t) : 7.787f * t + 16.f / 116.f; };
  cv::parallel_for_(cv::Range(0, bgr8.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const cv::Vec3b* s = bgr8.ptr<cv::Vec3b>(y);
      cv::Vec3f* d = out.ptr<cv::Vec3f>(y);
      for (int x = 0; x < bgr8.cols; ++x) {
        const float b = lut[s[x][0]], g = lut[s[x][1]], rr = lut[s[x][2]];
        const float X = kX[0] * b + kX[1] * g + kX[2] * rr, Y = kY[0] * b + kY[1] * g + kY[2] * rr,
                    Z = kZ[0] * b + kZ[1] * g + kZ[2] * rr;
        const float fy = f(Y);
        d[x] = cv::Vec3f(Y > 0.008856f ? 116.f * fy - 16.f : 903.3f * Y, 500.f * (f(X) - fy), 200.f * (fy - f(Z)));
      }
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

cv::Vec3f kelvin(double t) {
  t = std::clamp(t, 1667.0, 25000.0);
  const double t2 = t * t, t3 = t2 * t;
  const double x = t <= 4000 ? -0.2661239e9 / t3 - 0.2343589e6 / t2 + 0.8776956e3 / t + 0.179910
                             : -3.0258469e9 / t3 + 2.1070379e6 / t2 + 0.2226347e3 / t + 0.240390;
  const double x2 = x * x, x3 = x2 * x;
  const double y = t <= 2222   ? -1.1063814 * x3 - 1.34811020 * x2 + 2.18555832 * x - 0.20219683
                   : t <= 4000 ? -0.9549476 * x3 - 1.37418593 * x2 + 2.09137015 * x - 0.16748867
                               : 3.0817580 * x3 - 5.87338670 * x2 + 3.75112997 * x - 0.37001483;
  const double X = x / y, Y = 1, Z = (1 - x - y) / y;
  const double R = 3.2406 * X - 1.5372 * Y - 0.4986 * Z, G = -0.9689 * X + 1.8758 * Y + 0.0415 * Z,
               B = 0.0557 * X - 0.2040 * Y + 1.0570 * Z;
  cv::Vec3f c(float(std::max(B, 0.0)), float(std::max(G, 0.0)), float(std::max(R, 0.0)));
  return c / std::max({c[0], c[1], c[2]});
}

}  // namespace likeness
