// The wardrobe's pieces as pure functions: fabric colours by name,
// the split of the clothing into garments (an outer one across the shoulders,
// an inner one between its lapels) and the recolour that keeps a garment's
// folds and texture.
//
// The recolour treats a garment as a fabric colour under shading. Texture
// is never amplified: made darker, the garment's luminance is scaled (shading
// is a ratio of light, so a white shirt made navy keeps its folds as darker
// navy: its log-luminance contrast kept); made lighter, its L* is shifted (a
// dark cloth's weave and noise are not multiplied into a light one's: its L*
// contrast kept), its mean held a little under white when a light target
// leaves the lighter folds no room, the new highlights rolled off below
// white. Its CIELAB chroma becomes the new colour's, scaled with the pixel's
// lightness as a shaded fabric's is, plus the pixel's own chroma deviation
// (a thread's colour, a tint of the light; less of it toward a paler
// colour). Clipped pixels (texture lost) are counted, never invented: over
// kClippedLimit of the garment it is left alone and the report says why.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "likeness/color.hpp"
#include "likeness/face.hpp"

namespace likeness::wardrobe {

struct FabricColour {
  std::string name;
  std::string hex;  // sRGB, as the fabric looks under neutral light
};
const std::vector<FabricColour>& fabric_colours();
// "keep" (no change) and every fabric colour's name: the names the `color`
// parameter accepts besides #rrggbb.
std::vector<std::string> colour_names();
// A fabric colour's name or #rrggbb -> sRGB BGR 0..255; throws usage naming
// the known colours.
cv::Scalar colour_of(const std::string& name_or_hex);

// Where the body lies relative to the face (canvas pixels): the chin, the
// face's up direction and the eye distance as the unit.
struct Body {
  bool valid = false;
  cv::Point2f chin;
  cv::Point2f up{0, -1};
  float unit = 0;  // eye distance, px
};
Body body_of(const Face* face);

// A robust colour model (per-channel median and spread) of Lab pixels.
struct FabricModel {
  bool valid = false;
  cv::Vec3f centre, spread;
  float d2(const cv::Vec3f& lab) const;          // squared normalised distance
  float likelihood(const cv::Vec3f& lab) const;  // heavy-tailed density
};

// The share of clothing among the person's parts (0..1, on the canvas),
// independent of the matte: at the matte's edge it says what the person's
// own colour there belongs to. Where no part says (the refined matte reaches
// past the coarse one), the share nearby.
cv::Mat clothing_share(const cv::Mat& clothing, const cv::Mat& face_skin, const cv::Mat& body_skin,
                       const cv::Mat& hair);

// The parse stage's masks on the canvas (CV_32F 0..1; clothing required)
// and where the person is at all (CV_8U, or empty: everywhere).
struct Parts {
  cv::Mat clothing, face_skin, body_skin, hair;
  cv::Mat person;
};

// The clothing split into garments. `lab` is CIELAB of the person's own
// colour, `solid` where the matte is near 1 (CV_8U). Below the chin, where
// the masks took clothing for hair of a like colour, the garments' colour
// models decide against the head's hair; skin is left as the masks say.
// The outer garment is sampled across the shoulders, the inner one on the
// neck's centre line where the outer's colour model does not explain the
// pixels (a shirt between a jacket's lapels); without a face only one
// garment. Weights are memberships 0..1 of the person's own colour (the
// matte not applied); a pixel that fits neither (a tie, a brooch) has little.
struct Garment {
  bool found = false;
  cv::Mat weight;  // CV_32F 0..1
  FabricModel model;
  int pixels = 0;  // solid pixels with weight >= 0.5
};
struct Garments {
  Garment outer, inner;
};
Garments split_garments(const cv::Mat& lab, const Parts& parts, const cv::Mat& solid, const Body& body);

// What a recolour did.
struct Recolour {
  bool applied = false;
  std::string refused;       // why nothing was changed, or ""
  int pixels = 0;            // solid garment pixels measured
  double clipped_white = 0;  // share of them with every channel clipped
  double clipped_black = 0;  // share crushed to black
  cv::Vec3f before, after;   // mean CIELAB of the garment
  cv::Vec3f target;          // the colour's CIELAB
  float texture_gain = 1;    // the share of its lightness contrast kept (1 = all)
  float lightness = 0;       // the garment's mean L* aimed at (the target's, or held under white)
};
inline constexpr double kClippedLimit = 0.1;  // over this share clipped, a garment is left alone

// Recolours linear BGR (CV_32FC3) where `weight` > 0 toward `target_srgb`
// (BGR 0..255): the garment's mean colour becomes the target's, its
// per-pixel shading and texture kept. Statistics come from `solid` pixels
// with weight >= 0.5. Returns the new image (a copy; unchanged when
// refused).
cv::Mat recolour(const cv::Mat& linear_bgr, const cv::Mat& weight, const cv::Mat& solid, const cv::Scalar& target_srgb,
                 Recolour* report);

}  // namespace likeness::wardrobe
