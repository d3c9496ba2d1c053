// faces: finds every face (SSD MobileNetV1), adds 68 landmarks and a 128-d
// identity embedding to each, and takes the subject intake chose (the frame's
// subject_hint) or else the main face. Pixels unchanged.
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
class FacesStage final : public Stage {
 public:
  std::string id() const override { return "faces"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Find faces, 68-point landmarks and identity embeddings; pick the main subject";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"analysis_size", ParamType::integer, 1280, "Long side (px) the photo is analysed at", 320, 4096, {}},
        {"min_face",
         ParamType::integer,
         40,
         "Smallest face (px, at the analysis size) that must be found",
         16,
         2000,
         {}},
        {"min_score", ParamType::number, 0.5, "Detector confidence a face needs", 0.2, 0.99, {}},
    };
  }
  std::vector<std::string> models() const override { return {"face_detector", "face_landmarks68", "face_recognition"}; }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    Frame out = in;
    const int long_side = std::max(in.image.cols, in.image.rows);
    const double scale = std::min(1.0, p["analysis_size"].get<double>() / long_side);
    cv::Mat work = in.image;
    if (scale < 1) cv::resize(in.image, work, cv::Size(), scale, scale, cv::INTER_AREA);
    DetectOptions opt;
    opt.min_face = p["min_face"].get<int>();
    opt.min_score = p["min_score"].get<float>();
    FaceAnalyzer& fa = FaceAnalyzer::shared();
    out.faces = fa.analyze(work, true, opt);
    ctx.check_cancel();
    const float inv = float(1.0 / scale);
    for (Face& f : out.faces) {
      f.box = cv::Rect2f(f.box.x * inv, f.box.y * inv, f.box.width * inv, f.box.height * inv);
      for (auto& pt : f.landmarks) pt *= inv;
    }
    // The subject intake chose (in a group photo, the person whose photos
    // these are), when it was passed in; otherwise the main face.
    out.subject = -1;
    if (!in.subject_hint.empty()) {
      float best = 0.3f;
      for (int i = 0; i < int(out.faces.size()); ++i) {
        const cv::Rect2f& b = out.faces[i].box;
        const float inter = (b & in.subject_hint).area();
        const float iou = inter / (b.area() + in.subject_hint.area() - inter);
        if (iou > best) best = iou, out.subject = i;
      }
    }
    if (out.subject < 0) out.subject = FaceAnalyzer::main_subject(out.faces, in.image.size());
    return out;
  }
};
}  // namespace

const Stage& faces_stage() {
  static FacesStage s;
  return s;
}

}  // namespace likeness
