// What a finished portrait shows, measured on its own pixels: the colour of
// its backdrop, where the face sits in the frame, which side the key light
// comes from, the colour of the light on the skin — and how well that fits
// what was asked for. The shoot ranks its variations by them; a team set's
// consistency is their spread.
#pragma once
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "likeness/face.hpp"
#include "likeness/recipe.hpp"

namespace likeness {

using json = nlohmann::json;

struct PortraitMeasures {
  // The pixels the matte calls background (alpha < 0.02), or those beyond
  // the photo: their median CIELAB colour, and the share of the frame.
  bool has_backdrop = false;
  cv::Vec3f backdrop_lab{0, 0, 0};
  double backdrop_share = 0;
  // From the main face's 68 landmarks, as fractions of the image height:
  // the eyes' centre from the top, and eye line to chin.
  bool has_face = false;
  double eye_line = 0, face_height = 0;
  // Linear luminance of the image's right cheek over its left (under each
  // eye, halfway to the nose tip): > 1 lit from the image's right.
  double cheek_ratio = 1;
  // Correlated colour temperature (McCamy) of the skin's brightest quarter
  // inside the face's outline, eyes and mouth left out: the light's colour
  // as the skin shows it (the skin's own tone is part of it).
  double skin_kelvin = 0;
  json to_json() const;
};

// `bgr8` the portrait as written (8-bit sRGB); `alpha` the person's matte on
// the same canvas (CV_32F, or empty: no backdrop measured); `outside` the
// canvas beyond the photo (CV_8U, or empty); `face` with 68 landmarks in
// the portrait's pixels (else no face measures).
PortraitMeasures measure_portrait(const cv::Mat& bgr8, const cv::Mat& alpha, const cv::Mat& outside, const Face* face);

// How well a portrait fits its executed recipe, measured on it: the
// backdrop's colour (studio backdrops: CIEDE2000 from the nearest colour
// between `color` and `color2`, score 1 at <= 3, 0 at >= 12) and the key
// light's side (patterns with a side: the lit cheek over the other, score
// 0 at <= 0.95, 1 at >= 1.2). The side is the one the relight stage says it
// used (`edits`). {"backdrop": {...}, "light": {...}, "score": mean of the
// parts measured, or null when none applies}.
json request_fit(const PortraitMeasures& m, const Recipe& resolved, const std::vector<std::string>& edits);

std::string lab_hex(const cv::Vec3f& lab);  // "#rrggbb" of a CIELAB colour

}  // namespace likeness
