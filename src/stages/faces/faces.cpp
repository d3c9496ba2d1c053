// faces: finds every face (SSD MobileNetV1), adds 68 landmarks and a 128-d
// identity embedding to each, and takes the subject intake chose (the frame's
// subject_hint) or else the main face. Pixels unchanged.
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/resample.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
class FacesStage final : public Stage {
 public:
  std::string id() const override { return "faces"; }
  int version() const override { return 2; }
  std::string summary() const override {
    return "Find faces, 68-point landmarks and identity embeddings; pick the main subject";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"analysis_size", ParamType::integer, 1280, "Long side (px) the photo is analysed at", 320, 4096, {}},
        {"min_face",
         ParamType::integer,
         40,
         "Smallest face (px, at the analysis size) that must be found; faces under a quarter of the subject's "
         "width are not looked for",
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
    double sx = 1, sy = 1;
    if (scale < 1) work = reduce_area(in.image, scale, &sx, &sy);
    DetectOptions opt;
    opt.min_face = p["min_face"].get<int>();
    opt.min_score = p["min_score"].get<float>();
    FaceAnalyzer& fa = FaceAnalyzer::shared();
    // The whole photo first. When that finds the subject, faces under a
    // quarter of the subject's width are not looked for: they are too far
    // behind to matter to this portrait (a stranger's head that small claims
    // under half an eye distance of the subject's matte), and looking for
    // them tile by tile is four fifths of this stage's time.
    DetectOptions whole = opt;
    whole.tiles = false;
    std::vector<Face> faces = fa.analyze(work, false, whole);
    const int first = pick_subject(faces, in.subject_hint, scale, work.size());
    if (first >= 0) opt.min_face = std::max(opt.min_face, int(faces[first].box.width / 4));
    if (FaceDetector::needs_tiles(work.size(), opt)) faces = fa.analyze(work, false, opt);
    for (Face& f : faces) fa.complete(work, f);
    ctx.check_cancel();
    const float ix = float(1.0 / sx), iy = float(1.0 / sy);
    for (Face& f : faces) {
      f.box = cv::Rect2f(f.box.x * ix, f.box.y * iy, f.box.width * ix, f.box.height * iy);
      for (auto& pt : f.landmarks) pt = cv::Point2f(pt.x * ix, pt.y * iy);
    }
    out.faces = std::move(faces);
    out.subject = pick_subject(out.faces, in.subject_hint, 1.0, in.image.size());
    return out;
  }

 private:
  // The subject intake chose (in a group photo, the person whose photos
  // these are), when it was passed in (in the photo's pixels; the faces are
  // at `scale`); otherwise the main face.
  static int pick_subject(const std::vector<Face>& faces, const cv::Rect2f& hint_in_photo, double scale,
                          cv::Size image) {
    if (!hint_in_photo.empty()) {
      const cv::Rect2f hint(hint_in_photo.x * scale, hint_in_photo.y * scale, hint_in_photo.width * scale,
                            hint_in_photo.height * scale);
      int subject = -1;
      float best = 0.3f;
      for (int i = 0; i < int(faces.size()); ++i) {
        const cv::Rect2f& b = faces[i].box;
        const float inter = (b & hint).area();
        const float iou = inter / (b.area() + hint.area() - inter);
        if (iou > best) best = iou, subject = i;
      }
      if (subject >= 0) return subject;
    }
    return FaceAnalyzer::main_subject(faces, image);
  }
};
}  // namespace

const Stage& faces_stage() {
  static FacesStage s;
  return s;
}

}  // namespace likeness
