// backdrop: replaces the background with a studio backdrop (solid paper or a
// two-tone radial gradient lit behind the head). Compositing removes the old
// background's colour from semi-transparent edges: C = I + (1-a)(B_new - B_old),
// with B_old estimated locally from the background around each edge, so hair
// keeps its own colour and no halo of the old scene remains.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
cv::Mat make_backdrop(cv::Size size, const std::string& style, cv::Scalar edge, cv::Scalar centre, cv::Point2f light) {
  cv::Mat b(size, CV_32FC3, edge);
  if (style != "gradient") return b;
  const float cx = light.x * size.width, cy = light.y * size.height;
  const float reach = 0.85f * std::hypot(float(size.width), float(size.height)) / 2;
  for (int y = 0; y < size.height; ++y) {
    auto* row = b.ptr<cv::Vec3f>(y);
    for (int x = 0; x < size.width; ++x) {
      float t = std::min(1.f, std::hypot(x - cx, y - cy) / reach);
      t = t * t * (3 - 2 * t);  // smoothstep
      for (int c = 0; c < 3; ++c) row[x][c] = float(centre[c] + (edge[c] - centre[c]) * t);
    }
  }
  return b;
}

class BackdropStage final : public Stage {
 public:
  std::string id() const override { return "backdrop"; }
  int version() const override { return 1; }
  std::string summary() const override { return "Replace the background with a studio backdrop"; }
  std::string c2pa_action() const override { return "c2pa.edited"; }
  // A backdrop composited with a learned (ISNet) matte.
  std::string c2pa_source_type() const override { return "compositeWithTrainedAlgorithmicMedia"; }
  std::vector<ParamSpec> params() const override {
    return {
        {"style", ParamType::choice, "gradient", "Backdrop kind", 0, 0, {"solid", "gradient"}},
        {"color", ParamType::color, "#4a5560", "Backdrop colour (the edges, for a gradient)", 0, 0, {}},
        {"color2", ParamType::color, "#7d8893", "Gradient centre colour, lit behind the head", 0, 0, {}},
        {"decontaminate", ParamType::boolean, true, "Remove the old background's colour from edges", 0, 0, {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext&) const override {
    if (in.alpha.empty())
      throw Error(ErrorInfo{ErrorCode::internal, "needs a matte: put the matte stage before it", id(), {}, {}});
    const std::string style = p["style"];
    const cv::Scalar edge = parse_color(p["color"]), centre = parse_color(p["color2"]);
    cv::Point2f light(0.5f, 0.4f);
    if (const Face* f = in.subject_face(); f && !f->landmarks.empty()) {
      const cv::Point2f eyes = (f->left_eye() + f->right_eye()) * 0.5f;
      light = cv::Point2f(eyes.x / in.image.cols, std::max(0.2f, eyes.y / in.image.rows));
    }
    cv::Mat bnew = make_backdrop(in.image.size(), style, edge, centre, light);
    cv::Mat img, a3, inv3;
    in.image.convertTo(img, CV_32FC3);
    cv::Mat a = in.alpha, inv = 1.0 - in.alpha;
    cv::merge(std::vector<cv::Mat>{a, a, a}, a3);
    cv::merge(std::vector<cv::Mat>{inv, inv, inv}, inv3);
    cv::Mat out;
    if (p["decontaminate"].get<bool>()) {
      // Old background colour near each pixel: the mean of nearby clear
      // background (alpha < 0.1), from a wider window where none is close.
      const int r = std::max(8, std::max(img.cols, img.rows) / 40);
      const cv::Mat weight = cv::max(1.0 - in.alpha / 0.1, 0.0);
      cv::Mat w3;
      cv::merge(std::vector<cv::Mat>{weight, weight, weight}, w3);
      const cv::Mat weighted = img.mul(w3);
      auto local_mean = [&](int radius, cv::Mat& mean, cv::Mat& support) {
        cv::Mat num;
        cv::blur(weighted, num, cv::Size(2 * radius + 1, 2 * radius + 1));
        cv::blur(weight, support, cv::Size(2 * radius + 1, 2 * radius + 1));
        cv::Mat s3;
        cv::merge(std::vector<cv::Mat>{support, support, support}, s3);
        mean = num / cv::max(s3, 1e-4);
      };
      cv::Mat bold, support, wide, wide_support;
      local_mean(r, bold, support);
      local_mean(4 * r, wide, wide_support);
      wide.copyTo(bold, support < 0.02);
      cv::Mat decont = img + inv3.mul(bnew - bold);
      // Where the matte is nearly zero use the backdrop alone, so no texture
      // of the old scene survives.
      cv::Mat t = cv::min(in.alpha / 0.15, 1.0), t3;
      cv::merge(std::vector<cv::Mat>{t, t, t}, t3);
      out = bnew + t3.mul(decont - bnew);
    } else {
      out = img.mul(a3) + bnew.mul(inv3);
    }
    Frame res = in;
    res.image = cv::Mat();              // never write into the input's (possibly cached) buffer
    out.convertTo(res.image, CV_8UC3);  // saturating, rounded
    res.source_type = "compositeWithTrainedAlgorithmicMedia";
    res.edits.push_back("background replaced with a " + style + " studio backdrop (" + p["color"].get<std::string>() +
                        (style == "gradient" ? " to " + p["color2"].get<std::string>() : std::string()) + ")");
    return res;
  }
};
}  // namespace

const Stage& backdrop_stage() {
  static BackdropStage s;
  return s;
}

}  // namespace likeness
