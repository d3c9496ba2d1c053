// frame: crops to a head-and-shoulders (or headshot / half-body) portrait at
// the output size, eye line at a chosen height (upper third by default).
// Where the frame reaches past the photo's edges the pixels are marked
// `outside` so the backdrop fills them; the bottom edge zooms in first so the
// body is never invented.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "stages/stages.hpp"

namespace likeness {

double frame_crop_span(const std::string& crop) {
  if (crop == "headshot") return 5.0;
  if (crop == "half-body") return 11.0;
  return 7.0;  // head-and-shoulders
}

double frame_fitted_span(double wanted_span, cv::Size photo, cv::Size out, double eye_distance) {
  constexpr double kTightest = 3.2;
  const double fits =
      std::min(photo.height / eye_distance, photo.width * double(out.height) / (double(out.width) * eye_distance));
  return std::max(kTightest, std::min(wanted_span, fits));
}

namespace {

class FrameStage final : public Stage {
 public:
  std::string id() const override { return "frame"; }
  int version() const override { return 1; }
  std::string summary() const override { return "Crop and scale to a portrait framing with the eye line placed"; }
  std::string c2pa_action() const override { return "c2pa.cropped"; }
  std::string c2pa_source_type() const override { return "digitalCapture"; }
  std::vector<ParamSpec> params() const override {
    return {
        {"width", ParamType::integer, 1024, "Output width (px)", 64, 8192, {}},
        {"height", ParamType::integer, 1280, "Output height (px)", 64, 8192, {}},
        {"crop",
         ParamType::choice,
         "head-and-shoulders",
         "Framing",
         0,
         0,
         {"headshot", "head-and-shoulders", "half-body"}},
        {"eye_line", ParamType::number, 0.36, "Eye line height as a fraction of the frame from the top", 0.2, 0.5, {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext&) const override {
    const Face* face = in.subject_face();
    if (!face || face->landmarks.size() != 68)
      throw Error(ErrorInfo{ErrorCode::bad_input, "no face to frame", id(), {}, {}});
    const int W = p["width"], H = p["height"];
    const double eye_line = p["eye_line"];
    const cv::Point2f eyes = (face->left_eye() + face->right_eye()) * 0.5f;
    const double d = std::max(4.0f, face->eye_distance());
    const double wanted = frame_crop_span(p["crop"]);
    // Refine, never invent: the frame stays inside the photo. If the photo
    // is too tight for the crop, zoom in (to a tightest span); the face may
    // sit off-centre or off the eye line rather than leave the photo.
    const double span = frame_fitted_span(wanted, in.image.size(), cv::Size(W, H), d);
    const double s = H / (span * d);  // output px per source px
    const double sw = W / s, sh = H / s;
    auto place = [](double want, double size, double limit) {
      return size <= limit ? std::clamp(want, 0.0, limit - size) : want;
    };
    const cv::Rect2d src(place(eyes.x - sw / 2, sw, in.image.cols), place(eyes.y - eye_line * sh, sh, in.image.rows),
                         sw, sh);

    Frame out;
    out.source_type = in.source_type;
    out.edits = in.edits;
    out.image = cv::Mat(H, W, CV_8UC3, cv::Scalar::all(0));
    out.outside = cv::Mat(H, W, CV_8U, cv::Scalar(255));
    const cv::Rect2d inter = src & cv::Rect2d(0, 0, in.image.cols, in.image.rows);
    if (inter.area() <= 0) throw Error(ErrorInfo{ErrorCode::bad_input, "the face is outside the photo", id(), {}, {}});
    // Source pixels -> destination rectangle (rounded to whole pixels).
    const int dx0 = std::clamp(int(std::lround((inter.x - src.x) * s)), 0, W - 1);
    const int dy0 = std::clamp(int(std::lround((inter.y - src.y) * s)), 0, H - 1);
    const int dx1 = std::clamp(int(std::lround((inter.x + inter.width - src.x) * s)), dx0 + 1, W);
    const int dy1 = std::clamp(int(std::lround((inter.y + inter.height - src.y) * s)), dy0 + 1, H);
    const cv::Rect dst(dx0, dy0, dx1 - dx0, dy1 - dy0);
    // Exact sub-pixel mapping for the destination rectangle.
    const double sx = dst.width / inter.width, sy = dst.height / inter.height;
    cv::Rect srect(int(std::floor(inter.x)), int(std::floor(inter.y)), 0, 0);
    srect.width = std::min(in.image.cols - srect.x, int(std::ceil(inter.x + inter.width)) - srect.x);
    srect.height = std::min(in.image.rows - srect.y, int(std::ceil(inter.y + inter.height)) - srect.y);
    cv::Mat piece;
    if (s < 1) {
      cv::resize(in.image(srect), piece, dst.size(), 0, 0, cv::INTER_AREA);
    } else {
      cv::Matx23d m(sx, 0, (srect.x - inter.x) * sx, 0, sy, (srect.y - inter.y) * sy);
      cv::warpAffine(in.image(srect), piece, m, dst.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
    }
    piece.copyTo(out.image(dst));
    out.outside(dst).setTo(0);
    // Fill outside pixels by replicating the edge (the backdrop replaces them;
    // the matte needs plausible values there).
    if (dst != cv::Rect(0, 0, W, H)) {
      cv::Mat filled;
      cv::copyMakeBorder(piece, filled, dst.y, H - dst.y - dst.height, dst.x, W - dst.x - dst.width,
                         cv::BORDER_REPLICATE);
      filled.copyTo(out.image, out.outside);
    }
    auto map = [&](cv::Point2f q) { return cv::Point2f(float((q.x - src.x) * s), float((q.y - src.y) * s)); };
    for (const Face& f : in.faces) {
      Face g = f;
      const cv::Point2f tl = map(f.box.tl());
      g.box = cv::Rect2f(tl.x, tl.y, float(f.box.width * s), float(f.box.height * s));
      for (auto& q : g.landmarks) q = map(q);
      out.faces.push_back(std::move(g));
    }
    out.subject = in.subject;
    char buf[160];
    std::snprintf(buf, sizeof buf, "framed %s at %dx%d (%s %.2fx)", p["crop"].get<std::string>().c_str(), W, H,
                  s > 1 ? "enlarged" : "reduced", s > 1 ? s : 1 / s);
    out.edits.push_back(buf);
    if (span < wanted) {
      std::snprintf(buf, sizeof buf, "zoomed in %.0f%% so the frame stays inside the photo", 100 * (wanted / span - 1));
      out.edits.push_back(buf);
    }
    return out;
  }
};
}  // namespace

const Stage& frame_stage() {
  static FrameStage s;
  return s;
}

}  // namespace likeness
