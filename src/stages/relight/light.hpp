// Relighting on the subject's 3-D shape. The face's surface comes from the
// 468-point mesh (depth -> a height field -> normals), the head, hair and body
// from the matte's silhouette (inflated into a rounded relief); the two are
// blended by weight, never cut, so no seam shows where the mesh ends. The
// photo's own light is estimated as a first-order fit of the face's
// luminance to its normals; the new light (a key with its softness and cast
// shadows, fill, rim, a reflector below, specular highlights) is rendered on
// the same normals, and the photo is multiplied by new / old shading, so the
// skin's texture, pores and colour stay its own.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "stages/relight/patterns.hpp"

namespace likeness::relight {

// Directions are in the camera's frame: x toward image right, y up, z toward
// the camera; unit length.
struct Light {
  cv::Vec3f key{0, 0, 1};
  cv::Vec3f key_color{1, 1, 1};   // linear BGR, luminance 1
  cv::Vec3f fill_color{1, 1, 1};  // linear BGR, luminance 1
  float softness = 0.4f, fill = 0.3f, rim = 0, under = 0;
  int side = 1;  // the key's side on the image: +1 right, -1 left
};

// A light's colour scaled to Rec. 709 luminance 1 (linear BGR).
cv::Vec3f luminance_one(cv::Vec3f c);

// The subject's surface on a working grid.
struct Shape {
  double scale = 1;      // grid px per canvas px
  cv::Mat normal;        // CV_32FC3 unit normals (x right, y up, z toward the camera)
  cv::Mat height;        // CV_32F the face's height toward the camera (grid px); NaN beyond the mesh
  cv::Mat face;          // CV_32F 0..1: the mesh's share of the normal
  float face_width = 0;  // grid px (mesh 234 - 454)
  bool valid() const { return !normal.empty(); }
};
// `alpha` CV_32F on the canvas, `mesh` (468 points) in canvas px with depth in
// the same scale (smaller z = nearer). Empty shape when the mesh is missing.
Shape subject_shape(const cv::Mat& alpha, const std::vector<cv::Point3f>& mesh, double scale);

// The side a face is turned toward on the image: +1 right, -1 left, 0 frontal
// (the nose's offset from the middle of the face's outline).
int facing_side(const std::vector<cv::Point3f>& mesh);

// The pattern's light for a subject. `photo_side` is the side the photo's
// own light comes from (+1 right, -1 left, 0 unknown), `facing` the face's
// turn (facing_side); `side` overrides both when non-zero. Offsets in degrees
// and softness are added to the pattern's; kelvin > 0 replaces the key's
// colour temperature.
Light light_for(const Pattern& p, int photo_side, int facing, int side, float turn, float raise, float softer,
                float kelvin);

// The photo's own light as a first-order fit of luminance to the normals,
// E(n) = c0 + c1 nx + c2 ny + c3 nz, on the skin (mask 0..1 on the grid).
struct OldLight {
  cv::Vec4f c{1, 0, 0, 0};
  bool fitted = false;
  cv::Vec3f direction() const;  // where it comes from (unit), or (0, 0, 1) when flat
};
OldLight fit_old_light(const cv::Mat& luminance, const Shape& shape, const cv::Mat& skin);

// How much the key reaches each pixel past the face's own relief (the nose,
// brows, cheekbones and lips cast shadows), 0..1 on the grid; 1 beyond the
// mesh.
cv::Mat key_visibility(const Shape& shape, const cv::Vec3f& key, float softness);

struct Relit {
  cv::Mat image;            // CV_32FC3 linear, the canvas relit
  cv::Mat amount;           // CV_32F 0..1, how much each pixel's light changed
  float exposure_kept = 1;  // the face's lit side (its brighter half): out / in (1 by design)
  OldLight old_light;
};
// Relights `image` (CV_32FC3 linear canvas) where `alpha` says the person is;
// `skin` (face and body skin, 0..1 on the canvas) gets the warm, dense shadow
// of real skin and the key's specular sheen, `face_skin` is where exposure is
// measured and kept. `strength` 0..1 interpolates the light's ratio.
Relit relight(const cv::Mat& image, const cv::Mat& alpha, const cv::Mat& face_skin, const cv::Mat& skin,
              const Shape& shape, const Light& light, float strength);

}  // namespace likeness::relight
