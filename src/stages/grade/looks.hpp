// Colour grades as data: each look is a handful of numbers (a white
// balance, a tone curve on lightness, saturation and split toning), applied
// in linear light with the luminance of every pixel set by the curve alone,
// so a tint or a balance never brightens or darkens.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness::grade {

struct Look {
  std::string name;
  std::string words;        // what it does, for people
  float temperature = 0;    // white balance: +1 warm (B x0.82, R x1.12, luminance kept), -1 cool
  float brightness = 0;     // midtone lift, 0 and 1 fixed: v^(1/(1+b))
  float contrast = 0;       // S-curve about the face's lightness (kept)
  float blacks = 0;         // the darkest output lightness (lifted blacks)
  float whites = 1;         // the brightest output lightness (rolled highlights)
  float saturation = 1;     // 1 kept, 0 grey
  cv::Vec3f shadow_tint{};  // linear BGR direction added to shadows (times Y)
  cv::Vec3f highlight_tint{};
  bool mono = false;          // black and white (a red-leaning channel mix)
  bool keep_face = true;      // the curve maps the face's lightness to itself
  bool subject_only = false;  // the person only: a backdrop's chosen colour stays exact
  bool skin_balance = false;  // white balance and exposure measured on the face's skin
};

// Every look, in the order people see them; "none" first.
const std::vector<Look>& looks();
std::vector<std::string> look_names();
const Look& find_look(const std::string& name);  // throws usage for an unknown name

// The look scaled by strength (0 = none, 1 = as declared): parameters are
// interpolated toward the identity, not pixels blended.
Look scaled(const Look& look, float strength);

// What the skin says about the subject's exposure and colour (linear BGR in,
// masks 0..1 on the same grid).
struct SkinReading {
  bool found = false;
  int pixels = 0;
  float lightness = 0.5f;     // median lightness v = Y^(1/2.2) of the skin
  float L = 0, a = 0, b = 0;  // mean CIELAB (D65) of the skin
  float hue = 0;              // degrees, atan2(b, a)
  float highlight_L = 0;      // 95th percentile L* of the skin
  float subject_top_L = 0;    // 99.5th percentile L* of the whole subject (catchlights, sheen, a collar)
};
// `skin` and `subject` are masks 0..1 (taken where >= 0.5); `subject` may be
// empty (then subject_top_L stays 0).
SkinReading read_skin(const cv::Mat& linear_bgr, const cv::Mat& skin, const cv::Mat& subject);

// The correction "flatter my skin tone" makes for a reading: per-channel
// gains (linear BGR, luminance kept) that bring the skin's hue into the
// natural skin range, and an exposure in stops for an under-exposed subject.
// Exposure is judged by the subject's brightest highlights (catchlights,
// skin's sheen, a collar), which are near white in a well-exposed photo of
// anyone, never by how light the skin is: a dark skin tone is not an
// exposure error. Zero change when the skin is already in range.
struct SkinCorrection {
  cv::Vec3f gains{1, 1, 1};
  float stops = 0;
  float hue_to = 0;
};
inline constexpr float kSkinHueLow = 40.f, kSkinHueHigh = 65.f;        // CIELAB hue of skin, degrees
inline constexpr float kSkinChromaLow = 12.f, kSkinChromaHigh = 36.f;  // CIELAB chroma of skin
SkinCorrection skin_correction(const SkinReading& skin);
// The skin's mean after a correction (what the grade turns it into).
cv::Vec3f corrected_skin_lab(const SkinReading& skin, const SkinCorrection& c);

// Applies a look to linear BGR: `pivot` is the lightness the contrast
// curve keeps (the face's), `protect` (0..1, or empty) where split toning
// holds back (skin), `subject` (0..1, or empty) the person: where a skin
// correction applies, and all a subject-only look touches. Returns the graded image; `amount` (CV_32F 0..1) says how
// much each pixel changed.
cv::Mat apply(const cv::Mat& linear_bgr, const Look& look, float pivot, const cv::Mat& protect,
              const SkinCorrection& skin, const cv::Mat& subject, cv::Mat* amount);

}  // namespace likeness::grade
