// The backdrop's camera: an 85 mm portrait lens on a full-frame sensor,
// focused on the subject, and a layered (2.5-D) renderer that defocuses each
// depth layer with the lens's blur disc. A scene is a few layers at constant
// depths, drawn sharp in linear light (emissive highlights above 1), each
// blurred with a disc kernel whose diameter is the circle of confusion at its
// depth, and composited back to front: a bright point becomes a flat disc the
// size of its defocus, as in a photograph. Large discs are blurred at reduced
// resolution (they are blurry anyway) and upsampled smoothly.
#pragma once
#include <functional>
#include <opencv2/core.hpp>
#include <vector>

namespace likeness::backdrop {

struct Lens {
  cv::Size size;        // the canvas, px
  double px_per_m = 0;  // sensor pixels per metre (the long side is 36 mm)
  double focal_m = 0.085;
  double f_number = 2.8;
  double subject_m = 1.6;  // focus distance
  cv::Point2d principal;   // where the optical axis meets the canvas: the horizon (eye line)

  double focal_px() const { return focal_m * px_per_m; }
  // Diameter of the blur disc of a point at this distance, canvas px.
  double coc_px(double depth_m) const;
  // Camera space (metres; X right, Y up, Z away from the camera) -> canvas px.
  cv::Point2f project(double X, double Y, double Z) const {
    const double f = focal_px();
    return {float(principal.x + f * X / Z), float(principal.y - f * Y / Z)};
  }
  // The ray through a canvas pixel as (X/Z, Y/Z).
  cv::Point2d ray(double x, double y) const {
    const double f = focal_px();
    return {(x - principal.x) / f, (principal.y - y) / f};
  }
};

// The lens that frames the subject as on the canvas: eye_px is the distance
// between the eyes' centres on the canvas (0: assume a head-and-shoulders
// frame), eyes their midpoint, where the horizon is put.
Lens portrait_lens(cv::Size canvas, cv::Point2f eyes, double eye_px, double f_number);

// One depth layer being drawn. Coordinates are canvas pixels; the layer is
// painted at its working resolution (supersampled), premultiplied: colour
// plus coverage. Emissive points add light without covering anything.
class Paint {
 public:
  // work: the canvas's size at working resolution; margin: working pixels
  // painted beyond each edge.
  Paint(cv::Size canvas, cv::Size work, int margin, int supersample);
  void poly(const std::vector<cv::Point2f>& pts, cv::Vec3f color);  // opaque, convex or not
  void rect(float x0, float y0, float x1, float y1, cv::Vec3f color) {
    poly({{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}, color);
  }
  void ellipse(cv::Point2f c, float rx, float ry, float angle_deg, cv::Vec3f color);
  // A small light source: its energy (colour x area in canvas px) lands on
  // the nearest pixels, so after defocus it is a disc of that energy.
  void light(cv::Point2f p, cv::Vec3f energy);
  // Every pixel (canvas coordinates of its centre): colour and coverage 0..1,
  // painted over what is there.
  void shade(const std::function<cv::Vec4f(float x, float y)>& f);
  // The painted layer at working resolution, margin included: premultiplied
  // colour, coverage.
  void finish(cv::Mat& color, cv::Mat& cover) const;

 private:
  cv::Point to_px(cv::Point2f p) const;
  cv::Size work_;  // with the margin
  int margin_, ss_;
  double wx_, wy_;  // working px per canvas px
  cv::Mat color_, cover_, emit_;
};

struct Layer {
  double depth_m = 10;
  std::function<void(Paint&)> draw;
};

struct DefocusOptions {
  bool sharp = false;  // no defocus (for comparisons)
  float rim = 0.15f;   // how much brighter a bokeh disc's rim is than its centre
};

// Layers back to front; the first must cover the canvas. CV_32FC3 linear.
cv::Mat render_layers(const Lens& lens, const std::vector<Layer>& layers, const DefocusOptions& opt);

// A normalised disc kernel of this radius (px) with an anti-aliased edge and
// a rim `rim` brighter than the centre.
cv::Mat disc_kernel(double radius, float rim);
// Disc-blurs a linear image by this blur-disc diameter (canvas px): at
// reduced resolution when large, upsampled smoothly.
cv::Mat defocus(const cv::Mat& linear, double diameter, float rim);

// Smooth random field ~N(0, 1): a random grid, one value per `cell` px,
// interpolated bicubically.
cv::Mat smooth_noise(cv::Size size, double cell, cv::RNG& rng);
// Multi-scale (fractal) noise: octaves from `cell` px halving, each `gain`
// times the previous amplitude; ~unit variance.
cv::Mat fractal_noise(cv::Size size, double cell, int octaves, double gain, cv::RNG& rng);

// Photographic grain: sigma in sRGB units (0..1), mostly luminance, a little
// colour, slightly soft. Applied in place to a linear image.
void add_grain(cv::Mat& linear, float sigma, cv::RNG& rng);

// Calls f(x, y) for every pixel of a CV_32FC3 image (parallel rows).
void for_each_pixel(cv::Mat& img, const std::function<cv::Vec3f(int x, int y)>& f);

inline float smoothstep(float a, float b, float x) {
  const float t = std::min(1.f, std::max(0.f, (x - a) / (b - a)));
  return t * t * (3 - 2 * t);
}

}  // namespace likeness::backdrop
