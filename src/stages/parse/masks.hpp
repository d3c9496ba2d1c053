// Semantic masks of a portrait from the face mesh, the person matte and
// colour: face skin, body skin, hair, clothing, eyes, lips, teeth.
#pragma once
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness {

// The mask names, in a fixed order.
const std::vector<std::string>& semantic_mask_names();

// Per-channel median and robust spread (1.4826 times the median absolute
// deviation, at least `min_spread`) of colour samples; false, and nothing
// set, for fewer than 50.
bool robust_centre_spread(const std::vector<cv::Vec3f>& px, cv::Vec3f min_spread, cv::Vec3f& centre, cv::Vec3f& spread);

// `bgr` (CV_8UC3 sRGB), `person` (CV_32F 0..1, same size) and the subject's
// mesh (468 points in the same pixels) -> one CV_32F 0..1 mask per name.
// The masks of the person's parts sum to at most the person matte.
std::map<std::string, cv::Mat> semantic_masks(const cv::Mat& bgr, const cv::Mat& person,
                                              const std::vector<cv::Point3f>& mesh);

}  // namespace likeness
