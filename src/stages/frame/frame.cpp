// frame: plans a head-and-shoulders (or headshot / half-body) portrait at the
// output size, eye line at a chosen height (upper third by default). The plan
// is a scale and an offset from the source onto the canvas; the render step
// applies it to the image and every layer. Where the canvas reaches past the
// photo the backdrop fills it, but never past an edge the person runs off
// (the body is never cut by a line inside the frame): the frame zooms in
// first.
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
  const double fits =
      std::min(photo.height / eye_distance, photo.width * double(out.height) / (double(out.width) * eye_distance));
  return std::max(kTightestSpan, std::min(wanted_span, fits));
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
        {"hold",
         ParamType::boolean,
         false,
         "Hold the eye line where asked: extend the frame with the backdrop past the photo's edges the person "
         "does not touch rather than shift the face (a team set framed alike); off: keep more of the photo",
         0,
         0,
         {}},
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
    const cv::Size photo = in.image.size();
    // Where the person runs off the photo (the body at the bottom, a shoulder
    // at a side), the frame must not reach past that edge: the backdrop would
    // meet the body in a hard line. Other edges may be extended by the
    // backdrop (headroom, a wider aspect).
    const Edges touching = person_touches(in, photo);
    // Refine, never invent: zoom in (to the tightest span) until the frame
    // stays inside every edge the person touches; the face may sit off-centre
    // or off the eye line rather than cut the body.
    // Held, the face stays on the eye line and only the zoom gives way; the
    // frame is shifted only when even the tightest span crosses such an edge.
    const bool hold = p.value("hold", false);
    double span = frame_fitted_span(wanted, photo, cv::Size(W, H), d);
    cv::Rect2d src;
    for (;; span = std::max(kTightestSpan, span - 0.1)) {
      const double sc = H / (span * d), sw = W / sc, sh = H / sc;
      src = cv::Rect2d(eyes.x - sw / 2, eyes.y - eye_line * sh, sw, sh);
      if (!hold) src = keep_inside(src, photo, touching);
      const bool ok = (!touching.left || src.x >= -1e-6) && (!touching.top || src.y >= -1e-6) &&
                      (!touching.right || src.br().x <= photo.width + 1e-6) &&
                      (!touching.bottom || src.br().y <= photo.height + 1e-6);
      if (ok || span <= kTightestSpan) {
        if (!ok && hold) src = keep_inside(src, photo, touching);
        break;
      }
    }
    const double s = H / (span * d);
    if ((src & cv::Rect2d(0, 0, photo.width, photo.height)).area() <= 0)
      throw Error(ErrorInfo{ErrorCode::bad_input, "the face is outside the photo", id(), {}, {}});

    Frame out = in;
    out.plan.canvas = cv::Size(W, H);
    out.plan.scale = s;
    out.plan.offset = cv::Point2d(-src.x * s, -src.y * s);
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

 private:
  struct Edges {
    bool left = false, top = false, right = false, bottom = true;
  };

  // Which photo edges the person runs off (person layer > 0.5 on the edge);
  // without a layer, only the bottom (the body always continues there).
  static Edges person_touches(const Frame& in, cv::Size photo) {
    Edges e;
    if (in.person.empty()) return e;
    auto on = [&](double x, double y) {
      const cv::Matx23d& m = in.person.from_source;
      const int lx = int(m(0, 0) * x + m(0, 1) * y + m(0, 2)), ly = int(m(1, 0) * x + m(1, 1) * y + m(1, 2));
      if (lx < 0 || ly < 0 || lx >= in.person.data.cols || ly >= in.person.data.rows) return false;
      return in.person.data.at<float>(ly, lx) > 0.5f;
    };
    auto along = [&](bool vertical, double at) {
      const int n = 256;
      const double len = vertical ? photo.height : photo.width;
      for (int i = 0; i < n; ++i) {
        const double t = (i + 0.5) * len / n;
        if (vertical ? on(at, t) : on(t, at)) return true;
      }
      return false;
    };
    e.left = along(true, 0.5);
    e.right = along(true, photo.width - 0.5);
    e.top = along(false, 0.5);
    e.bottom = true;
    return e;
  }

  // Shifts the frame into the photo along each axis where it fits; where it
  // does not fit, keeps it against the edges the person touches.
  static cv::Rect2d keep_inside(cv::Rect2d r, cv::Size photo, const Edges& t) {
    auto axis = [](double pos, double size, double limit, bool low, bool high) {
      if (size <= limit) return std::clamp(pos, 0.0, limit - size);
      if (low && !high) return 0.0;
      if (high && !low) return limit - size;
      return pos;
    };
    r.x = axis(r.x, r.width, photo.width, t.left, t.right);
    r.y = axis(r.y, r.height, photo.height, t.top, t.bottom);
    return r;
  }
};
}  // namespace

const Stage& frame_stage() {
  static FrameStage s;
  return s;
}

}  // namespace likeness
