// relight: the subject's light, after the backdrop composite (so "match"
// knows the backdrop's declared light) and before the grade. A pattern by
// name or time of day (patterns.hpp) rendered on the subject's 3-D shape as a
// ratio of new to the photo's own shading (light.hpp): texture, pores and
// the skin's colour stay the photo's.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "stages/relight/light.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
// A layer on the canvas, zeros when the frame has none.
cv::Mat layer(const Frame& f, const char* name) {
  cv::Mat m = canvas_layer(f, name);
  return m.empty() ? cv::Mat::zeros(f.image.size(), CV_32F) : m;
}

std::string describe_patterns() {
  std::string s = "The light on the subject: ";
  bool first = true;
  for (const auto& p : relight::patterns()) {
    s += (first ? "" : "; ") + p.name + " (" + p.words + ")";
    first = false;
  }
  return s;
}

// The side the photo's own light comes from, on the image: the brighter
// cheek between the eyes and the mouth (+1 right, -1 left, 0 even).
int photo_key_side(const Frame& f, const cv::Mat& face_skin) {
  const Face* face = f.subject_face();
  if (!face || face->mesh.size() < 468) return 0;
  const float mid = face->mesh[1].x;
  cv::Mat lum;
  cv::transform(f.image, lum, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  double l = 0, r = 0, nl = 0, nr = 0;
  const int y0 = std::max(0, int(face->mesh[159].y)), y1 = std::min(lum.rows, int(face->mesh[13].y));
  for (int y = y0; y < y1; ++y) {
    const float* p = lum.ptr<float>(y);
    const float* s = face_skin.ptr<float>(y);
    for (int x = 0; x < lum.cols; ++x) {
      if (s[x] < 0.5f) continue;
      (x < mid ? l : r) += p[x];
      (x < mid ? nl : nr) += 1;
    }
  }
  if (nl < 20 || nr < 20) return 0;
  l /= nl, r /= nr;
  return r > 1.1 * l ? 1 : l > 1.1 * r ? -1 : 0;
}

class RelightStage final : public Stage {
 public:
  std::string id() const override { return "relight"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Relights the subject on their face's 3-D shape: a portrait pattern, a time of day, or the backdrop's "
           "light; the skin's own texture kept";
  }
  std::string c2pa_action() const override { return "c2pa.edited"; }
  std::string c2pa_source_type() const override { return "algorithmicallyEnhanced"; }
  bool changes_pixels(const json& p) const override {
    return p["pattern"] != "none" && p["strength"].get<double>() > 0;
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"pattern", ParamType::choice, "none", describe_patterns(), 0, 0, relight::pattern_names()},
        {"side",
         ParamType::choice,
         "auto",
         "Where the key stands: auto (the pattern's rule, else the photo's own key side), or the subject's own left "
         "or right",
         0,
         0,
         {"auto", "left", "right"}},
        {"strength",
         ParamType::number,
         0.6,
         "How much of the new light (0 the photo's, 1 wholly the pattern's)",
         0,
         1,
         {}},
        {"softness", ParamType::number, 0.0, "Added to the pattern's softness (-1 harder .. +1 softer)", -1, 1, {}},
        {"turn",
         ParamType::number,
         0.0,
         "Degrees added to the key's angle from the camera (toward the key side)",
         -60,
         60,
         {}},
        {"raise", ParamType::number, 0.0, "Degrees added to the key's height above the eyes", -40, 40, {}},
        {"kelvin",
         ParamType::number,
         0.0,
         "The key's colour temperature in kelvin (0: the pattern's own)",
         0,
         12000,
         {}},
    };
  }

  std::vector<Need> needs_before(const json& p) const override {
    if (p["pattern"] != "match") return {};
    return {{"backdrop", "pattern",
             "'match' lights the subject as the backdrop implies: there is no backdrop before it (name a pattern, "
             "e.g. --pattern loop)"}};
  }
  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered || in.alpha.empty())
      throw Error(ErrorInfo{ErrorCode::internal, "relights the rendered canvas: put it after the matte", id(), {}, {}});
    if (!changes_pixels(p)) return in;
    const std::string name = p["pattern"];
    const relight::Pattern& pattern = relight::find_pattern(name);
    if (name == "match" && !in.light.set)
      throw Error(ErrorInfo{ErrorCode::usage,
                            "'match' lights the subject as the backdrop implies: there is no backdrop before it (name "
                            "a pattern, e.g. --pattern loop)",
                            id(),
                            "pattern",
                            {}});
    Frame out = in;
    const Face* face = in.subject_face();
    if (!face || face->mesh.size() < 468) {
      out.edits.push_back("light kept: no face mesh to light (" + name + " not applied)");
      return out;
    }
    const cv::Mat face_skin = layer(in, "face_skin"), body_skin = layer(in, "body_skin");
    const cv::Mat skin = cv::max(face_skin, body_skin);
    const std::string side_name = p["side"];
    // The subject's own left is the image's right.
    const int side = side_name == "left" ? 1 : side_name == "right" ? -1 : 0;
    const int photo_side = photo_key_side(in, face_skin);
    relight::Light light = relight::light_for(pattern, photo_side, relight::facing_side(face->mesh), side,
                                              float(p["turn"].get<double>()), float(p["raise"].get<double>()),
                                              float(p["softness"].get<double>()), float(p["kelvin"].get<double>()));
    if (name == "match") {
      // The backdrop's light: its direction (the key side flipped when the
      // user names a side), softness and colour; its room's bounce as fill.
      cv::Vec3f d = in.light.direction;
      if (side != 0 && d[0] * float(side) < 0) d[0] = -d[0];
      light.key = d / std::max(1e-6f, float(cv::norm(d)));
      light.side = d[0] >= 0 ? 1 : -1;
      light.softness = std::clamp(in.light.softness + float(p["softness"].get<double>()), 0.f, 1.f);
      light.key_color = relight::luminance_one(in.light.color);
      // The room's colour reaches the shadows a little: a quarter of its tint.
      light.fill_color =
          relight::luminance_one(cv::Vec3f(1, 1, 1) * 0.75f + relight::luminance_one(in.light.ambient) * 0.25f);
      light.fill = 0.2f + 0.35f * light.softness;
    }
    ctx.check_cancel();
    // Geometry on a grid of at most 640 px: light is smooth; the mesh's
    // features (the nose, brows) stay a hundred pixels and more across.
    const double scale = std::min(1.0, 640.0 / std::max(in.image.cols, in.image.rows));
    const relight::Shape shape = relight::subject_shape(in.alpha, face->mesh, scale);
    const relight::Relit r =
        relight::relight(in.image, in.alpha, face_skin, skin, shape, light, float(p["strength"].get<double>()));
    out.image = r.image;
    out.relit = in.relit.empty() ? r.amount : cv::max(in.relit, r.amount);
    if (out.source_type == "digitalCapture") out.source_type = "algorithmicallyEnhanced";
    const float az =
        std::acos(std::clamp(light.key[2] / std::max(1e-6f, std::hypot(light.key[0], light.key[2])), -1.f, 1.f)) * 180 /
        3.14159265f;
    const float el = std::asin(std::clamp(light.key[1], -1.f, 1.f)) * 180 / 3.14159265f;
    std::string what = cv::format("relit: %s, key from the subject's %s at %.0f deg, %.0f deg up, softness %.2f",
                                  name.c_str(), light.side > 0 ? "left" : "right", az, el, light.softness);
    if (p["strength"].get<double>() < 1)
      what += cv::format(" at %d%%", int(std::lround(p["strength"].get<double>() * 100)));
    if (r.old_light.fitted) {
      const cv::Vec3f od = r.old_light.direction();
      what += cv::format(" (the photo's own light came from the %s, face exposure kept to %+.1f%%)",
                         std::abs(od[0]) < 0.15f ? "front"
                         : od[0] > 0             ? "subject's left"
                                                 : "subject's right",
                         (r.exposure_kept - 1) * 100);
    }
    out.edits.push_back(what);
    return out;
  }
};
}  // namespace

const Stage& relight_stage() {
  static RelightStage s;
  return s;
}

}  // namespace likeness
