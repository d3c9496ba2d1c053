// Contact sheet: one tile per photo with the subject outlined, a verdict
// badge, the flags, and for rejects the reason.
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"

namespace likeness {

namespace {

constexpr int kThumb = 240, kText = 92, kPad = 8;

cv::Scalar verdict_colour(const std::string& v) {
  if (v == "good") return {60, 160, 40};    // green (BGR)
  if (v == "usable") return {0, 150, 230};  // amber
  return {40, 40, 200};                     // red
}

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

cv::Mat tile(const PhotoCheck& p) {
  cv::Mat t(kThumb + kText, kThumb, CV_8UC3, cv::Scalar(245, 245, 245));
  const cv::Scalar colour = verdict_colour(p.verdict);
  if (p.a.error.empty()) {
    try {
      DecodeLimits lim;
      lim.shrink_to = kThumb;
      const DecodedImage d = decode_image(p.a.file, lim);
      const double k = double(kThumb) / std::max(d.bgr.cols, d.bgr.rows);
      cv::Mat small;
      cv::resize(d.bgr, small, cv::Size(std::max(1, int(d.bgr.cols * k)), std::max(1, int(d.bgr.rows * k))), 0, 0,
                 cv::INTER_AREA);
      const cv::Point off((kThumb - small.cols) / 2, (kThumb - small.rows) / 2);
      small.copyTo(t(cv::Rect(off.x, off.y, small.cols, small.rows)));
      // Faces in the photo's own pixels -> thumbnail.
      const double to_thumb = double(small.cols) / std::max(1, p.a.width);
      for (int i = 0; i < int(p.a.faces.size()); ++i) {
        const cv::Rect2f& b = p.a.faces[i].face.box;
        const cv::Rect r(off.x + int(b.x * to_thumb), off.y + int(b.y * to_thumb), int(b.width * to_thumb),
                         int(b.height * to_thumb));
        cv::rectangle(t, r, i == p.subject ? colour : cv::Scalar(170, 170, 170), i == p.subject ? 2 : 1, cv::LINE_AA);
      }
    } catch (const Error&) {
      // The verdict text below says why the photo could not be shown.
    }
  }
  // Badge.
  std::string badge = p.verdict;
  if (p.rank) badge += " #" + std::to_string(p.rank);
  int base = 0;
  const cv::Size ts = cv::getTextSize(badge, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
  cv::rectangle(t, cv::Rect(4, 4, ts.width + 10, ts.height + 10), colour, cv::FILLED);
  cv::putText(t, badge, cv::Point(9, 9 + ts.height), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar::all(255), 1,
              cv::LINE_AA);
  // Caption: file name, flags, and the reason/advice.
  int y = kThumb + 14;
  cv::putText(t, std::filesystem::path(p.a.file).filename().string().substr(0, 34), cv::Point(4, y),
              cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(30, 30, 30), 1, cv::LINE_AA);
  std::string flags;
  for (const auto& f : p.flags) flags += (flags.empty() ? "" : ", ") + f;
  for (const auto& line : wrap(flags, 0.36, kThumb - 8)) {
    y += 14;
    cv::putText(t, line, cv::Point(4, y), cv::FONT_HERSHEY_SIMPLEX, 0.36, colour, 1, cv::LINE_AA);
  }
  for (const auto& line : wrap(p.advice, 0.34, kThumb - 8)) {
    y += 13;
    if (y > kThumb + kText - 4) break;
    cv::putText(t, line, cv::Point(4, y), cv::FONT_HERSHEY_SIMPLEX, 0.34, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
  }
  return t;
}

}  // namespace

void write_contact_sheet(const SetCheck& set, const std::string& path) {
  const ImageFormat format = format_from_path(path);  // usage error for an unknown extension
  const int n = std::max<int>(1, int(set.photos.size()));
  const int cols = std::min(5, n), rows = (n + cols - 1) / cols;
  cv::Mat sheet(kPad + rows * (kThumb + kText + kPad), kPad + cols * (kThumb + kPad), CV_8UC3,
                cv::Scalar(255, 255, 255));
  for (int i = 0; i < int(set.photos.size()); ++i) {
    const int r = i / cols, c = i % cols;
    tile(set.photos[i])
        .copyTo(
            sheet(cv::Rect(kPad + c * (kThumb + kPad), kPad + r * (kThumb + kText + kPad), kThumb, kThumb + kText)));
  }
  write_file_atomic(path, encode_image(sheet, format, 90));
}

}  // namespace likeness
