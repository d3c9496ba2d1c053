#include "likeness/badge_sheet.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>

namespace likeness {

namespace {
constexpr int kPad = 8;

// Greedy word wrap into lines that fit `width` pixels.
std::vector<std::string> wrap(const std::string& text, double scale, int width) {
  std::vector<std::string> lines;
  std::string line, word;
  auto fits = [&](const std::string& s) {
    int base = 0;
    return cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base).width <= width;
  };
  auto flush_word = [&] {
    if (word.empty()) return;
    const std::string candidate = line.empty() ? word : line + " " + word;
    if (fits(candidate) || line.empty()) {
      line = candidate;
    } else {
      lines.push_back(line);
      line = word;
    }
    word.clear();
  };
  for (char c : text) {
    if (c == ' ')
      flush_word();
    else
      word += c;
  }
  flush_word();
  if (!line.empty()) lines.push_back(line);
  return lines;
}

cv::Mat draw(const SheetTile& tile, cv::Size thumb, int caption_h) {
  cv::Mat t(thumb.height + caption_h, thumb.width, CV_8UC3, cv::Scalar(245, 245, 245));
  if (!tile.image.empty()) {
    const cv::Mat small = fit_into(tile.image, thumb);
    small.copyTo(t(cv::Rect((thumb.width - small.cols) / 2, (thumb.height - small.rows) / 2, small.cols, small.rows)));
  }
  if (!tile.badge.empty()) {
    int base = 0;
    const cv::Size ts = cv::getTextSize(tile.badge, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
    cv::rectangle(t, cv::Rect(4, 4, ts.width + 10, ts.height + 10), tile.badge_colour, cv::FILLED);
    cv::putText(t, tile.badge, cv::Point(9, 9 + ts.height), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar::all(255), 1,
                cv::LINE_AA);
  }
  int y = thumb.height + 14;
  cv::putText(t, tile.title.substr(0, 36), cv::Point(4, y), cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(30, 30, 30), 1,
              cv::LINE_AA);
  for (const auto& l : tile.lines)
    for (const auto& line : wrap(l.text, l.scale, thumb.width - 8)) {
      y += int(std::lround(36 * l.scale + 1));
      if (y > thumb.height + caption_h - 4) return t;
      cv::putText(t, line, cv::Point(4, y), cv::FONT_HERSHEY_SIMPLEX, l.scale, l.colour, 1, cv::LINE_AA);
    }
  return t;
}
}  // namespace

cv::Mat fit_into(const cv::Mat& bgr, cv::Size box) {
  const double k = std::min(double(box.width) / bgr.cols, double(box.height) / bgr.rows);
  cv::Mat small;
  cv::resize(bgr, small, cv::Size(std::max(1, int(bgr.cols * k)), std::max(1, int(bgr.rows * k))), 0, 0,
             k < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return small;
}

cv::Mat badge_sheet(const std::vector<SheetTile>& tiles, cv::Size thumb, int caption_h, int cols) {
  const int n = std::max<int>(1, int(tiles.size()));
  cols = std::max(1, std::min(cols, n));
  const int rows = (n + cols - 1) / cols;
  cv::Mat sheet(kPad + rows * (thumb.height + caption_h + kPad), kPad + cols * (thumb.width + kPad), CV_8UC3,
                cv::Scalar::all(255));
  for (int i = 0; i < int(tiles.size()); ++i) {
    const cv::Rect at(kPad + (i % cols) * (thumb.width + kPad), kPad + (i / cols) * (thumb.height + caption_h + kPad),
                      thumb.width, thumb.height + caption_h);
    draw(tiles[i], thumb, caption_h).copyTo(sheet(at));
  }
  return sheet;
}

}  // namespace likeness
