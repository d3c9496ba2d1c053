// Sensor noise and film grain, as pure functions on float sRGB-encoded images
// (CV_32FC3 BGR, 0..255: 8-bit units, where camera noise is roughly the same
// at every level, unlike linear light, where it grows with the signal).
//
// The colour space is an orthonormal opponent basis: Y = (B+G+R)/sqrt3,
// C1 = (R-B)/sqrt2, C2 = (R-2G+B)/sqrt6, so noise of sigma in each of B, G, R
// (independent) is noise of sigma in Y, C1 and C2 alike, and a sigma measured
// in any of them reads in 8-bit levels.
//
// Denoising: chroma first (at half resolution, where a person's colour has no
// detail a camera kept: a guided filter steered by the luminance, so colour
// edges that are also lightness edges stay put), then luminance (a bilateral
// filter at the measured noise: edges many sigma high are left alone). The
// noise is measured on the photo itself (Immerkaer's operator on the
// flattest blocks), so a clean photo is left as it is.
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>

namespace likeness::noise {

// Linear light (CV_32FC3 0..1, clamped) -> sRGB encoding 0..255, and back;
// float throughout (no 8-bit rounding), to 0.01 level.
cv::Mat linear_to_srgb255(const cv::Mat& linear);
cv::Mat srgb255_to_linear(const cv::Mat& srgb255);

// The noise of a photo, as the standard deviation (8-bit levels) of its
// luminance and of its chroma (the mean of C1 and C2). `blocks` is how many
// 16-px blocks were measured; under 16 nothing is known and both are 0.
struct NoiseLevel {
  float luma = 0, chroma = 0;
  int blocks = 0;
};
// srgb255: CV_32FC3; ignore: empty or CV_8U, nonzero where pixels are not
// the photo's (the canvas beyond it). Blocks that touch ignored pixels or
// whose mean is near black or white (clipped: no noise to see) are left out;
// of the rest the flattest tenth stands for the noise (texture only adds to
// the operator's response), corrected for that choice's bias on pure noise.
NoiseLevel estimate_noise(const cv::Mat& srgb255, const cv::Mat& ignore = cv::Mat());

// How much of a noise level is reduced: strength 0.5 is the amount for the
// measured noise; below it the result is blended back toward the photo
// (0: nothing), above it the filters work as if the noise were up to twice
// as strong (1). luminance and chroma scale each part (0..1).
struct DenoiseAmounts {
  float strength = 0.5f;
  float luminance = 0.7f;
  float chroma = 1.0f;
};

// What was applied: the fraction of each filter's result used (0: that part
// was left alone, e.g. because the photo measured clean).
struct DenoiseApplied {
  float luma = 0, chroma = 0;
};

// Noise below this (8-bit levels) is left alone: a clean photo's own texture
// reads about 0.5 here; the reduction ramps in fully by kFullNoise.
inline constexpr float kCleanNoise = 1.5f;
inline constexpr float kFullNoise = 3.0f;

// The photo (CV_32FC3 sRGB 0..255) with its noise reduced; the photo itself
// (the same Mat) when nothing applies.
cv::Mat denoise(const cv::Mat& srgb255, const NoiseLevel& level, const DenoiseAmounts& amounts,
                DenoiseApplied* applied = nullptr);

// Film grain. The grain's size is relative to the canvas: `size` 1 is a
// grain of about 0.6 px (Gaussian sigma) on a 1280-px-tall canvas, and twice
// that on a 2560-px one, so two sizes of the same portrait look alike at the
// same viewing size.
inline constexpr int kGrainReferenceHeight = 1280;
float grain_sigma_px(cv::Size canvas, float size);
// A deterministic grain field for (canvas, size, seed): CV_32F, mean 0,
// standard deviation 1 on a 1280-px-tall canvas. A larger canvas holds the
// same grain in finer pixels: its pixels vary more, its averages over the
// area of a reference pixel as much (so the grain looks the same when the
// portrait is seen at the same size).
cv::Mat grain_field(cv::Size canvas, float size, uint64_t seed);
// Grain at `amount` (0..1; 1 is a deviation of 8 levels in the midtones)
// added to the luminance of an sRGB image (the same on B, G and R: no colour
// noise), strongest in the midtones and fading toward black and white as
// film's does, so it never clips.
cv::Mat add_grain(const cv::Mat& srgb255, const cv::Mat& field, float amount);

// A change made in sRGB, back in linear light: after - before (CV_32FC3),
// and in `changed` how much each pixel changed, 0..1 (16 levels on the
// channel that moved most is 1): the edit map's measure. One pass (every
// full-size temporary costs its page faults).
cv::Mat linear_change(const cv::Mat& before255, const cv::Mat& after255, cv::Mat* changed);

}  // namespace likeness::noise
