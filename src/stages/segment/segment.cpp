// segment: the person matte, computed once at the source with full context
// and shared by every crop, aspect and backdrop of the photo.
//
// ISNet runs on the person's region of the source (from above the hair to the
// bottom of a half-body frame, a torso's width either side of the face) at
// 640x640 or 1024x1024. Where that region reaches beyond the photo (a tight
// close-up) it is filled with the photo's edges, smeared, so the network sees
// a whole person on a plain surround rather than a face filling the frame;
// the padding is then cut away again. The result is a coarse layer in the
// region's own pixels; the render step resamples it onto the canvas and the
// matte stage refines its edge there.
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/inference.hpp"
#include "stages/stages.hpp"

namespace likeness {

cv::Rect2d person_region(const Face& face, double above, double below, double side) {
  const cv::Point2f eyes = (face.left_eye() + face.right_eye()) * 0.5f;
  const double d = std::max(4.0f, face.eye_distance());
  return {eyes.x - side * d, eyes.y - above * d, 2 * side * d, (above + below) * d};
}

namespace {
class SegmentStage final : public Stage {
 public:
  std::string id() const override { return "segment"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Person matte at the source, on the person's region with full context (ISNet)";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"resolution",
         ParamType::choice,
         "1024",
         "ISNet input size: 1024 (native) or 640 (2.5x faster; can drop a dark jacket on a dark background)",
         0,
         0,
         {"640", "1024"}},
        {"above", ParamType::number, 4.0, "Region above the eyes, in eye distances (room for hair)", 2, 10, {}},
        {"below", ParamType::number, 11.0, "Region below the eyes, in eye distances (down to the waist)", 4, 30, {}},
        {"side", ParamType::number, 5.0, "Region either side of the face, in eye distances", 2, 15, {}},
    };
  }
  std::vector<std::string> models() const override { return {"isnet", "isnet_640"}; }
  std::vector<std::string> models_for(const json& p) const override { return {model_for(p)}; }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    const Face* face = in.subject_face();
    if (!face || face->landmarks.size() != 68)
      throw Error(ErrorInfo{ErrorCode::bad_input, "no face to find the person by", id(), {}, {}});
    const int size = p["resolution"].get<std::string>() == "1024" ? 1024 : 640;
    const cv::Rect2d want = person_region(*face, p["above"], p["below"], p["side"]);
    const cv::Rect region(cvFloor(want.x), cvFloor(want.y), cvCeil(want.width), cvCeil(want.height));
    const cv::Rect photo(0, 0, in.image.cols, in.image.rows);
    const cv::Rect inside = region & photo;
    if (inside.area() <= 0) throw Error(ErrorInfo{ErrorCode::bad_input, "the face is outside the photo", id(), {}, {}});

    // The region, scaled so its long side is about the network's: the part
    // inside the photo resampled once, the rest filled by its smeared edges.
    const double s = double(size) / std::max(region.width, region.height);
    const cv::Size scaled(std::max(1, int(std::lround(region.width * s))),
                          std::max(1, int(std::lround(region.height * s))));
    const int left = int(std::lround((inside.x - region.x) * s)), top = int(std::lround((inside.y - region.y) * s));
    cv::Mat piece;
    const cv::Size piece_size(std::max(1, std::min(scaled.width - left, int(std::lround(inside.width * s)))),
                              std::max(1, std::min(scaled.height - top, int(std::lround(inside.height * s)))));
    cv::resize(in.image(inside), piece, piece_size, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::Mat canvas;
    const int bottom = std::max(0, scaled.height - top - piece.rows),
              right = std::max(0, scaled.width - left - piece.cols);
    cv::copyMakeBorder(piece, canvas, top, bottom, left, right, cv::BORDER_REPLICATE);
    if (top || bottom || left || right) {
      const int k = std::max(3, size / 20) | 1;
      cv::Mat smeared;
      cv::blur(canvas, smeared, cv::Size(k, k));
      piece.copyTo(smeared(cv::Rect(left, top, piece.cols, piece.rows)));
      canvas = smeared;
    }
    cv::Mat input;
    cv::resize(canvas, input, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    const cv::Mat blob = cv::dnn::blobFromImage(input, 1.0 / 256, cv::Size(), cv::Scalar(128, 128, 128), true);
    ctx.check_cancel();
    cv::Mat pred = network(model_for(p)).run({{"", blob}}, {"output"})[0];
    cv::Mat square(size, size, CV_32F, pred.ptr<float>());

    Frame out = in;
    // The layer: ISNet's answer in its own size x size pixels of the region.
    out.person.data = cv::min(cv::max(square, 0.0), 1.0);
    const double lx = size / double(region.width), ly = size / double(region.height);
    out.person.from_source = cv::Matx23d(lx, 0, -region.x * lx, 0, ly, -region.y * ly);
    return out;
  }

 private:
  static std::string model_for(const json& p) { return p["resolution"] == "1024" ? "isnet" : "isnet_640"; }
};
}  // namespace

const Stage& segment_stage() {
  static SegmentStage s;
  return s;
}

}  // namespace likeness
