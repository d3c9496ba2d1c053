// grain: fine film grain over the finished composite (after the grade, the
// whole canvas, backdrop included): a clean synthetic backdrop beside a
// photographed face is what gives a composite away, one grain over both
// unifies them. Luminance only, sized to the canvas, seeded (deterministic),
// off by default.
#include <cmath>

#include "likeness/error.hpp"
#include "stages/denoise/noise.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {

class GrainStage final : public Stage {
 public:
  std::string id() const override { return "grain"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Fine film grain over the whole finished portrait, sized to the output, the same for a given seed";
  }
  std::string c2pa_action() const override { return "c2pa.filtered"; }
  std::string c2pa_source_type() const override { return "algorithmicallyEnhanced"; }
  bool changes_pixels(const json& p) const override { return p["amount"].get<double>() > 0; }
  std::vector<ParamSpec> params() const override {
    return {
        {"amount",
         ParamType::number,
         0.0,
         "How strong the grain is: 0 none (the stage changes nothing), 0.3 subtle, 1 a deviation of 8 of 255 "
         "levels in the midtones (less toward black and white)",
         0,
         1,
         {}},
        {"size",
         ParamType::number,
         1.0,
         "Grain size relative to the portrait: 1 is about 0.6 px on a 1280-px-tall output, scaled with the output's "
         "height so every size looks alike",
         0.25,
         4,
         {}},
        {"seed", ParamType::integer, 1, "Which grain pattern (the same seed gives the same grain)", 0, 1000000, {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered || in.image.type() != CV_32FC3)
      throw Error(
          ErrorInfo{ErrorCode::internal, "adds grain to the rendered canvas: put it after render", id(), {}, {}});
    if (!changes_pixels(p)) return in;
    const float amount = float(p["amount"].get<double>()), size = float(p["size"].get<double>());
    const int seed = p["seed"].get<int>();
    const cv::Mat field = noise::grain_field(in.image.size(), size, uint64_t(seed));
    ctx.check_cancel();
    const cv::Mat srgb = noise::linear_to_srgb255(in.image);
    const cv::Mat grainy = noise::add_grain(srgb, field, amount);
    Frame out = in;
    cv::Mat changed;
    const cv::Mat delta = noise::linear_change(srgb, grainy, &changed);
    out.image = cv::Mat();  // a new buffer: `out` shares `in`'s
    cv::add(in.image, delta, out.image);
    out.retouched = in.retouched.empty() ? changed : cv::max(in.retouched, changed);
    if (out.source_type == "digitalCapture") out.source_type = "algorithmicallyEnhanced";
    out.edits.push_back(cv::format("film grain added: amount %d%%, grain %.2f px (size %.2f), seed %d",
                                   int(std::lround(amount * 100)), noise::grain_sigma_px(in.image.size(), size), size,
                                   seed));
    return out;
  }
};

}  // namespace

const Stage& grain_stage() {
  static GrainStage s;
  return s;
}

}  // namespace likeness
