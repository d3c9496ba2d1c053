#include "measures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/quality/qualitybrisque.hpp>

#include "likeness/error.hpp"

namespace likeness::intake {

const int kMirror68[68] = {16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4, 3, 2, 1, 0,  // jaw
                           26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                         // brows
                           27, 28, 29, 30,                                                 // nose bridge
                           35, 34, 33, 32, 31,                                             // nostrils
                           45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,                 // eyes
                           54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,                 // outer lips
                           64, 63, 62, 61, 60, 67, 66, 65};                                // inner lips

namespace {

float dist(cv::Point2f a, cv::Point2f b) { return std::hypot(a.x - b.x, a.y - b.y); }

cv::Point2f mean_of(const std::vector<cv::Point2f>& p, std::initializer_list<int> idx) {
  cv::Point2f m(0, 0);
  for (int i : idx) m += p[i];
  return m * (1.f / float(idx.size()));
}

// The face (jaw + brows hull) cut out of the grey photo at a scale where the
// face is at most kChip px from temple to temple, with its mask.
struct FaceChip {
  cv::Mat grey;  // CV_32F, 0..255
  cv::Mat mask;  // CV_8U, 255 inside the face
  double scale = 1;
};

FaceChip face_chip(const cv::Mat& work, const std::vector<cv::Point2f>& lm) {
  constexpr double kChip = 256;
  FaceChip c;
  std::vector<cv::Point2f> outline(lm.begin(), lm.begin() + 27);
  cv::Rect r = cv::boundingRect(outline);
  r &= cv::Rect(0, 0, work.cols, work.rows);
  if (r.width < 8 || r.height < 8) return c;
  const float temple = dist(lm[0], lm[16]);
  c.scale = std::min(1.0, kChip / std::max(1.f, temple));
  cv::Mat grey;
  cv::cvtColor(work(r), grey, cv::COLOR_BGR2GRAY);
  if (c.scale < 1) cv::resize(grey, grey, cv::Size(), c.scale, c.scale, cv::INTER_AREA);
  grey.convertTo(c.grey, CV_32F);
  std::vector<cv::Point> hull_in;
  for (const auto& p : outline) hull_in.emplace_back(cvRound((p.x - r.x) * c.scale), cvRound((p.y - r.y) * c.scale));
  std::vector<cv::Point> hull;
  cv::convexHull(hull_in, hull);
  c.mask = cv::Mat::zeros(c.grey.size(), CV_8U);
  cv::fillConvexPoly(c.mask, hull, cv::Scalar(255));
  // Keep away from the outline, where the background's edges begin.
  const int e = std::max(1, int(std::round(0.03 * temple * c.scale)));
  cv::erode(c.mask, c.mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * e + 1, 2 * e + 1)));
  return c;
}

// Laplacian over gradient: for an edge blurred by sigma, |Laplacian| falls as
// 1/sigma^2 and |gradient| as 1/sigma, so the ratio measures sharpness in
// 1/pixels whatever the contrast or exposure.
float sharpness(const FaceChip& c) {
  if (c.grey.empty() || cv::countNonZero(c.mask) < 64) return 0;
  cv::Mat lap, gx, gy, mag;
  cv::Laplacian(c.grey, lap, CV_32F, 1);
  cv::Sobel(c.grey, gx, CV_32F, 1, 0, 3, 1.0 / 8);
  cv::Sobel(c.grey, gy, CV_32F, 0, 1, 3, 1.0 / 8);
  cv::magnitude(gx, gy, mag);
  const double l = cv::mean(cv::abs(lap), c.mask)[0];
  const double g = cv::mean(mag, c.mask)[0];
  return g > 1e-3 ? float(l / g) : 0.f;
}

// Immerkaer's noise estimate on the flattest half of the face (the kernel
// cancels smooth shading; texture is what the gradient threshold removes).
float noise_sigma(const FaceChip& c) {
  if (c.grey.empty() || cv::countNonZero(c.mask) < 64) return 0;
  const cv::Mat k = (cv::Mat_<float>(3, 3) << 1, -2, 1, -2, 4, -2, 1, -2, 1);
  cv::Mat res, gx, gy, mag;
  cv::filter2D(c.grey, res, CV_32F, k);
  res = cv::abs(res);
  cv::Sobel(c.grey, gx, CV_32F, 1, 0, 3);
  cv::Sobel(c.grey, gy, CV_32F, 0, 1, 3);
  cv::magnitude(gx, gy, mag);
  std::vector<float> m;
  for (int y = 1; y < mag.rows - 1; ++y)
    for (int x = 1; x < mag.cols - 1; ++x)
      if (c.mask.at<uchar>(y, x)) m.push_back(mag.at<float>(y, x));
  if (m.size() < 32) return 0;
  std::nth_element(m.begin(), m.begin() + m.size() / 2, m.end());
  const float cut = m[m.size() / 2];
  double sum = 0;
  size_t n = 0;
  for (int y = 1; y < mag.rows - 1; ++y)
    for (int x = 1; x < mag.cols - 1; ++x)
      if (c.mask.at<uchar>(y, x) && mag.at<float>(y, x) <= cut) sum += res.at<float>(y, x), ++n;
  return n ? float(std::sqrt(M_PI / 2) * sum / n / 6.0) : 0.f;
}

void exposure(const FaceChip& c, FaceMeasures& m) {
  if (c.grey.empty() || cv::countNonZero(c.mask) == 0) return;
  m.brightness = float(cv::mean(c.grey, c.mask)[0]);
  const double n = cv::countNonZero(c.mask);
  cv::Mat hi = (c.grey >= 250) & c.mask, lo = (c.grey <= 12) & c.mask;
  m.clipped = float(cv::countNonZero(hi) / n);
  m.crushed = float(cv::countNonZero(lo) / n);
}

// Eye aspect ratio (Soukupova & Cech): eyelid gap over eye width.
float eye_aspect(const std::vector<cv::Point2f>& p, int o) {
  const float w = dist(p[o], p[o + 3]);
  return w > 0 ? (dist(p[o + 1], p[o + 5]) + dist(p[o + 2], p[o + 4])) / (2 * w) : 0.f;
}

// Smile from mouth geometry in the face's own frame (roll removed, sizes in
// eye distances): corners lifted above the lips' centre, a wide mouth, and
// parted lips each count.
float smile_score(const std::vector<cv::Point2f>& p) {
  const cv::Point2f le = mean_of(p, {36, 37, 38, 39, 40, 41}), re = mean_of(p, {42, 43, 44, 45, 46, 47});
  const float d = dist(le, re);
  if (d <= 0) return 0;
  const float ang = std::atan2(re.y - le.y, re.x - le.x);
  const float cs = std::cos(-ang), sn = std::sin(-ang);
  auto rot = [&](cv::Point2f q) { return cv::Point2f((q.x * cs - q.y * sn) / d, (q.x * sn + q.y * cs) / d); };
  const cv::Point2f l = rot(p[48]), r = rot(p[54]), top = rot(p[62]), bottom = rot(p[66]);
  const float centre_y = 0.5f * (top.y + bottom.y);
  const float lift = centre_y - 0.5f * (l.y + r.y);  // > 0: corners above the centre
  const float width = r.x - l.x;
  const float open = bottom.y - top.y;
  const float z = 14.f * (lift - 0.02f) + 6.f * (width - 0.88f) + 3.f * (open - 0.05f);
  return 1.f / (1.f + std::exp(-z));
}

// Head region (1.6x the face box) for BRISQUE, long side 320 px.
float brisque(const cv::Mat& work, const Face& f) {
  static const std::string dir = [] {
    const char* d = std::getenv("LIKENESS_OPENCV_DATA");
    return std::string(d && *d ? d : "/usr/share/opencv4") + "/quality/";
  }();
  thread_local cv::Ptr<cv::quality::QualityBRISQUE> model;
  if (!model) {
    const std::string m = dir + "brisque_model_live.yml", r = dir + "brisque_range_live.yml";
    if (!std::filesystem::exists(m) || !std::filesystem::exists(r))
      throw Error(ErrorCode::internal, "BRISQUE model missing in " + dir + " (package opencv-data): run `make deps`");
    model = cv::quality::QualityBRISQUE::create(m, r);
  }
  const cv::Point2f c(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
  const float s = 1.6f * std::max(f.box.width, f.box.height);
  cv::Rect r(cvRound(c.x - s / 2), cvRound(c.y - s / 2), cvRound(s), cvRound(s));
  r &= cv::Rect(0, 0, work.cols, work.rows);
  if (r.width < 16 || r.height < 16) return 100;
  cv::Mat head = work(r), small;
  const double k = std::min(1.0, 320.0 / std::max(r.width, r.height));
  if (k < 1)
    cv::resize(head, small, cv::Size(), k, k, cv::INTER_AREA);
  else
    small = head;
  return float(model->compute(small)[0]);
}

// Landmarks that the net cannot agree on with its own mirror image are where
// the face is hidden; sunglasses also make the eyes much darker than the
// cheeks. Returns 0..1 and the worst region.
float occlusion(const cv::Mat& work, const std::vector<cv::Point2f>& p, const std::vector<cv::Point2f>& mirrored,
                std::string& region) {
  const cv::Point2f le = mean_of(p, {36, 37, 38, 39, 40, 41}), re = mean_of(p, {42, 43, 44, 45, 46, 47});
  const float d = std::max(1.f, dist(le, re));
  float worst = 0;
  region.clear();
  if (mirrored.size() == 68) {
    struct R {
      const char* name;
      int from, to;
      float normal;  // typical disagreement on clear faces, in eye distances
    };
    for (const R& g :
         {R{"eyes", 36, 47, 0.045f}, R{"nose", 27, 35, 0.05f}, R{"mouth", 48, 67, 0.06f}, R{"jaw", 0, 16, 0.09f}}) {
      float sum = 0;
      for (int i = g.from; i <= g.to; ++i) sum += dist(p[i], mirrored[i]);
      const float dis = sum / float(g.to - g.from + 1) / d;
      // 0 at three times the normal disagreement, 1 at six times.
      const float s = std::clamp((dis / g.normal - 3.f) / 3.f, 0.f, 1.f);
      if (s > worst) worst = s, region = g.name;
    }
  }
  // Eye darkness against the cheeks (sunglasses).
  auto patch_luma = [&](cv::Point2f c, float half) {
    cv::Rect r(cvRound(c.x - half), cvRound(c.y - half), cvRound(2 * half), cvRound(2 * half));
    r &= cv::Rect(0, 0, work.cols, work.rows);
    if (r.area() < 4) return -1.0;
    cv::Mat g;
    cv::cvtColor(work(r), g, cv::COLOR_BGR2GRAY);
    return cv::mean(g)[0];
  };
  const double eyes = 0.5 * (patch_luma(le, 0.18f * d) + patch_luma(re, 0.18f * d));
  const double cheeks =
      0.5 * (patch_luma(0.5f * (p[2] + p[31]), 0.15f * d) + patch_luma(0.5f * (p[14] + p[35]), 0.15f * d));
  if (eyes >= 0 && cheeks > 40) {
    const double ratio = eyes / cheeks;  // clear eyes ~0.6-0.9 of the cheeks (the whites lift them)
    const float s = float(std::clamp((0.35 - ratio) / 0.15, 0.0, 1.0));
    if (s > worst) worst = s, region = "eyes";
  }
  return worst;
}

}  // namespace

void head_pose(const std::vector<cv::Point2f>& lm, cv::Size image, float& yaw, float& pitch, float& roll) {
  yaw = pitch = roll = 0;
  if (lm.size() != 68) return;
  // A generic adult face in millimetres: x to the image's right, y down, z
  // away from the camera (the nose tip is nearest). Points: nose tip, chin,
  // outer eye corners, mouth corners, nose bridge top.
  static const std::vector<cv::Point3f> model = {{0.f, 0.f, 0.f},       {0.f, 63.6f, 12.5f},    {-43.3f, -32.7f, 26.f},
                                                 {43.3f, -32.7f, 26.f}, {-28.9f, 28.9f, 24.1f}, {28.9f, 28.9f, 24.1f},
                                                 {0.f, -31.f, 20.f}};
  const std::vector<cv::Point2f> pts = {lm[30], lm[8], lm[36], lm[45], lm[48], lm[54], lm[27]};
  const double f = std::max(image.width, image.height);
  const cv::Matx33d cam(f, 0, image.width / 2.0, 0, f, image.height / 2.0, 0, 0, 1);
  // Start frontal at the distance the eye corners' spread implies, so the
  // iteration cannot settle on the mirrored solution behind the camera.
  const double spread = std::max(1.f, dist(lm[36], lm[45]));
  cv::Mat rvec = cv::Mat::zeros(3, 1, CV_64F);
  cv::Mat tvec = (cv::Mat_<double>(3, 1) << 0, 0, f * 86.6 / spread);
  {
    // Centre the initial guess on the nose.
    tvec.at<double>(0) = (lm[30].x - image.width / 2.0) * tvec.at<double>(2) / f;
    tvec.at<double>(1) = (lm[30].y - image.height / 2.0) * tvec.at<double>(2) / f;
  }
  if (!cv::solvePnP(model, pts, cam, cv::noArray(), rvec, tvec, true, cv::SOLVEPNP_ITERATIVE)) return;
  cv::Matx33d R;
  cv::Rodrigues(rvec, R);
  cv::Matx33d mtxR, mtxQ;
  const cv::Vec3d e = cv::RQDecomp3x3(R, mtxR, mtxQ);
  auto wrap = [](double a) { return float(a > 90 ? a - 180 : a < -90 ? a + 180 : a); };
  // About y: the nose moving to the image's right is a turn to the right.
  yaw = -wrap(e[1]);
  // About x: with y down, a positive rotation tips the face down.
  pitch = -wrap(e[0]);
  roll = wrap(e[2]);
}

void measure_geometry(const std::vector<cv::Point2f>& p, cv::Size image, FaceMeasures& m) {
  head_pose(p, image, m.yaw, m.pitch, m.roll);
  m.smile = smile_score(p);
  m.eye_openness = 0.5f * (eye_aspect(p, 36) + eye_aspect(p, 42));
}

FaceMeasures measure_face(const cv::Mat& work, const Face& face, const std::vector<cv::Point2f>& mirrored,
                          double to_original) {
  FaceMeasures m;
  const auto& p = face.landmarks;
  if (p.size() != 68) return m;
  m.temple_px = float(dist(p[0], p[16]) * to_original);
  m.eye_distance_px = float(face.eye_distance() * to_original);
  const FaceChip chip = face_chip(work, p);
  m.sharpness = sharpness(chip);
  m.noise = noise_sigma(chip);
  exposure(chip, m);
  measure_geometry(p, work.size(), m);
  m.occlusion = occlusion(work, p, mirrored, m.occluded_region);
  m.brisque = brisque(work, face);
  return m;
}

}  // namespace likeness::intake
