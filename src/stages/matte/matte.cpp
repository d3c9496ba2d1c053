// matte: a person matte from ISNet (run at its native 1024x1024), scaled to
// the frame and edge-refined with a guided filter so hair strands follow the
// photo. Pixels outside the photo are background, except below its bottom
// edge, where the body continues.
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc.hpp>

#include "likeness/model_store.hpp"
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
    };
  }
  std::vector<std::string> models() const override { return {"isnet"}; }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    constexpr int kSize = 1024;
    cv::Mat input;
    cv::resize(in.image, input, cv::Size(kSize, kSize), 0, 0, cv::INTER_AREA);
    cv::Mat blob = cv::dnn::blobFromImage(input, 1.0 / 256, cv::Size(), cv::Scalar(128, 128, 128), true);
    cv::Mat pred;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (net_.empty()) net_ = ModelStore::shared().load_net("isnet");
      net_.setInput(blob);
      pred = net_.forward("output").clone();
    }
    ctx.check_cancel();
    cv::Mat small(kSize, kSize, CV_32F, pred.ptr<float>());
    Frame out = in;
    cv::resize(small, out.alpha, in.image.size(), 0, 0, cv::INTER_LINEAR);
    if (p["refine"].get<bool>()) {
      const int radius = std::max(4, std::max(in.image.cols, in.image.rows) / 128);
      cv::Mat refined;
      cv::ximgproc::guidedFilter(in.image, out.alpha, refined, radius, 1e-3 * 255 * 255);
      out.alpha = refined;
    }
    cv::min(cv::max(out.alpha, 0.0), 1.0, out.alpha);
    if (!in.outside.empty() && cv::countNonZero(in.outside)) {
      const cv::Rect inside = cv::boundingRect(255 - in.outside);
      cv::Mat keep = out.alpha.clone();
      out.alpha.setTo(0, in.outside);
      // Below the photo: continue the last row of the matte downwards.
      const int last = inside.y + inside.height - 1;
      for (int y = last + 1; y < out.alpha.rows; ++y)
        keep.row(last).colRange(inside.x, inside.x + inside.width).copyTo(out.alpha.row(y).colRange(inside.x, inside.x + inside.width));
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  mutable cv::dnn::Net net_;
};
}  // namespace

const Stage& matte_stage() {
  static MatteStage s;
  return s;
}

}  // namespace likeness
