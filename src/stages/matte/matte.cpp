// matte: a person matte from ISNet (at 640x640 or its native 1024x1024), scaled to
// the frame and edge-refined with a guided filter so hair strands follow the
// photo. Pixels the frame added beyond the photo are background.
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc.hpp>

#include "likeness/inference.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
class MatteStage final : public Stage {
 public:
  std::string id() const override { return "matte"; }
  int version() const override { return 1; }
  std::string summary() const override { return "Separate the person from the background (ISNet matte)"; }
  std::vector<ParamSpec> params() const override {
    return {
        {"refine", ParamType::boolean, true, "Refine the matte's edges with a guided filter on the photo", 0, 0, {}},
        {"resolution",
         ParamType::choice,
         "1024",
         "ISNet input size: 1024 is native; 640 is about 2.5x faster (matte IoU 0.95-0.999 against 1024)",
         0,
         0,
         {"640", "1024"}},
        {"context",
         ParamType::number,
         0.25,
         "Margin added around the frame (fraction of its size) so ISNet sees a close-up as a whole person",
         0,
         1,
         {}},
    };
  }
  std::vector<std::string> models() const override { return {"isnet", "isnet_640"}; }
  std::vector<std::string> models_for(const json& p) const override { return {model_for(p)}; }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    const int size = p["resolution"].get<std::string>() == "1024" ? 1024 : 640;
    // ISNet finds the salient object; in a tight close-up it picks the face
    // and drops hair and shoulders. A margin (edge pixels, smeared) above and
    // beside the frame makes the person a smaller, whole object again.
    const double ctx_frac = p["context"].get<double>();
    const int mx = int(in.image.cols * ctx_frac), my = int(in.image.rows * ctx_frac);
    cv::Mat padded;
    cv::copyMakeBorder(in.image, padded, my, my, mx, mx, cv::BORDER_REPLICATE);
    if (mx > 0 || my > 0) {
      cv::Mat blurred;
      cv::blur(padded, blurred, cv::Size(31, 31));
      in.image.copyTo(blurred(cv::Rect(mx, my, in.image.cols, in.image.rows)));
      padded = blurred;
    }
    cv::Mat input;
    cv::resize(padded, input, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    cv::Mat blob = cv::dnn::blobFromImage(input, 1.0 / 256, cv::Size(), cv::Scalar(128, 128, 128), true);
    cv::Mat pred = network(model_for(p)).run({{"", blob}}, {"output"})[0];
    ctx.check_cancel();
    cv::Mat small(size, size, CV_32F, pred.ptr<float>());
    Frame out = in;
    cv::Mat full;
    cv::resize(small, full, padded.size(), 0, 0, cv::INTER_LINEAR);
    out.alpha = full(cv::Rect(mx, my, in.image.cols, in.image.rows)).clone();  // fresh: the input may be cached
    if (p["refine"].get<bool>()) {
      const int radius = std::max(4, std::max(in.image.cols, in.image.rows) / 128);
      cv::Mat refined;
      cv::ximgproc::guidedFilter(in.image, out.alpha, refined, radius, 1e-3 * 255 * 255);
      out.alpha = refined;
    }
    cv::min(cv::max(out.alpha, 0.0), 1.0, out.alpha);
    // Pixels the frame had to add beyond the photo are backdrop.
    if (!in.outside.empty()) out.alpha.setTo(0, in.outside);
    return out;
  }

 private:
  static std::string model_for(const json& p) { return p["resolution"] == "1024" ? "isnet" : "isnet_640"; }
};
}  // namespace

const Stage& matte_stage() {
  static MatteStage s;
  return s;
}

}  // namespace likeness
