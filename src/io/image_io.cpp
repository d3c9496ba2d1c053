#include "likeness/image_io.hpp"

#include <vips/vips.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <opencv2/imgproc.hpp>

#include "io/integrity.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"

namespace likeness {

namespace {

struct VipsUnref {
  void operator()(VipsImage* im) const {
    if (im) g_object_unref(im);
  }
};
using VipsPtr = std::unique_ptr<VipsImage, VipsUnref>;

// libvips keeps errors in a per-process buffer; take and clear it at once.
// Its last line is the decoder's own words; a line with no words in it (a
// bare code such as libheif's " (2.100)") becomes a plain explanation.
std::string vips_message() {
  std::string msg = vips_error_buffer();
  vips_error_clear();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (auto nl = msg.rfind('\n'); nl != std::string::npos) msg = msg.substr(nl + 1);
  // "loader: words" -> "words" when the words say something.
  std::string words = msg;
  if (auto colon = words.find(": "); colon != std::string::npos && colon < 24) words = words.substr(colon + 2);
  size_t letters = 0;
  for (char c : words) letters += std::isalpha(static_cast<unsigned char>(c)) ? 1 : 0;
  if (letters < 4) {
    std::string code;
    for (char c : words)
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') code += c;
    return "the file is truncated or corrupt" + (code.empty() ? std::string() : " (decoder code " + code + ")");
  }
  if (words.size() > 300) words = words.substr(0, 297) + "...";
  return words;
}

std::string loader_format(std::string loader) {
  for (auto& c : loader) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* f : {"jpeg", "png", "webp", "heif", "tiff"})
    if (loader.find(f) != std::string::npos) return f;
  return {};
}

// libvips reports a decoder's warnings (libjpeg's "Corrupt JPEG data", a PNG
// with missing rows) through GLib's log. They must not reach the user's
// terminal as stray VIPS-WARNING lines: with fail_on=warning every one of
// them already fails the decode and comes back as the error's reason. The
// handler keeps the words for the decode running on this thread.
thread_local std::string* t_warnings = nullptr;

void vips_log(const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
  // Each distinct warning once (libtiff repeats its own), and not a book.
  if (t_warnings && message && *message && t_warnings->find(message) == std::string::npos && t_warnings->size() < 300) {
    if (!t_warnings->empty()) *t_warnings += "; ";
    *t_warnings += message;
  }
}

struct WarningCapture {
  std::string text;
  WarningCapture() { t_warnings = &text; }
  ~WarningCapture() { t_warnings = nullptr; }
};

std::string pixel_count(uint64_t px) {
  // 100,010,000 — exact, so a limit and a value just over it never read alike.
  std::string digits = std::to_string(px), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// EXIF orientation 1-8 -> the upright image (what the camera saw).
cv::Mat upright(const cv::Mat& m, int orientation) {
  cv::Mat r;
  switch (orientation) {
    case 2:
      cv::flip(m, r, 1);
      return r;
    case 3:
      cv::rotate(m, r, cv::ROTATE_180);
      return r;
    case 4:
      cv::flip(m, r, 0);
      return r;
    case 5:
      cv::transpose(m, r);
      return r;
    case 6:
      cv::rotate(m, r, cv::ROTATE_90_CLOCKWISE);
      return r;
    case 7:
      cv::transpose(m, r);
      cv::rotate(r, r, cv::ROTATE_180);
      return r;
    case 8:
      cv::rotate(m, r, cv::ROTATE_90_COUNTERCLOCKWISE);
      return r;
    default:
      return m;
  }
}

}  // namespace

void init_image_io() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("likeness") != 0) throw Error(ErrorCode::internal, "cannot start libvips");
    vips_block_untrusted_set(TRUE);
    vips_cache_set_max(0);    // likeness caches whole stage results itself
    vips_concurrency_set(2);  // until set_image_io_threads says the jobs' budget
    g_log_set_handler("VIPS", GLogLevelFlags(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO), vips_log,
                      nullptr);
  });
}

void set_image_io_threads(int threads) {
  init_image_io();
  vips_concurrency_set(std::max(1, threads));
}

DecodedImage decode_image(const std::string& path, const DecodeLimits& limits) {
  return decode_image_bytes(read_file(path, limits.max_bytes), path, limits);
}

DecodedImage decode_image_bytes(std::string_view bytes, const std::string& name, const DecodeLimits& limits) {
  init_image_io();
  if (bytes.empty()) throw_bad_input(name, "the file is empty (0 bytes)");
  if (bytes.size() > limits.max_bytes)
    throw_bad_input(name, "file is over the " + std::to_string(limits.max_bytes / (1024 * 1024)) + " MB limit");

  WarningCapture warnings;
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  vips_error_clear();
  const std::string format = loader ? loader_format(loader) : std::string();
  if (format.empty()) throw_bad_input(name, "not an image likeness reads (JPEG, PNG, WebP, HEIF/HEIC or TIFF)");

  DecodedImage out;
  out.file = name;
  out.format = format;

  // Every decoder warning is an error (fail_on=warning): a file with missing
  // rows or corrupt data is refused, never half-decoded into grey.
  auto open = [&](int shrink) {
    return shrink > 1 ? vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "access", VIPS_ACCESS_SEQUENTIAL,
                                                   "fail_on", VIPS_FAIL_ON_WARNING, "shrink", shrink, nullptr)
                      : vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "access", VIPS_ACCESS_SEQUENTIAL,
                                                   "fail_on", VIPS_FAIL_ON_WARNING, nullptr);
  };
  auto fail = [&](const std::string& what) {
    std::string why = vips_message();
    if (!warnings.text.empty() && why.find(warnings.text) == std::string::npos) why += " (" + warnings.text + ")";
    throw_bad_input(name, what + ": " + why);
  };

  // Header only: libvips decodes no pixels until they are asked for.
  VipsPtr head(open(1));
  if (!head) fail("cannot read the " + format + " header");
  out.source_width = vips_image_get_width(head.get());
  out.source_height = vips_image_get_height(head.get());
  const uint64_t pixels = uint64_t(out.source_width) * uint64_t(out.source_height);
  const std::string dims = std::to_string(out.source_width) + "x" + std::to_string(out.source_height) + " px";
  if (out.source_width <= 0 || out.source_height <= 0) throw_bad_input(name, "the image has no pixels");
  if (pixels > limits.max_pixels)
    throw_bad_input(name, dims + " is " + pixel_count(pixels) + " pixels, over the limit of " +
                              pixel_count(limits.max_pixels) + " (" + std::to_string(limits.max_pixels / 1'000'000) +
                              " MP)");
  const int short_side = std::min(out.source_width, out.source_height);
  const int long_side = std::max(out.source_width, out.source_height);
  if (short_side < kMinImageSide)
    throw_bad_input(name, dims + " is too small to hold a face: a photo needs at least " +
                              std::to_string(kMinImageSide) + " px on each side");
  if (long_side > kMaxAspect * short_side)
    throw_bad_input(name, dims + " is a strip, not a photo: its long side is more than " + std::to_string(kMaxAspect) +
                              " times its short side");

  // The pixels, decoded by libvips.
  auto decode = [&] {
    VipsPtr img;
    if (limits.shrink_to > 0 && format == "jpeg") {
      // Shrink-on-load: JPEG DCT scaling by a power of two that keeps the long
      // side at least shrink_to.
      int shrink = 1;
      while (shrink < 8 && long_side / (shrink * 2) >= limits.shrink_to) shrink *= 2;
      if (shrink > 1) {
        img.reset(open(shrink));
        if (!img) fail("cannot decode");
      }
    }
    if (!img)
      img = std::move(head);
    else
      head.reset();

    if (vips_image_get_typeof(img.get(), VIPS_META_ORIENTATION)) {
      int o = 1;
      if (vips_image_get_int(img.get(), VIPS_META_ORIENTATION, &o) == 0 && o >= 1 && o <= 8) out.orientation = o;
    }
    VipsImage* t = nullptr;
    if (vips_image_get_typeof(img.get(), VIPS_META_ICC_NAME)) {
      // Display P3, Adobe RGB, CMYK profiles ... -> sRGB (8 bit).
      if (vips_icc_transform(img.get(), &t, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_RELATIVE, nullptr) == 0) {
        img.reset(t);
        out.converted_icc = true;
        out.notes += "converted embedded ICC profile to sRGB; ";
      } else {
        vips_error_clear();  // a broken profile: fall back to the colourspace guess below
        out.notes += "ignored an unusable ICC profile; ";
      }
    }
    if (vips_image_hasalpha(img.get())) {
      const VipsInterpretation interp = vips_image_get_interpretation(img.get());
      const double max_alpha =
          (interp == VIPS_INTERPRETATION_RGB16 || interp == VIPS_INTERPRETATION_GREY16) ? 65535 : 255;
      VipsArrayDouble* white = vips_array_double_newv(1, max_alpha);
      int rc = vips_flatten(img.get(), &t, "background", white, "max_alpha", max_alpha, nullptr);
      vips_area_unref(VIPS_AREA(white));
      if (rc != 0) fail("cannot remove the alpha channel");
      img.reset(t);
      out.had_alpha = true;
      out.notes += "flattened transparency onto white; ";
    }
    if (vips_colourspace(img.get(), &t, VIPS_INTERPRETATION_sRGB, nullptr) != 0) fail("cannot convert to sRGB");
    img.reset(t);
    if (vips_image_get_format(img.get()) != VIPS_FORMAT_UCHAR) {
      if (vips_cast_uchar(img.get(), &t, nullptr) != 0) fail("cannot convert to 8 bit");
      img.reset(t);
    }
    if (vips_image_get_bands(img.get()) > 3) {
      if (vips_extract_band(img.get(), &t, 0, "n", 3, nullptr) != 0) fail("cannot convert to RGB");
      img.reset(t);
    }
    if (vips_image_get_bands(img.get()) != 3) throw_bad_input(name, "unexpected band count after conversion");

    // Decode top to bottom in one sequential pass (what the loaders stream
    // best), into memory; only then turn it upright. Rotating a sequential
    // image would ask the decoder for rows out of order.
    size_t len = 0;
    void* mem = vips_image_write_to_memory(img.get(), &len);
    if (!mem) fail("cannot decode the pixels (the file is truncated or corrupt)");
    if (!warnings.text.empty()) {
      g_free(mem);
      throw_bad_input(name, "the decoder reported damage: " + warnings.text);
    }
    const int w = vips_image_get_width(img.get()), h = vips_image_get_height(img.get());
    img.reset();
    if (len != size_t(w) * size_t(h) * 3) {
      g_free(mem);
      throw_bad_input(name, "decoded size does not match the header");
    }
    cv::Mat rgb(h, w, CV_8UC3, mem);
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    g_free(mem);
    out.bgr = upright(bgr, out.orientation);
  };

  // Every byte of the stream is checked (libvips lets a truncated PNG or
  // progressive JPEG through; see io/integrity.cpp), on another core while
  // libvips decodes; its verdict comes first, before any pixel is used.
  std::future<std::string> damage = std::async(std::launch::async, [&] { return io::stream_damage(format, bytes); });
  auto verdict = [&] {
    if (const std::string d = damage.get(); !d.empty()) throw_bad_input(name, "the file is truncated or damaged: " + d);
  };
  try {
    decode();
  } catch (const Error&) {
    verdict();
    throw;
  }
  verdict();
  return out;
}

ImageFormat format_from_name(const std::string& name) {
  if (name == "jpeg" || name == "jpg") return ImageFormat::jpeg;
  if (name == "png") return ImageFormat::png;
  if (name == "webp") return ImageFormat::webp;
  throw Error(ErrorCode::usage, "unknown output format '" + name + "' (jpeg, png, webp)");
}

ImageFormat format_from_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == "jpeg" || ext == "jpg" || ext == "png" || ext == "webp") return format_from_name(ext);
  throw Error(ErrorCode::usage, "'" + path + "' should end in .jpg, .png or .webp");
}

std::string format_extension(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg:
      return "jpg";
    case ImageFormat::png:
      return "png";
    case ImageFormat::webp:
      return "webp";
  }
  return "bin";
}

std::string encode_image(const cv::Mat& bgr, ImageFormat format, int quality) {
  init_image_io();
  CV_Assert(bgr.type() == CV_8UC3 || (bgr.type() == CV_8UC4 && format != ImageFormat::jpeg));
  const int bands = bgr.channels();
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, bands == 4 ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGR2RGB);
  VipsPtr img(
      vips_image_new_from_memory_copy(rgb.data, rgb.total() * bands, rgb.cols, rgb.rows, bands, VIPS_FORMAT_UCHAR));
  if (!img) throw Error(ErrorCode::internal, "libvips: " + vips_message());
  img->Type = VIPS_INTERPRETATION_sRGB;
  VipsBlob* profile = nullptr;
  if (vips_profile_load("srgb", &profile, nullptr) != 0)
    throw Error(ErrorCode::internal, "libvips has no built-in sRGB profile: " + vips_message());
  size_t plen = 0;
  const void* pdata = vips_blob_get(profile, &plen);
  vips_image_set_blob_copy(img.get(), VIPS_META_ICC_NAME, pdata, plen);
  vips_area_unref(VIPS_AREA(profile));

  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  switch (format) {
    case ImageFormat::jpeg:
      rc = vips_jpegsave_buffer(img.get(), &buf, &len, "Q", quality, "optimize_coding", TRUE, nullptr);
      break;
    case ImageFormat::png:
      rc = vips_pngsave_buffer(img.get(), &buf, &len, "compression", 6, nullptr);
      break;
    case ImageFormat::webp:
      rc = vips_webpsave_buffer(img.get(), &buf, &len, "Q", quality, nullptr);
      break;
  }
  if (rc != 0) throw Error(ErrorCode::internal, "cannot encode: " + vips_message());
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

}  // namespace likeness
