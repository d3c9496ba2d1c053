// Per-face measurements on the analysed (shrunk) photo. Internal to intake.
#pragma once
#include <opencv2/core.hpp>
#include <vector>

#include "likeness/intake.hpp"

namespace likeness::intake {

// `work`: the analysed photo; `face` in its coordinates with 68 landmarks;
// `mirrored`: the landmark net's answer on the mirrored photo, mapped back
// (empty to skip that part of the occlusion measure); `to_original`: factor
// from analysed to original pixels.
FaceMeasures measure_face(const cv::Mat& work, const Face& face, const std::vector<cv::Point2f>& mirrored,
                          double to_original);

// Pose, smile and eye openness from 68 landmarks (overwrites those fields).
void measure_geometry(const std::vector<cv::Point2f>& lm, cv::Size image, FaceMeasures& m);

// Head pose from the 68 landmarks (solvePnP on a generic 3-D face).
void head_pose(const std::vector<cv::Point2f>& lm, cv::Size image, float& yaw, float& pitch, float& roll);

// The 68-point scheme's left/right mirror: index i of a mirrored face is
// index kMirror68[i] of the original.
extern const int kMirror68[68];

}  // namespace likeness::intake
