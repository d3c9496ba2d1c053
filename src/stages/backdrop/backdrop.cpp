// backdrop: replaces the background with a studio backdrop (solid, two-tone
// gradient, seamless paper, painted canvas), a defocused place (office, city
// window, greenery, café, moody sky) or the user's own picture, composited
// in linear light: C = a*F + (1-a)*B_new with F the person's own colour
// estimated by the matte stage, so hair carries no colour of the old scene.
// Every backdrop declares the light it implies (Frame::light): the backdrop's
// light wraps a little around the person's edge, more on the key's side, and
// the person's colour balance is nudged toward that light, as a real room's
// would be.
#include "stages/backdrop/backdrop.hpp"

#include <cmath>
#include <filesystem>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/parallel.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace backdrop {

const std::vector<std::string>& styles() {
  static const std::vector<std::string> s = {"solid", "gradient", "paper", "canvas", "office",
                                             "city",  "greenery", "cafe",  "sky",    "image"};
  return s;
}

bool is_scene(const std::string& s) {
  return s == "office" || s == "city" || s == "greenery" || s == "cafe" || s == "sky";
}

cv::Vec3f toward(float x, float y, float z) {
  const cv::Vec3f v(x, y, z);
  return v / std::max(1e-6f, float(cv::norm(v)));
}

Request request_from(const json& p) {
  Request r;
  r.image = p.value("image", std::string());
  r.style = r.image.empty() ? p.value("style", std::string("gradient")) : "image";
  r.color = linear_color(parse_color(p.value("color", std::string("#4a5560"))));
  r.color2 = linear_color(parse_color(p.value("color2", std::string("#7d8893"))));
  r.seed = p.value("seed", 1);
  r.f_number = p.value("aperture", 2.0);
  return r;
}

Shot shot_from(const Frame& f) {
  Shot s;
  s.size = f.image.size();
  const cv::Mat& img = f.image;
  const bool has_alpha = !f.alpha.empty() && f.alpha.size() == img.size();
  if (const Face* face = f.subject_face(); face && face->landmarks.size() == 68) {
    s.eyes = (face->left_eye() + face->right_eye()) * 0.5f;
    s.eye_px = face->eye_distance();
    const cv::Rect box = cv::boundingRect(face->landmarks) & cv::Rect(0, 0, img.cols, img.rows);
    if (box.area() > 64) {
      s.face = box;
      cv::transform(img(box), s.face_gray, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
      // The side the photo's own light comes from: the brighter half of the
      // face between the eyes and the mouth, split at the nose.
      const int nose = std::clamp(int(face->landmarks[30].x), box.x + 1, box.x + box.width - 1);
      const int y0 = std::clamp(int(s.eyes.y), box.y, box.y + box.height - 1);
      const int y1 = std::clamp(int(face->landmarks[57].y), y0 + 1, box.y + box.height);
      const cv::Rect l(box.x, y0, nose - box.x, y1 - y0), r(nose, y0, box.x + box.width - nose, y1 - y0);
      const double bl = cv::mean(cv::Mat(s.face_gray, l - box.tl()))[0],
                   br = cv::mean(cv::Mat(s.face_gray, r - box.tl()))[0];
      s.key_side = br > 1.15 * bl ? 1 : bl > 1.15 * br ? -1 : 0;
    }
  }
  if (has_alpha && img.type() == CV_32FC3) {
    cv::Mat inside = f.alpha >= 0.9f;
    if (!f.outside.empty()) inside &= ~f.outside;
    if (cv::countNonZero(inside) > 256) {
      const cv::Mat& fg = f.foreground.empty() ? img : f.foreground;
      const cv::Scalar m = cv::mean(fg, inside);
      s.subject_mean = cv::Vec3f(float(m[0]), float(m[1]), float(m[2]));
      // The photo's noise (Immerkaer's operator, median over the person so
      // texture counts little), in sRGB units: the backdrop's grain.
      cv::Mat g, srgb, resp;
      cv::transform(img, g, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
      cv::pow(cv::max(g, 0.0), 1 / 2.2, srgb);
      const cv::Matx33f k(1, -2, 1, -2, 4, -2, 1, -2, 1);
      cv::filter2D(srgb, resp, CV_32F, k);
      cv::erode(inside, inside, cv::Mat());
      std::vector<float> v;
      v.reserve(size_t(cv::countNonZero(inside)));
      for (int y = 0; y < resp.rows; ++y) {
        const uchar* m8 = inside.ptr<uchar>(y);
        const float* rr = resp.ptr<float>(y);
        for (int x = 0; x < resp.cols; ++x)
          if (m8[x]) v.push_back(std::abs(rr[x]));
      }
      if (v.size() > 256) {
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        s.grain = std::clamp(v[v.size() / 2] / (0.6745f * 6), 0.003f, 0.015f);
      }
    }
  }
  return s;
}

Backdrop make(const Request& req, const Shot& shot, const Options& opt) {
  const Lens lens = portrait_lens(shot.size, shot.eyes, shot.eye_px, req.f_number);
  Backdrop b = req.style == "image"  ? user_image(req, shot, lens, opt.sharp)
               : is_scene(req.style) ? scene(req, shot, lens, opt.sharp)
                                     : studio(req, shot, lens);
  const cv::Scalar m = cv::mean(b.image);
  b.light.ambient = cv::Vec3f(float(m[0]), float(m[1]), float(m[2]));
  b.light.direction = toward(b.light.direction[0], b.light.direction[1], b.light.direction[2]);
  b.light.set = true;
  return b;
}

}  // namespace backdrop

namespace {
// A colour's balance: each channel over the channels' mean.
cv::Vec3f balance(const cv::Vec3f& c) {
  const float m = std::max(1e-6f, (c[0] + c[1] + c[2]) / 3);
  return c / m;
}

class BackdropStage final : public Stage {
 public:
  std::string id() const override { return "backdrop"; }
  int version() const override { return 3; }
  std::string summary() const override {
    return "Replace the background with a studio backdrop, a defocused place or your own picture";
  }
  std::string c2pa_action() const override { return "c2pa.edited"; }
  // A backdrop composited with a learned (ISNet) matte.
  std::string c2pa_source_type() const override { return "compositeWithTrainedAlgorithmicMedia"; }
  std::vector<ParamSpec> params() const override {
    return {
        {"style", ParamType::choice, "gradient",
         "Backdrop kind: studio (solid, gradient, paper, canvas), a defocused place (office, city, greenery, cafe, "
         "sky) or your own picture (image)",
         0, 0, backdrop::styles()},
        {"color",
         ParamType::color,
         "#4a5560",
         "Backdrop colour (solid, paper; the gradient's edges; the canvas's dark tone)",
         0,
         0,
         {}},
        {"color2",
         ParamType::color,
         "#7d8893",
         "Gradient centre, lit behind the head; the canvas's light tone",
         0,
         0,
         {}},
        {"seed",
         ParamType::integer,
         1,
         "Variation of a place, canvas or paper (same seed, same backdrop)",
         0,
         999999,
         {}},
        {"aperture",
         ParamType::number,
         2.0,
         "The portrait lens's f-number (85 mm): how strongly places and your picture are defocused",
         1.4,
         16,
         {}},
        {"image",
         ParamType::path,
         "",
         "A picture to use as the backdrop (JPEG, PNG, WebP, HEIF, TIFF; implies style image)",
         0,
         0,
         {}},
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

  // The user's picture is an input: its content's digest enters the key.
  std::vector<std::string> inputs_for(const json& p) const override {
    const std::string file = p.value("image", std::string());
    if (file.empty()) return {};
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) throw_bad_input(file, "no such file (the backdrop image)");
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > DecodeLimits{}.max_bytes)
      throw_bad_input(file, ec ? "cannot read: " + ec.message() : "the backdrop image is over the 50 MB limit");
    return {file};
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered || in.alpha.empty())
      throw Error(ErrorInfo{ErrorCode::internal, "needs a matte: put the matte stage before it", id(), {}, {}});
    const backdrop::Request req = backdrop::request_from(p);
    const backdrop::Backdrop bd = backdrop::make(req, backdrop::shot_from(in));
    ctx.check_cancel();
    const cv::Mat& bnew = bd.image;
    const SceneLight& light = bd.light;
    const bool decontaminate = p["decontaminate"].get<bool>() && !in.foreground.empty();
    cv::Mat fg = decontaminate ? in.foreground : in.image;
    // Harmonise: the declared light's balance (the key's colour, and the
    // room's bounce as much as the light is soft) tints the person by a small
    // fraction, as a white balance toward the room.
    const double h = p["harmonise"];
    cv::Vec3f tint(1, 1, 1);
    if (h > 0) {
      const float soft = light.softness;
      const cv::Vec3f t = balance(light.color) * (1 - 0.5f * soft) + balance(light.ambient) * (0.5f * soft);
      tint = cv::Vec3f(1, 1, 1) + float(h) * (t - cv::Vec3f(1, 1, 1));
    }
    // Light wrap: near the edge, inside the person, the backdrop's light
    // (blurred) mixes in, strongest right at the edge and on the side the
    // declared light comes from, a little of the key's colour in it.
    const float wrap = float(p["wrap"].get<double>());
    cv::Mat soft, glow, gx;
    float side_k = 0;
    cv::Vec3f glow_tint(1, 1, 1);
    if (wrap > 0) {
      const int k = (std::max(in.image.cols, in.image.rows) / 40) | 1;
      cv::GaussianBlur(1.0 - in.alpha, soft, cv::Size(k, k), 0);
      cv::GaussianBlur(bnew, glow, cv::Size(k, k), 0);
      const cv::Vec3f key = balance(light.color);
      glow_tint = cv::Vec3f(0.8f, 0.8f, 0.8f) + 0.2f * key;
      // The outward edge's x direction: where the background lies.
      cv::Sobel(soft, gx, CV_32F, 1, 0, 3);
      side_k = float(light.direction[0] * 0.6 / std::max(1e-6, cv::norm(gx, cv::NORM_INF)));
    }
    // One pass: the person (tinted) over the backdrop, then the wrap.
    cv::Mat out(in.image.size(), CV_32FC3);
    parallel_ranges(cv::Range(0, out.rows), [&](const cv::Range& rows) {
      for (int y = rows.start; y < rows.end; ++y) {
        const auto* f = fg.ptr<cv::Vec3f>(y);
        const auto* b = bnew.ptr<cv::Vec3f>(y);
        const float* a = in.alpha.ptr<float>(y);
        const float* so = wrap > 0 ? soft.ptr<float>(y) : nullptr;
        const float* g = wrap > 0 ? gx.ptr<float>(y) : nullptr;
        const auto* gl = wrap > 0 ? glow.ptr<cv::Vec3f>(y) : nullptr;
        auto* o = out.ptr<cv::Vec3f>(y);
        for (int x = 0; x < out.cols; ++x) {
          cv::Vec3f c = f[x].mul(tint) * a[x] + b[x] * (1 - a[x]);
          if (so) {
            const float amount = so[x] * a[x] * (1 + g[x] * side_k) * wrap * 0.5f;
            if (amount != 0) c += (gl[x].mul(glow_tint) - c) * amount;
          }
          o[x] = c;
        }
      }
    });
    Frame res = in;
    res.image = out;
    res.light = light;
    res.source_type = "compositeWithTrainedAlgorithmicMedia";
    const std::string c1 = p["color"], c2 = p["color2"], seed = "seed " + std::to_string(req.seed);
    std::string what;
    if (req.style == "solid")
      what = "a solid studio backdrop (" + c1 + ")";
    else if (req.style == "gradient")
      what = "a two-tone gradient studio backdrop (" + c1 + " to " + c2 + ")";
    else if (req.style == "paper")
      what = "a seamless paper backdrop (" + c1 + ")";
    else if (req.style == "canvas")
      what = "a painted canvas backdrop (" + c1 + " and " + c2 + ", " + seed + ")";
    else if (req.style == "image")
      what = bd.words;
    else
      what = "a " + bd.words + " backdrop (" + seed + ")";
    res.edits.push_back("background replaced with " + what);
    return res;
  }
};
}  // namespace

const Stage& backdrop_stage() {
  static BackdropStage s;
  return s;
}

}  // namespace likeness
