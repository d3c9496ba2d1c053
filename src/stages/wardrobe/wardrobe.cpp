#include "stages/wardrobe/wardrobe.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/params.hpp"
#include "stages/parse/masks.hpp"

namespace likeness::wardrobe {

namespace {
float luminance(const cv::Vec3f& bgr) { return 0.0722f * bgr[0] + 0.7152f * bgr[1] + 0.2126f * bgr[2]; }

// CIE L* of a relative luminance.
float lstar(float y) { return y > 216.f / 24389 ? 116.f * std::cbrt(y) - 16.f : y * 24389.f / 27; }

// New highlights roll off below white (L*): identity up to the knee, then
// a tanh shoulder with slope 1 at the knee and `top` as its asymptote.
float roll(float l) {
  constexpr float knee = 93.f, top = 99.5f;
  return l <= knee ? std::max(0.f, l) : knee + (top - knee) * std::tanh((l - knee) / (top - knee));
}

// Chroma as it would be at lightness `ref`: shading scales a* and b* with
// L* + 16, so a fold's shadow and its highlight have one colour.
cv::Vec3f at_lightness(const cv::Vec3f& lab, float ref) {
  const float f = std::clamp((ref + 16.f) / (lab[0] + 16.f), 0.5f, 3.f);
  return {lab[0], lab[1] * f, lab[2] * f};
}

FabricModel fit_model(std::vector<cv::Vec3f> px) {
  FabricModel m;
  if (px.size() < 50) return m;
  std::vector<float> v(px.size());
  for (size_t i = 0; i < px.size(); ++i) v[i] = px[i][0];
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  for (auto& p : px) p = at_lightness(p, v[v.size() / 2]);
  // Lightness varies with the folds: its spread is never under 8.
  m.valid = robust_centre_spread(px, {8.f, 3.f, 3.f}, m.centre, m.spread);
  return m;
}
}  // namespace

const std::vector<FabricColour>& fabric_colours() {
  // Fabric as it photographs under neutral studio light: dyed cloth is
  // seldom as saturated or as extreme in lightness as a paint chip.
  static const std::vector<FabricColour> c = {
      {"navy", "#1c2541"},      {"midnight", "#191d2e"},   {"charcoal", "#36383b"},     {"black", "#171717"},
      {"white", "#ebebe8"},     {"grey", "#7f8286"},       {"light grey", "#b4b6b8"},   {"burgundy", "#5e1f2b"},
      {"wine", "#4a1c29"},      {"red", "#8e2226"},        {"camel", "#b08a5a"},        {"beige", "#cdb99c"},
      {"cream", "#e9e0cc"},     {"tan", "#a8865f"},        {"khaki", "#a39a74"},        {"brown", "#5a3e2b"},
      {"chocolate", "#3f2a20"}, {"olive", "#5b5a36"},      {"forest green", "#24402f"}, {"sage", "#8f9c82"},
      {"teal", "#1f5c60"},      {"royal blue", "#2b4a9a"}, {"light blue", "#a7bfdb"},   {"powder blue", "#c5d5e6"},
      {"plum", "#4c2a45"},      {"lavender", "#b7a8cc"},   {"pink", "#e2b4be"},         {"mustard", "#c49a2c"},
      {"rust", "#93482a"},
  };
  return c;
}

std::vector<std::string> colour_names() {
  std::vector<std::string> n = {"keep"};
  for (const auto& c : fabric_colours()) n.push_back(c.name);
  return n;
}

cv::Scalar colour_of(const std::string& name_or_hex) {
  std::string s = name_or_hex;
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (const auto& c : fabric_colours())
    if (c.name == s) return parse_color(c.hex);
  if (s.size() == 7 && s[0] == '#' &&
      std::all_of(s.begin() + 1, s.end(), [](unsigned char ch) { return std::isxdigit(ch) != 0; }))
    return parse_color(s);
  std::string known;
  for (const auto& c : fabric_colours()) known += (known.empty() ? "" : ", ") + c.name;
  throw Error(ErrorCode::usage, "unknown clothing colour '" + name_or_hex + "' (#rrggbb or one of " + known + ")");
}

Body body_of(const Face* face) {
  Body b;
  if (!face || face->landmarks.size() != 68) return b;
  const cv::Point2f chin = face->landmarks[8], bridge = face->landmarks[27];
  const float len = float(cv::norm(bridge - chin)), unit = face->eye_distance();
  if (len < 1 || unit < 1) return b;
  b.valid = true;
  b.chin = chin;
  b.up = (bridge - chin) / len;
  b.unit = unit;
  return b;
}

float FabricModel::d2(const cv::Vec3f& lab) const {
  const cv::Vec3f n = at_lightness(lab, centre[0]);
  // Near black a pixel's chroma is mostly noise: it counts less there.
  const float trust = std::clamp(lab[0] / 12.f, 0.2f, 1.f);
  float s = 0;
  for (int c = 0; c < 3; ++c) {
    const float t = (n[c] - centre[c]) / spread[c];
    s += (c ? trust : 1.f) * t * t;
  }
  return s;
}

float FabricModel::likelihood(const cv::Vec3f& lab) const {
  if (!valid) return 0.f;
  const float t = 1.f + d2(lab) / 4.f;  // t^3.5, without pow()
  return 1.f / ((spread[0] * spread[1] * spread[2]) * (t * t * t * std::sqrt(t)));
}

cv::Mat clothing_share(const cv::Mat& clothing, const cv::Mat& face_skin, const cv::Mat& body_skin,
                       const cv::Mat& hair) {
  CV_Assert(clothing.type() == CV_32F);
  cv::Mat sum = clothing.clone();
  for (const cv::Mat* m : {&face_skin, &body_skin, &hair})
    if (!m->empty()) sum += *m;
  cv::Mat share;
  cv::divide(clothing, cv::max(sum, 1e-6), share);
  const cv::Mat valid = sum > 0.05;
  share.setTo(0, ~valid);
  cv::Mat validf, num, den;
  valid.convertTo(validf, CV_32F, 1.0 / 255);
  const double sigma = std::max(2.0, clothing.rows / 160.0);
  cv::GaussianBlur(share, num, cv::Size(), sigma);
  cv::GaussianBlur(validf, den, cv::Size(), sigma);
  cv::Mat filled;
  cv::divide(num, cv::max(den, 1e-6), filled);
  filled.setTo(0, den < 0.02);
  filled.copyTo(share, ~valid);
  // A fleck the parts' colour models took for skin (a heather's light
  // thread) is closed over; a boundary does not move.
  const int r = std::max(1, clothing.rows / 320);
  cv::morphologyEx(share, share, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
  cv::min(cv::max(share, 0.0), 1.0, share);
  return share;
}

Garments split_garments(const cv::Mat& lab, const Parts& parts, const cv::Mat& solid, const Body& body) {
  CV_Assert(lab.type() == CV_32FC3 && parts.clothing.type() == CV_32F && solid.type() == CV_8U);
  CV_Assert(parts.person.empty() || parts.person.type() == CV_8U);
  Garments g;
  cv::Mat share = clothing_share(parts.clothing, parts.face_skin, parts.body_skin, parts.hair);
  if (!parts.person.empty()) share.setTo(0, parts.person == 0);
  const cv::Point2f side(-body.up.y, body.up.x);
  const float unit = std::max(1.f, body.unit);
  // Below the chin (u, in eye distances) and off the neck's centre line (v).
  auto where = [&](int x, int y, float& u, float& v) {
    const cv::Point2f q = cv::Point2f(float(x), float(y)) - body.chin;
    u = -q.dot(body.up) / unit;
    v = std::abs(q.dot(side)) / unit;
  };
  // The head's own hair, where the masks are sure of it above the chin: its
  // colour keeps hair that hangs over the shoulders (long blonde hair on a
  // dark jacket, which the masks half take for clothing) out of the
  // garments' colour models.
  FabricModel head_hair;
  if (!parts.hair.empty() && body.valid) {
    std::vector<cv::Vec3f> hair_px;
    for (int y = 0; y < lab.rows; ++y) {
      const auto* l = lab.ptr<cv::Vec3f>(y);
      const auto* m = solid.ptr<uchar>(y);
      const auto* hr = parts.hair.ptr<float>(y);
      for (int x = 0; x < lab.cols; ++x) {
        float u, v;
        where(x, y, u, v);
        if (m[x] && hr[x] >= 0.7f && u < -0.5f) hair_px.push_back(l[x]);
      }
    }
    head_hair = fit_model(hair_px);
  }
  std::vector<cv::Vec3f> all, shoulders, centre;
  std::vector<cv::Vec3f> all_hairy, shoulders_hairy;  // with pixels like the head's hair where the masks see hair
  for (int y = 0; y < lab.rows; ++y) {
    const auto* l = lab.ptr<cv::Vec3f>(y);
    const auto* s = share.ptr<float>(y);
    const auto* m = solid.ptr<uchar>(y);
    const float* hr = parts.hair.empty() ? nullptr : parts.hair.ptr<float>(y);
    for (int x = 0; x < lab.cols; ++x) {
      if (!m[x] || s[x] < 0.5f) continue;
      if (head_hair.valid && hr && hr[x] > 0.1f && head_hair.d2(l[x]) < 9.f) {
        all_hairy.push_back(l[x]);
        if (!body.valid) continue;
        float u, v;
        where(x, y, u, v);
        if (u > 0.3f && v > 1.7f) shoulders_hairy.push_back(l[x]);
        continue;
      }
      all.push_back(l[x]);
      if (!body.valid) continue;
      float u, v;
      where(x, y, u, v);
      if (u > 0.3f && v > 1.7f) shoulders.push_back(l[x]);
      if (u > 0.f && u < 3.f && v < 0.6f) centre.push_back(l[x]);
    }
  }
  // A garment of the hair's own colour: the hair-like pixels were most of it.
  if (all.size() < 0.3 * (all.size() + all_hairy.size())) {
    all.insert(all.end(), all_hairy.begin(), all_hairy.end());
    shoulders.insert(shoulders.end(), shoulders_hairy.begin(), shoulders_hairy.end());
  }
  g.outer.model = fit_model(shoulders.size() >= 200 ? shoulders : all);
  if (!g.outer.model.valid) return g;
  if (body.valid) {
    std::vector<cv::Vec3f> odd;
    // Odd: out of the outer's colour, or far from its lightness (a white
    // shirt under a grey suit whose folds spread its lightness wide).
    for (const auto& c : centre)
      if (g.outer.model.d2(c) > 16.f || std::abs(c[0] - g.outer.model.centre[0]) > 25.f) odd.push_back(c);
    if (odd.size() >= 100 && odd.size() >= 0.2 * centre.size()) {
      g.inner.model = fit_model(odd);
      if (g.inner.model.valid && ciede2000(cv::Vec3d(g.inner.model.centre), cv::Vec3d(g.outer.model.centre)) < 10)
        g.inner.model.valid = false;
    }
  }
  // Where the parts' colour models took clothing for hair (a charcoal
  // knit's edge beside dark hair), the garments' own models decide against
  // the hair on the head: clothing only where they clearly say so, never
  // above the chin. Skin is never taken: a skin-coloured garment keeps the
  // masks' word (and may be recoloured only in part).
  if (!parts.hair.empty() && body.valid) {
    const FabricModel& hair = head_hair;
    const FabricModel &om = g.outer.model, &im = g.inner.model;
    cv::Mat sum = parts.clothing + parts.hair;
    if (!parts.face_skin.empty()) sum += parts.face_skin;
    if (!parts.body_skin.empty()) sum += parts.body_skin;
    for (int y = 0; hair.valid && y < lab.rows; ++y) {
      const auto* l = lab.ptr<cv::Vec3f>(y);
      const uchar* pm = parts.person.empty() ? nullptr : parts.person.ptr<uchar>(y);
      const auto* hr = parts.hair.ptr<float>(y);
      const auto* sm = sum.ptr<float>(y);
      auto* s = share.ptr<float>(y);
      for (int x = 0; x < lab.cols; ++x) {
        if ((pm && !pm[x]) || sm[x] <= 0.05f || hr[x] <= 0.f) continue;
        float u, v;
        where(x, y, u, v);
        if (u < 0.5f) continue;
        const float lg = om.likelihood(l[x]) + im.likelihood(l[x]);
        const float q = lg / (lg + hair.likelihood(l[x]) + 1e-12f);
        s[x] = std::min(1.f, s[x] + hr[x] / sm[x] * std::clamp((q - 0.6f) / 0.3f, 0.f, 1.f));
      }
    }
  }
  // Membership: each garment's heavy-tailed likelihood (the inner one where
  // it is expected, near the centre line) against each other, against the
  // face's skin where the masks allow skin (a neck in shadow beside a grey
  // knit) and against a floor, the outer's density five spreads out: what
  // fits neither (a tie, a brooch, a logo) is neither's.
  const FabricModel& om = g.outer.model;
  const FabricModel& im = g.inner.model;
  const float floor = 1.f / ((om.spread[0] * om.spread[1] * om.spread[2]) * std::pow(1.f + 25.f / 4.f, 3.5f));
  FabricModel skin;
  cv::Mat skin_share = cv::Mat::zeros(lab.size(), CV_32F);
  if (!parts.face_skin.empty()) {
    std::vector<cv::Vec3f> px;
    for (int y = 0; y < lab.rows; ++y) {
      const auto* l = lab.ptr<cv::Vec3f>(y);
      const auto* m = solid.ptr<uchar>(y);
      const auto* fs = parts.face_skin.ptr<float>(y);
      for (int x = 0; x < lab.cols; ++x)
        if (m[x] && fs[x] >= 0.7f) px.push_back(l[x]);
    }
    skin = fit_model(px);
    cv::Mat sum = parts.clothing + parts.face_skin, sk = parts.face_skin.clone();
    if (!parts.hair.empty()) sum += parts.hair;
    if (!parts.body_skin.empty()) sum += parts.body_skin, sk += parts.body_skin;
    cv::divide(sk, cv::max(sum, 1e-3), skin_share);
  }
  cv::Mat po = cv::Mat::zeros(lab.size(), CV_32F), pi = cv::Mat::zeros(lab.size(), CV_32F);
  cv::Mat height = cv::Mat::ones(lab.size(), CV_32F);  // clothing is below the chin
  cv::Mat keep = cv::Mat::ones(lab.size(), CV_32F);    // 0: hair or face by the face, never clothing
  for (int y = 0; y < lab.rows; ++y) {
    const auto* l = lab.ptr<cv::Vec3f>(y);
    auto* s = share.ptr<float>(y);
    auto* o = po.ptr<float>(y);
    auto* i = pi.ptr<float>(y);
    auto* h = height.ptr<float>(y);
    for (int x = 0; x < lab.cols; ++x) {
      if (s[x] <= 0) continue;
      float u = 1, v = 0;
      if (body.valid) where(x, y, u, v);
      // What the masks call hair or the face's skin beside the face, down
      // to half an eye distance under the chin, is that however dark its
      // shadow is: a black jacket's colour model explains shadowed hair as
      // well as the jacket, and a blue shadow in the hair or on the jaw is
      // the first thing one sees.
      if (body.valid && u < 0.5f &&
          ((!parts.hair.empty() && parts.hair.at<float>(y, x) >= 0.5f) ||
           (!parts.face_skin.empty() && parts.face_skin.at<float>(y, x) >= 0.5f))) {
        s[x] = 0;
        keep.at<float>(y, x) = 0;
        continue;
      }
      // Full from half an eye distance above the chin down, none from one
      // above it (a collar reaches up the neck; hair on the head is not
      // clothing however dark).
      h[x] = std::clamp((u + 1.f) / 0.5f, 0.f, 1.f);
      const float lo = om.likelihood(l[x]);
      float li = 0;
      if (im.valid) {
        const float off = std::max(0.f, v - 1.2f) / 0.6f;
        li = im.likelihood(l[x]) * std::max(0.02f, std::exp(-off * off));
      }
      const float ls = skin.likelihood(l[x]), ss = skin_share.at<float>(y, x);
      // On the masks' soft edge between clothing and skin (a neckband on
      // the neck) the colours decide, so the garment's edge is recoloured
      // whole: clothing where the garment's model clearly explains the
      // pixel better than the face's skin does.
      if (s[x] > 0.1f && s[x] < 0.9f && skin.valid) {
        const float q = (lo + li) / (lo + li + ls + 1e-12f);
        s[x] += (1 - s[x]) * std::clamp((q - 0.7f) / 0.25f, 0.f, 1.f);
      }
      const float sum = lo + li + floor + ls * ss;
      o[x] = lo / sum;
      i[x] = li / sum;
    }
  }
  // A thread or a speck off the garment's colour inside it is its texture,
  // not another object: holes a few pixels across are closed (a button
  // stays out).
  {
    const int r = std::max(1, lab.rows / 320);
    const cv::Mat k = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1));
    cv::morphologyEx(po, po, cv::MORPH_CLOSE, k);
    if (im.valid) {
      cv::morphologyEx(pi, pi, cv::MORPH_CLOSE, k);
      const cv::Mat sum = cv::max(po + pi, 1.0);  // closed, the two may overlap: shared again
      cv::divide(po, sum, po);
      cv::divide(pi, sum, pi);
    }
  }
  // At the matte's edge the person's own colour is an estimate and the
  // masks' share of clothing has the old background's colour in it: in the
  // edge band and a few pixels inside it, the garments' posteriors and the
  // share are those of the solid pixels beyond.
  const double sigma = std::max(0.7, lab.rows / 900.0);
  {
    const int r = std::max(2, lab.rows / 200);
    cv::Mat inner, sf, den;
    cv::erode(solid, inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
    inner.convertTo(sf, CV_32F, 1.0 / 255);
    const double band_sigma = std::max(2.0, lab.rows / 240.0) + r;
    cv::GaussianBlur(sf, den, cv::Size(), band_sigma);
    const cv::Mat use = (inner == 0) & (den > 0.05) & (share > 0);
    for (cv::Mat* p : {&po, &pi, &share}) {
      cv::Mat num, near;
      cv::GaussianBlur(p->mul(sf), num, cv::Size(), band_sigma);
      cv::divide(num, cv::max(den, 1e-6), near);
      near.copyTo(*p, use);
    }
  }
  const cv::Mat scale = share.mul(height);
  cv::Mat wo = po.mul(scale), wi = pi.mul(scale);
  cv::GaussianBlur(wo, wo, cv::Size(), sigma);
  wo = wo.mul(keep);  // the blur does not carry the garment back onto them
  g.outer.weight = wo;
  g.outer.found = true;
  g.outer.pixels = cv::countNonZero((wo >= 0.5) & solid);
  if (im.valid) {
    cv::GaussianBlur(wi, wi, cv::Size(), sigma);
    wi = wi.mul(keep);
    g.inner.weight = wi;
    g.inner.pixels = cv::countNonZero((wi >= 0.5) & solid);
    g.inner.found = g.inner.pixels >= 100;
  }
  return g;
}

cv::Mat recolour(const cv::Mat& linear_bgr, const cv::Mat& weight, const cv::Mat& solid, const cv::Scalar& target_srgb,
                 Recolour* report) {
  CV_Assert(linear_bgr.type() == CV_32FC3 && weight.type() == CV_32F && weight.size() == linear_bgr.size());
  CV_Assert(solid.type() == CV_8U && solid.size() == linear_bgr.size());
  Recolour rep;
  rep.target = lab_of(target_srgb);
  cv::Mat out = linear_bgr.clone();
  const cv::Rect roi = cv::boundingRect(weight > 1e-3);
  auto done = [&](const std::string& why) {
    rep.refused = why;
    if (report) *report = rep;
    return out;
  };
  if (roi.area() == 0) return done("no clothing found");
  const cv::Mat img = linear_bgr(roi), w = weight(roi), core = (w >= 0.5) & solid(roi);
  const cv::Mat lab = lab_of_linear(img);

  // The garment as it is: mean CIELAB and log-luminance of its solid,
  // unclipped pixels; clipped ones counted.
  int n = 0, white = 0, black = 0;
  double sl = 0, sl2 = 0, sa = 0, sb = 0;
  int used = 0;
  for (int y = 0; y < img.rows; ++y) {
    const auto* p = img.ptr<cv::Vec3f>(y);
    const auto* l = lab.ptr<cv::Vec3f>(y);
    const auto* c = core.ptr<uchar>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (!c[x]) continue;
      ++n;
      const float lo = std::min({p[x][0], p[x][1], p[x][2]}), hi = std::max({p[x][0], p[x][1], p[x][2]});
      if (lo >= 0.955f) {  // sRGB 251 and over in every channel
        ++white;
        continue;
      }
      if (hi <= 0.0015f) {  // sRGB 5 and under
        ++black;
        continue;
      }
      ++used;
      sl += l[x][0], sl2 += double(l[x][0]) * l[x][0], sa += l[x][1], sb += l[x][2];
    }
  }
  rep.pixels = n;
  if (n < 50) return done("too little of the garment is seen");
  rep.clipped_white = double(white) / n;
  rep.clipped_black = double(black) / n;
  if (rep.clipped_white > kClippedLimit)
    return done(cv::format("clipped white over %.0f%% of it: its folds cannot be recovered", 100 * rep.clipped_white));
  if (rep.clipped_black > kClippedLimit)
    return done(
        cv::format("crushed to black over %.0f%% of it: its folds cannot be recovered", 100 * rep.clipped_black));
  const float mL = float(sl / used), ma = float(sa / used), mb = float(sb / used);
  rep.before = cv::Vec3f(mL, ma, mb);
  const float ta = rep.target[1], tb = rep.target[2];
  float tL = rep.target[0];
  // Texture is never amplified. Made darker, the garment keeps its
  // log-luminance contrast: luminance is scaled (shading is a ratio of
  // light: the same folds at a darker level, as a darker cloth shows them).
  // Made lighter, it keeps its L* contrast: L* is shifted (a dark cloth's
  // weave and noise are not multiplied into a light one's).
  const bool lighter = tL > mL;
  float contrast = 1;
  if (lighter) {
    // Room below white for the lighter folds: the mean is held (by at most
    // 10 L*) two spreads under L* 97, and where that is not room enough
    // the contrast eased (by at most a quarter) rather than the highlights
    // flattened.
    const float spread = float(std::sqrt(std::max(0.0, sl2 / used - double(mL) * mL)));
    const float held = std::min(tL, std::max(tL - 10.f, 97.f - 2.f * spread));
    if (spread > 0) contrast = std::clamp((97.f - held) / (2.f * spread), 0.75f, 1.f);
    tL = held;
  }
  rep.texture_gain = contrast;
  rep.lightness = tL;
  // New lightness from (L*, Y): `t` is the L* offset (lighter) or the log
  // of the luminance gain (darker), set so the garment's mean L* is tL.
  auto lightness = [&](float l, float y, float t) {
    return lighter ? roll(t + contrast * (l - mL)) : lstar(std::min(1.f, std::exp(t) * y));
  };
  std::vector<cv::Vec2f> sample;
  for (int y = 0; y < img.rows; ++y) {
    const auto* p = img.ptr<cv::Vec3f>(y);
    const auto* l = lab.ptr<cv::Vec3f>(y);
    const auto* c = core.ptr<uchar>(y);
    for (int x = 0; x < img.cols; ++x)
      if (c[x]) sample.emplace_back(l[x][0], std::max(1e-5f, luminance(p[x])));
  }
  if (sample.size() > 8000) {
    std::vector<cv::Vec2f> sub;
    const double step = sample.size() / 8000.0;
    for (double i = 0; i < sample.size(); i += step) sub.push_back(sample[size_t(i)]);
    sample.swap(sub);
  }
  float lo = lighter ? tL - 60.f : -12.f, hi = lighter ? tL + 60.f : 0.f;
  for (int i = 0; i < 30; ++i) {
    const float mid = 0.5f * (lo + hi);
    double sum = 0;
    for (const auto& v : sample) sum += lightness(v[0], v[1], mid);
    (sum / sample.size() < tL ? lo : hi) = mid;
  }
  const float t = 0.5f * (lo + hi);

  // Every weighted pixel: new lightness from its luminance, the target's
  // chroma scaled with its lightness as a shaded cloth's is, plus its own
  // chroma deviation from the garment's: all of it toward a colour as
  // strong, less toward a paler one (a saturated cloth's deviations are
  // mostly its sheen's and its shadows' colour, which a pale cloth has not).
  const float beta = std::min(1.f, (std::hypot(ta, tb) + 5.f) / (std::hypot(ma, mb) + 5.f));
  cv::Mat mapped(img.size(), CV_32FC3);
  for (int y = 0; y < img.rows; ++y) {
    const auto* p = img.ptr<cv::Vec3f>(y);
    const auto* l = lab.ptr<cv::Vec3f>(y);
    const auto* wp = w.ptr<float>(y);
    auto* m = mapped.ptr<cv::Vec3f>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (wp[x] <= 1e-3f) {
        m[x] = cv::Vec3f(0, 0, 0);
        continue;
      }
      const float ln = lightness(l[x][0], std::max(1e-5f, luminance(p[x])), t);
      const float rs = (l[x][0] + 16) / (mL + 16), rd = (ln + 16) / (tL + 16);
      m[x] = cv::Vec3f(ln, ta * rd + beta * (l[x][1] - ma * rs), tb * rd + beta * (l[x][2] - mb * rs));
    }
  }
  cv::Mat back;
  cv::cvtColor(mapped, back, cv::COLOR_Lab2LBGR);
  cv::Mat region = out(roi);
  for (int y = 0; y < img.rows; ++y) {
    const auto* p = img.ptr<cv::Vec3f>(y);
    const auto* q = back.ptr<cv::Vec3f>(y);
    const auto* wp = w.ptr<float>(y);
    auto* o = region.ptr<cv::Vec3f>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (wp[x] <= 1e-3f) continue;
      const float a = std::min(1.f, wp[x]);
      for (int c = 0; c < 3; ++c) o[x][c] = std::clamp(p[x][c] + a * (q[x][c] - p[x][c]), 0.f, 1.f);
    }
  }
  std::vector<cv::Vec3f> solid_after;  // the garment's mean after, on every other row
  for (int y = 0; y < img.rows; y += 2) {
    const auto* o = region.ptr<cv::Vec3f>(y);
    const auto* c = core.ptr<uchar>(y);
    for (int x = 0; x < img.cols; ++x)
      if (c[x]) solid_after.push_back(o[x]);
  }
  const cv::Scalar after = cv::mean(lab_of_linear(cv::Mat(solid_after, false)));
  rep.after = cv::Vec3f(float(after[0]), float(after[1]), float(after[2]));
  rep.applied = true;
  if (report) *report = rep;
  return out;
}

}  // namespace likeness::wardrobe
