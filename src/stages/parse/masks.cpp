// How the masks are made:
// - eyes, lips and the mouth come straight from the mesh's contours (filled,
//   anti-aliased polygons); teeth are the bright, pale pixels inside the
//   inner lip contour;
// - colour models in CIELAB: skin (robust centre and spread) fitted to the
//   face inside the mesh's oval away from the features; hair (a 2-cluster
//   mixture) sampled above the forehead and beside the head; clothing (a
//   3-cluster mixture: a shirt and a jacket) sampled on the chest, without
//   skin-coloured clusters;
// - every other pixel of the person gets the posterior of the three
//   (heavy-tailed likelihoods) times where each is expected: skin near the
//   face or anywhere below the chin; hair around and above the head, close
//   to the face (a beard) or, when hair is seen beside the lower face (long
//   hair), down to a face height and a half below the chin, seldom on the
//   face and never at the eyes and mouth; clothing below the chin. The
//   posteriors are smoothed over a few pixels;
// - face skin is skin of the head (the oval, forehead, ears), body skin the
//   rest (neck, chest, arms, hands); what is neither skin nor hair on the
//   face (make-up, glasses) belongs to no part, elsewhere it is clothing.
// Accuracy: see tests/parse_test.cpp and README (judged on real photos, by
// points whose part is known and by eye on docs/masks.jpg).
#include "stages/parse/masks.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/parallel.hpp"

namespace likeness {

namespace {
const std::vector<int> kOval = {10,  338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288,
                                397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
                                172, 58,  132, 93,  234, 127, 162, 21,  54,  103, 67,  109};
const std::vector<int> kLipsOuter = {61,  146, 91,  181, 84,  17, 314, 405, 321, 375,
                                     291, 409, 270, 269, 267, 0,  37,  39,  40,  185};
const std::vector<int> kLipsInner = {78,  95,  88,  178, 87,  14, 317, 402, 318, 324,
                                     308, 415, 310, 311, 312, 13, 82,  81,  80,  191};
const std::vector<int> kEyeRight = {33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246};
const std::vector<int> kEyeLeft = {263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466};
const std::vector<int> kBrowRight = {46, 53, 52, 65, 55, 107, 66, 105, 63, 70};
const std::vector<int> kBrowLeft = {276, 283, 282, 295, 285, 336, 296, 334, 293, 300};

// A filled, anti-aliased polygon through mesh points, 0..1.
cv::Mat polygon(cv::Size size, const std::vector<cv::Point3f>& mesh, const std::vector<int>& idx) {
  constexpr int kShift = 4;  // sub-pixel vertices
  std::vector<cv::Point> pts;
  for (int i : idx) pts.emplace_back(cvRound(mesh[i].x * (1 << kShift)), cvRound(mesh[i].y * (1 << kShift)));
  cv::Mat m8 = cv::Mat::zeros(size, CV_8U);
  cv::fillPoly(m8, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255), cv::LINE_AA, kShift);
  cv::Mat m;
  m8.convertTo(m, CV_32F, 1.0 / 255);
  return m;
}

// A colour model: per-channel median and robust spread of Lab pixels.
struct ColorModel {
  cv::Vec3f centre, spread;
  bool valid = false;
  // Squared normalised distance.
  float d2(const cv::Vec3f& lab) const {
    float s = 0;
    for (int c = 0; c < 3; ++c) {
      const float t = (lab[c] - centre[c]) / spread[c];
      s += t * t;
    }
    return s;
  }
  // Heavy-tailed (Student-t like) density: one odd channel does not decide.
  float likelihood(const cv::Vec3f& lab) const {
    if (!valid) return 0.f;
    const float q = 1.f + d2(lab) / 4.f;
    return 1.f / ((spread[0] * spread[1] * spread[2]) * (q * q * q * std::sqrt(q)));
  }
};

ColorModel fit(const std::vector<cv::Vec3f>& px, cv::Vec3f min_spread) {
  ColorModel m;
  m.valid = robust_centre_spread(px, min_spread, m.centre, m.spread);
  return m;
}

std::vector<cv::Vec3f> pixels(const cv::Mat& lab, const cv::Mat& where) {
  std::vector<cv::Vec3f> px;
  for (int y = 0; y < lab.rows; ++y) {
    const auto* p = lab.ptr<cv::Vec3f>(y);
    const auto* w = where.ptr<uchar>(y);
    for (int x = 0; x < lab.cols; ++x)
      if (w[x]) px.push_back(p[x]);
  }
  return px;
}

// A mixture of up to k colour models (k-means clusters, each fitted
// robustly), weighted by their share: clothing is a shirt and a jacket,
// hair has its highlights.
struct ColorMixture {
  std::vector<std::pair<float, ColorModel>> parts;
  bool valid() const { return !parts.empty(); }
  float likelihood(const cv::Vec3f& lab) const {
    float l = 0;
    for (const auto& [w, m] : parts) l += w * m.likelihood(lab);
    return l;
  }
  float min_d2(const cv::Vec3f& lab) const {
    float d = 1e30f;
    for (const auto& part : parts) d = std::min(d, part.second.d2(lab));
    return d;
  }
};

ColorMixture fit_mixture(const cv::Mat& lab, const cv::Mat& where, int k, cv::Vec3f min_spread) {
  ColorMixture mix;
  std::vector<cv::Vec3f> px = pixels(lab, where);
  if (px.size() < 50) return mix;
  // At most ~20k samples, taken evenly (deterministic).
  if (px.size() > 20000) {
    std::vector<cv::Vec3f> sub;
    const double step = px.size() / 20000.0;
    for (double i = 0; i < px.size(); i += step) sub.push_back(px[size_t(i)]);
    px.swap(sub);
  }
  k = std::min<int>(k, int(px.size() / 50));
  cv::Mat data(int(px.size()), 3, CV_32F, px.data()), labels, centres;
  cv::setRNGSeed(7);
  cv::kmeans(data, k, labels, cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 20, 0.1), 2,
             cv::KMEANS_PP_CENTERS, centres);
  for (int c = 0; c < k; ++c) {
    std::vector<cv::Vec3f> mine;
    for (int i = 0; i < labels.rows; ++i)
      if (labels.at<int>(i) == c) mine.push_back(px[i]);
    ColorModel m = fit(mine, min_spread);
    if (m.valid) mix.parts.emplace_back(float(mine.size()) / float(px.size()), m);
  }
  return mix;
}

cv::Point2f pt(const std::vector<cv::Point3f>& mesh, int i) { return {mesh[i].x, mesh[i].y}; }
}  // namespace

bool robust_centre_spread(const std::vector<cv::Vec3f>& px, cv::Vec3f min_spread, cv::Vec3f& centre,
                          cv::Vec3f& spread) {
  if (px.size() < 50) return false;
  std::vector<float> v(px.size());
  for (int c = 0; c < 3; ++c) {
    for (size_t i = 0; i < px.size(); ++i) v[i] = px[i][c];
    auto mid = v.begin() + v.size() / 2;
    std::nth_element(v.begin(), mid, v.end());
    centre[c] = *mid;
    for (auto& x : v) x = std::abs(x - centre[c]);
    std::nth_element(v.begin(), mid, v.end());
    spread[c] = std::max(min_spread[c], 1.4826f * *mid);
  }
  return true;
}

const std::vector<std::string>& semantic_mask_names() {
  static const std::vector<std::string> names = {"face_skin", "body_skin", "hair", "clothing", "eyes", "lips", "teeth"};
  return names;
}

std::map<std::string, cv::Mat> semantic_masks(const cv::Mat& bgr, const cv::Mat& person,
                                              const std::vector<cv::Point3f>& mesh) {
  CV_Assert(bgr.type() == CV_8UC3 && person.type() == CV_32F && bgr.size() == person.size());
  const cv::Size size = bgr.size();
  std::map<std::string, cv::Mat> out;
  for (const auto& n : semantic_mask_names()) out[n] = cv::Mat::zeros(size, CV_32F);
  if (mesh.size() != 468) return out;

  // Face geometry: up from chin (152) to the top of the forehead (10).
  const cv::Point2f top = pt(mesh, 10), chin = pt(mesh, 152);
  const float fh = float(cv::norm(top - chin)), fw = float(cv::norm(pt(mesh, 234) - pt(mesh, 454)));
  const cv::Point2f up = (top - chin) / std::max(1.f, fh);
  const cv::Point2f side(-up.y, up.x);
  const int unit = std::max(1, int(std::lround(fh / 40)));  // ~2.5% of the face's height
  const cv::Mat oval = polygon(size, mesh, kOval);
  const cv::Mat eyes = cv::max(polygon(size, mesh, kEyeRight), polygon(size, mesh, kEyeLeft)).operator cv::Mat();
  const cv::Mat brows = cv::max(polygon(size, mesh, kBrowRight), polygon(size, mesh, kBrowLeft)).operator cv::Mat();
  const cv::Mat mouth = polygon(size, mesh, kLipsInner);
  const cv::Mat lips = cv::max(polygon(size, mesh, kLipsOuter) - mouth, 0.0).operator cv::Mat();
  const cv::Mat lab = srgb8_to_lab(bgr);  // L 0..100, a, b about -128..127

  // Skin: the oval away from the features (grown by a margin) and its rim.
  cv::Mat features = cv::max(cv::Mat(cv::max(eyes, brows)), cv::Mat(cv::max(lips, mouth)));
  // Every distance the masks are read from, as distance transforms (linear
  // time, what a disc's erosion or dilation would test), the five side by
  // side on the threads. Those about the oval's inside and the features
  // are only read on the face: they run on the face's box (the features
  // and the oval lie inside it, so the distances there are the same).
  //   in_oval: inside the oval, to its edge; from_features: to the nearest
  //   feature; from_oval: outside the oval, to it (everywhere: the hair's
  //   and the skin's priors fade with it); near_eyes, near_lips: to the
  //   eyes and brows, to the lips and mouth.
  cv::Mat in_oval(size, CV_32F, cv::Scalar(0)), from_features(size, CV_32F, cv::Scalar(1e6f)), from_oval,
      near_eyes(size, CV_32F, cv::Scalar(1e6f)), near_lips(size, CV_32F, cv::Scalar(1e6f));
  {
    cv::Rect box = cv::boundingRect(oval > 0) | cv::boundingRect(features > 0);
    const int margin = 4 * unit + 2;
    box = cv::Rect(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin) &
          cv::Rect(cv::Point(), size);
    const cv::Mat eyes_brows = cv::max(eyes, brows), lips_mouth = lips + mouth;
    parallel_ranges(cv::Range(0, 5), [&](const cv::Range& r) {
      for (int i = r.start; i < r.end; ++i) {
        auto dt = [&](const cv::Mat& zero_where, cv::Mat& to) {
          cv::Mat d;
          cv::distanceTransform(zero_where, d, cv::DIST_L2, cv::DIST_MASK_5);
          d.copyTo(to(box));
        };
        if (i == 0) cv::distanceTransform(oval < 0.5, from_oval, cv::DIST_L2, cv::DIST_MASK_5);
        if (i == 1) dt(oval(box) > 0.5, in_oval);
        if (i == 2) dt(features(box) < 0.5, from_features);
        if (i == 3) dt(eyes_brows(box) < 0.5, near_eyes);
        if (i == 4) dt(lips_mouth(box) < 0.5, near_lips);
      }
    });
  }
  // Farther than 3 units inside the oval and from every feature.
  const cv::Mat sample_skin = (in_oval > 3 * unit) & (from_features > 3 * unit) & (person > 0.5);
  const ColorModel skin = fit(pixels(lab, sample_skin), {12.f, 3.f, 3.f});

  // Distance from the face's oval, in face widths.
  from_oval /= std::max(1.f, fw);
  cv::Mat skin_like(size, CV_32F);
  each_row(size.height, [&](int y) {
    const auto* l = lab.ptr<cv::Vec3f>(y);
    auto* s = skin_like.ptr<float>(y);
    for (int x = 0; x < size.width; ++x)
      s[x] = skin.valid ? std::exp(-0.5f * std::max(0.f, skin.d2(l[x]) - 4.f) / 4.f) : 0.f;
  });
  // Hair seeds: the person above the forehead and at the sides of the head
  // (skin-coloured only when well away from the face: blond hair, not an
  // ear or the forehead).
  cv::Mat hair_seed = cv::Mat::zeros(size, CV_8U), cloth_seed = cv::Mat::zeros(size, CV_8U);
  each_row(size.height, [&](int y) {
    const auto* p = person.ptr<float>(y);
    const auto* s = skin_like.ptr<float>(y);
    const auto* o = oval.ptr<float>(y);
    const auto* d = from_oval.ptr<float>(y);
    auto* hs = hair_seed.ptr<uchar>(y);
    for (int x = 0; x < size.width; ++x) {
      if (p[x] < 0.9f || o[x] > 0.f || (s[x] > 0.3f && d[x] < 0.15f)) continue;
      const cv::Point2f q = cv::Point2f(float(x), float(y)) - chin;
      const float u = q.dot(up) / fh, v = std::abs(q.dot(side)) / fw;
      if ((u > 0.85f && u < 1.4f && v < 0.7f) || (u > 0.4f && u < 1.1f && v > 0.5f && v < 0.85f)) hs[x] = 255;
    }
  });
  const ColorMixture hair = fit_mixture(lab, hair_seed, 2, {6.f, 3.f, 3.f});
  // Long hair: hair-coloured person beside the lower face, where short
  // hair leaves the background or the ears. Hair is expected below the
  // cheeks only that much: short hair (and a beard) keeps close to the
  // face; long hair falls to the shoulders and a face height and a half
  // below the chin.
  float longness = 0;
  if (hair.valid()) {
    std::atomic<int> n{0}, hairy{0};
    each_row(size.height, [&](int y) {
      int rn = 0, rh = 0;
      const auto* p = person.ptr<float>(y);
      const auto* s = skin_like.ptr<float>(y);
      const auto* l = lab.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size.width; ++x) {
        const cv::Point2f q = cv::Point2f(float(x), float(y)) - chin;
        const float u = q.dot(up) / fh, v = std::abs(q.dot(side)) / fw;
        if (u < 0.1f || u > 0.45f || v < 0.55f || v > 0.95f) continue;
        ++rn;
        rh += p[x] > 0.5f && s[x] < 0.3f && hair.min_d2(l[x]) < 9.f;
      }
      n += rn, hairy += rh;
    });
    if (n) longness = std::clamp(float(hairy) / float(n) / 0.35f, 0.f, 1.f);
  }
  // Clothing seeds: the chest and shoulders below the chin, not skin (by a
  // wide margin: a chest's skin is not the face's tone), and not
  // hair-coloured where long hair may fall over it.
  each_row(size.height, [&](int y) {
    const auto* p = person.ptr<float>(y);
    const auto* l = lab.ptr<cv::Vec3f>(y);
    auto* cs = cloth_seed.ptr<uchar>(y);
    for (int x = 0; x < size.width; ++x) {
      if (p[x] < 0.9f || (skin.valid && skin.d2(l[x]) < 16.f)) continue;
      const cv::Point2f q = cv::Point2f(float(x), float(y)) - chin;
      const float u = q.dot(up) / fh, v = std::abs(q.dot(side)) / fw;
      if (u < -0.6f && u > -2.2f && v < 1.6f && (longness < 0.3f || hair.min_d2(l[x]) > 9.f)) cs[x] = 255;
    }
  });
  ColorMixture cloth = fit_mixture(lab, cloth_seed, 3, {6.f, 3.f, 3.f});
  // A cluster of "clothing" in the skin's own colour is bare skin (a
  // chest, a shoulder in another light): drop it.
  if (skin.valid)
    cloth.parts.erase(std::remove_if(cloth.parts.begin(), cloth.parts.end(),
                                     [&](const auto& part) { return skin.d2(part.second.centre) < 25.f; }),
                      cloth.parts.end());

  // Teeth: bright and pale inside the mouth, relative to the mouth itself.
  {
    float lmax = 0;
    for (int y = 0; y < size.height; ++y) {
      const auto* m = mouth.ptr<float>(y);
      const auto* l = lab.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size.width; ++x)
        if (m[x] > 0.5f) lmax = std::max(lmax, l[x][0]);
    }
    cv::Mat& teeth = out["teeth"];
    each_row(size.height, [&](int y) {
      const auto* m = mouth.ptr<float>(y);
      const auto* l = lab.ptr<cv::Vec3f>(y);
      auto* t = teeth.ptr<float>(y);
      for (int x = 0; x < size.width; ++x) {
        if (m[x] <= 0) continue;
        const float chroma = std::hypot(l[x][1], l[x][2]);
        const float bright = std::clamp((l[x][0] - 0.45f * lmax) / (0.2f * lmax + 1e-3f), 0.f, 1.f);
        const float pale = std::clamp((30.f - chroma) / 12.f, 0.f, 1.f);
        t[x] = m[x] * bright * pale;
      }
    });
  }

  // Every person pixel outside the features is skin, hair or clothing:
  // posterior of three colour models (heavy-tailed, so one odd channel does
  // not decide) times where each is expected, smoothed over a few pixels.
  //   skin: anywhere; hair: around and above the head, fading out over a
  //   face height and a half below the chin, unlikely on the face (a
  //   fringe, a beard) and never in the eye and mouth area; clothing: below
  //   the chin, fading out above it (a collar, a hat).
  // (A disc's dilation of a mask, read from its distance transform: 1
  // within r of it, a pixel's ramp at r.)
  auto near = [&](const cv::Mat& d, int r) {
    cv::Mat out = (r + 0.5) - d;
    return cv::Mat(cv::min(cv::max(out, 0.0), 1.0));
  };
  const cv::Mat near_features = near(near_eyes, 2 * unit) + near(near_lips, unit);
  cv::Mat post[3];
  for (auto& m : post) m = cv::Mat::zeros(size, CV_32F);
  each_row(size.height, [&](int y) {
    const auto* o = oval.ptr<float>(y);
    const auto* nf = near_features.ptr<float>(y);
    const auto* d = from_oval.ptr<float>(y);
    const auto* l = lab.ptr<cv::Vec3f>(y);
    float* ps = post[0].ptr<float>(y);
    float* ph = post[1].ptr<float>(y);
    float* pc = post[2].ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const cv::Point2f q = cv::Point2f(float(x), float(y)) - chin;
      const float u = q.dot(up) / fh;  // face heights above the chin
      const float near_face = std::exp(-(d[x] / 0.12f) * (d[x] / 0.12f));
      const float falls = longness * (u >= 0 ? 1.f : std::max(0.f, 1.f + u / 1.5f));
      float hair_prior = u >= 0.45f ? 1.f : std::max(near_face, falls);
      hair_prior *= 1 - 0.7f * o[x];
      hair_prior *= 1 - std::min(1.f, nf[x]);
      const float cloth_prior = (u < 0 ? 1.f : std::max(0.02f, 1.f - u / 0.3f)) * (1 - o[x]);
      // Skin beyond the face: near it (ears, forehead, neck), or anywhere
      // below the chin (a hand, an arm).
      const float skin_prior = u < 0 ? 1.f : std::max(0.02f, std::exp(-(d[x] / 0.2f) * (d[x] / 0.2f)));
      const float a = skin_prior * skin.likelihood(l[x]), b = hair_prior * hair.likelihood(l[x]),
                  c = cloth_prior * cloth.likelihood(l[x]);
      const float sum = a + b + c;
      if (sum <= 0) {
        ps[x] = 1;  // nothing fits: skin (a single-model face)
        continue;
      }
      ps[x] = a / sum, ph[x] = b / sum, pc[x] = c / sum;
    }
  });
  const double sigma = std::max(1.0, 0.6 * unit);
  parallel_ranges(cv::Range(0, 3), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) cv::GaussianBlur(post[i], post[i], cv::Size(), sigma);
  });

  cv::Mat& face_skin = out["face_skin"];
  cv::Mat& body_skin = out["body_skin"];
  cv::Mat& hair_m = out["hair"];
  cv::Mat& cloth_m = out["clothing"];
  const cv::Mat feat = cv::min(features, 1.0).operator cv::Mat();
  each_row(size.height, [&](int y) {
    const auto* p = person.ptr<float>(y);
    const auto* o = oval.ptr<float>(y);
    const auto* f = feat.ptr<float>(y);
    const auto* ps = post[0].ptr<float>(y);
    const auto* ph = post[1].ptr<float>(y);
    const auto* pc = post[2].ptr<float>(y);
    auto* fs = face_skin.ptr<float>(y);
    auto* bs = body_skin.ptr<float>(y);
    auto* hm = hair_m.ptr<float>(y);
    auto* cm = cloth_m.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      if (p[x] <= 0) continue;
      const cv::Point2f q = cv::Point2f(float(x), float(y)) - chin;
      const float u = q.dot(up) / fh;
      const float part = p[x] * (1 - f[x]);
      const float n = ps[x] + ph[x] + pc[x];
      const float s = ps[x] / n, h = ph[x] / n;
      // Skin of the head (face, forehead, ears) vs the body's (neck down).
      const float head = std::max(o[x], u > 0.45f ? 1.f : 0.f);
      fs[x] = part * s * head;
      bs[x] = part * s * (1 - head);
      hm[x] = part * h;
      // On the face, what is neither skin nor hair (make-up, glasses) is
      // left out; elsewhere it is clothing.
      cm[x] = part * (1 - s - h) * (1 - o[x]);
    }
  });
  out["eyes"] = eyes.mul(person);
  out["lips"] = lips.mul(person);
  out["teeth"] = out["teeth"].mul(person);
  return out;
}

}  // namespace likeness
