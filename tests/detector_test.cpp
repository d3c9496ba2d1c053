// Detection on ../shared/faces/portraits: every single portrait has its face,
// couple.jpg has two, the zebra none; a 40 px face is still found.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {
std::vector<Face> detect(const cv::Mat& bgr) { return FaceAnalyzer::shared().detector().detect(bgr); }
}  // namespace

class SinglePortrait : public ::testing::TestWithParam<const char*> {};

TEST_P(SinglePortrait, FindsTheFace) {
  DecodedImage img = decode_image(portrait(GetParam()));
  auto faces = detect(img.bgr);
  ASSERT_GE(faces.size(), 1u) << GetParam();
  const int s = FaceAnalyzer::main_subject(faces, img.bgr.size());
  ASSERT_GE(s, 0);
  // The main subject is a sizeable face, not a speck.
  EXPECT_GT(faces[s].box.width, img.bgr.cols * 0.08) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Portraits, SinglePortrait,
                         ::testing::Values("adele_2016.jpg", "benedict_cumberbatch_2014.jpg", "city_portrait.jpg",
                                           "elon_musk_2015.jpg", "model_face.jpg", "sophia.jpg", "waaah.jpg",
                                           "woman_portrait.jpg"));

TEST(Detector, CoupleHasTwoFaces) {
  DecodedImage img = decode_image(portrait("couple.jpg"));
  EXPECT_EQ(detect(img.bgr).size(), 2u);
}

TEST(Detector, ZebraHasNoFace) {
  DecodedImage img = decode_image(portrait("zebra_stripes.jpg"));
  EXPECT_EQ(detect(img.bgr).size(), 0u);
}

TEST(Detector, GroupPhotosHaveManyFaces) {
  DecodedImage img = decode_image(portrait("classroom_in_tanzania.jpg"));
  EXPECT_GE(detect(img.bgr).size(), 5u);
}

TEST(Detector, FindsAFortyPixelFace) {
  // A portrait shrunk so its face is about 40 px wide, placed in a large
  // plain canvas: only the tiled pass can see it.
  DecodedImage img = decode_image(people("person05_1.jpg"));
  auto faces = detect(img.bgr);
  ASSERT_FALSE(faces.empty());
  const int s = FaceAnalyzer::main_subject(faces, img.bgr.size());
  const double k = 42.0 / faces[s].box.width;
  cv::Mat small;
  cv::resize(img.bgr, small, cv::Size(), k, k, cv::INTER_AREA);
  cv::Mat canvas(1400, 1800, CV_8UC3, cv::Scalar(120, 130, 125));
  small.copyTo(canvas(cv::Rect(900, 700, small.cols, small.rows)));
  auto found = detect(canvas);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].box.width, 42, 16);
  EXPECT_GT(found[0].box.x, 900);
}

TEST(Detector, LandmarksFollowAMirror) {
  DecodedImage img = decode_image(people("person04_1.jpg"));
  auto faces = FaceAnalyzer::shared().analyze(img.bgr);
  const int s = FaceAnalyzer::main_subject(faces, img.bgr.size());
  ASSERT_GE(s, 0);
  cv::Mat m;
  cv::flip(img.bgr, m, 1);
  auto mf = FaceAnalyzer::shared().analyze(m);
  const int ms = FaceAnalyzer::main_subject(mf, m.size());
  ASSERT_GE(ms, 0);
  // Nose tip (30) mirrors to the nose tip: x' = W - 1 - x.
  const cv::Point2f a = faces[s].landmarks[30], b = mf[ms].landmarks[30];
  EXPECT_NEAR(a.x, img.bgr.cols - 1 - b.x, faces[s].eye_distance() * 0.15);
  EXPECT_NEAR(a.y, b.y, faces[s].eye_distance() * 0.15);
}
