// Colour working space. Stages that mix light (compositing, relighting) work
// in float linear light; the photo arrives and leaves as 8-bit sRGB, converted
// once each way. The conversions are exact inverses on 8-bit values.
#pragma once

#include <cstdint>
#include <cstring>
#include <opencv2/core.hpp>

namespace likeness {

// 8-bit sRGB (any channel count) -> CV_32F linear light 0..1, same channels.
cv::Mat srgb_to_linear(const cv::Mat& srgb8);
// CV_32F linear light -> 8-bit sRGB, clamped and rounded.
cv::Mat linear_to_srgb8(const cv::Mat& linear);
// CIELAB (D65; L 0..100) of 8-bit sRGB BGR, CV_32FC3: what
// cv::cvtColor(bgr8 / 255 as float, COLOR_BGR2Lab) gives, several times
// faster (a table for the sRGB curve, every row on the worker threads).
cv::Mat srgb8_to_lab(const cv::Mat& bgr8);
// One value each way (for colours from parameters).
// The cube root of a positive float to within 2e-6 (a bit-level first
// guess and two Newton steps; 0.0003 of an L* unit): CIELAB's f(t) several times faster than
// std::cbrt.
inline float cube_root(float x) {
  uint32_t i;
  std::memcpy(&i, &x, 4);
  i = i / 3 + 709921077u;
  float y;
  std::memcpy(&y, &i, 4);
  y = (2 * y + x / (y * y)) * (1.f / 3);
  y = (2 * y + x / (y * y)) * (1.f / 3);
  return y;
}
float srgb_to_linear(float srgb01);
float linear_to_srgb(float linear01);
// A BGR colour (0..255 sRGB) as linear light.
cv::Vec3f linear_color(const cv::Scalar& bgr255);
// A black body's colour as linear BGR with the largest channel 1 (Kim et al.'s
// fit of the Planckian locus, 1667..25000 K): a light's colour temperature.
cv::Vec3f kelvin(double k);

// CIELAB (D65, OpenCV's conversion from linear light) of an sRGB colour and
// of a linear BGR image (CV_32FC3, clamped to 0..1 first).
cv::Vec3f lab_of(const cv::Scalar& srgb_bgr255);
cv::Mat lab_of_linear(const cv::Mat& linear_bgr);

// CIEDE2000 colour difference (kL = kC = kH = 1), after Sharma, Wu and Dalal
// (2005), and per pixel of two CIELAB images (CV_32F).
double ciede2000(const cv::Vec3d& lab1, const cv::Vec3d& lab2);
cv::Mat ciede2000(const cv::Mat& lab1, const cv::Mat& lab2);

}  // namespace likeness
