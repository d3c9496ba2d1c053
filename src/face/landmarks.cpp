#include <opencv2/imgproc.hpp>

#include "likeness/face.hpp"
#include "likeness/inference.hpp"
#include "likeness/model_store.hpp"

namespace likeness {

LandmarkNet::LandmarkNet(ModelStore& store) : store_(store) { network(store_, "face_landmarks68"); }

// face-api's protocol: the detection box is cut out, zero-padded to a centred
// square, scaled to 112x112; the net answers 68 (x,y) in 0..1 of that square.
std::vector<cv::Point2f> LandmarkNet::landmarks(const cv::Mat& bgr, const cv::Rect2f& box) {
  constexpr int kInput = 112;
  cv::Rect r(cvRound(box.x), cvRound(box.y), cvRound(box.width), cvRound(box.height));
  r &= cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (r.width < 2 || r.height < 2) return {};
  const int side = std::max(r.width, r.height);
  const int padx = (side - r.width) / 2, pady = (side - r.height) / 2;
  cv::Mat square(side, side, CV_8UC3, cv::Scalar::all(0));
  bgr(r).copyTo(square(cv::Rect(padx, pady, r.width, r.height)));
  cv::Mat input;
  cv::resize(square, input, cv::Size(kInput, kInput), 0, 0, side > kInput ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat blob = cv::dnn::blobFromImage(input, 1.0 / 255, cv::Size(), cv::Scalar(122.782, 117.001, 104.298), true);
  const cv::Mat out = network(store_, "face_landmarks68").run(blob)[0];
  const float* v = out.ptr<float>();
  std::vector<cv::Point2f> pts(68);
  for (int i = 0; i < 68; ++i) pts[i] = cv::Point2f(r.x - padx + v[2 * i] * side, r.y - pady + v[2 * i + 1] * side);
  return pts;
}

}  // namespace likeness
