// wardrobe: recolours the clothing to a named fabric colour or #rrggbb,
// keeping its folds and texture (wardrobe.hpp says how), after the matte and
// before the backdrop. The person's own colour (the matte's foreground) is
// recoloured, and the canvas by the matte's share of it, so the garment's
// edge carries the new colour and the old background stays where it was.
// Skin, hair and the backdrop are not clothing and stay as they are; a
// garment whose texture is clipped away is left alone and the report says so.
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "stages/stages.hpp"
#include "stages/wardrobe/wardrobe.hpp"

namespace likeness {

namespace {
std::string describe_colours() {
  std::string s = "The clothing's new colour: #rrggbb or a fabric colour (";
  bool first = true;
  for (const auto& c : wardrobe::fabric_colours()) {
    s += (first ? "" : ", ") + c.name;
    first = false;
  }
  return s + "); keep leaves it as it is";
}

const char* garment_words(const std::string& which) {
  return which == "inner" ? "the inner garment (a shirt under the jacket)"
         : which == "all" ? "the clothing"
                          : "the outer garment";
}

// In the matte's edge band the person's own colour is an estimate with
// some of the old background in it, which the recolour would carry over as a
// light or dark rim: there the garment takes the new colour of the solid
// garment beside it.
void settle_edge(const cv::Mat& own, const cv::Mat& alpha, const cv::Mat& weight, cv::Mat& recoloured) {
  const cv::Mat inner = (alpha >= 0.98f) & (weight >= 0.5f);
  cv::Mat sf, den, num;
  inner.convertTo(sf, CV_32F, 1.0 / 255);
  const int r = std::max(2, alpha.rows / 240);
  const cv::Size box(4 * r + 1, 4 * r + 1);  // a box average: O(1) a pixel
  cv::blur(sf, den, box);
  cv::Mat masked = cv::Mat::zeros(recoloured.size(), CV_32FC3);
  recoloured.copyTo(masked, inner);
  cv::blur(masked, num, box);
  for (int y = 0; y < alpha.rows; ++y) {
    const auto* a = alpha.ptr<float>(y);
    const auto* w = weight.ptr<float>(y);
    const auto* d = den.ptr<float>(y);
    const auto* n = num.ptr<cv::Vec3f>(y);
    const auto* f = own.ptr<cv::Vec3f>(y);
    auto* r = recoloured.ptr<cv::Vec3f>(y);
    for (int x = 0; x < alpha.cols; ++x) {
      if (a[x] <= 0 || a[x] >= 0.98f || w[x] <= 0.01f || d[x] <= 0.05f) continue;
      const float k = std::min(1.f, w[x]);
      r[x] = f[x] + k * (n[x] / d[x] - f[x]);
    }
  }
}

// What a recolour did, in words, for the edits.
std::string describe(const wardrobe::Recolour& rep, const std::string& which, const std::string& colour,
                     const cv::Scalar& target) {
  const double de = ciede2000(cv::Vec3d(rep.after), cv::Vec3d(rep.target));
  std::string what = std::string(garment_words(which)) + " recoloured to " + colour;
  if (colour[0] != '#') what += " (" + format_color(target) + ")";
  what += cv::format(", folds and texture kept (its mean colour %.1f CIEDE2000 from it", de);
  if (rep.texture_gain < 1)
    what += cv::format("; its lightness contrast eased to %.0f%% to fit below white", 100 * rep.texture_gain);
  if (rep.lightness < rep.target[0] - 0.5f)
    what += cv::format("; its mean held at L* %.0f so its lighter folds stay below white", rep.lightness);
  what += ")";
  if (rep.clipped_white >= 0.01)
    what +=
        cv::format("; %.0f%% of it is clipped white: no texture there, kept as a highlight", 100 * rep.clipped_white);
  if (rep.clipped_black >= 0.01)
    what += cv::format("; %.0f%% of it is crushed to black: no texture there", 100 * rep.clipped_black);
  return what;
}

class WardrobeStage final : public Stage {
 public:
  std::string id() const override { return "wardrobe"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Recolour the clothing (the outer garment, a shirt under it, or all) keeping folds and texture; skin, "
           "hair and backdrop untouched";
  }
  std::string c2pa_action() const override { return "c2pa.color_adjustments"; }
  std::string c2pa_source_type() const override { return "algorithmicallyEnhanced"; }
  bool changes_pixels(const json& p) const override {
    return p["color"] != "keep" || (p.value("garment", "outer") == "outer" && p.value("inner_color", "keep") != "keep");
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"color", ParamType::color, "keep", describe_colours(), 0, 0, wardrobe::colour_names()},
        {"garment",
         ParamType::choice,
         "outer",
         "Which garment: outer (the one across the shoulders: a jacket, a sweater, a top), inner (a shirt "
         "between its lapels) or all",
         0,
         0,
         {"outer", "inner", "all"}},
        {"inner_color", ParamType::color, "keep",
         "With garment outer: the inner garment's new colour too (a shirt between the jacket's lapels: \"a navy "
         "blazer with a white shirt\"), #rrggbb or a fabric colour; keep leaves it",
         0, 0, wardrobe::colour_names()},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered || in.image.type() != CV_32FC3)
      throw Error(ErrorInfo{ErrorCode::internal, "recolours the rendered canvas: put it after render", id(), {}, {}});
    if (!changes_pixels(p)) return in;
    const std::string which = p["garment"];
    // The garments asked for: the one `garment` names, and with outer the
    // inner one too when it has a colour of its own.
    struct Ask {
      std::string which, colour;
    };
    std::vector<Ask> asks;
    if (p["color"] != "keep") asks.push_back({which, p["color"]});
    if (which == "outer" && p.value("inner_color", "keep") != "keep") asks.push_back({"inner", p["inner_color"]});
    Frame out = in;
    const cv::Mat clothing = canvas_layer(in, "clothing");
    if (clothing.empty() || cv::countNonZero(clothing > 0.5) == 0) {
      out.edits.push_back("clothing not recoloured: no clothing found");
      return out;
    }
    const cv::Size size = in.image.size();
    const bool has_alpha = in.alpha.size() == size;
    const bool has_fg = in.foreground.size() == size && in.foreground.type() == CV_32FC3;
    const cv::Mat& own = has_fg ? in.foreground : in.image;  // the person's own colour
    cv::Mat solid = has_alpha ? cv::Mat(in.alpha >= 0.9f) : cv::Mat(size, CV_8U, cv::Scalar(255));
    if (in.outside.size() == size) solid &= ~in.outside;
    wardrobe::Parts parts{
        clothing, canvas_layer(in, "face_skin"), canvas_layer(in, "body_skin"), canvas_layer(in, "hair"), {}};
    parts.person = has_alpha ? cv::Mat(in.alpha > 0) : cv::Mat(size, CV_8U, cv::Scalar(255));
    if (in.outside.size() == size) parts.person &= ~in.outside;
    ctx.check_cancel();
    // Garments are told apart at most ~640 px high (what they are does not
    // need every pixel), their weights brought back to the canvas.
    const double f = std::min(1.0, 640.0 / size.height);
    auto down = [&](const cv::Mat& m) {
      if (f >= 1 || m.empty()) return m;
      cv::Mat r;
      cv::resize(m, r, cv::Size(), f, f, cv::INTER_AREA);
      return r;
    };
    auto down_mask = [&](const cv::Mat& m, double at) {
      cv::Mat mf;
      m.convertTo(mf, CV_32F, 1.0 / 255);
      return cv::Mat(down(mf) > at);
    };
    const wardrobe::Parts small{down(parts.clothing), down(parts.face_skin), down(parts.body_skin), down(parts.hair),
                                down_mask(parts.person, 0)};
    wardrobe::Body body = wardrobe::body_of(in.subject_face());
    body.chin *= float(f);
    body.unit *= float(f);
    wardrobe::Garments g = wardrobe::split_garments(lab_of_linear(down(own)), small, down_mask(solid, 0.5), body);
    for (wardrobe::Garment* garment : {&g.outer, &g.inner})
      if (f < 1 && !garment->weight.empty()) {
        cv::Mat full;
        cv::resize(garment->weight, full, size, 0, 0, cv::INTER_LINEAR);
        garment->weight = full;
      }
    // Each garment recoloured in turn on the person's own colour, then the
    // canvas changed once by the person's share of each pixel.
    cv::Mat cur = own.clone(), amount_all;
    for (const Ask& ask : asks) {
      cv::Mat weight;
      if (ask.which == "outer" && g.outer.found)
        weight = g.outer.weight;
      else if (ask.which == "inner" && g.inner.found)
        weight = g.inner.weight;
      else if (ask.which == "all" && g.outer.found)
        weight = g.inner.found ? cv::Mat(cv::min(g.outer.weight + g.inner.weight, 1.0)) : g.outer.weight;
      if (weight.empty()) {
        out.edits.push_back(
            std::string(garment_words(ask.which)) + " not recoloured: " +
            (ask.which == "inner" ? "no inner garment found (the clothing is one colour)" : "no clothing found"));
        continue;
      }
      ctx.check_cancel();
      const cv::Scalar target = wardrobe::colour_of(ask.colour);
      wardrobe::Recolour rep;
      cv::Mat recoloured = wardrobe::recolour(cur, weight, solid, target, &rep);
      if (!rep.applied) {
        out.edits.push_back(std::string(garment_words(ask.which)) + " not recoloured: " + rep.refused +
                            ", left as it is");
        continue;
      }
      if (has_alpha) settle_edge(cur, in.alpha, weight, recoloured);
      cur = recoloured;
      const cv::Mat amount = has_alpha ? cv::Mat(weight.mul(in.alpha)) : weight;
      amount_all = amount_all.empty() ? amount : cv::Mat(cv::max(amount_all, amount));
      out.edits.push_back(describe(rep, ask.which, ask.colour, target));
    }
    if (amount_all.empty()) return out;
    // The canvas changes by the person's share of each pixel: I = aF + (1-a)B.
    // (New Mats throughout: `out` shares its buffers with `in`.)
    if (has_fg) {
      out.foreground = cur;
      cv::Mat delta, image;
      cv::subtract(cur, in.foreground, delta);
      if (has_alpha) {
        cv::Mat a3;
        cv::merge(std::vector<cv::Mat>(3, in.alpha), a3);
        cv::multiply(delta, a3, delta);
      }
      cv::add(in.image, delta, image);
      out.image = image;
    } else {
      out.image = cur;
    }
    out.relit = in.relit.empty() ? amount_all : cv::Mat(cv::max(in.relit, amount_all));
    if (out.source_type == "digitalCapture") out.source_type = "algorithmicallyEnhanced";
    return out;
  }
};
}  // namespace

const Stage& wardrobe_stage() {
  static WardrobeStage s;
  return s;
}

}  // namespace likeness
