#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/face.hpp"
#include "likeness/inference.hpp"
#include "likeness/model_store.hpp"

namespace likeness {

namespace {
// dlib's mean face shape for landmarks 17..67 (get_face_chip_details): the
// template the dlib ResNet recogniser was trained on.
constexpr std::array<float, 51> kMeanX = {
    0.000213256f, 0.0752622f, 0.18113f,  0.29077f,  0.393397f, 0.586856f, 0.689483f, 0.799124f, 0.904991f,
    0.98004f,     0.490127f,  0.490127f, 0.490127f, 0.490127f, 0.36688f,  0.426036f, 0.490127f, 0.554217f,
    0.613373f,    0.121737f,  0.187122f, 0.265825f, 0.334606f, 0.260918f, 0.182743f, 0.645647f, 0.714428f,
    0.793132f,    0.858516f,  0.79751f,  0.719335f, 0.254149f, 0.340985f, 0.428858f, 0.490127f, 0.551395f,
    0.639268f,    0.726104f,  0.642159f, 0.556721f, 0.490127f, 0.423532f, 0.338094f, 0.290379f, 0.428096f,
    0.490127f,    0.552157f,  0.689874f, 0.553364f, 0.490127f, 0.42689f};
constexpr std::array<float, 51> kMeanY = {
    0.106454f, 0.038915f, 0.0187482f, 0.0344891f, 0.0773906f, 0.0773906f, 0.0344891f, 0.0187482f, 0.038915f,
    0.106454f, 0.203352f, 0.307009f,  0.409805f,  0.515625f,  0.587326f,  0.609345f,  0.628106f,  0.609345f,
    0.587326f, 0.216423f, 0.178758f,  0.179852f,  0.231733f,  0.245099f,  0.244077f,  0.231733f,  0.179852f,
    0.178758f, 0.216423f, 0.244077f,  0.245099f,  0.780233f,  0.745405f,  0.727388f,  0.742578f,  0.727388f,
    0.745405f, 0.780233f, 0.864805f,  0.902192f,  0.909281f,  0.902192f,  0.864805f,  0.784792f,  0.778746f,
    0.785343f, 0.778746f, 0.784792f,  0.824182f,  0.831803f,  0.824182f};

// Least-squares similarity transform (rotation, uniform scale, shift).
cv::Matx23d fit_similarity(const std::vector<cv::Point2d>& from, const std::vector<cv::Point2d>& to) {
  cv::Point2d mf(0, 0), mt(0, 0);
  for (size_t i = 0; i < from.size(); ++i) {
    mf += from[i];
    mt += to[i];
  }
  mf *= 1.0 / from.size();
  mt *= 1.0 / to.size();
  double a = 0, b = 0, norm = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const cv::Point2d p = from[i] - mf, q = to[i] - mt;
    a += p.x * q.x + p.y * q.y;
    b += p.x * q.y - p.y * q.x;
    norm += p.x * p.x + p.y * p.y;
  }
  const double c = a / norm, s = b / norm;
  return cv::Matx23d(c, -s, mt.x - (c * mf.x - s * mf.y), s, c, mt.y - (s * mf.x + c * mf.y));
}
}  // namespace

cv::Mat Recognizer::face_chip(const cv::Mat& bgr, const std::vector<cv::Point2f>& lm, int size, double padding) {
  CV_Assert(lm.size() == 68);
  std::vector<cv::Point2d> from, to;
  for (int i = 17; i < 68; ++i) {
    from.emplace_back(lm[i].x, lm[i].y);
    to.emplace_back((kMeanX[i - 17] + padding) / (2 * padding + 1) * size,
                    (kMeanY[i - 17] + padding) / (2 * padding + 1) * size);
  }
  cv::Matx23d m = fit_similarity(from, to);
  const double scale = std::hypot(m(0, 0), m(1, 0));
  cv::Mat chip;
  if (scale < 0.7) {
    // Large downscale: shrink the region first (area filter) so the warp
    // does not alias, as dlib's chip extractor does with its pyramid.
    cv::Matx23d inv;
    cv::invertAffineTransform(m, inv);
    std::vector<cv::Point2d> corners = {{0, 0}, {double(size), 0}, {0, double(size)}, {double(size), double(size)}};
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
    for (auto& c : corners) {
      const double x = inv(0, 0) * c.x + inv(0, 1) * c.y + inv(0, 2), y = inv(1, 0) * c.x + inv(1, 1) * c.y + inv(1, 2);
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
    cv::Rect r(cv::Point(int(std::floor(x0)) - 2, int(std::floor(y0)) - 2),
               cv::Point(int(std::ceil(x1)) + 2, int(std::ceil(y1)) + 2));
    r &= cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (r.area() > 0) {
      cv::Mat small;
      cv::resize(bgr(r), small, cv::Size(), scale, scale, cv::INTER_AREA);
      const double sx = double(small.cols) / r.width, sy = double(small.rows) / r.height;
      // x_src = u / sx + r.x  =>  M' = [A / s | A * r.tl + t]
      cv::Matx23d m2(m(0, 0) / sx, m(0, 1) / sy, m(0, 0) * r.x + m(0, 1) * r.y + m(0, 2), m(1, 0) / sx, m(1, 1) / sy,
                     m(1, 0) * r.x + m(1, 1) * r.y + m(1, 2));
      cv::warpAffine(small, chip, m2, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
      return chip;
    }
  }
  cv::warpAffine(bgr, chip, m, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  return chip;
}

Recognizer::Recognizer(ModelStore& store) : store_(store) { network(store_, "face_recognition"); }

std::vector<float> Recognizer::embed(const cv::Mat& bgr, const std::vector<cv::Point2f>& landmarks) {
  cv::Mat chip = face_chip(bgr, landmarks);
  cv::Mat blob = cv::dnn::blobFromImage(chip, 1.0 / 255, cv::Size(), cv::Scalar(122.782, 117.001, 104.298), true);
  const cv::Mat out = network(store_, "face_recognition").run(blob)[0];
  std::vector<float> e(out.ptr<float>(), out.ptr<float>() + 128);
  double n = 0;
  for (float v : e) n += double(v) * v;
  n = std::sqrt(n);
  if (n > 0)
    for (float& v : e) v = float(v / n);
  return e;
}

float similarity(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0.f;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += double(a[i]) * b[i];
  return float(std::clamp(d, 0.0, 1.0));
}

}  // namespace likeness
