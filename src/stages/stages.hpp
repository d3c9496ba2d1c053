// Every stage of the pipeline, one folder each under src/stages/.
#pragma once
#include "likeness/stage.hpp"

namespace likeness {
const Stage& faces_stage();     // faces/    detection, landmarks, identity; the subject intake chose
const Stage& segment_stage();   // segment/  person matte at the source, on the person's region
const Stage& parse_stage();     // parse/    face mesh and semantic masks (skin, hair, clothing, ...) at the source
const Stage& frame_stage();     // frame/    the crop as a plan: scale and offset onto the canvas
const Stage& render_stage();    // render/   applies the plan to the image and every layer, float linear
const Stage& matte_stage();     // matte/    edge refinement at output size, the person's own colours
const Stage& denoise_stage();   // denoise/  sensor noise measured and reduced (chroma, then luminance), edges kept
const Stage& retouch_stage();   // retouch/  skin polish: blemishes, under-eyes, shine, tone; texture and features kept
const Stage& wardrobe_stage();  // wardrobe/ recolours the clothing, folds and texture kept
const Stage& backdrop_stage();  // backdrop/ studio backdrop composite in linear light, no halo
const Stage& relight_stage();   // relight/  the subject's light on their face's 3-D shape, the skin's texture kept
const Stage& grade_stage();     // grade/    colour grade of the whole portrait, the face's lightness kept
const Stage& grain_stage();     // denoise/  fine film grain over the finished portrait, sized to the output
const Stage& export_stage();    // export/   8-bit sRGB once, encode + XMP digital source type

// A named layer on the canvas (after render) as CV_32F 0..1, or empty when
// the frame has none of that name on the canvas.
cv::Mat canvas_layer(const Frame& f, const char* name);

// The person's region around a face, in eye distances above, below and to
// either side of the eyes (source pixels; may reach past the photo).
cv::Rect2d person_region(const Face& face, double above, double below, double side);

// The frame's height in eye distances for a crop ("headshot",
// "head-and-shoulders", "half-body").
double frame_crop_span(const std::string& crop);
inline constexpr double kTightestSpan = 3.2;  // eye distances: the tightest frame
// The span the frame stage uses on a photo: the crop's, zoomed in (never
// below the tightest span) when the photo cannot hold it. The frame's
// enlargement is then out_height / (span * eye_distance).
double frame_fitted_span(double wanted_span, cv::Size photo, cv::Size out, double eye_distance);
}  // namespace likeness
