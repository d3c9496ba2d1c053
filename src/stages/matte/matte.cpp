// matte: the person matte on the canvas, refined at output resolution. The
// source analysis's coarse matte (resampled by the render step) is refined in
// its uncertain edge band with a guided filter on the portrait itself, so hair
// strands follow the photo; anything of the old scene the network called
// "person" but that is not joined to the subject (a sign's letter, a stranger
// behind) and every trace far from the person is cut; then the person's own
// colours in the edge band are estimated (foreground estimation), so no colour
// of the old background reaches the new one.
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "stages/matte/foreground.hpp"
#include "stages/matte/guided.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
// The guided filter's coefficients are found at half size: they are smooth
// over its window (21 px at 1280), so nothing is lost at the hair's edge.
constexpr int kGuidedSubsample = 2;

cv::Mat refine_matte(const cv::Mat& linear, const cv::Mat& coarse, const cv::Mat& outside, cv::Point2f subject,
                     double far_fraction, bool guided) {
  const int W = linear.cols, H = linear.rows;
  cv::Mat alpha;  // a buffer of its own (the input's is shared)
  if (!guided)
    alpha = coarse.clone();
  else {
    const int r = std::max(4, std::max(W, H) / 128);
    // Only the uncertain band changes: where the coarse matte is clearly
    // inside or outside (far from 0.5 within the filter's reach) it stays.
    cv::Mat unsure = cv::abs(coarse - 0.5) < 0.45, band;
    cv::dilate(unsure, band, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
    // The guide is the portrait as seen (sRGB): edges where the eye sees them.
    alpha = guided_filter(linear_to_srgb8(linear), coarse, r, 1e-3, kGuidedSubsample, band);  // a new buffer
  }
  cv::min(cv::max(alpha, 0.0), 1.0, alpha);
  // The person is what is joined to the subject's face.
  cv::Mat solid = alpha >= 0.5, labels;
  const int n = cv::connectedComponents(solid, labels, 8, CV_32S);
  const cv::Point c(std::clamp(int(subject.x), 0, W - 1), std::clamp(int(subject.y), 0, H - 1));
  int keep = labels.at<int>(c);
  if (keep == 0 && n > 1) {
    // The face's centre fell on a hole: take the component nearest to it.
    cv::Mat pts;
    cv::findNonZero(solid, pts);
    double best = 1e18;
    for (int i = 0; i < int(pts.total()); ++i) {
      const cv::Point q = pts.at<cv::Point>(i);
      const double d2 = double(q.x - c.x) * (q.x - c.x) + double(q.y - c.y) * (q.y - c.y);
      if (d2 < best) best = d2, keep = labels.at<int>(q);
    }
  }
  cv::Mat person = labels == keep;
  if (keep == 0) person = cv::Mat::zeros(H, W, CV_8U);
  // Distance from the person; beyond a narrow band the matte is 0.
  cv::Mat dist;
  cv::distanceTransform(~person, dist, cv::DIST_L2, cv::DIST_MASK_5);
  const double far = std::max(3.0, far_fraction * H);
  alpha.setTo(0, dist > far);
  // Crisp ends: a trace under 2% is background, over 98% is the person.
  alpha.setTo(0, alpha < 0.02);
  alpha.setTo(1, alpha > 0.98);
  if (!outside.empty()) alpha.setTo(0, outside);
  return alpha;
}

class MatteStage final : public Stage {
 public:
  std::string id() const override { return "matte"; }
  int version() const override { return 3; }
  std::string summary() const override {
    return "Refine the person matte's edges at output size and estimate the person's own edge colours";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"refine", ParamType::boolean, true, "Refine the edge band with a guided filter on the portrait", 0, 0, {}},
        {"far",
         ParamType::number,
         0.025,
         "Beyond this distance from the person (fraction of the frame's height) nothing of the photo is kept",
         0.005,
         0.2,
         {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered || in.alpha.empty())
      throw Error(ErrorInfo{ErrorCode::internal,
                            "needs a rendered frame with a person layer: put segment before frame "
                            "and render before it",
                            id(),
                            {},
                            {}});
    const Face* f = in.subject_face();
    const cv::Point2f centre = f && f->landmarks.size() == 68 ? (f->landmarks[30] + f->landmarks[27]) * 0.5f
                                                              : cv::Point2f(in.image.cols / 2.f, in.image.rows / 3.f);
    Frame out = in;
    out.alpha = refine_matte(in.image, in.alpha, in.outside, centre, p["far"], p["refine"]);
    ctx.check_cancel();
    out.foreground = estimate_foreground(in.image, out.alpha);
    return out;
  }
};
}  // namespace

const Stage& matte_stage() {
  static MatteStage s;
  return s;
}

}  // namespace likeness
