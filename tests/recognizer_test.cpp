// The recogniser on ../shared/faces/people: same-person and different-person
// similarity distributions and the equal-error rate (must be <= 2%).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <opencv2/imgproc.hpp>

#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {
std::vector<float> embed_file(const std::string& path) {
  DecodedImage img = decode_image(path);
  auto faces = FaceAnalyzer::shared().analyze(img.bgr);
  const int s = FaceAnalyzer::main_subject(faces, img.bgr.size());
  if (s < 0) return {};
  return faces[s].embedding;
}

void describe(const char* name, std::vector<float> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, size_t(p * (v.size() - 1)))]; };
  std::printf("%-15s n=%4zu min %.4f p5 %.4f median %.4f p95 %.4f max %.4f\n", name, v.size(), v.front(), pct(0.05),
              pct(0.5), pct(0.95), v.back());
}
}  // namespace

TEST(Recognizer, EqualErrorRateOnPeopleSet) {
  const auto ids = identities();
  ASSERT_GE(ids.size(), 60u);
  std::vector<std::vector<float>> emb;
  for (const auto& id : ids) {
    emb.push_back(embed_file(people(id.file)));
    EXPECT_EQ(emb.back().size(), 128u) << "no face embedded in " << id.file;
  }
  std::vector<float> same, diff;
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = i + 1; j < ids.size(); ++j) {
      if (emb[i].empty() || emb[j].empty()) continue;
      (ids[i].person == ids[j].person ? same : diff).push_back(similarity(emb[i], emb[j]));
    }
  describe("same person", same);
  describe("different people", diff);
  // Sweep thresholds: the EER is where false accepts meet false rejects.
  double best_gap = 2, eer = 1, eer_t = 0;
  for (double t = 0.80; t <= 1.0; t += 0.0005) {
    const double frr = double(std::count_if(same.begin(), same.end(), [&](float s) { return s < t; })) / same.size();
    const double far = double(std::count_if(diff.begin(), diff.end(), [&](float s) { return s >= t; })) / diff.size();
    if (std::abs(frr - far) < best_gap) best_gap = std::abs(frr - far), eer = (frr + far) / 2, eer_t = t;
  }
  const double frr =
      double(std::count_if(same.begin(), same.end(), [](float s) { return s < kSamePersonThreshold; })) / same.size();
  const double far =
      double(std::count_if(diff.begin(), diff.end(), [](float s) { return s >= kSamePersonThreshold; })) / diff.size();
  std::printf("EER %.2f%% at similarity %.4f; at the product threshold %.3f: FRR %.2f%%, FAR %.2f%%\n", eer * 100,
              eer_t, kSamePersonThreshold, frr * 100, far * 100);
  RecordProperty("eer_percent", std::to_string(eer * 100));
  EXPECT_GE(same.size(), 140u);
  EXPECT_GT(diff.size(), 1600u);
  EXPECT_LE(eer, 0.02);
  EXPECT_LE(frr, 0.03);
  EXPECT_LE(far, 0.03);
}

TEST(Recognizer, MirrorAndReencodeStayTheSamePerson) {
  DecodedImage img = decode_image(people("person02_1.jpg"));
  auto& fa = FaceAnalyzer::shared();
  auto faces = fa.analyze(img.bgr);
  const int s = FaceAnalyzer::main_subject(faces, img.bgr.size());
  ASSERT_GE(s, 0);
  cv::Mat mirrored;
  cv::flip(img.bgr, mirrored, 1);
  auto mf = fa.analyze(mirrored);
  const int ms = FaceAnalyzer::main_subject(mf, mirrored.size());
  ASSERT_GE(ms, 0);
  const DecodedImage re = decode_image_bytes(encode_image(img.bgr, ImageFormat::jpeg, 90), "re-encoded");
  auto rf = fa.analyze(re.bgr);
  const int rs = FaceAnalyzer::main_subject(rf, re.bgr.size());
  ASSERT_GE(rs, 0);
  EXPECT_GT(similarity(faces[s].embedding, mf[ms].embedding), 0.97f);
  EXPECT_GT(similarity(faces[s].embedding, rf[rs].embedding), 0.995f);
}

TEST(Recognizer, FaceChipPutsEyesWhereTheTemplateDoes) {
  DecodedImage img = decode_image(people("person03_1.jpg"));
  auto faces = FaceAnalyzer::shared().analyze(img.bgr);
  const int s = FaceAnalyzer::main_subject(faces, img.bgr.size());
  ASSERT_GE(s, 0);
  // Rotating the photo by 20 degrees must not move the chip's content much:
  // the alignment undoes the rotation.
  cv::Mat rot;
  const cv::Point2f c(img.bgr.cols / 2.f, img.bgr.rows / 2.f);
  cv::warpAffine(img.bgr, rot, cv::getRotationMatrix2D(c, 20, 1.0), img.bgr.size(), cv::INTER_CUBIC,
                 cv::BORDER_REPLICATE);
  auto rf = FaceAnalyzer::shared().analyze(rot);
  const int rs = FaceAnalyzer::main_subject(rf, rot.size());
  ASSERT_GE(rs, 0);
  EXPECT_GT(similarity(faces[s].embedding, rf[rs].embedding), 0.96f);
}
