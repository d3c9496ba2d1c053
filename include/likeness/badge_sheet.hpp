// Contact sheets: one tile per image, a coloured badge in its corner and a
// caption under it. The intake's photos, `rank`'s candidates, a shoot's
// variations and a team's portraits are all laid out by this one function.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness {

struct SheetTile {
  cv::Mat image;  // BGR 8-bit, any size, fitted into the thumbnail (empty: blank)
  std::string badge;
  cv::Scalar badge_colour;  // BGR
  std::string title;        // the caption's first line, dark
  struct Line {
    std::string text;  // wrapped to the tile's width
    cv::Scalar colour;
    double scale = 0.36;
  };
  std::vector<Line> lines;
};

// Badge colours: good / you / passed, doubtful / usable, rejected / not you.
inline const cv::Scalar kBadgeGood{60, 160, 40}, kBadgeDoubt{0, 150, 230}, kBadgeBad{40, 40, 200};

// `thumb`: each image's box (the image keeps its aspect ratio inside it);
// `caption_h`: pixels of caption under it; at most `cols` tiles a row.
cv::Mat badge_sheet(const std::vector<SheetTile>& tiles, cv::Size thumb, int caption_h, int cols);
// An image shrunk to fit `box` (INTER_AREA), for a tile.
cv::Mat fit_into(const cv::Mat& bgr, cv::Size box);

}  // namespace likeness
