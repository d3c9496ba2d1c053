// grade: the portrait's colour grade, after the composite, in linear light.
// A look (looks.hpp) is a white balance, a tone curve on lightness that keeps
// the face's lightness, saturation and split toning; "flatter" measures the
// face's skin and corrects the subject's white balance and exposure.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "stages/grade/looks.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
std::string describe_look() {
  std::string s = "Colour grade: ";
  bool first = true;
  for (const auto& l : grade::looks()) {
    s += (first ? "" : "; ") + l.name + " (" + l.words + ")";
    first = false;
  }
  return s;
}

class GradeStage final : public Stage {
 public:
  std::string id() const override { return "grade"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Colour grade of the whole portrait: white balance, tone curve, colour; the face's lightness kept";
  }
  std::string c2pa_action() const override { return "c2pa.color_adjustments"; }
  std::string c2pa_source_type() const override { return "algorithmicallyEnhanced"; }
  bool changes_pixels(const json& p) const override { return p["look"] != "none" && p["strength"].get<double>() > 0; }
  std::vector<ParamSpec> params() const override {
    return {
        {"look", ParamType::choice, "natural", describe_look(), 0, 0, grade::look_names()},
        {"strength", ParamType::number, 1.0, "How much of the look (0 none, 1 as declared)", 0, 1, {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered)
      throw Error(ErrorInfo{ErrorCode::internal, "grades the rendered canvas: put it after render", id(), {}, {}});
    if (!changes_pixels(p)) return in;
    const grade::Look look = grade::scaled(grade::find_look(p["look"]), float(p["strength"].get<double>()));
    ctx.check_cancel();
    // The face's skin: the lightness the curve keeps, where tints hold back,
    // and what "flatter" measures.
    cv::Mat face = canvas_layer(in, "face_skin"), body = canvas_layer(in, "body_skin");
    cv::Mat skin = face.empty() ? body : body.empty() ? face : cv::max(face, body);
    if (!face.empty() && !in.alpha.empty()) face = face.mul(in.alpha);
    const grade::SkinReading reading = grade::read_skin(in.image, face, in.alpha);
    grade::SkinCorrection fix;
    if (look.skin_balance) fix = grade::skin_correction(reading);
    cv::Mat amount;
    Frame out = in;
    out.image = grade::apply(in.image, look, reading.found ? reading.lightness : 0.5f, skin, fix,
                             look.skin_balance || look.subject_only ? in.alpha : cv::Mat(), &amount);
    out.relit = in.relit.empty() ? amount : cv::max(in.relit, amount);
    if (out.source_type == "digitalCapture") out.source_type = "algorithmicallyEnhanced";
    std::string what = "colour graded: " + look.name;
    if (p["strength"].get<double>() < 1)
      what += " at " + std::to_string(int(std::lround(p["strength"].get<double>() * 100))) + "%";
    if (look.skin_balance) {
      if (!reading.found)
        what += " (no skin found to measure: nothing corrected)";
      else if (fix.gains == cv::Vec3f(1, 1, 1) && fix.stops == 0)
        what += cv::format(" (skin measured: hue %.0f deg, subject's highlights L* %.0f; in range, nothing corrected)",
                           reading.hue, reading.subject_top_L);
      else
        what += cv::format(" (skin hue %.0f -> %.0f deg, exposure %+.2f stop)", reading.hue, fix.hue_to, fix.stops);
    }
    out.edits.push_back(what);
    return out;
  }
};
}  // namespace

const Stage& grade_stage() {
  static GradeStage s;
  return s;
}

}  // namespace likeness
