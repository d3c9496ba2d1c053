#include "stages/grade/looks.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/parallel.hpp"

namespace likeness::grade {

namespace {
// Rec. 709 luminance of linear BGR.
constexpr float kB = 0.0722f, kG = 0.7152f, kR = 0.2126f;
float luminance(const cv::Vec3f& c) { return kB * c[0] + kG * c[1] + kR * c[2]; }

// A tint direction with its luminance taken out: adding it moves colour only.
cv::Vec3f chroma_only(cv::Vec3f t) {
  const float y = luminance(t);
  return t - cv::Vec3f(y, y, y);
}

float lstar(float Y) {
  const float f = Y > 0.008856f ? std::cbrt(Y) : 7.787f * Y + 16.f / 116;
  return 116 * f - 16;
}
float from_lstar(float L) {
  const float f = (L + 16) / 116;
  return f > 0.2069f ? f * f * f : (f - 16.f / 116) / 7.787f;
}

cv::Vec3f lab_of(const cv::Vec3f& linear_bgr) {
  cv::Mat in(1, 1, CV_32FC3, cv::Scalar(linear_bgr[0], linear_bgr[1], linear_bgr[2])), out;
  cv::cvtColor(in, out, cv::COLOR_LBGR2Lab);
  return out.at<cv::Vec3f>(0, 0);
}
cv::Vec3f linear_of(const cv::Vec3f& lab) {
  cv::Mat in(1, 1, CV_32FC3, cv::Scalar(lab[0], lab[1], lab[2])), out;
  cv::cvtColor(in, out, cv::COLOR_Lab2LBGR);
  return out.at<cv::Vec3f>(0, 0);
}
}  // namespace

const std::vector<Look>& looks() {
  static const std::vector<Look> all = [] {
    const cv::Vec3f teal = chroma_only({0.6f, 0.25f, -0.6f}), orange = chroma_only({-0.6f, 0.05f, 0.5f});
    const cv::Vec3f green_cyan = chroma_only({0.15f, 0.5f, -0.45f}), amber = chroma_only({-0.5f, 0.1f, 0.4f});
    std::vector<Look> v;
    auto add = [&](Look l) { v.push_back(std::move(l)); };
    add({"none", "no grade: the colours of the composite as they are"});
    Look natural{"natural", "a touch of contrast about the face on the person, colours kept, the backdrop as chosen"};
    natural.contrast = 0.06f, natural.saturation = 1.02f, natural.subject_only = true;
    add(natural);
    Look warm{"warm", "a warmer white balance, a little more colour"};
    warm.temperature = 0.6f, warm.contrast = 0.04f, warm.saturation = 1.03f;
    add(warm);
    Look cool{"cool", "a cooler white balance"};
    cool.temperature = -0.4f, cool.contrast = 0.04f;
    add(cool);
    Look cine{"cinematic", "teal shadows, warm highlights, deeper contrast, softer colour; skin held back"};
    cine.contrast = 0.15f, cine.blacks = 0.015f, cine.whites = 0.97f, cine.saturation = 0.9f;
    cine.shadow_tint = teal * 0.9f, cine.highlight_tint = orange * 0.35f;
    add(cine);
    Look bw{"black-and-white", "monochrome from a red-leaning channel mix (kind to skin), a little contrast"};
    bw.mono = true, bw.contrast = 0.12f;
    add(bw);
    Look film{"film", "lifted blacks, rolled highlights, muted colour, green-cyan shadows, amber highlights"};
    film.blacks = 0.08f, film.whites = 0.95f, film.contrast = 0.05f, film.saturation = 0.85f;
    film.temperature = 0.1f, film.shadow_tint = green_cyan * 0.15f, film.highlight_tint = amber * 0.06f;
    add(film);
    Look high{"high-key", "bright and airy: midtones lifted, gentle contrast"};
    high.keep_face = false, high.brightness = 0.35f, high.blacks = 0.02f, high.contrast = -0.08f,
    high.saturation = 0.92f;
    add(high);
    Look low{"low-key", "dark and moody: what is darker than the face goes deeper, the face kept"};
    low.brightness = -0.2f, low.contrast = 0.2f;
    add(low);
    Look flatter{"flatter", "flatter my skin tone: white balance and exposure measured on the face's skin"};
    flatter.skin_balance = true;
    add(flatter);
    return v;
  }();
  return all;
}

std::vector<std::string> look_names() {
  std::vector<std::string> n;
  for (const Look& l : looks()) n.push_back(l.name);
  return n;
}

const Look& find_look(const std::string& name) {
  for (const Look& l : looks())
    if (l.name == name) return l;
  throw Error(ErrorCode::usage, "unknown look '" + name + "'");
}

Look scaled(const Look& look, float s) {
  s = std::clamp(s, 0.f, 1.f);
  Look l = look;
  l.temperature *= s, l.brightness *= s, l.contrast *= s, l.blacks *= s;
  l.whites = 1 + (look.whites - 1) * s, l.saturation = 1 + (look.saturation - 1) * s;
  l.shadow_tint *= s, l.highlight_tint *= s;
  return l;
}

SkinReading read_skin(const cv::Mat& linear_bgr, const cv::Mat& skin, const cv::Mat& subject) {
  SkinReading r;
  if (skin.empty() || linear_bgr.empty()) return r;
  // Luminance only: the quantiles read below are of monotonic functions
  // of it (v = Y^(1/2.2), L*), taken of the luminance's own quantile.
  std::vector<float> Y, top;
  if (!subject.empty())
    for (int y = 0; y < subject.rows; ++y) {
      const float* m = subject.ptr<float>(y);
      const cv::Vec3f* c = linear_bgr.ptr<cv::Vec3f>(y);
      for (int x = 0; x < subject.cols; ++x)
        if (m[x] >= 0.5f) top.push_back(std::max(0.f, luminance(c[x])));
    }
  cv::Vec3d sum(0, 0, 0);
  double weight = 0;
  for (int y = 0; y < skin.rows; ++y) {
    const float* m = skin.ptr<float>(y);
    const cv::Vec3f* c = linear_bgr.ptr<cv::Vec3f>(y);
    for (int x = 0; x < skin.cols; ++x) {
      if (m[x] < 0.5f) continue;
      Y.push_back(std::max(0.f, luminance(c[x])));
      sum += cv::Vec3d(c[x]) * double(m[x]);
      weight += m[x];
    }
  }
  r.pixels = int(Y.size());
  if (r.pixels < 200) return r;
  r.found = true;
  auto nth = [](std::vector<float>& x, double q) {
    auto it = x.begin() + std::ptrdiff_t(q * (x.size() - 1));
    std::nth_element(x.begin(), it, x.end());
    return *it;
  };
  r.lightness = std::pow(nth(Y, 0.5), 1 / 2.2f);
  r.highlight_L = lstar(nth(Y, 0.95));
  if (!top.empty()) r.subject_top_L = lstar(nth(top, 0.995));
  const cv::Vec3f lab = lab_of(cv::Vec3f(sum / weight));
  r.L = lab[0], r.a = lab[1], r.b = lab[2];
  r.hue = float(std::atan2(r.b, r.a) * 180 / CV_PI);
  return r;
}

SkinCorrection skin_correction(const SkinReading& s) {
  SkinCorrection c;
  if (!s.found) return c;
  c.hue_to = s.hue;
  // Exposure: the subject's brightest 0.5% below L* 72 is an under-exposed
  // photo (72.9-100 on the 61 photos of ../shared/faces/people); it is
  // brought to 82, at most 1.5 stops, and never so far that the lit skin
  // (its 95th percentile) passes L* 92.
  if (s.subject_top_L > 0 && s.subject_top_L < 72) {
    const float want = std::log2(from_lstar(82) / std::max(1e-4f, from_lstar(s.subject_top_L)));
    const float room = std::log2(from_lstar(92) / std::max(1e-4f, from_lstar(s.highlight_L)));
    c.stops = std::clamp(std::min(want, room), 0.f, 1.5f);
  }
  // The colour: skin of every tone lies in a narrow sector of CIELAB's
  // (a*, b*) plane, hue 40-65 degrees and chroma 12-36 (52 of the 61 photos
  // of ../shared/faces/people; three lit by coloured stage light are far
  // out, six within 5 degrees); a cast moves it out. It is brought to the
  // sector's nearest edge, not its middle: never more than the cast
  // explains. Below chroma 4 there is no hue to trust (a grey or monochrome
  // photo). Judged after the exposure (chroma grows with it).
  const float gain = std::pow(2.f, c.stops);
  const cv::Vec3f exposed_lab = lab_of(linear_of({s.L, s.a, s.b}) * gain);
  const float chroma = std::hypot(exposed_lab[1], exposed_lab[2]);
  if (chroma >= 4) {
    const float mid = (kSkinHueLow + kSkinHueHigh) / 2;
    float h = float(std::atan2(exposed_lab[2], exposed_lab[1]) * 180 / CV_PI);
    while (h - mid > 180) h -= 360;
    while (h - mid < -180) h += 360;
    const float to = std::clamp(h, kSkinHueLow, kSkinHueHigh);
    const float c_to = std::clamp(chroma, kSkinChromaLow, kSkinChromaHigh);
    if (to != h || c_to != chroma) {
      const float rad = to * float(CV_PI) / 180;
      const cv::Vec3f from = linear_of(exposed_lab);
      const cv::Vec3f target = linear_of({exposed_lab[0], c_to * std::cos(rad), c_to * std::sin(rad)});
      for (int k = 0; k < 3; ++k) c.gains[k] = std::clamp(target[k] / std::max(1e-4f, from[k]), 0.5f, 2.f);
      c.gains *= luminance(from) / std::max(1e-6f, luminance(from.mul(c.gains)));  // the skin's luminance kept
      c.hue_to = to;
    }
  }
  return c;
}

cv::Vec3f corrected_skin_lab(const SkinReading& s, const SkinCorrection& c) {
  return lab_of(linear_of({s.L, s.a, s.b}).mul(c.gains) * std::pow(2.f, c.stops));
}

cv::Mat apply(const cv::Mat& linear_bgr, const Look& look, float pivot, const cv::Mat& protect,
              const SkinCorrection& skin, const cv::Mat& subject, cv::Mat* amount) {
  CV_Assert(linear_bgr.type() == CV_32FC3);
  // White balance as channel gains, luminance kept.
  const float t = look.temperature;
  cv::Vec3f wb(1 - 0.18f * t, 1, 1 + 0.12f * t);
  wb /= luminance(wb);
  // The tone curve on lightness v = Y^(1/2.2), tabulated on sqrt(Y).
  constexpr int kSteps = 4096;
  std::array<float, kSteps + 1> curve{};
  const float p = std::clamp(pivot, 0.15f, 0.85f), k = std::clamp(look.contrast, -0.25f, 0.3f);
  auto tone = [&](double v) {
    v = std::pow(v, 1.0 / (1.0 + look.brightness));
    v = v + k * 4 * v * (1 - v) * (v - p);
    return look.blacks + (look.whites - look.blacks) * std::clamp(v, 0.0, 1.0);
  };
  const double fp = tone(p);
  for (int i = 0; i <= kSteps; ++i) {
    const double r = double(i) / kSteps, Y = r * r;
    const double v = std::pow(Y, 1 / 2.2);
    double t = tone(v);
    // The face's lightness kept: each side of it rescaled to keep the pivot
    // (the blacks' lift and the highlights' roll stay).
    if (look.keep_face) t = v <= p ? t * p / fp : p + (t - fp) * (tone(1.0) - p) / std::max(1e-6, tone(1.0) - fp);
    curve[i] = float(std::pow(std::clamp(t, 0.0, 1.0), 2.2));
  }
  auto curve_at = [&](float Y) {
    const float r = std::sqrt(std::clamp(Y, 0.f, 1.f)) * kSteps;
    const int i = std::min(kSteps - 1, int(r));
    return curve[i] + (curve[i + 1] - curve[i]) * (r - i);
  };
  const bool has_protect = !protect.empty(), has_subject = !subject.empty() && skin.gains != cv::Vec3f(1, 1, 1);
  const bool has_exposure = !subject.empty() && skin.stops != 0;
  const float gain_exp = std::pow(2.f, skin.stops);
  const bool tinted = look.shadow_tint != cv::Vec3f() || look.highlight_tint != cv::Vec3f();
  cv::Mat out(linear_bgr.size(), CV_32FC3);
  if (amount) amount->create(linear_bgr.size(), CV_32F);
  parallel_ranges(cv::Range(0, out.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const cv::Vec3f* in = linear_bgr.ptr<cv::Vec3f>(y);
      cv::Vec3f* o = out.ptr<cv::Vec3f>(y);
      const float* pr = has_protect ? protect.ptr<float>(y) : nullptr;
      const float* sj = !subject.empty() ? subject.ptr<float>(y) : nullptr;
      float* am = amount ? amount->ptr<float>(y) : nullptr;
      for (int x = 0; x < out.cols; ++x) {
        cv::Vec3f c = in[x];
        if (has_subject) {
          const float w = sj[x];
          for (int j = 0; j < 3; ++j) c[j] *= 1 + (skin.gains[j] - 1) * w;
        }
        if (has_exposure) c *= 1 + (gain_exp - 1) * sj[x];
        c = c.mul(wb);
        if (look.mono) {
          const float m = 0.10f * c[0] + 0.55f * c[1] + 0.35f * c[2];
          c = cv::Vec3f(m, m, m);
        }
        const float Y = std::max(0.f, luminance(c)), Yn = curve_at(Y);
        // New luminance, the colour's proportions kept (blacks lifted to grey).
        const float w = std::min(1.f, Y / 1e-3f);
        c = w * (Y > 0 ? c * (Yn / Y) : cv::Vec3f()) + (1 - w) * cv::Vec3f(Yn, Yn, Yn);
        c = cv::Vec3f(Yn, Yn, Yn) + (c - cv::Vec3f(Yn, Yn, Yn)) * look.saturation;
        if (tinted) {
          // Shadows and highlights cross over at middle grey (v = sqrt(Y) 0.42).
          const float v = std::sqrt(std::min(1.f, Yn)), hold = 1 - 0.7f * (pr ? pr[x] : 0.f);
          const float s = std::max(0.f, 1 - v / 0.5f), h = std::clamp((v - 0.35f) / 0.45f, 0.f, 1.f);
          c += (look.shadow_tint * (s * s) + look.highlight_tint * (h * h)) * (Yn * hold);
        }
        for (int j = 0; j < 3; ++j) c[j] = std::max(0.f, c[j]);
        if (look.subject_only) c = in[x] + (c - in[x]) * (sj ? sj[x] : 0.f);
        o[x] = c;
        if (am) {
          float d = 0;
          for (int j = 0; j < 3; ++j)
            d = std::max(d, std::abs(std::sqrt(std::min(1.f, c[j])) - std::sqrt(std::clamp(in[x][j], 0.f, 1.f))));
          am[x] = std::min(1.f, d * 8);
        }
      }
    }
  });
  return out;
}

}  // namespace likeness::grade
