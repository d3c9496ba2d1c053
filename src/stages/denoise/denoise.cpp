// denoise: sensor noise reduced on the rendered canvas, before the composite:
// chroma first, then luminance, edge-aware (noise.hpp). The noise is measured
// on the photo, so a clean photo passes through unchanged and a noisy one is
// treated in proportion to its noise. What changes in the image changes in
// the person's own colour (`foreground`) too, so the composite's edges carry
// the same, cleaner colour.
#include <cmath>

#include "likeness/error.hpp"
#include "stages/denoise/noise.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {

int percent(float v) { return int(std::lround(v * 100)); }

class DenoiseStage final : public Stage {
 public:
  std::string id() const override { return "denoise"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Sensor noise reduced, measured on the photo: colour noise first, then luminance, edges kept; a clean "
           "photo is left as it is";
  }
  std::string c2pa_action() const override { return "c2pa.filtered"; }
  std::string c2pa_source_type() const override { return "algorithmicallyEnhanced"; }
  bool changes_pixels(const json& p) const override {
    return p["strength"].get<double>() > 0 && (p["luminance"].get<double>() > 0 || p["chroma"].get<double>() > 0);
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"strength",
         ParamType::number,
         0.5,
         "How much of the measured noise to remove: 0.5 is the amount for the noise measured on the photo, lower "
         "keeps some of it (0: none), higher filters as if it were up to twice as strong (1). A photo measured clean "
         "(noise under 1.5 of 255 levels) is left unchanged at any strength",
         0,
         1,
         {}},
        {"luminance",
         ParamType::number,
         0.7,
         "How much of the luminance (grain-like) noise reduction to apply: 1 all of it, lower leaves some fine "
         "texture so skin does not look waxy",
         0,
         1,
         {}},
        {"chroma",
         ParamType::number,
         1.0,
         "How much of the colour (blotchy red-green) noise reduction to apply: 1 all of it",
         0,
         1,
         {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered || in.image.type() != CV_32FC3)
      throw Error(
          ErrorInfo{ErrorCode::internal, "reduces noise on the rendered canvas: put it after render", id(), {}, {}});
    if (!changes_pixels(p)) return in;
    const cv::Mat srgb = noise::linear_to_srgb255(in.image);
    const noise::NoiseLevel level = noise::estimate_noise(srgb, in.outside);
    ctx.check_cancel();
    noise::DenoiseAmounts amounts;
    amounts.strength = float(p["strength"].get<double>());
    amounts.luminance = float(p["luminance"].get<double>());
    amounts.chroma = float(p["chroma"].get<double>());
    noise::DenoiseApplied applied;
    const cv::Mat clean = noise::denoise(srgb, level, amounts, &applied);
    Frame out = in;
    if (applied.luma <= 0 && applied.chroma <= 0) {
      out.edits.push_back(
          level.blocks == 0
              ? std::string("noise not measured (no flat area to measure on): nothing changed")
              : cv::format("noise measured: luminance %.1f, colour %.1f (of 255 levels): clean, nothing changed",
                           level.luma, level.chroma));
      return out;
    }
    ctx.check_cancel();
    // The change in linear light, added to the image (unclamped values kept)
    // and to the person's own colour.
    cv::Mat changed;
    const cv::Mat delta = noise::linear_change(srgb, clean, &changed);
    // (New Mats: `out` shares its buffers with `in`, and assigning an
    // expression to a Mat of its size would write into them.)
    out.image = cv::Mat();
    cv::add(in.image, delta, out.image);
    if (!in.foreground.empty()) {
      cv::Mat fg;
      cv::add(in.foreground, delta, fg);
      cv::max(fg, 0.0, fg);
      cv::min(fg, 1.0, fg);
      out.foreground = fg;
    }
    out.retouched = in.retouched.empty() ? changed : cv::max(in.retouched, changed);
    if (out.source_type == "digitalCapture") out.source_type = "algorithmicallyEnhanced";
    std::string what =
        cv::format("noise reduced: measured luminance %.1f, colour %.1f (of 255 levels); luminance %d%%, colour %d%%",
                   level.luma, level.chroma, percent(applied.luma), percent(applied.chroma));
    if (amounts.strength > 0.5f) what += cv::format(", filtered as for %.1fx the noise", 2 * amounts.strength);
    out.edits.push_back(what);
    return out;
  }
};

}  // namespace

const Stage& denoise_stage() {
  static DenoiseStage s;
  return s;
}

}  // namespace likeness
