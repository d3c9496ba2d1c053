// Faces: SSD MobileNetV1 detection, 68-point landmarks, dlib-ResNet identity
// embeddings (all from @vladmandic/face-api, rebuilt as ONNX by `make models`).
#pragma once
#include <array>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

namespace likeness {

class ModelStore;

struct Face {
  cv::Rect2f box;                      // pixels in the analysed image
  float score = 0.f;                   // detector confidence 0..1
  std::vector<cv::Point2f> landmarks;  // 68 points (iBUG order) or empty
  std::vector<float> embedding;        // 128-d, L2-normalised, or empty
  // 468-point face mesh (MediaPipe topology) or empty: x, y in image pixels,
  // z depth in the same pixel scale (smaller = nearer the camera).
  std::vector<cv::Point3f> mesh;

  cv::Point2f left_eye() const;   // subject's right eye = image left (points 36-41)
  cv::Point2f right_eye() const;  // points 42-47
  float eye_distance() const;
};

struct DetectOptions {
  float min_score = 0.5f;
  int min_face = 40;  // smallest face side in pixels that must be found
  // false: only the whole-image pass (faces from about 28/512 of the long
  // side), no tiles for smaller ones.
  bool tiles = true;
};

class FaceDetector {
 public:
  explicit FaceDetector(ModelStore& store);
  std::vector<Face> detect(const cv::Mat& bgr, const DetectOptions& opt = {});
  // Whether faces of opt.min_face are too small for the whole-image pass,
  // so detect() looks for them tile by tile.
  static bool needs_tiles(cv::Size image, const DetectOptions& opt);

  // One 512x512 input (already padded) through the net: per anchor
  // {ymin, xmin, ymax, xmax, score}, boxes in 0..1 of the input, unclipped.
  std::vector<std::array<float, 5>> raw(const cv::Mat& bgr512);

 private:
  void run(const cv::Mat& bgr, cv::Rect region, float min_score, std::vector<Face>& out);
  ModelStore& store_;
  std::vector<float> anchors_;  // [N][4] ymin,xmin,ymax,xmax in 0..1
};

class LandmarkNet {
 public:
  explicit LandmarkNet(ModelStore& store);
  // 68 points for the face inside `box`.
  std::vector<cv::Point2f> landmarks(const cv::Mat& bgr, const cv::Rect2f& box);

 private:
  ModelStore& store_;
};

class Recognizer {
 public:
  explicit Recognizer(ModelStore& store);
  // dlib-style face chip (150 px, padding 0.25) aligned on the 68 landmarks.
  static cv::Mat face_chip(const cv::Mat& bgr, const std::vector<cv::Point2f>& landmarks, int size = 150,
                           double padding = 0.25);
  std::vector<float> embed(const cv::Mat& bgr, const std::vector<cv::Point2f>& landmarks);

 private:
  ModelStore& store_;
};

// The 468-point face mesh of the face with these 68 landmarks (image pixels;
// z in the same scale, smaller = nearer), or empty. `score`: the mesh net's
// face confidence 0..1.
inline constexpr int kFaceMeshPoints = 468;
std::vector<cv::Point3f> face_mesh(const cv::Mat& bgr, const std::vector<cv::Point2f>& landmarks68,
                                   float* score = nullptr);

// Cosine similarity of two L2-normalised embeddings, clamped to 0..1.
float similarity(const std::vector<float>& a, const std::vector<float>& b);

// Same-person threshold on `similarity`, calibrated on ../shared/faces/people
// (equal-error point; see tests/recognizer_test.cpp and README).
inline constexpr float kSamePersonThreshold = 0.93f;

// Detector + landmarks + recogniser, loaded once and shared read-only.
class FaceAnalyzer {
 public:
  explicit FaceAnalyzer(ModelStore& store);
  static FaceAnalyzer& shared();

  // Detect all faces; landmarks and embeddings for every face when `full`.
  std::vector<Face> analyze(const cv::Mat& bgr, bool full = true, const DetectOptions& opt = {});
  // Index of the main subject (large, confident, central face) or -1.
  static int main_subject(const std::vector<Face>& faces, cv::Size image);
  void complete(const cv::Mat& bgr, Face& face);  // add landmarks + embedding

  FaceDetector& detector() { return detector_; }
  LandmarkNet& landmarks_net() { return landmarks_; }

 private:
  FaceDetector detector_;
  LandmarkNet landmarks_;
  Recognizer recognizer_;
};

}  // namespace likeness
