// Every stage of the pipeline, one folder each under src/stages/.
#pragma once
#include "likeness/stage.hpp"

namespace likeness {
const Stage& faces_stage();     // faces/    detection, landmarks, identity of the subject
const Stage& frame_stage();     // frame/    head-and-shoulders crop at the output size
const Stage& matte_stage();     // matte/    ISNet person matte, edge-refined
const Stage& backdrop_stage();  // backdrop/ studio backdrop composite, no halo
const Stage& export_stage();    // export/   encode + XMP digital source type

// The frame's height in eye distances for a crop ("headshot",
// "head-and-shoulders", "half-body").
double frame_crop_span(const std::string& crop);
// The span the frame stage uses on a photo: the crop's, zoomed in (never
// below the tightest span) when the photo cannot hold it. The frame's
// enlargement is then out_height / (span * eye_distance).
double frame_fitted_span(double wanted_span, cv::Size photo, cv::Size out, double eye_distance);
}  // namespace likeness
