// Decoding and encoding with libvips: every input becomes 8-bit sRGB BGR
// (EXIF orientation applied, ICC profiles converted, grey/16-bit/CMYK/alpha
// handled); every output carries an sRGB ICC profile.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

namespace likeness {

// Smaller or more elongated images cannot hold a face (and would reach the
// models as empty or degenerate inputs): they are refused at the header.
inline constexpr int kMinImageSide = 32;
inline constexpr int kMaxAspect = 20;

struct DecodeLimits {
  size_t max_bytes = 50u * 1024 * 1024;  // a file over 50 MB is refused
  uint64_t max_pixels = 100'000'000;     // more than 100 MP is refused
  int shrink_to = 0;                     // >0: shrink-on-load so the long side is >= this
};

struct DecodedImage {
  cv::Mat bgr;           // CV_8UC3, sRGB, upright
  std::string file;      // the name errors use
  std::string format;    // "jpeg", "png", "webp", "heif", "tiff"
  int source_width = 0;  // as stored, before orientation and shrinking
  int source_height = 0;
  int orientation = 1;  // EXIF orientation that was applied
  bool converted_icc = false;
  bool had_alpha = false;
  std::string notes;  // what was converted, for reports
};

// Throws Error{bad_input} naming the file and the reason; never crashes on
// truncated, corrupt or non-image data.
DecodedImage decode_image(const std::string& path, const DecodeLimits& limits = {});
DecodedImage decode_image_bytes(std::string_view bytes, const std::string& name, const DecodeLimits& limits = {});

enum class ImageFormat { jpeg, png, webp };
ImageFormat format_from_name(const std::string& name);  // throws usage
ImageFormat format_from_path(const std::string& path);  // by extension; throws usage
std::string format_extension(ImageFormat f);

// Encodes 8-bit BGR, or BGRA for PNG and WebP (alpha kept), with an embedded
// sRGB ICC profile. quality applies to JPEG/WebP.
std::string encode_image(const cv::Mat& bgr, ImageFormat format, int quality);

// Initialises libvips once for the process (untrusted loaders blocked).
void init_image_io();
// libvips's threads per decode or encode (its concurrency caps each
// pipeline, not the process): the jobs' thread budget (threads.hpp).
void set_image_io_threads(int threads);

}  // namespace likeness
