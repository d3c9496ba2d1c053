// The backdrops themselves, apart from the composite: studio styles (solid,
// gradient, seamless paper, painted canvas), defocused procedural scenes
// (office, city window, greenery, café, moody sky) and a user's picture.
// Each comes with the light it implies. Pure functions of the request and
// the shot: the same seed gives the same pixels.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "likeness/stage.hpp"
#include "stages/backdrop/lens.hpp"

namespace likeness::backdrop {

// Every style, in the order the parameter lists them.
const std::vector<std::string>& styles();
bool is_scene(const std::string& style);  // a defocused place (rendered through the lens)

struct Request {
  std::string style = "gradient";
  cv::Vec3f color{0.07f, 0.09f, 0.11f};  // linear BGR: paper, canvas's dark, gradient's edge, solid
  cv::Vec3f color2{0.2f, 0.24f, 0.27f};  // linear BGR: gradient's centre, canvas's light
  int seed = 1;
  double f_number = 2.0;
  std::string image;  // the user's picture (style "image")
};
Request request_from(const json& params);  // resolved backdrop parameters

// What a backdrop needs to know of the portrait it goes behind.
struct Shot {
  cv::Size size;
  cv::Point2f eyes;                 // midpoint of the eyes, canvas px
  double eye_px = 0;                // distance between the eyes; 0: no face
  int key_side = 0;                 // the side the subject's own light comes from: +1 right, -1 left, 0 unknown
  float grain = 0.006f;             // the photo's noise, sRGB units
  cv::Rect face;                    // the face's box on the canvas, or empty
  cv::Mat face_gray;                // linear grey of the face box (for its sharpness), or empty
  cv::Vec3f subject_mean{0, 0, 0};  // the person's mean linear colour (alpha >= 0.9), 0: unknown
};
Shot shot_from(const Frame& frame);

struct Options {
  bool sharp = false;  // scenes and the user image without defocus (for comparisons)
};

struct Backdrop {
  cv::Mat image;      // CV_32FC3 linear, the canvas's size
  SceneLight light;   // set
  std::string words;  // "a defocused office interior" (for the edit's summary)
};

// Throws Error{bad_input} for an unreadable user image; never crashes.
Backdrop make(const Request& req, const Shot& shot, const Options& opt = {});

// The parts, for make() (one per file).
Backdrop studio(const Request& req, const Shot& shot, const Lens& lens);                  // studio.cpp
Backdrop scene(const Request& req, const Shot& shot, const Lens& lens, bool sharp);       // scenes.cpp
Backdrop user_image(const Request& req, const Shot& shot, const Lens& lens, bool sharp);  // user_image.cpp

// A light's direction from the subject: x toward the key side, y up, z toward the camera; unit.
cv::Vec3f toward(float x, float y, float z);
// Red over blue of a light's colour (warmth), for reports and tests.
inline float warmth(const cv::Vec3f& bgr) { return bgr[2] / std::max(1e-6f, bgr[0]); }

}  // namespace likeness::backdrop
