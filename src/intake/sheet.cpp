// Contact sheet: one tile per photo with the subject outlined, a verdict
// badge, the flags, and for rejects the reason.
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/badge_sheet.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"

namespace likeness {

namespace {

constexpr int kThumb = 240, kText = 92;

cv::Scalar verdict_colour(const std::string& v) {
  if (v == "good") return kBadgeGood;
  if (v == "usable") return kBadgeDoubt;
  return kBadgeBad;
}

SheetTile tile(const PhotoCheck& p) {
  SheetTile t;
  const cv::Scalar colour = verdict_colour(p.verdict);
  if (p.a.error.empty()) {
    try {
      DecodeLimits lim;
      lim.shrink_to = kThumb;
      const DecodedImage d = decode_image(p.a.file, lim);
      t.image = fit_into(d.bgr, cv::Size(kThumb, kThumb));
      // Faces in the photo's own pixels -> thumbnail.
      const double to_thumb = double(t.image.cols) / std::max(1, p.a.width);
      for (int i = 0; i < int(p.a.faces.size()); ++i) {
        const cv::Rect2f& b = p.a.faces[i].face.box;
        const cv::Rect r(int(b.x * to_thumb), int(b.y * to_thumb), int(b.width * to_thumb), int(b.height * to_thumb));
        cv::rectangle(t.image, r, i == p.subject ? colour : cv::Scalar(170, 170, 170), i == p.subject ? 2 : 1,
                      cv::LINE_AA);
      }
    } catch (const Error&) {
      // The verdict text below says why the photo could not be shown.
    }
  }
  t.badge = p.verdict + (p.rank ? " #" + std::to_string(p.rank) : std::string());
  t.badge_colour = colour;
  // Caption: file name, flags, and the reason/advice.
  t.title = std::filesystem::path(p.a.file).filename().string();
  std::string flags;
  for (const auto& f : p.flags) flags += (flags.empty() ? "" : ", ") + f;
  t.lines = {{flags, colour, 0.36}, {p.advice, cv::Scalar(60, 60, 60), 0.34}};
  return t;
}

}  // namespace

void write_contact_sheet(const SetCheck& set, const std::string& path) {
  const ImageFormat format = format_from_path(path);  // usage error for an unknown extension
  std::vector<SheetTile> tiles;
  for (const auto& p : set.photos) tiles.push_back(tile(p));
  write_file_atomic(path, encode_image(badge_sheet(tiles, cv::Size(kThumb, kThumb), kText, 5), format, 90));
}

}  // namespace likeness
