#include <algorithm>
#include <cmath>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/inference.hpp"
#include "likeness/model_store.hpp"

namespace likeness {

namespace {
constexpr int kInput = 512;

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

// Greedy NMS; `faces` sorted by score afterwards.
void suppress(std::vector<Face>& faces, float iou_threshold) {
  std::sort(faces.begin(), faces.end(), [](const Face& a, const Face& b) { return a.score > b.score; });
  std::vector<Face> kept;
  for (const Face& f : faces) {
    bool dup = false;
    for (const Face& k : kept) {
      // Also drop a box mostly inside a stronger one (tile seams, crops).
      const float inter = (f.box & k.box).area();
      if (iou(f.box, k.box) > iou_threshold || inter > 0.7f * std::min(f.box.area(), k.box.area())) {
        dup = true;
        break;
      }
    }
    if (!dup) kept.push_back(f);
  }
  faces = std::move(kept);
}
}  // namespace

FaceDetector::FaceDetector(ModelStore& store) : store_(store) {
  network(store_, "face_detector");
  const std::string path = store.verified_path("face_detector", 1);
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto bytes = static_cast<size_t>(in.tellg());
  in.seekg(0);
  anchors_.resize(bytes / sizeof(float));
  in.read(reinterpret_cast<char*>(anchors_.data()), static_cast<std::streamsize>(bytes));
  if (anchors_.empty() || anchors_.size() % 4)
    throw Error(ErrorCode::internal, "face detector anchors are malformed: run `make models`");
}

// Runs the SSD on `region` of the image, padded bottom/right to a square (as
// face-api does) and scaled to 512x512; appends faces in image coordinates.
void FaceDetector::run(const cv::Mat& bgr, cv::Rect region, float min_score, std::vector<Face>& out) {
  const int side = std::max(region.width, region.height);
  const double scale = double(kInput) / side;
  cv::Mat square(kInput, kInput, CV_8UC3, cv::Scalar::all(0));
  cv::Mat scaled;
  cv::resize(bgr(region), scaled,
             cv::Size(std::max(1, int(std::lround(region.width * scale))),
                      std::max(1, int(std::lround(region.height * scale)))),
             0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  scaled.copyTo(square(cv::Rect(0, 0, std::min(kInput, scaled.cols), std::min(kInput, scaled.rows))));
  for (const auto& c : raw(square)) {
    if (c[4] < min_score) continue;
    const float y0 = std::max(0.f, c[0]), x0 = std::max(0.f, c[1]);
    const float y1 = std::min(1.f, c[2]), x1 = std::min(1.f, c[3]);
    if (y1 <= y0 || x1 <= x0) continue;
    Face f;
    f.score = c[4];
    f.box = cv::Rect2f(region.x + x0 * side, region.y + y0 * side, (x1 - x0) * side, (y1 - y0) * side);
    f.box &= cv::Rect2f(0, 0, float(bgr.cols), float(bgr.rows));
    if (f.box.area() > 0) out.push_back(f);
  }
}

// SSD decoding as in face-api's output layer: centre/size offsets scaled by
// 10 and 5 against the anchors; the face score is the sigmoid of class 1.
std::vector<std::array<float, 5>> FaceDetector::raw(const cv::Mat& square) {
  CV_Assert(square.rows == kInput && square.cols == kInput && square.type() == CV_8UC3);
  cv::Mat blob = cv::dnn::blobFromImage(square, 1.0 / 127.5, cv::Size(), cv::Scalar(127.5, 127.5, 127.5), true);
  const std::vector<cv::Mat> outs =
      network(store_, "face_detector").run({{"", blob}}, {"box_encodings", "class_logits"});
  const float* enc = outs[0].ptr<float>();
  const float* cls = outs[1].ptr<float>();
  const size_t n = anchors_.size() / 4;
  std::vector<std::array<float, 5>> res(n);
  for (size_t i = 0; i < n; ++i) {
    const float* a = &anchors_[i * 4];
    const float ah = a[2] - a[0], aw = a[3] - a[1];
    const float acy = a[0] + ah / 2, acx = a[1] + aw / 2;
    const float cy = enc[i * 4] / 10 * ah + acy, cx = enc[i * 4 + 1] / 10 * aw + acx;
    const float hh = std::exp(enc[i * 4 + 2] / 5) * ah / 2, hw = std::exp(enc[i * 4 + 3] / 5) * aw / 2;
    res[i] = {cy - hh, cx - hw, cy + hh, cx + hw, 1.f / (1.f + std::exp(-cls[i * 3 + 1]))};
  }
  return res;
}

// In the whole-image pass a face of min_face pixels shrinks by 512/side.
// The SSD finds faces from about 28 px of its input; tile the image so that
// a min_face face still reaches that size.
constexpr double kFound = 28.0;

bool FaceDetector::needs_tiles(cv::Size image, const DetectOptions& opt) {
  return opt.tiles && opt.min_face * double(kInput) / std::max(image.width, image.height) < kFound;
}

std::vector<Face> FaceDetector::detect(const cv::Mat& bgr, const DetectOptions& opt) {
  CV_Assert(bgr.type() == CV_8UC3 && !bgr.empty());
  std::vector<Face> faces;
  const cv::Rect whole(0, 0, bgr.cols, bgr.rows);
  run(bgr, whole, opt.min_score, faces);
  if (needs_tiles(bgr.size(), opt)) {
    const int tile = std::max(kInput / 2, int(opt.min_face * kInput / kFound));
    const int step = tile * 3 / 4;
    for (int y = 0; y < bgr.rows; y += step) {
      for (int x = 0; x < bgr.cols; x += step) {
        cv::Rect r(x, y, tile, tile);
        r &= whole;
        if (r.width < tile / 3 || r.height < tile / 3) continue;
        run(bgr, r, opt.min_score, faces);
        if (x + tile >= bgr.cols) break;
      }
      if (y + tile >= bgr.rows) break;
    }
  }
  suppress(faces, 0.4f);
  faces.erase(std::remove_if(faces.begin(), faces.end(),
                             [&](const Face& f) { return std::max(f.box.width, f.box.height) < opt.min_face * 0.75f; }),
              faces.end());
  return faces;
}

}  // namespace likeness
