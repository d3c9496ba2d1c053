#include "likeness/measure.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/numeric.hpp"
#include "likeness/params.hpp"

namespace likeness {

namespace {

double median_of(std::vector<float>& v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Mean linear luminance inside a circle (clipped to the image), or 0.
double patch_luminance(const cv::Mat& lum, cv::Point2f c, float r) {
  double sum = 0;
  int n = 0;
  const int y0 = std::max(0, int(c.y - r)), y1 = std::min(lum.rows - 1, int(c.y + r));
  const int x0 = std::max(0, int(c.x - r)), x1 = std::min(lum.cols - 1, int(c.x + r));
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x)
      if ((x - c.x) * (x - c.x) + (y - c.y) * (y - c.y) <= r * r) sum += lum.at<float>(y, x), ++n;
  return n ? sum / n : 0;
}

cv::Point2f mean_of(const std::vector<cv::Point2f>& p, int from, int to) {
  cv::Point2f s(0, 0);
  for (int i = from; i <= to; ++i) s += p[i];
  return s * (1.f / float(to - from + 1));
}

std::vector<cv::Point> polygon(const std::vector<cv::Point2f>& p, std::initializer_list<int> idx) {
  std::vector<cv::Point> out;
  for (int i : idx) out.emplace_back(cv::Point(std::lround(p[i].x), std::lround(p[i].y)));
  return out;
}

// McCamy's approximation of the correlated colour temperature of linear
// sRGB (D65) light.
double cct_of(const cv::Vec3d& linear_bgr) {
  const double r = linear_bgr[2], g = linear_bgr[1], b = linear_bgr[0];
  const double X = 0.4124 * r + 0.3576 * g + 0.1805 * b;
  const double Y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const double Z = 0.0193 * r + 0.1192 * g + 0.9505 * b;
  const double s = X + Y + Z;
  if (s <= 0) return 0;
  const double x = X / s, y = Y / s;
  const double n = (x - 0.3320) / (0.1858 - y);
  return 449 * n * n * n + 3525 * n * n + 6823.3 * n + 5520.33;
}
}  // namespace

std::string lab_hex(const cv::Vec3f& lab) {
  cv::Mat px(1, 1, CV_32FC3, cv::Scalar(lab[0], lab[1], lab[2])), lin, srgb;
  cv::cvtColor(px, lin, cv::COLOR_Lab2LBGR);
  srgb = linear_to_srgb8(lin);
  const cv::Vec3b c = srgb.at<cv::Vec3b>(0, 0);
  return cv::format("#%02x%02x%02x", c[2], c[1], c[0]);
}

json PortraitMeasures::to_json() const {
  json j = json::object();
  if (has_backdrop)
    j["backdrop"] = {
        {"lab", {round_to(backdrop_lab[0], 0.01), round_to(backdrop_lab[1], 0.01), round_to(backdrop_lab[2], 0.01)}},
        {"hex", lab_hex(backdrop_lab)},
        {"share", round_to(backdrop_share, 0.001)}};
  if (has_face) {
    j["eye_line"] = round_to(eye_line, 0.0001);
    j["face_height"] = round_to(face_height, 0.0001);
    j["cheek_ratio"] = round_to(cheek_ratio, 0.001);
    j["skin_kelvin"] = std::lround(skin_kelvin);
  }
  return j;
}

PortraitMeasures measure_portrait(const cv::Mat& bgr8, const cv::Mat& alpha, const cv::Mat& outside, const Face* face) {
  CV_Assert(bgr8.type() == CV_8UC3);
  PortraitMeasures m;
  const cv::Mat lab = srgb8_to_lab(bgr8);
  // The backdrop: every pixel the matte leaves wholly to it.
  if (!alpha.empty() && alpha.size() == bgr8.size()) {
    std::vector<float> ch[3];
    for (int y = 0; y < bgr8.rows; ++y) {
      const float* a = alpha.ptr<float>(y);
      const uchar* o = outside.empty() ? nullptr : outside.ptr<uchar>(y);
      const auto* l = lab.ptr<cv::Vec3f>(y);
      for (int x = 0; x < bgr8.cols; ++x)
        if (a[x] < 0.02f || (o && o[x]))
          for (int c = 0; c < 3; ++c) ch[c].push_back(l[x][c]);
    }
    m.backdrop_share = double(ch[0].size()) / double(bgr8.total());
    m.has_backdrop = m.backdrop_share >= 0.02;
    if (m.has_backdrop)
      m.backdrop_lab = cv::Vec3f(float(median_of(ch[0])), float(median_of(ch[1])), float(median_of(ch[2])));
  }
  if (!face || face->landmarks.size() != 68) return m;
  const auto& p = face->landmarks;
  m.has_face = true;
  const cv::Point2f eyes = 0.5f * (mean_of(p, 36, 41) + mean_of(p, 42, 47));
  m.eye_line = eyes.y / bgr8.rows;
  m.face_height = (p[8].y - eyes.y) / bgr8.rows;

  cv::Mat lin = srgb_to_linear(bgr8), lum;
  cv::transform(lin, lum, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  const float d = float(cv::norm(mean_of(p, 42, 47) - mean_of(p, 36, 41)));
  auto cheek = [&](int from, int to) {
    const cv::Point2f e = mean_of(p, from, to);
    return patch_luminance(lum, cv::Point2f(e.x, 0.5f * (e.y + p[33].y) + 0.1f * d), 0.22f * d);
  };
  const double left = cheek(36, 41), right = cheek(42, 47);
  m.cheek_ratio = left > 1e-6 ? right / left : 1;

  // The skin: the face's outline (jaw, brows) without eyes and mouth.
  cv::Mat skin(bgr8.size(), CV_8U, cv::Scalar(0));
  std::vector<cv::Point> outline;
  for (int i = 0; i <= 16; ++i) outline.emplace_back(cv::Point(std::lround(p[i].x), std::lround(p[i].y)));
  for (int i = 26; i >= 17; --i) outline.emplace_back(cv::Point(std::lround(p[i].x), std::lround(p[i].y)));
  cv::fillPoly(skin, std::vector<std::vector<cv::Point>>{outline}, cv::Scalar(255));
  const int pad = std::max(1, int(0.12f * d));
  for (const auto& hole : {polygon(p, {36, 37, 38, 39, 40, 41}), polygon(p, {42, 43, 44, 45, 46, 47}),
                           polygon(p, {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59})}) {
    cv::fillPoly(skin, std::vector<std::vector<cv::Point>>{hole}, cv::Scalar(0));
    cv::polylines(skin, std::vector<std::vector<cv::Point>>{hole}, true, cv::Scalar(0), 2 * pad);
  }
  std::vector<float> levels;
  for (int y = 0; y < skin.rows; ++y)
    for (int x = 0; x < skin.cols; ++x)
      if (skin.at<uchar>(y, x)) levels.push_back(lum.at<float>(y, x));
  if (levels.size() >= 50) {
    std::vector<float> sorted = levels;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() * 3 / 4, sorted.end());
    const float q75 = sorted[sorted.size() * 3 / 4];
    cv::Vec3d sum(0, 0, 0);
    int n = 0;
    for (int y = 0; y < skin.rows; ++y)
      for (int x = 0; x < skin.cols; ++x)
        if (skin.at<uchar>(y, x) && lum.at<float>(y, x) >= q75) sum += cv::Vec3d(lin.at<cv::Vec3f>(y, x)), ++n;
    if (n > 0) m.skin_kelvin = cct_of(sum * (1.0 / n));
  }
  return m;
}

json request_fit(const PortraitMeasures& m, const Recipe& resolved, const std::vector<std::string>& edits) {
  json fit = json::object();
  double sum = 0;
  int parts = 0;
  if (const Step* b = resolved.find("backdrop"); b && m.has_backdrop) {
    const std::string style = b->params.value("style", "");
    if (style == "solid" || style == "gradient" || style == "paper" || style == "canvas") {
      const std::string c1 = b->params.value("color", ""), c2 = b->params.value("color2", "");
      const cv::Vec3f l1 = lab_of(parse_color(c1));
      const cv::Vec3f l2 = style == "solid" || style == "paper" ? l1 : lab_of(parse_color(c2));
      double best = 1e9;
      for (int k = 0; k <= 20; ++k) {
        const cv::Vec3f l = l1 + (l2 - l1) * (k / 20.f);
        best = std::min(best, ciede2000(cv::Vec3d(m.backdrop_lab), cv::Vec3d(l)));
      }
      const double score = 1 - ramp(best, 3, 12);
      fit["backdrop"] = {{"requested", style == "solid" || style == "paper" ? json(c1) : json({c1, c2})},
                         {"measured", lab_hex(m.backdrop_lab)},
                         {"delta_e00", round_to(best, 0.01)},
                         {"score", round_to(score, 0.001)}};
      sum += score, ++parts;
    } else {
      fit["backdrop"] = {{"style", style}, {"measured", lab_hex(m.backdrop_lab)}, {"score", nullptr}};
    }
  }
  if (const Step* r = resolved.find("relight"); r && m.has_face) {
    const std::string pattern = r->params.value("pattern", "none");
    static const std::vector<std::string> sided = {"rembrandt", "loop", "split", "broad", "short", "match"};
    int side = 0;  // on the image: +1 right
    for (const auto& e : edits) {
      if (e.find("key from the subject's left") != std::string::npos) side = 1;
      if (e.find("key from the subject's right") != std::string::npos) side = -1;
    }
    if (side != 0 && std::find(sided.begin(), sided.end(), pattern) != sided.end()) {
      const double ratio = side > 0 ? m.cheek_ratio : 1 / m.cheek_ratio;
      const double score = ramp(ratio, 0.95, 1.2);
      fit["light"] = {{"pattern", pattern},
                      {"key", side > 0 ? "subject's left" : "subject's right"},
                      {"lit_over_far_cheek", round_to(ratio, 0.001)},
                      {"score", round_to(score, 0.001)}};
      sum += score, ++parts;
    }
  }
  fit["score"] = parts ? json(round_to(sum / parts, 0.001)) : json(nullptr);
  return fit;
}

}  // namespace likeness
