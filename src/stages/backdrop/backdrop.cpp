// backdrop: replaces the background with a studio backdrop (solid paper or a
// two-tone radial gradient lit behind the head), composited in linear light:
// C = a*F + (1-a)*B_new with F the person's own colour estimated by the matte
// stage, so hair carries no colour of the old scene. The backdrop's light
// wraps a little around the person's edge and nudges the person's colour
// balance toward it, as a real backdrop's bounce light would.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
// The backdrop in linear light.
cv::Mat make_backdrop(cv::Size size, const std::string& style, cv::Vec3f edge, cv::Vec3f centre, cv::Point2f light) {
  cv::Mat b(size, CV_32FC3, cv::Scalar(edge[0], edge[1], edge[2]));
  if (style != "gradient") return b;
  const float cx = light.x * size.width, cy = light.y * size.height;
  const float reach = 0.85f * std::hypot(float(size.width), float(size.height)) / 2;
  cv::parallel_for_(cv::Range(0, size.height), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      auto* row = b.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size.width; ++x) {
        float t = std::min(1.f, std::hypot(x - cx, y - cy) / reach);
        t = t * t * (3 - 2 * t);  // smoothstep
        row[x] = centre + (edge - centre) * t;
      }
    }
  });
  return b;
}

cv::Mat gray3(const cv::Mat& m) {
  cv::Mat out;
  cv::merge(std::vector<cv::Mat>{m, m, m}, out);
  return out;
}

class BackdropStage final : public Stage {
 public:
  std::string id() const override { return "backdrop"; }
  int version() const override { return 2; }
  std::string summary() const override { return "Replace the background with a studio backdrop"; }
  std::string c2pa_action() const override { return "c2pa.edited"; }
  // A backdrop composited with a learned (ISNet) matte.
  std::string c2pa_source_type() const override { return "compositeWithTrainedAlgorithmicMedia"; }
  std::vector<ParamSpec> params() const override {
    return {
        {"style", ParamType::choice, "gradient", "Backdrop kind", 0, 0, {"solid", "gradient"}},
        {"color", ParamType::color, "#4a5560", "Backdrop colour (the edges, for a gradient)", 0, 0, {}},
        {"color2", ParamType::color, "#7d8893", "Gradient centre colour, lit behind the head", 0, 0, {}},
        {"decontaminate",
         ParamType::boolean,
         true,
         "Composite the person's estimated own colour, not the photo's, at the edges (no halo)",
         0,
         0,
         {}},
        {"wrap", ParamType::number, 0.3, "How far the backdrop's light wraps around the person's edge", 0, 1, {}},
        {"harmonise",
         ParamType::number,
         0.06,
         "Nudge of the person's colour balance toward the backdrop's light",
         0,
         0.3,
         {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext&) const override {
    if (!in.rendered || in.alpha.empty())
      throw Error(ErrorInfo{ErrorCode::internal, "needs a matte: put the matte stage before it", id(), {}, {}});
    const std::string style = p["style"];
    const cv::Vec3f edge = linear_color(parse_color(p["color"])), centre = linear_color(parse_color(p["color2"]));
    cv::Point2f light(0.5f, 0.4f);
    if (const Face* f = in.subject_face(); f && !f->landmarks.empty()) {
      const cv::Point2f eyes = (f->left_eye() + f->right_eye()) * 0.5f;
      light = cv::Point2f(eyes.x / in.image.cols, std::max(0.2f, eyes.y / in.image.rows));
    }
    const cv::Mat bnew = make_backdrop(in.image.size(), style, edge, centre, light);
    const bool decontaminate = p["decontaminate"].get<bool>() && !in.foreground.empty();
    cv::Mat fg = decontaminate ? in.foreground : in.image;
    // Harmonise: the backdrop's average light, relative to its own grey,
    // tints the person by a small fraction (white balance toward the room).
    const double h = p["harmonise"];
    if (h > 0) {
      const cv::Scalar m = cv::mean(bnew);
      const double grey = (m[0] + m[1] + m[2]) / 3;
      if (grey > 1e-4) {
        cv::Mat tinted;
        cv::multiply(fg, cv::Scalar(1 + h * (m[0] / grey - 1), 1 + h * (m[1] / grey - 1), 1 + h * (m[2] / grey - 1)),
                     tinted);
        fg = tinted;
      }
    }
    const cv::Mat a3 = gray3(in.alpha);
    cv::Mat out = fg.mul(a3) + bnew.mul(cv::Scalar::all(1) - a3);
    // Light wrap: near the edge, inside the person, the backdrop's light
    // (blurred) mixes in, strongest right at the edge.
    const double wrap = p["wrap"];
    if (wrap > 0) {
      const int k = (std::max(in.image.cols, in.image.rows) / 40) | 1;
      cv::Mat soft, glow;
      cv::GaussianBlur(1.0 - in.alpha, soft, cv::Size(k, k), 0);
      cv::GaussianBlur(bnew, glow, cv::Size(k, k), 0);
      const cv::Mat amount = gray3(soft.mul(in.alpha) * wrap);
      out = out + (glow - out).mul(amount) * 0.5;
    }
    Frame res = in;
    res.image = out;
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
