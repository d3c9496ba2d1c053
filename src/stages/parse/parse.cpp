// parse: the rest of the source analysis, after the person matte — the
// subject's 468-point face mesh (with depth) and semantic masks (face skin,
// body skin, hair, clothing, eyes, lips, teeth; see masks.cpp for how).
// Computed once on the source photo, in the person region's own pixels
// (never finer than the photo), and shared by every crop, aspect and
// backdrop: the render step maps mesh and masks through the plan.
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/resample.hpp"
#include "stages/parse/masks.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
class ParseStage final : public Stage {
 public:
  std::string id() const override { return "parse"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Face mesh and semantic masks (skin, hair, clothing, eyes, lips, teeth) at the source";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"resolution", ParamType::integer, 1024, "Long side (px) of the masks over the person region", 256, 2048, {}},
    };
  }
  std::vector<std::string> models() const override { return {"facemesh"}; }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    const Face* face = in.subject_face();
    if (!face || face->landmarks.size() != 68)
      throw Error(ErrorInfo{ErrorCode::bad_input, "no face to parse", id(), {}, {}});
    if (in.person.empty() || in.rendered)
      throw Error(
          ErrorInfo{ErrorCode::internal, "needs the source's person matte: put it after segment", id(), {}, {}});
    Frame out = in;
    Face& subject = out.faces[in.subject];
    subject.mesh = face_mesh(in.image, face->landmarks);
    ctx.check_cancel();
    if (subject.mesh.empty()) return out;

    // The masks' grid: the person layer's region of the source, at most
    // `resolution` px on its long side and never finer than the photo.
    cv::Matx23d inv;
    cv::invertAffineTransform(in.person.from_source, inv);
    const cv::Point2d a(inv(0, 2), inv(1, 2));
    const cv::Point2d b(inv(0, 0) * in.person.data.cols + inv(0, 2), inv(1, 1) * in.person.data.rows + inv(1, 2));
    const double rw = b.x - a.x, rh = b.y - a.y;
    const double s = std::min(1.0, p["resolution"].get<double>() / std::max(rw, rh));
    const cv::Size grid(std::max(1, int(std::lround(rw * s))), std::max(1, int(std::lround(rh * s))));
    const cv::Matx23d to_grid(s, 0, -a.x * s, 0, s, -a.y * s);

    // Averaged, not sampled, when reducing (only the region is reduced).
    const cv::Mat bgr = warp_reduced(in.image, to_grid, grid, 1.5);
    // The person matte in the grid: layer -> source -> grid.
    cv::Mat person;
    cv::warpAffine(in.person.data, person, in.person.to(to_grid), grid, cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar(0));
    std::vector<cv::Point3f> mesh = subject.mesh;
    for (auto& q : mesh) q = cv::Point3f(float(q.x * s - a.x * s), float(q.y * s - a.y * s), float(q.z * s));
    for (auto& [name, mask] : semantic_masks(bgr, person, mesh)) {
      Layer& l = out.layers[name];
      l.data = mask;
      l.from_source = to_grid;
    }
    return out;
  }
};
}  // namespace

const Stage& parse_stage() {
  static ParseStage s;
  return s;
}

}  // namespace likeness
