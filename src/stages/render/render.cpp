// render: applies the frame's plan. The source region is resampled once onto
// the canvas (area-averaged when reducing, bicubic when enlarging) and turned
// into float linear light; every layer of the source analysis (the person
// matte, the semantic masks) goes through the same map, and so do the faces'
// points and meshes. Canvas pixels beyond the photo are marked `outside` for
// the backdrop to fill.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
// Output-from-layer map: output = P * source, layer = L * source.
cv::Matx23d compose(const FramePlan& plan, const cv::Matx23d& L) {
  cv::Matx23d inv;
  cv::invertAffineTransform(L, inv);  // source from layer
  const cv::Matx33d P(plan.scale, 0, plan.offset.x, 0, plan.scale, plan.offset.y, 0, 0, 1);
  const cv::Matx33d I(inv(0, 0), inv(0, 1), inv(0, 2), inv(1, 0), inv(1, 1), inv(1, 2), 0, 0, 1);
  const cv::Matx33d M = P * I;
  return {M(0, 0), M(0, 1), M(0, 2), M(1, 0), M(1, 1), M(1, 2)};
}

class RenderStage final : public Stage {
 public:
  std::string id() const override { return "render"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Apply the frame's plan to the photo and every layer; float linear light from here on";
  }
  std::vector<ParamSpec> params() const override { return {}; }

  Frame run(const Frame& in, const json&, JobContext&) const override {
    if (!in.plan.valid())
      throw Error(ErrorInfo{ErrorCode::internal, "needs a plan: put the frame stage before it", id(), {}, {}});
    const FramePlan& plan = in.plan;
    const int W = plan.canvas.width, H = plan.canvas.height;
    const double s = plan.scale;
    const cv::Rect2d src = plan.source_rect();
    const cv::Rect2d inter = src & cv::Rect2d(0, 0, in.image.cols, in.image.rows);
    if (inter.area() <= 0) throw Error(ErrorInfo{ErrorCode::bad_input, "the frame misses the photo", id(), {}, {}});

    // Source pixels -> destination rectangle (whole output pixels).
    const int dx0 = std::clamp(int(std::lround((inter.x - src.x) * s)), 0, W - 1);
    const int dy0 = std::clamp(int(std::lround((inter.y - src.y) * s)), 0, H - 1);
    const int dx1 = std::clamp(int(std::lround((inter.x + inter.width - src.x) * s)), dx0 + 1, W);
    const int dy1 = std::clamp(int(std::lround((inter.y + inter.height - src.y) * s)), dy0 + 1, H);
    const cv::Rect dst(dx0, dy0, dx1 - dx0, dy1 - dy0);
    cv::Rect srect(int(std::floor(inter.x)), int(std::floor(inter.y)), 0, 0);
    srect.width = std::min(in.image.cols - srect.x, int(std::ceil(inter.x + inter.width)) - srect.x);
    srect.height = std::min(in.image.rows - srect.y, int(std::ceil(inter.y + inter.height)) - srect.y);
    cv::Mat piece;
    if (s < 1) {
      cv::resize(in.image(srect), piece, dst.size(), 0, 0, cv::INTER_AREA);
    } else {
      const double sx = dst.width / inter.width, sy = dst.height / inter.height;
      const cv::Matx23d m(sx, 0, (srect.x - inter.x) * sx, 0, sy, (srect.y - inter.y) * sy);
      cv::warpAffine(in.image(srect), piece, m, dst.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
    }
    cv::Mat canvas8;
    cv::copyMakeBorder(piece, canvas8, dst.y, H - dst.y - dst.height, dst.x, W - dst.x - dst.width,
                       cv::BORDER_REPLICATE);

    Frame out;
    out.source_type = in.source_type;
    out.edits = in.edits;
    out.plan = plan;
    out.rendered = true;
    out.image = srgb_to_linear(canvas8);
    out.outside = cv::Mat(H, W, CV_8U, cv::Scalar(255));
    out.outside(dst).setTo(0);
    if (!in.person.empty()) {
      cv::warpAffine(in.person.data, out.alpha, compose(plan, in.person.from_source), plan.canvas, cv::INTER_LINEAR,
                     cv::BORDER_CONSTANT, cv::Scalar(0));
      out.alpha.setTo(0, out.outside);
    }
    for (const auto& [name, layer] : in.layers) {
      Layer& l = out.layers[name];
      cv::warpAffine(layer.data, l.data, compose(plan, layer.from_source), plan.canvas, cv::INTER_LINEAR,
                     cv::BORDER_CONSTANT, cv::Scalar(0));
      l.data.setTo(0, out.outside);
      l.from_source = plan.output_from_source();
    }
    for (const Face& f : in.faces) {
      Face g = f;
      const cv::Point2f tl = plan.to_output(f.box.tl());
      g.box = cv::Rect2f(tl.x, tl.y, float(f.box.width * s), float(f.box.height * s));
      for (auto& q : g.landmarks) q = plan.to_output(q);
      for (auto& q : g.mesh) {
        const cv::Point2f o = plan.to_output({q.x, q.y});
        q = cv::Point3f(o.x, o.y, float(q.z * s));
      }
      out.faces.push_back(std::move(g));
    }
    out.subject = in.subject;
    out.light = in.light;
    return out;
  }
};
}  // namespace

const Stage& render_stage() {
  static RenderStage s;
  return s;
}

}  // namespace likeness
