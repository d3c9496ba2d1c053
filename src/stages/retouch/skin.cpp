#include "stages/retouch/skin.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>

#include "likeness/error.hpp"
#include "likeness/parallel.hpp"

namespace likeness::retouch {

namespace {
constexpr float kEps = 1e-3f;
// The face scale the band sizes are stated at: sigma 2 and 8 px at an eye
// distance of 150 px (a 768x960 head-and-shoulders canvas), i.e. 0.013 and
// 0.053 eye distances (about 0.8 and 3.4 mm of a face).
constexpr float kReferenceEyeDistance = 150.f;  // linear light: log(v + kEps) keeps the darkest pixels' noise tame

// MediaPipe face mesh points (468-point topology).
const int kLowerLidRight[] = {33, 7, 163, 144, 145, 153, 154, 155, 133};
const int kLowerLidLeft[] = {263, 249, 390, 373, 374, 380, 381, 382, 362};
const int kCheekTopRight[] = {143, 111, 117, 118, 119, 120, 121, 128, 245};  // the cheek below the tear trough
const int kCheekTopLeft[] = {372, 340, 346, 347, 348, 349, 350, 357, 465};
const int kCheekRight[] = {50, 101, 36, 205, 187, 123};  // the cheek's tone the under-eye is lifted toward
const int kCheekLeft[] = {280, 330, 266, 425, 411, 352};
const int kBrowsRight[] = {156, 70, 63, 105, 66, 107, 55, 193, 35, 124, 46, 53, 52, 65};
const int kBrowsLeft[] = {383, 300, 293, 334, 296, 336, 285, 417, 265, 353, 276, 283, 282, 295};
const int kNoseBase[] = {48, 64, 98, 97, 2, 326, 327, 294, 278, 219, 439};  // alae and nostrils
const int kEyeRight[] = {33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246};
const int kEyeLeft[] = {263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466};
const int kLipsOuter[] = {61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185};
const int kNose[] = {168, 6,   197, 195, 5,   4,   1,  2,   98,  327,
                     64,  294, 48,  278, 129, 358, 49, 279, 219, 439};  // bridge to alae
const int kFaceOval[] = {10,  338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
                         152, 148, 176, 149, 150, 136, 172, 58,  132, 93,  234, 127, 162, 21,  54,  103, 67,  109};

cv::Point2f at(const std::vector<cv::Point3f>& mesh, int i) { return {mesh[i].x, mesh[i].y}; }

template <size_t N>
std::vector<cv::Point2f> points(const std::vector<cv::Point3f>& mesh, const int (&idx)[N], cv::Point2f offset = {}) {
  std::vector<cv::Point2f> p;
  for (int i : idx) p.push_back(at(mesh, i) - offset);
  return p;
}

// A filled polygon (or its convex hull), 0..1, anti-aliased.
cv::Mat fill(cv::Size size, std::vector<cv::Point2f> pts, bool hull) {
  if (hull) {
    std::vector<cv::Point2f> h;
    cv::convexHull(pts, h);
    pts.swap(h);
  }
  constexpr int kShift = 4;
  std::vector<cv::Point> q;
  for (const auto& p : pts) q.emplace_back(cvRound(p.x * (1 << kShift)), cvRound(p.y * (1 << kShift)));
  cv::Mat m8 = cv::Mat::zeros(size, CV_8U), m;
  cv::fillPoly(m8, std::vector<std::vector<cv::Point>>{q}, cv::Scalar(255), cv::LINE_AA, kShift);
  m8.convertTo(m, CV_32F, 1.0 / 255);
  return m;
}

// The mask grown by r px (a disc): where it is at least half, within r.
// Measured on the mask's bounding box grown by r (nothing farther can be
// within r of it).
cv::Mat grow(const cv::Mat& m, float r) {
  if (r < 0.5f) return m;
  const cv::Mat half = m >= 0.5;
  const cv::Rect box = cv::boundingRect(half);
  if (box.empty()) return m;
  const int pad = int(std::ceil(r)) + 2;
  const cv::Rect around =
      cv::Rect(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad) & cv::Rect(cv::Point(), m.size());
  cv::Mat d, near, out = m.clone();
  cv::distanceTransform(~half(around), d, cv::DIST_L2, cv::DIST_MASK_5);
  cv::Mat(d <= r).convertTo(near, CV_32F, 1.0 / 255);
  cv::Mat dst = out(around);
  cv::max(near, dst, dst);
  return out;
}

cv::Mat as_float(const cv::Mat& m) {
  if (m.empty() || m.depth() == CV_32F) return m;
  cv::Mat f;
  m.convertTo(f, CV_32F, m.depth() == CV_8U ? 1.0 / 255 : 1.0);
  return f;
}

// A Gaussian blur; wide ones on a reduced grid (the result is smooth at
// that scale, so nothing is lost but time).
cv::Mat blur(const cv::Mat& m, double sigma) {
  cv::Mat out;
  const int f = sigma >= 6 ? std::min(4, int(sigma / 3)) : 1;
  if (f <= 1 || m.cols < 4 * f || m.rows < 4 * f) {
    cv::GaussianBlur(m, out, cv::Size(), sigma, sigma, cv::BORDER_REFLECT);
    return out;
  }
  cv::Mat small;
  cv::resize(m, small, cv::Size((m.cols + f - 1) / f, (m.rows + f - 1) / f), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(), sigma / f, sigma / f, cv::BORDER_REFLECT);
  cv::resize(small, out, m.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

// Normalised convolution: the Gaussian mean of `v` over where `w` weighs,
// so nothing outside the skin (hair, eyes, the backdrop) bleeds into a
// band. `vw` is v times w (any channel count), `w` CV_32F.
cv::Mat masked_blur(const cv::Mat& vw, const cv::Mat& w, double sigma) {
  cv::Mat out = blur(vw, sigma);
  const cv::Mat den = blur(w, sigma);
  const int cn = out.channels();
  each_row(out.rows, [&](int y) {
    const float* d = den.ptr<float>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < out.cols; ++x) {
      const float inv = 1.f / std::max(d[x], 1e-4f);
      for (int c = 0; c < cn; ++c) o[x * cn + c] *= inv;
    }
  });
  return out;
}

float smoothstep(float e0, float e1, float x) {
  const float t = std::clamp((x - e0) / (e1 - e0), 0.f, 1.f);
  return t * t * (3 - 2 * t);
}

// Robust spread (1.4826 MAD about 0) of each channel where `where` is set.
// The band is a - b.
cv::Vec4f spread(const cv::Mat& a4, const cv::Mat& b4, const cv::Mat& where) {
  std::vector<float> v[4];
  for (int y = 0; y < a4.rows; y += 2) {
    const auto* a = a4.ptr<cv::Vec4f>(y);
    const auto* b = b4.ptr<cv::Vec4f>(y);
    const auto* w = where.ptr<uchar>(y);
    for (int x = 0; x < a4.cols; x += 2)
      if (w[x])
        for (int c = 0; c < 4; ++c) v[c].push_back(std::abs(a[x][c] - b[x][c]));
  }
  cv::Vec4f s(1e-3f, 1e-3f, 1e-3f, 1e-3f);
  for (int c = 0; c < 4; ++c) {
    if (v[c].size() < 20) continue;
    auto mid = v[c].begin() + v[c].size() / 2;
    std::nth_element(v[c].begin(), mid, v[c].end());
    s[c] = std::max(1e-3f, 1.4826f * *mid);
  }
  return s;
}

float median(std::vector<float> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + v.size() / 2;
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// CIELAB of a linear BGR pixel.
cv::Vec3f lab_of(const cv::Vec3f& lin) {
  cv::Mat px(1, 1, CV_32FC3,
             cv::Scalar(std::clamp(lin[0], 0.f, 1.f), std::clamp(lin[1], 0.f, 1.f), std::clamp(lin[2], 0.f, 1.f))),
      lab;
  cv::cvtColor(px, lab, cv::COLOR_LBGR2Lab);
  return lab.at<cv::Vec3f>(0, 0);
}

// Band weights: how much of a band's deviation is evened, given its size
// relative to the skin's typical deviation (s): weak deviations (mottling,
// blotches) fully, strong ones (creases, moles, a feature's edge) not.
// A blemish is inflamed: haemoglobin makes it redder more than darker. A
// spot darker than it is red is pigment (melanin: a mole, a freckle, a
// lentigo) and is kept. Blemish: a* up by at least kRedder and by at
// least the L* it lost (kRedPerDark), and a visible kDarker L* darker.
// Measured (tests/retouch_test.cpp): the mole on city_portrait.jpg is
// L* -12, a* +10 (0.8 a* per L*), a small mole at its temple -12 / +6
// (0.5); a blemish beside her mouth -8 / +13 (1.6).
constexpr float kRedder = 4.f, kRedPerDark = 1.f, kDarker = 3.f;

}  // namespace

std::vector<cv::Point2f> parse_marks(const std::string& text, cv::Size canvas, const std::string& param) {
  const std::string form = "\"x,y;x,y\" with x and y in 0..1 of the portrait's width and height";
  if (!std::regex_match(text, std::regex(kMarksPattern)))
    throw Error(
        ErrorInfo{ErrorCode::usage, "'" + text + "' is not a list of marks (" + form + ")", "retouch", param, {}});
  std::vector<cv::Point2f> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    const std::string item = text.substr(start, end - start);
    const size_t comma = item.find(',');
    if (comma != std::string::npos) {
      const double x = std::stod(item.substr(0, comma)), y = std::stod(item.substr(comma + 1));
      out.emplace_back(float(x * canvas.width), float(y * canvas.height));
    }
    start = end + 1;
  }
  return out;
}

cv::Rect work_region(const std::vector<cv::Point3f>& mesh, float eye_distance, cv::Size canvas) {
  std::vector<cv::Point2f> p;
  for (const auto& q : mesh) p.emplace_back(q.x, q.y);
  const cv::Rect2f b = cv::boundingRect(p);
  const float side = 0.45f * eye_distance, top = 0.35f * eye_distance, below = 1.3f * eye_distance;
  const cv::Rect r(cv::Point(int(std::floor(b.x - side)), int(std::floor(b.y - top))),
                   cv::Point(int(std::ceil(b.br().x + side)), int(std::ceil(b.br().y + below))));
  return r & cv::Rect(cv::Point(0, 0), canvas);
}

cv::Mat retouchable(const cv::Mat& skin_full, const cv::Mat& eyes_full, const cv::Mat& lips_full,
                    const cv::Mat& teeth_full, const cv::Mat& hair_full, const std::vector<cv::Point3f>& mesh_full,
                    float eye_distance) {
  // Only the face's region is ever retouched: the mask is made there.
  cv::Mat result = cv::Mat::zeros(skin_full.size(), CV_32F);
  if (mesh_full.size() != 468) return result;
  const cv::Rect roi = work_region(mesh_full, eye_distance, skin_full.size());
  if (roi.area() == 0) return result;
  auto crop = [&](const cv::Mat& m) {
    return m.empty() || m.size() != skin_full.size() ? cv::Mat() : as_float(m(roi));
  };
  retouchable_in(roi, crop(skin_full), crop(eyes_full), crop(lips_full), crop(teeth_full), crop(hair_full), mesh_full,
                 eye_distance)
      .copyTo(result(roi));
  return result;
}

cv::Mat retouchable_in(const cv::Rect& roi, const cv::Mat& skin_in, const cv::Mat& eyes_in, const cv::Mat& lips_in,
                       const cv::Mat& teeth_in, const cv::Mat& hair_in, const std::vector<cv::Point3f>& mesh_full,
                       float eye_distance) {
  CV_Assert(skin_in.size() == roi.size());
  if (mesh_full.size() != 468) return cv::Mat::zeros(roi.size(), CV_32F);
  auto same = [&](const cv::Mat& m) { return m.empty() || m.size() != roi.size() ? cv::Mat() : as_float(m); };
  const cv::Mat skin = as_float(skin_in), eyes = same(eyes_in), lips = same(lips_in), teeth = same(teeth_in),
                hair = same(hair_in);
  std::vector<cv::Point3f> mesh = mesh_full;
  for (auto& q : mesh) q.x -= float(roi.x), q.y -= float(roi.y);
  const cv::Size size = skin.size();
  cv::Mat protect = cv::Mat::zeros(size, CV_32F);
  auto add = [&](const cv::Mat& m, float r) {
    if (!m.empty() && m.size() == size) protect = cv::max(protect, grow(as_float(m), r));
  };
  const float ed = eye_distance;
  add(eyes, 0.07f * ed);  // the lashes and the lash line
  add(lips, 0.025f * ed);
  add(teeth, 0.f);
  if (mesh.size() == 468) {
    add(fill(size, points(mesh, kBrowsRight), true), 0.04f * ed);
    add(fill(size, points(mesh, kBrowsLeft), true), 0.04f * ed);
    add(fill(size, points(mesh, kNoseBase), true), 0.02f * ed);
  }
  cv::Mat w = as_float(skin).mul(1 - cv::min(protect, 1.0));
  if (!hair.empty() && hair.size() == size) w = w.mul(1 - cv::min(as_float(hair), 1.0));
  // Feathered inward: full strength a few pixels inside the skin, fading
  // to nothing at its edge (no seam at the hairline, the jaw, the ears).
  cv::Mat soft, result;
  cv::GaussianBlur(w, soft, cv::Size(), std::max(1.0, 0.03 * ed));
  cv::min(w, soft, result);
  return result;
}

Result retouch(const cv::Mat& linear_bgr, const cv::Mat& skin_in, const std::vector<cv::Point3f>& mesh,
               float eye_distance, const Settings& st) {
  CV_Assert(linear_bgr.type() == CV_32FC3);
  Result res;
  res.image = linear_bgr;
  const float p = float(std::clamp(st.polish, 0.0, 1.0));
  if ((p <= 0 && st.remove.empty()) || mesh.size() != 468 || !(eye_distance > 4)) return res;
  const cv::Rect roi = work_region(mesh, eye_distance, linear_bgr.size());
  if (roi.area() < 64) return res;
  const float ed = eye_distance, s = ed / kReferenceEyeDistance;  // band sizes follow the face
  const cv::Point2f o(float(roi.x), float(roi.y));
  const cv::Mat lin = linear_bgr(roi);
  CV_Assert(skin_in.size() == linear_bgr.size() || skin_in.size() == roi.size());
  const cv::Mat W = skin_in.size() == roi.size() ? as_float(skin_in) : as_float(skin_in(roi));
  const cv::Size size = lin.size();

  // Log lightness and log chromaticity: u = log Y, q_c = log(c) - u.
  // The bands are measured on the skin's core only (Pw: P weighed by it).
  cv::Mat core(size, CV_32F), core8 = W > 0.8;
  const cv::Mat skinny = W > 0.5;  // where spots are looked for and measured against
  cv::Mat P(size, CV_32FC4), Pw(size, CV_32FC4);
  each_row(size.height, [&](int y) {
    const auto* l = lin.ptr<cv::Vec3f>(y);
    const auto* w = W.ptr<float>(y);
    auto* q = P.ptr<cv::Vec4f>(y);
    auto* qw = Pw.ptr<cv::Vec4f>(y);
    auto* k = core.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const cv::Vec3f c(std::max(l[x][0], 0.f), std::max(l[x][1], 0.f), std::max(l[x][2], 0.f));
      const float u = std::log(0.0722f * c[0] + 0.7152f * c[1] + 0.2126f * c[2] + kEps);
      q[x] = {u, std::log(c[0] + kEps) - u, std::log(c[1] + kEps) - u, std::log(c[2] + kEps) - u};
      k[x] = std::clamp((w[x] - 0.4f) * 2.5f, 0.f, 1.f);
      qw[x] = q[x] * k[x];
    }
  });
  cv::Mat B2, B8, BL;  // the three scales side by side, one per thread
  parallel_ranges(cv::Range(0, 3), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i)
      (i == 0 ? B2 : i == 1 ? B8 : BL) = masked_blur(Pw, core, (i == 0 ? 2 : i == 1 ? 8 : 24) * s);
  });
  // Where the skin is densely textured at the finest scale (stubble, a
  // beard, the hairline, stray brow hairs, lashes, the rims of glasses)
  // the texture is hair or an edge, not mottling: the bands stay. Measured
  // on the fine band alone: a crease, a fold, the side of the nose are
  // strong in the mid band but smooth at the finest scale, and are evened
  // like any skin (their strong part gently, see the knee below). The
  // guard fades in from 4x the skin's typical fine energy to 16x: skin
  // between (a cheek's light stubble shadow, fine lines near a beard) is
  // still evened a little; stubble and rims are left (at 10x the fade
  // ended too early: person13's open cheeks stayed as they were; no
  // difference at 100% on the beard, rims or lashes).
  cv::Mat dense;
  {
    cv::Mat e(size, CV_32F);
    each_row(size.height, [&](int y) {
      const auto* b2 = B2.ptr<cv::Vec4f>(y);
      const auto* pp = P.ptr<cv::Vec4f>(y);
      const auto* k = core.ptr<float>(y);
      auto* o = e.ptr<float>(y);
      for (int x = 0; x < size.width; ++x) {
        const float f = pp[x][0] - b2[x][0];
        o[x] = f * f * k[x];
      }
    });
    cv::Mat ew = masked_blur(e, core, 6 * s);
    std::vector<float> v;
    for (int y = 0; y < size.height; y += 2)
      for (int x = 0; x < size.width; x += 2)
        if (core8.at<uchar>(y, x)) v.push_back(ew.at<float>(y, x));
    const float typical = std::max(1e-8f, median(v));
    dense = ew / typical;
  }
  // The skin's typical deviations, measured on its smooth part.
  const cv::Mat plain = core8 & (dense < 2.5);
  const cv::Vec4f s_mid = spread(B2, B8, plain), s_low = spread(B8, BL, plain), s_fine = spread(P, B2, plain);

  // How much of the weak mid and low bands goes, per channel (lightness,
  // then colour): mottling and blotches are mostly colour; the low band's
  // lightness is the face's own shading (evened a little: it costs
  // identity more than it polishes).
  const float a_mid[4] = {std::min(1.f, 1.6f * p), 0.9f * p, 0.9f * p, 0.9f * p};
  const float a_low[4] = {0.1f * p, 0.5f * p, 0.5f * p, 0.5f * p};
  cv::Vec4f mid_lo, mid_inv, low_lo, low_inv;  // weak(): 1 - smoothstep(2.5 s, 6 s, |v|)
  for (int c = 0; c < 4; ++c)
    mid_lo[c] = 2.5f * s_mid[c], mid_inv[c] = 1.f / (3.5f * s_mid[c]), low_lo[c] = 2.5f * s_low[c],
    low_inv[c] = 1.f / (3.5f * s_low[c]);
  auto weak_of = [](float v, float lo, float inv) {
    const float t = std::clamp((std::abs(v) - lo) * inv, 0.f, 1.f);
    return 1.f - t * t * (3 - 2 * t);
  };
  // A soft knee: strong mid-band lightness (a crease, a fold, a mole's
  // edge) is not kept whole but loses this share of what weak deviations
  // lose, growing with polish to 0.3 at corporate and no further: at most
  // a quarter of its contrast at corporate and 30% at full polish (dark
  // side; the bright side two thirds of that), so it stays clearly
  // visible. Spots the blemish finder keeps (moles, freckles, marks listed
  // to keep) get this share back (Dk, below).
  const float knee = 0.3f * std::min(1.f, 2 * p);
  // The lightness of the mid and low bands is evened less toward the eyes,
  // brows, nose and mouth, and not at all at them: the recogniser's view
  // of a face lives there (measured: smoothing beside the nose cost most of
  // the identity lost), and a retoucher leaves a feature's own modelling.
  // (On a grid four times coarser: the taper is smooth at that scale.)
  cv::Mat near_feature;
  {
    constexpr int kGrid = 4;
    const cv::Size small((size.width + kGrid - 1) / kGrid, (size.height + kGrid - 1) / kGrid);
    cv::Mat f8 = cv::Mat::zeros(small, CV_8U), dist, taper(small, CV_32F);
    auto hull = [&](const std::vector<cv::Point2f>& pts) {
      std::vector<cv::Point2f> h;
      cv::convexHull(pts, h);
      std::vector<cv::Point> q;
      for (const auto& pt : h) q.emplace_back(cvRound(pt.x / kGrid), cvRound(pt.y / kGrid));
      cv::fillPoly(f8, std::vector<std::vector<cv::Point>>{q}, cv::Scalar(255));
    };
    for (const auto& pts : {points(mesh, kEyeRight, o), points(mesh, kEyeLeft, o), points(mesh, kBrowsRight, o),
                            points(mesh, kBrowsLeft, o), points(mesh, kNose, o), points(mesh, kLipsOuter, o)})
      hull(pts);
    cv::distanceTransform(~f8, dist, cv::DIST_L2, cv::DIST_MASK_5);
    const float reach = 0.2f * ed / kGrid;
    for (int y = 0; y < small.height; ++y)
      for (int x = 0; x < small.width; ++x) taper.at<float>(y, x) = smoothstep(0.f, reach, dist.at<float>(y, x));
    cv::resize(taper, near_feature, size, 0, 0, cv::INTER_LINEAR);
  }
  // Only where the skin may be retouched (elsewhere the change is weighed
  // by 0).
  // Dk: the knee's part of the lightness change, taken back where the
  // blemish finder keeps a spot (a mole, a freckle, a mark listed to keep).
  cv::Mat D(size, CV_32FC4, cv::Scalar::all(0)), Dk(size, CV_32F, cv::Scalar(0));
  each_row(size.height, [&](int y) {
    const auto* w = W.ptr<float>(y);
    const auto* b2 = B2.ptr<cv::Vec4f>(y);
    const auto* b8 = B8.ptr<cv::Vec4f>(y);
    const auto* bl = BL.ptr<cv::Vec4f>(y);
    const auto* dn = dense.ptr<float>(y);
    const auto* nf = near_feature.ptr<float>(y);
    auto* d = D.ptr<cv::Vec4f>(y);
    auto* dk = Dk.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const float smooth_skin = 1.f - smoothstep(4.f, 16.f, dn[x]);
      if (smooth_skin <= 0 || w[x] <= 0) continue;
      const cv::Vec4f m = b2[x] - b8[x], l = b8[x] - bl[x];
      float wm[4], kneed = 0;
      for (int c = 0; c < 4; ++c) {
        wm[c] = weak_of(m[c], mid_lo[c], mid_inv[c]);
        if (c == 0) kneed = (1 - wm[c]) * knee, wm[c] += kneed;
        d[x][c] = -a_mid[c] * wm[c] * m[c] - a_low[c] * weak_of(l[c], low_lo[c], low_inv[c]) * l[c];
      }
      // A bright mid-band deviation is mostly the face's modelling (a
      // cheekbone's light), a dark one mottling: the bright two thirds as
      // much.
      if (m[0] > 0) d[x][0] += a_mid[0] * wm[0] * m[0] / 3;
      d[x][0] *= nf[x];
      d[x] *= smooth_skin;
      dk[x] = -a_mid[0] * kneed * m[0] * (m[0] > 0 ? 2.f / 3 : 1.f) * nf[x] * smooth_skin;
    }
  });

  // Shine: skin brighter than its tone and whiter than skin is a specular
  // highlight (the light's own colour added): part of that white is taken
  // away again, which darkens it and gives the skin its colour back.
  {
    std::vector<float> warmth;
    for (int y = 0; y < size.height; y += 2) {
      const auto* q = B2.ptr<cv::Vec4f>(y);
      const auto* c = core8.ptr<uchar>(y);
      for (int x = 0; x < size.width; x += 2)
        if (c[x]) warmth.push_back(q[x][3] - q[x][1]);
    }
    const float warm = median(warmth);
    const float t = 1.5f * s_low[0] + 1.0f * s_mid[0];
    // Only on the face (the mesh's hull, feathered): the neck's and
    // shoulders' bright side is the body's light, not shine, and taken
    // off there it left a paler blob with an edge where the skin's mask
    // ended (seen at 100% under person05_1's jaw).
    cv::Mat face_area;
    {
      std::vector<cv::Point2f> all;
      for (const auto& q : mesh) all.emplace_back(q.x - o.x, q.y - o.y);
      cv::GaussianBlur(fill(size, all, true), face_area, cv::Size(), std::max(1.0, 0.05 * ed));
    }
    // The shine taken is a field of its own, made smooth before it joins
    // the rest: its strength follows the highlight's own border, and
    // applied pixel by pixel a sharp border became a visible contour (a
    // curved line across person08_1's forehead at 2.5x).
    cv::Mat S(size, CV_32FC4, cv::Scalar::all(0));
    each_row(size.height, [&](int y) {
      const auto* b2 = B2.ptr<cv::Vec4f>(y);
      const auto* bl = BL.ptr<cv::Vec4f>(y);
      const auto* l = lin.ptr<cv::Vec3f>(y);
      const auto* w = W.ptr<float>(y);
      const float* fa = face_area.ptr<float>(y);
      auto* d = S.ptr<cv::Vec4f>(y);
      for (int x = 0; x < size.width; ++x) {
        const float over = b2[x][0] - bl[x][0] - t;
        if (over <= 0 || warm <= 0.05f || w[x] <= 0 || fa[x] <= 0) continue;
        const float white = smoothstep(0.f, 0.35f * warm, warm - (b2[x][3] - b2[x][1]));
        const float k = 0.5f * p * white * smoothstep(0.f, t, over) * fa[x];
        if (k <= 0) continue;
        const float Y = 0.0722f * l[x][0] + 0.7152f * l[x][1] + 0.2126f * l[x][2];
        const float spec = k * (std::exp(b2[x][0]) - std::exp(bl[x][0] + t));  // linear light taken away
        const float lo = std::min({l[x][0], l[x][1], l[x][2]});
        const float take = std::clamp(spec, 0.f, 0.8f * std::max(lo, 0.f));
        const float du = std::log((Y - take + kEps) / (Y + kEps));
        d[x][0] += du;
        for (int c = 0; c < 3; ++c) d[x][c + 1] += std::log((l[x][c] - take + kEps) / (l[x][c] + kEps)) - du;
      }
    });
    cv::GaussianBlur(S, S, cv::Size(), std::max(1.0, 0.06 * ed));
    D += S;
  }

  // Under-eye shadows: lifted a fraction of the way toward the cheek's
  // tone and colour, as a smooth field (the skin's texture rides on it).
  {
    const cv::Size sz = size;
    cv::Mat region = cv::max(fill(
                                 sz,
                                 [&] {
                                   auto a = points(mesh, kLowerLidRight, o);
                                   auto b = points(mesh, kCheekTopRight, o);
                                   a.insert(a.end(), b.rbegin(), b.rend());
                                   return a;
                                 }(),
                                 false),
                             fill(
                                 sz,
                                 [&] {
                                   auto a = points(mesh, kLowerLidLeft, o);
                                   auto b = points(mesh, kCheekTopLeft, o);
                                   a.insert(a.end(), b.rbegin(), b.rend());
                                   return a;
                                 }(),
                                 false));
    // Blurred, and looked at, only around the two regions (a Gaussian's
    // kernel reaches 4 sigma): on a view, the blur reads the pixels beyond
    // it as the whole would.
    const double sig_r = std::max(1.0, 0.06 * ed);
    const int reach = int(std::ceil(4 * sig_r)) + 2;
    cv::Rect rbox = cv::boundingRect(region > 0);
    rbox = cv::Rect(rbox.x - reach, rbox.y - reach, rbox.width + 2 * reach, rbox.height + 2 * reach) &
           cv::Rect(cv::Point(), sz);
    if (rbox.area() > 0) {
      cv::Mat blurred;
      cv::GaussianBlur(region(rbox), blurred, cv::Size(), sig_r);
      region = blurred;
    }
    auto sample = [&](const std::vector<cv::Point2f>& pts) {
      cv::Vec4f sum(0, 0, 0, 0);
      int n = 0;
      for (const auto& q : pts) {
        const cv::Point ip(cvRound(q.x), cvRound(q.y));
        if (!cv::Rect(cv::Point(), sz).contains(ip) || core.at<float>(ip) < 0.5f) continue;
        sum += BL.at<cv::Vec4f>(ip);
        ++n;
      }
      return n ? cv::Vec4f(sum / float(n)) : cv::Vec4f(NAN, 0, 0, 0);
    };
    // The cheeks' tone: the darker of the two (one may carry a highlight).
    const cv::Vec4f ref_r = sample(points(mesh, kCheekRight, o)), ref_l = sample(points(mesh, kCheekLeft, o));
    const cv::Vec4f ref_both = std::isnan(ref_r[0])   ? ref_l
                               : std::isnan(ref_l[0]) ? ref_r
                               : ref_r[0] < ref_l[0]  ? ref_r
                                                      : ref_l;
    double lift_sum = 0, lift_w = 0;
    for (int y = rbox.y; y < rbox.br().y; ++y) {
      const auto* r = region.ptr<float>(y - rbox.y) - rbox.x;
      const auto* b = BL.ptr<cv::Vec4f>(y);  // the tone only: a mole there stays a mole
      auto* d = D.ptr<cv::Vec4f>(y);
      for (int x = rbox.x; x < rbox.br().x; ++x) {
        if (r[x] < 1e-3f || W.at<float>(y, x) <= 0) continue;
        const cv::Vec4f& ref = ref_both;
        if (std::isnan(ref[0])) continue;
        const float shadow = std::min(ref[0] - b[x][0], 0.35f);  // at most a 30% shadow is lifted from
        if (shadow <= 0) continue;
        const float k = 0.6f * p * r[x];
        d[x][0] += k * shadow;
        for (int c = 1; c < 4; ++c) d[x][c] += 0.3f * k * (ref[c] - b[x][c]);
        lift_sum += k * shadow * W.at<float>(y, x), lift_w += r[x] * W.at<float>(y, x);
      }
    }
    res.shadow_lift = lift_w > 0 ? float(lift_sum / lift_w) : 0.f;
  }

  // Blemishes: dark spots smaller than a size that grows with polish,
  // found by a morphological closing of the lightness (what it fills).
  // heal: how much of each pixel a healed spot replaces; heal_w: the skin
  // weight around it (a mole's own pixels may not be "skin" to the masks).
  cv::Mat heal = cv::Mat::zeros(size, CV_32F), heal_w = cv::Mat::zeros(size, CV_32F), healed_P;
  cv::Mat kept = cv::Mat::zeros(size, CV_32F);  // where a spot is kept (and a margin): 0..1
  {
    const float d_max = ed * (0.04f + 0.12f * p);    // px: 0.04 eye distances untouched .. 0.16 at full polish
    const float d_remove = 0.25f * ed;               // the largest mark `remove` heals
    const float d_min = std::max(2.5f, 0.02f * ed);  // pores are smaller
    const cv::Mat u = [&] {
      cv::Mat c;
      cv::extractChannel(P, c, 0);
      return c;
    }();
    // Inside the skin: small holes in the mask count (a mole's own pixels
    // may not look like skin to the masks), its edges do not.
    cv::Mat inside;
    {
      const int k = 2 * int(std::ceil(0.5f * (st.remove.empty() ? d_max : d_remove))) + 1;
      cv::morphologyEx(skinny, inside, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
      cv::erode(inside, inside, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
    }
    const float t_peak = std::max(0.07f, 4.f * s_fine[0]);  // a spot: this much darker than the closing
    auto find = [&](float diameter) {
      const int k = 2 * int(std::ceil(diameter / 2 + 1)) + 1;
      cv::Mat closed, dark;
      // A square: separable, so fast at any size; it fills a dark spot as
      // a disc would, and no line or broad shadow either way.
      cv::morphologyEx(u, closed, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
      dark = closed - u;
      return dark;
    };
    struct Candidate {
      Spot spot;
      cv::Rect box, win;  // on the roi: the spot's bounds, the window around it
      cv::Mat mask;       // CV_8U on the window: the closing's whole footprint
      cv::Mat core;       // the spot's darker half
      float d_limit;
    };
    std::vector<Candidate> cands;
    // The face itself (the mesh's oval: not the ears, the neck or the chest).
    cv::Mat face = cv::Mat::zeros(size, CV_8U);
    {
      std::vector<cv::Point> oval;
      for (const auto& q : points(mesh, kFaceOval, o)) oval.emplace_back(cvRound(q.x), cvRound(q.y));
      cv::fillPoly(face, std::vector<std::vector<cv::Point>>{oval}, cv::Scalar(255));
    }
    auto collect = [&](const cv::Mat& dark, float d_limit, const cv::Mat& allowed) {
      // Seeds at the peak threshold: a spot beside a crease or a shadow stays
      // its own component.
      cv::Mat seeds = (dark > t_peak) & inside & allowed, labels, stats, cents;
      // One component `m` (CV_8U on `box`) of `area` px at split `level`
      // (0: as the seeds found it). A component too large for a spot, or a
      // line, may be a spot joined to its surroundings by the skin's own
      // texture or a strand of hair beside it: it is split, first by an
      // opening with a disc of the smallest spot's size (thin strands
      // vanish, round spots survive), then at rising darkness (texture
      // falls away before a spot does), and each piece is judged on its
      // own. A piece is a spot only on the face itself (not an ear's folds,
      // the neck's jewellery) and only if what is at least half as dark as
      // its darkest point, anywhere around it, is itself a spot's size and
      // shape: the darkest stretch of a crease, the corner of the lips or
      // a nostril's edge runs on at half its darkness, a spot does not.
      const int k_split = std::max(3, 2 * int(0.5f * d_min) + 1);
      const cv::Mat split_disc = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(k_split, k_split));
      constexpr float kSplitStep = 2.f;  // the darkness a piece must pass doubles at each level after the first
      constexpr int kSplitLevels = 4;    // t_peak (opened), 2, 4 and 8 times it
      constexpr float kHalf = 0.5f;
      auto spot_sized = [&](int w, int h, int area) {
        const float diam = 2.f * std::sqrt(area / float(CV_PI));
        return std::max(w, h) <= 1.6f * d_limit + 2 &&
               std::max(w, h) <= 2.2f * diam + 2;  // not a line (a crease, a hair)
      };
      auto consider = [&](const cv::Mat& m, const cv::Rect& box, int area, int level, auto& self) -> void {
        if (2.f * std::sqrt(area / float(CV_PI)) < d_min) return;
        if (level > 0 && !cv::countNonZero(face(box))) return;  // pieces are taken on the face only
        bool whole = spot_sized(box.width, box.height, area);
        double peak = 0;
        cv::Point pk;
        cv::minMaxLoc(dark(box), nullptr, &peak, nullptr, &pk, m);
        pk += box.tl();
        if (whole) {
          if (peak < t_peak) return;
          if (level > 0) {
            if (!face.at<uchar>(pk)) return;
            // Flood-filled from the darkest point over what is at least
            // kHalf as dark, in a window just wider than the largest spot.
            const int R = int(1.6f * d_limit + 2) + 2;
            const cv::Rect around = cv::Rect(pk.x - R, pk.y - R, 2 * R + 1, 2 * R + 1) & cv::Rect(cv::Point(), size);
            cv::Mat fill_mask = cv::Mat::zeros(around.height + 2, around.width + 2, CV_8U);
            cv::Rect b;
            const int a = cv::floodFill(dark(around), fill_mask, pk - around.tl(), cv::Scalar(), &b,
                                        cv::Scalar((1 - kHalf) * peak), cv::Scalar(1e9),
                                        8 | cv::FLOODFILL_FIXED_RANGE | cv::FLOODFILL_MASK_ONLY | (255 << 8));
            whole = spot_sized(b.width, b.height, a) && b.x > 0 && b.y > 0 && b.br().x < around.width &&
                    b.br().y < around.height;
          }
        }
        if (!whole) {
          // Split at the next level: nothing of it would be left there.
          if (level >= kSplitLevels || (level >= 1 && peak <= t_peak * std::pow(kSplitStep, float(level)))) return;
          cv::Mat part = m, opened, sub, sub_stats, sub_cents;
          if (level >= 1) part = m & (dark(box) > t_peak * std::pow(kSplitStep, float(level)));
          cv::morphologyEx(part, opened, cv::MORPH_OPEN, split_disc);
          const int ns = cv::connectedComponentsWithStats(opened, sub, sub_stats, sub_cents, 8, CV_32S);
          for (int j = 1; j < ns; ++j) {
            if (2.f * std::sqrt(sub_stats.at<int>(j, 4) / float(CV_PI)) < d_min) continue;
            const cv::Rect b(sub_stats.at<int>(j, 0), sub_stats.at<int>(j, 1), sub_stats.at<int>(j, 2),
                             sub_stats.at<int>(j, 3));
            self(cv::Mat(sub(b) == j), b + box.tl(), sub_stats.at<int>(j, 4), level + 1, self);
          }
          return;
        }
        Candidate c;
        c.box = box;
        const int pad = 3 * std::max(box.width, box.height) + 6;
        c.win =
            cv::Rect(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad) & cv::Rect(cv::Point(), size);
        const cv::Rect in_win = box - c.win.tl();
        c.mask = cv::Mat::zeros(c.win.size(), CV_8U);
        m.copyTo(c.mask(in_win));
        // The spot itself: its darker half (what the eye sees as the spot).
        c.core = cv::Mat::zeros(c.win.size(), CV_8U);
        cv::Mat(m & (dark(box) >= 0.5 * peak)).copyTo(c.core(in_win));
        const cv::Moments mo = cv::moments(c.core, true);
        if (mo.m00 <= 0) return;
        c.spot.centre = cv::Point2f(float(mo.m10 / mo.m00), float(mo.m01 / mo.m00)) + cv::Point2f(c.win.tl()) + o;
        c.spot.diameter = 2.f * std::sqrt(float(mo.m00) / float(CV_PI));
        c.spot.contrast = float(peak);
        c.d_limit = d_limit;
        // Found already at a smaller closing: one spot, looked at once.
        for (const Candidate& o2 : cands)
          if (cv::norm(o2.spot.centre - c.spot.centre) < std::max(o2.spot.diameter, c.spot.diameter)) return;
        cands.push_back(std::move(c));
      };
      const int n = cv::connectedComponentsWithStats(seeds, labels, stats, cents, 8, CV_32S);
      for (int i = 1; i < n; ++i) {
        if (2.f * std::sqrt(stats.at<int>(i, 4) / float(CV_PI)) < d_min) continue;
        const cv::Rect box(stats.at<int>(i, 0), stats.at<int>(i, 1), stats.at<int>(i, 2), stats.at<int>(i, 3));
        consider(cv::Mat(labels(box) == i), box, stats.at<int>(i, 4), 0, consider);
      }
    };
    // At the largest size a blemish may have at this polish, and at smaller
    // closings too (each 1.5x smaller, down to twice a pore): a small spot
    // beside striated skin or a strand of hair joins its surroundings in a
    // wide closing but stands alone in one its own size (measured: the
    // painted 6 px spot on person04's cheek merged at 0.3 polish's closing
    // and was found at 0.1's).
    // The smallest closing first: a spot is taken at the tightest closing
    // that finds it (a larger one may join it to what is beside it).
    const cv::Mat everywhere(size, CV_8U, cv::Scalar(255));
    std::vector<float> sizes{d_max};
    while (sizes.back() / 1.5f >= 2 * d_min) sizes.push_back(sizes.back() / 1.5f);
    for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) collect(find(*it), *it, everywhere);
    // A listed mark is taken where the user put it: the dark spot (up to
    // d_remove across) whose darkest point lies nearest the position.
    for (const auto& q : st.remove) {
      const cv::Point at(cvRound(q.x - o.x), cvRound(q.y - o.y));
      const int R = int(std::ceil(d_remove));
      const cv::Rect win = cv::Rect(at.x - 2 * R, at.y - 2 * R, 4 * R + 1, 4 * R + 1) & cv::Rect(cv::Point(), size);
      if (!win.contains(at)) continue;
      cv::Mat uw = u(win), closed;
      const int k = 2 * R + 1;
      cv::morphologyEx(uw, closed, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
      const cv::Mat dark = closed - uw;
      cv::Mat search = cv::Mat::zeros(win.size(), CV_8U);
      cv::circle(search, at - win.tl(), std::max(3, int(0.06f * ed)), cv::Scalar(255), -1);
      double peak = 0;
      cv::Point pk;
      cv::minMaxLoc(dark, nullptr, &peak, nullptr, &pk, search);
      if (peak < 0.03) continue;
      cv::Mat labels, part = dark >= 0.35 * peak;
      cv::connectedComponents(part, labels, 8, CV_32S);
      Candidate c;
      c.win = win;
      c.mask = labels == labels.at<int>(pk);
      c.core = c.mask & (dark >= 0.5 * peak);
      c.box = cv::boundingRect(c.mask) + win.tl();
      const cv::Moments mo = cv::moments(c.core, true);
      if (mo.m00 <= 0 || c.box.width > 2 * R || c.box.height > 2 * R) continue;
      c.spot.centre = cv::Point2f(float(mo.m10 / mo.m00), float(mo.m01 / mo.m00)) + cv::Point2f(win.tl()) + o;
      c.spot.diameter = 2.f * std::sqrt(float(mo.m00) / float(CV_PI));
      c.spot.contrast = float(peak);
      c.d_limit = d_remove;
      // A spot the finder also found is healed once.
      cands.erase(std::remove_if(
                      cands.begin(), cands.end(),
                      [&](const Candidate& o2) { return cv::norm(o2.spot.centre - c.spot.centre) < c.spot.diameter; }),
                  cands.end());
      cands.push_back(std::move(c));
    }
    auto listed = [&](const std::vector<cv::Point2f>& marks, const Candidate& c) {
      for (const auto& q : marks)
        if (cv::norm(q - c.spot.centre) <= std::max(0.06f * ed, 0.75f * c.spot.diameter + 2)) return true;
      return false;
    };
    healed_P.create(size, CV_32FC4);  // P's, where a heal first writes
    for (auto& c : cands) {
      Spot& sp = c.spot;
      // Its colour against a ring of skin around it.
      cv::Mat ring, inner;
      const int gap = std::max(1, int(std::lround(0.25f * sp.diameter)));
      const int width = std::max(2, int(std::lround(0.5f * sp.diameter)));
      cv::dilate(c.mask, inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * gap + 1, 2 * gap + 1)));
      cv::dilate(inner, ring,
                 cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * (gap + width) + 1, 2 * (gap + width) + 1)));
      ring = ring & ~inner & skinny(c.win);
      if (cv::countNonZero(ring) < 8) continue;
      const float ring_w = float(cv::mean(W(c.win), ring)[0]);
      const cv::Scalar in_c = cv::mean(lin(c.win), c.core), out_c = cv::mean(lin(c.win), ring);
      const cv::Vec3f lab_in = lab_of(cv::Vec3f(float(in_c[0]), float(in_c[1]), float(in_c[2])));
      const cv::Vec3f lab_out = lab_of(cv::Vec3f(float(out_c[0]), float(out_c[1]), float(out_c[2])));
      sp.dL = lab_in[0] - lab_out[0];
      sp.da = lab_in[1] - lab_out[1];
      sp.db = lab_in[2] - lab_out[2];
      const bool remove = listed(st.remove, c), keep = listed(st.keep, c);
      if (remove) {
        sp.healed = true, sp.why = "listed to remove";
      } else if (keep) {
        sp.why = "listed to keep";
      } else if (sp.diameter > d_max) {
        sp.why = "larger than a blemish at this polish: kept";
      } else if (sp.da >= kRedder && sp.da >= -kRedPerDark * sp.dL && sp.dL <= -kDarker) {
        sp.healed = true, sp.why = "blemish (darker and redder than the skin around it)";
      } else {
        sp.why = "pigment (darker than it is red: a mole, a freckle): kept";
      }
      if (!sp.healed) {
        // Kept: the spot and a margin of half its size, feathered.
        const int m = std::max(2, int(std::lround(0.5f * sp.diameter)));
        const double sig = std::max(0.7, 0.15 * sp.diameter);
        const int r = m + int(std::ceil(3 * sig));
        const cv::Rect around = cv::Rect(c.box.x - r, c.box.y - r, c.box.width + 2 * r, c.box.height + 2 * r) & c.win;
        cv::Mat area, soft;
        cv::dilate(c.mask(around - c.win.tl()), area,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * m + 1, 2 * m + 1)));
        cv::GaussianBlur(as_float(area), soft, cv::Size(), sig);
        cv::Mat dst = kept(around);
        cv::max(dst, soft, dst);
      }
      if (sp.healed) {
        // Heal: the spot (and a margin) takes the skin around it, smoothly
        // filled, with fine texture borrowed from skin beside it.
        cv::Mat area;
        const int m = std::max(2, int(std::lround(0.5f * sp.diameter)));
        cv::dilate(c.mask, area, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * m + 1, 2 * m + 1)));
        const cv::Rect win = c.win;
        cv::Mat w_out;
        cv::Mat(core(win).mul(1 - as_float(area))).copyTo(w_out);
        cv::Mat pw;
        {
          cv::Mat c4;
          cv::merge(std::vector<cv::Mat>(4, w_out), c4);
          pw = P(win).mul(c4);
        }
        const double sig = 0.5 * sp.diameter + 1;
        cv::Mat filled = masked_blur(pw, w_out, sig);
        // Texture: the fine band of the skin one spot-width and a half to
        // the side (whichever side is skin).
        const int shift = int(std::ceil(1.5f * sp.diameter + 2 * m));
        cv::Point best(0, 0);
        double best_skin = -1;
        for (const cv::Point dir : {cv::Point(1, 0), cv::Point(-1, 0), cv::Point(0, 1), cv::Point(0, -1)}) {
          const cv::Rect src = c.box + dir * shift;
          if ((src & cv::Rect(cv::Point(), size)) != src) continue;
          const double sk = cv::mean(core(src))[0];
          if (sk > best_skin) best_skin = sk, best = dir * shift;
        }
        cv::Mat soft;
        cv::GaussianBlur(as_float(area), soft, cv::Size(), std::max(0.7, 0.15 * sp.diameter));
        for (int y = win.y; y < win.br().y; ++y) {
          const auto* a = soft.ptr<float>(y - win.y) - win.x;
          auto* hp = healed_P.ptr<cv::Vec4f>(y);
          auto* hm = heal.ptr<float>(y);
          auto* hw = heal_w.ptr<float>(y);
          for (int x = win.x; x < win.br().x; ++x) {
            if (a[x] <= 1e-3f) continue;
            cv::Vec4f v = filled.at<cv::Vec4f>(y - win.y, x - win.x);
            const cv::Point src(x + best.x, y + best.y);
            if (best_skin > 0.5 && cv::Rect(cv::Point(), size).contains(src))
              v[0] += 0.6f * (P.at<cv::Vec4f>(src)[0] - B2.at<cv::Vec4f>(src)[0]);
            if (hm[x] <= 0) hp[x] = P.at<cv::Vec4f>(y, x);
            hp[x] = (1 - a[x]) * hp[x] + a[x] * v;
            hm[x] = std::max(hm[x], a[x]);
            hw[x] = std::max(hw[x], ring_w);
          }
        }
      }
      res.spots.push_back(sp);
    }
  }

  // The change: weighted by where skin may be retouched (feathered), and
  // healed spots replace whatever the bands did there.
  // One copy of the input (rows copied on the worker threads: a fresh
  // buffer's first touch is what costs).
  cv::Mat out(linear_bgr.size(), linear_bgr.type()), amount(linear_bgr.size(), CV_32F);
  each_row(out.rows, [&](int y) {
    std::memcpy(out.ptr(y), linear_bgr.ptr(y), out.cols * out.elemSize());
    std::memset(amount.ptr(y), 0, amount.cols * amount.elemSize());
  });
  cv::Mat out_roi = out(roi), amount_roi = amount(roi);
  each_row(size.height, [&](int y) {
    const auto* l = lin.ptr<cv::Vec3f>(y);
    const auto* w = W.ptr<float>(y);
    const auto* d = D.ptr<cv::Vec4f>(y);
    const auto* dk = Dk.ptr<float>(y);
    const auto* kp = kept.ptr<float>(y);
    const auto* h = heal.ptr<float>(y);
    const auto* hw = heal_w.ptr<float>(y);
    const auto* hp = healed_P.ptr<cv::Vec4f>(y);
    const auto* pp = P.ptr<cv::Vec4f>(y);
    auto* ol = out_roi.ptr<cv::Vec3f>(y);
    auto* am = amount_roi.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      cv::Vec4f dd = w[x] * d[x];
      dd[0] -= w[x] * kp[x] * dk[x];
      if (h[x] > 0) dd = (1 - h[x]) * dd + h[x] * std::max(w[x], hw[x]) * (hp[x] - pp[x]);
      if (dd == cv::Vec4f()) continue;
      float big = std::abs(dd[0]);
      for (int c = 0; c < 3; ++c) {
        ol[x][c] = std::max(0.f, (std::max(l[x][c], 0.f) + kEps) * std::exp(dd[0] + dd[c + 1]) - kEps);
        big = std::max(big, std::abs(dd[c + 1]) * 0.5f);
      }
      am[x] = std::min(1.f, big / 0.1f);  // 10% of lightness (or 20% of a colour ratio) = wholly
    }
  });
  res.image = out;
  res.amount = amount;
  res.touched = true;
  return res;
}

}  // namespace likeness::retouch
