#include "likeness/color.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/parallel.hpp"

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
  parallel_ranges(cv::Range(0, srgb8.rows), [&](const cv::Range& r) {
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
  parallel_ranges(cv::Range(0, bgr8.rows), [&](const cv::Range& r) {
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
  parallel_ranges(cv::Range(0, linear.rows), [&](const cv::Range& r) {
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

namespace {
constexpr double kPi = 3.14159265358979323846;
double rad(double deg) { return deg * kPi / 180; }
}  // namespace

cv::Vec3f lab_of(const cv::Scalar& srgb_bgr255) {
  const cv::Mat lin(1, 1, CV_32FC3, cv::Scalar(linear_color(srgb_bgr255)));
  return lab_of_linear(lin).at<cv::Vec3f>(0, 0);
}

cv::Mat lab_of_linear(const cv::Mat& linear_bgr) {
  CV_Assert(linear_bgr.type() == CV_32FC3);
  cv::Mat clamped, lab;
  cv::min(cv::max(linear_bgr, 0.0), 1.0, clamped);
  cv::cvtColor(clamped, lab, cv::COLOR_LBGR2Lab);
  return lab;
}

double ciede2000(const cv::Vec3d& lab1, const cv::Vec3d& lab2) {
  const double L1 = lab1[0], a1 = lab1[1], b1 = lab1[2], L2 = lab2[0], a2 = lab2[1], b2 = lab2[2];
  const double c_mean = (std::hypot(a1, b1) + std::hypot(a2, b2)) / 2;
  const double c7 = std::pow(c_mean, 7), k7 = std::pow(25.0, 7);
  const double g = 0.5 * (1 - std::sqrt(c7 / (c7 + k7)));
  const double a1p = (1 + g) * a1, a2p = (1 + g) * a2;
  const double c1p = std::hypot(a1p, b1), c2p = std::hypot(a2p, b2);
  auto hue = [](double b, double a) {
    if (a == 0 && b == 0) return 0.0;
    double h = std::atan2(b, a) * 180 / kPi;
    return h < 0 ? h + 360 : h;
  };
  const double h1p = hue(b1, a1p), h2p = hue(b2, a2p);
  const double dl = L2 - L1, dc = c2p - c1p;
  double dh = 0;
  if (c1p * c2p != 0) {
    dh = h2p - h1p;
    if (dh > 180) dh -= 360;
    if (dh < -180) dh += 360;
  }
  const double dH = 2 * std::sqrt(c1p * c2p) * std::sin(rad(dh / 2));
  const double l_mean = (L1 + L2) / 2, cp_mean = (c1p + c2p) / 2;
  double h_mean = h1p + h2p;
  if (c1p * c2p != 0) {
    if (std::abs(h1p - h2p) <= 180)
      h_mean = (h1p + h2p) / 2;
    else
      h_mean = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
  }
  const double t = 1 - 0.17 * std::cos(rad(h_mean - 30)) + 0.24 * std::cos(rad(2 * h_mean)) +
                   0.32 * std::cos(rad(3 * h_mean + 6)) - 0.20 * std::cos(rad(4 * h_mean - 63));
  const double theta = 30 * std::exp(-((h_mean - 275) / 25) * ((h_mean - 275) / 25));
  const double cp7 = std::pow(cp_mean, 7);
  const double rc = 2 * std::sqrt(cp7 / (cp7 + k7));
  const double lm50 = (l_mean - 50) * (l_mean - 50);
  const double sl = 1 + 0.015 * lm50 / std::sqrt(20 + lm50);
  const double sc = 1 + 0.045 * cp_mean, sh = 1 + 0.015 * cp_mean * t;
  const double rt = -std::sin(rad(2 * theta)) * rc;
  const double tl = dl / sl, tc = dc / sc, th = dH / sh;
  return std::sqrt(std::max(0.0, tl * tl + tc * tc + th * th + rt * tc * th));
}

cv::Mat ciede2000(const cv::Mat& lab1, const cv::Mat& lab2) {
  CV_Assert(lab1.type() == CV_32FC3 && lab2.type() == CV_32FC3 && lab1.size() == lab2.size());
  cv::Mat d(lab1.size(), CV_32F);
  for (int y = 0; y < d.rows; ++y) {
    const auto* p = lab1.ptr<cv::Vec3f>(y);
    const auto* q = lab2.ptr<cv::Vec3f>(y);
    auto* o = d.ptr<float>(y);
    for (int x = 0; x < d.cols; ++x) o[x] = p[x] == q[x] ? 0.f : float(ciede2000(cv::Vec3d(p[x]), cv::Vec3d(q[x])));
  }
  return d;
}

}  // namespace likeness
