#include <cmath>

#include "likeness/face.hpp"
#include "likeness/model_store.hpp"

namespace likeness {

namespace {
cv::Point2f mean_of(const std::vector<cv::Point2f>& p, int from, int to) {
  cv::Point2f m(0, 0);
  for (int i = from; i <= to; ++i) m += p[i];
  return m * (1.f / float(to - from + 1));
}
}  // namespace

cv::Point2f Face::left_eye() const { return mean_of(landmarks, 36, 41); }
cv::Point2f Face::right_eye() const { return mean_of(landmarks, 42, 47); }
float Face::eye_distance() const {
  const cv::Point2f d = right_eye() - left_eye();
  return std::hypot(d.x, d.y);
}

FaceAnalyzer::FaceAnalyzer(ModelStore& store) : detector_(store), landmarks_(store), recognizer_(store) {}

FaceAnalyzer& FaceAnalyzer::shared() {
  static FaceAnalyzer analyzer(ModelStore::shared());
  return analyzer;
}

void FaceAnalyzer::complete(const cv::Mat& bgr, Face& face) {
  if (face.landmarks.empty()) face.landmarks = landmarks_.landmarks(bgr, face.box);
  if (face.embedding.empty() && face.landmarks.size() == 68) face.embedding = recognizer_.embed(bgr, face.landmarks);
}

std::vector<Face> FaceAnalyzer::analyze(const cv::Mat& bgr, bool full, const DetectOptions& opt) {
  std::vector<Face> faces = detector_.detect(bgr, opt);
  if (full)
    for (Face& f : faces) complete(bgr, f);
  return faces;
}

int FaceAnalyzer::main_subject(const std::vector<Face>& faces, cv::Size image) {
  int best = -1;
  double best_score = 0;
  const cv::Point2f centre(image.width / 2.f, image.height / 2.f);
  const double diag = std::hypot(image.width, image.height);
  for (size_t i = 0; i < faces.size(); ++i) {
    const Face& f = faces[i];
    const cv::Point2f c(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
    const double off = std::hypot(c.x - centre.x, c.y - centre.y) / diag;  // 0..0.5
    const double s = std::sqrt(double(f.box.area())) * f.score * (1.0 - off);
    if (s > best_score) best_score = s, best = int(i);
  }
  return best;
}

}  // namespace likeness
