// Skin retouching as pure functions: a polish dial from 0 (untouched) to 1
// (the most this product allows), on linear-light BGR with a skin mask and
// the face mesh. What it does, from fine to coarse:
// - transient blemishes (small spots, redder than the skin around them, or
//   faint) are healed; moles (darker, not redder, more contrasted) stay
//   unless their position is listed to remove;
// - the mid band (blotches, mottling: about 2..8 px at an eye distance of
//   100 px) and the low band (tone, 8..24 px) of lightness and colour are
//   evened where they are weak; strong structure (creases, smile lines,
//   moles, the edges of features) keeps most of its contrast (a soft knee:
//   a quarter goes at corporate, none on a spot the finder keeps); the
//   lightness is evened less toward the eyes, brows, nose and mouth, and
//   not where the finest band is dense (stubble, hair, lashes, glasses);
// - the finest band (pores, freckles, fine lines) is kept;
// - under-eye shadows are lifted part of the way toward the cheek's tone,
//   their texture kept; specular shine on the skin is compressed.
// Nothing moves: every change is a per-pixel gain on lightness and colour.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness::retouch {

// The stage's own default (moderate); each purpose states its own polish
// (data/purposes/*.json; tests/retouch_test.cpp measures each).
inline constexpr double kPolishDefault = 0.4;

// A list of marks by position: "x,y;x,y" with x and y in 0..1 of the
// canvas's width and height ("" for none).
inline constexpr const char* kMarksPattern =
    R"(^\s*$|^\s*(0|1|0?\.[0-9]+|1\.0*|0\.)\s*,\s*(0|1|0?\.[0-9]+|1\.0*|0\.)\s*)"
    R"((;\s*(0|1|0?\.[0-9]+|1\.0*|0\.)\s*,\s*(0|1|0?\.[0-9]+|1\.0*|0\.)\s*)*;?\s*$)";
// Canvas pixels of the marks; throws Error{usage} naming the parameter and
// the faulty item for anything but that form.
std::vector<cv::Point2f> parse_marks(const std::string& text, cv::Size canvas, const std::string& param);

struct Settings {
  double polish = kPolishDefault;
  std::vector<cv::Point2f> remove;  // canvas px: heal the mark there, whatever it is
  std::vector<cv::Point2f> keep;    // canvas px: never heal a mark there
};

// A small spot the blemish finder looked at.
struct Spot {
  cv::Point2f centre;            // canvas px
  float diameter = 0;            // px (equivalent circle)
  float contrast = 0;            // how much darker than the skin around it, log lightness (0.1 ~ 10%)
  float dL = 0, da = 0, db = 0;  // CIELAB of the spot minus its surround
  bool healed = false;
  std::string why;  // "blemish (redder)", "mole-like: kept", "listed to remove", ...
};

struct Result {
  cv::Mat image;   // CV_32FC3 linear BGR, the whole input's size
  cv::Mat amount;  // CV_32F 0..1: how much each pixel changed
  std::vector<Spot> spots;
  float shadow_lift = 0;  // log lightness the under-eyes were lifted by (mean over their region)
  bool touched = false;
};

// `linear_bgr` CV_32FC3; `skin` CV_32F 0..1 (face and body skin, features
// already left out: what may be retouched), the canvas's size or cut to
// work_region(mesh, eye_distance, canvas); `mesh` the subject's 468 points
// on the canvas; `eye_distance` in px (the scale everything follows).
// Works on the face's region only; pixels elsewhere are returned as given
// (`image` is one copy of the input, changed in the region).
Result retouch(const cv::Mat& linear_bgr, const cv::Mat& skin, const std::vector<cv::Point3f>& mesh, float eye_distance,
               const Settings& settings);

// Where the retouch may work: `skin` (max of face and body skin) without
// the eyes and lashes, brows, lips, teeth and nostrils (from the mesh),
// feathered. Same grid as `skin`.
cv::Mat retouchable(const cv::Mat& skin, const cv::Mat& eyes, const cv::Mat& lips, const cv::Mat& teeth,
                    const cv::Mat& hair, const std::vector<cv::Point3f>& mesh, float eye_distance);
// The same on masks already cut to `roi` (the work region; any of them but
// `skin` may be empty): the result is `roi`'s size. `mesh` on the canvas.
cv::Mat retouchable_in(const cv::Rect& roi, const cv::Mat& skin, const cv::Mat& eyes, const cv::Mat& lips,
                       const cv::Mat& teeth, const cv::Mat& hair, const std::vector<cv::Point3f>& mesh,
                       float eye_distance);

// The region of the canvas the retouch works on: the face (from the mesh)
// grown to the ears, the hairline and the neck, clipped to `canvas`.
cv::Rect work_region(const std::vector<cv::Point3f>& mesh, float eye_distance, cv::Size canvas);

}  // namespace likeness::retouch
