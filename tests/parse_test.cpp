// The source analysis's face mesh and semantic masks on real photos: the
// mesh agrees with the independent 68-point landmarks and has depth the
// right way round; every mask lies where its part of the person is; the
// parts never add up to more than the person; and varying the crop or the
// aspect never runs the analysis again (the cache answers).
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"
#include "stages/parse/masks.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {
std::shared_ptr<const Frame> source(const std::string& file) { return source_frame(file); }

Recipe analysis() {
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0).until("parse");
  r.find("segment")->params["resolution"] = "640";
  return r;
}

// A layer's value at a source point (0 outside it).
float at(const Layer& l, cv::Point2f p) {
  const cv::Matx23d& m = l.from_source;
  const int x = int(m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2)), y = int(m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2));
  if (x < 0 || y < 0 || x >= l.data.cols || y >= l.data.rows) return 0;
  return l.data.at<float>(y, x);
}

cv::Point2f mean_of(const std::vector<cv::Point2f>& pts, int from, int to) {
  cv::Point2f s(0, 0);
  for (int i = from; i <= to; ++i) s += pts[i];
  return s / float(to - from + 1);
}

// Centroid of a layer, in source pixels.
cv::Point2f centroid(const Layer& l, cv::Rect2f within_source) {
  cv::Matx23d inv;
  cv::invertAffineTransform(l.from_source, inv);
  double sx = 0, sy = 0, sw = 0;
  for (int y = 0; y < l.data.rows; ++y)
    for (int x = 0; x < l.data.cols; ++x) {
      const float v = l.data.at<float>(y, x);
      const cv::Point2f p(float(inv(0, 0) * x + inv(0, 2)), float(inv(1, 1) * y + inv(1, 2)));
      if (v <= 0 || !within_source.contains(p)) continue;
      sx += v * p.x, sy += v * p.y, sw += v;
    }
  return sw > 0 ? cv::Point2f(float(sx / sw), float(sy / sw)) : cv::Point2f(-1e6f, -1e6f);
}

struct Photo {
  const char* file;
  int teeth;       // 1 an open smile, 0 closed lips, -1 a glimpse (not checked)
  bool open_neck;  // skin below the chin
  bool dark_suit;  // clothing on the chest, below the chin (in the photo)
};
const Photo kPhotos[] = {
    {"person01_1.jpg", 1, true, false}, {"person04_1.jpg", 0, true, false}, {"person06_1.jpg", 0, false, false},
    {"person08_1.jpg", 0, false, true}, {"person10_1.jpg", -1, true, true}, {"person12_1.jpg", 1, true, false},
};
}  // namespace

class Parse : public ::testing::TestWithParam<Photo> {};
INSTANTIATE_TEST_SUITE_P(People, Parse, ::testing::ValuesIn(kPhotos), [](const auto& info) {
  std::string n = info.param.file;
  return n.substr(0, n.find('.'));
});

TEST_P(Parse, MeshAndMasksLieWhereThePersonsPartsAre) {
  const Photo ph = GetParam();
  auto src = source(people(ph.file));
  JobContext ctx;
  const RunResult res = run_recipe(src, ph.file, analysis(), ctx, nullptr);
  const Frame& f = *res.frame;
  const Face& face = *f.subject_face();
  ASSERT_EQ(face.mesh.size(), size_t(kFaceMeshPoints));
  const float d = face.eye_distance();

  // The mesh against the 68 landmarks (a different model): eye corners,
  // nose tip, mouth corners, lips' middles, chin; in eye distances.
  const int pairs[][2] = {{36, 33}, {39, 133}, {42, 362}, {45, 263}, {30, 1},
                          {48, 61}, {54, 291}, {8, 152},  {51, 0},   {57, 17}};
  double err = 0;
  for (const auto& p : pairs) err += cv::norm(face.landmarks[p[0]] - cv::Point2f(face.mesh[p[1]].x, face.mesh[p[1]].y));
  err /= 10 * d;
  EXPECT_LT(err, 0.12) << "mesh vs landmarks";
  // Depth: the nose tip is nearer the camera than the sides of the face.
  EXPECT_LT(face.mesh[1].z, face.mesh[234].z);
  EXPECT_LT(face.mesh[1].z, face.mesh[454].z);

  for (const auto& n : semantic_mask_names()) ASSERT_TRUE(f.layers.count(n)) << n;
  const auto& L = f.layers;
  // Eyes and lips: their masks' centres are the landmarks' (within a
  // fifth of the eye distance); teeth only in an open smile.
  const cv::Point2f le = face.left_eye(), re = face.right_eye(), mouth = mean_of(face.landmarks, 48, 67);
  const cv::Rect2f left_half(le.x - d / 2, le.y - d / 2, d, d), right_half(re.x - d / 2, re.y - d / 2, d, d);
  EXPECT_LT(cv::norm(centroid(L.at("eyes"), left_half) - le), 0.2 * d);
  EXPECT_LT(cv::norm(centroid(L.at("eyes"), right_half) - re), 0.2 * d);
  const cv::Rect2f mouth_box(mouth.x - d, mouth.y - d / 2, 2 * d, d);
  EXPECT_LT(cv::norm(centroid(L.at("lips"), mouth_box) - mouth), 0.2 * d);
  double teeth = 0;
  for (int y = 0; y < L.at("teeth").data.rows; ++y)
    for (int x = 0; x < L.at("teeth").data.cols; ++x) teeth += L.at("teeth").data.at<float>(y, x);
  const double grid_scale = L.at("teeth").from_source(0, 0);
  const double teeth_area = teeth / (grid_scale * grid_scale) / (d * d);  // in eye distances squared
  if (ph.teeth == 1) EXPECT_GT(teeth_area, 0.05);
  if (ph.teeth == 0) EXPECT_LT(teeth_area, 0.02);

  // Face skin on both cheeks (between the eye's outer corner and the
  // mouth's corner), hair above the top of the forehead, body skin on an
  // open neck, clothing on a suit's chest.
  const cv::Point2f cheek_l = (face.landmarks[36] + face.landmarks[48]) * 0.5f,
                    cheek_r = (face.landmarks[45] + face.landmarks[54]) * 0.5f;
  EXPECT_GT(at(L.at("face_skin"), cheek_l), 0.5f);
  EXPECT_GT(at(L.at("face_skin"), cheek_r), 0.5f);
  const cv::Point2f top(face.mesh[10].x, face.mesh[10].y), chin(face.mesh[152].x, face.mesh[152].y);
  const cv::Point2f up = (top - chin) / float(cv::norm(top - chin));
  const float fh = float(cv::norm(top - chin));
  EXPECT_GT(at(L.at("hair"), top + up * (0.3f * fh)), 0.5f) << "above the forehead";
  auto all = [&](cv::Point2f q) {
    std::string t = "at (" + std::to_string(int(q.x)) + "," + std::to_string(int(q.y)) + ") of " +
                    std::to_string(f.image.cols) + "x" + std::to_string(f.image.rows) + ":";
    for (const auto& n : semantic_mask_names()) t += " " + n + " " + std::to_string(at(L.at(n), q));
    return t;
  };
  if (ph.open_neck)
    EXPECT_GT(at(L.at("body_skin"), chin - up * (0.4f * fh)), 0.5f) << "the neck " << all(chin - up * (0.4f * fh));
  if (ph.dark_suit) {
    const cv::Point2f side(-up.y, up.x);
    const cv::Point2f chest = chin - up * (0.7f * fh) + side * (0.7f * fh);
    const cv::Point2f other = chin - up * (0.7f * fh) - side * (0.7f * fh);
    EXPECT_GT(std::max(at(L.at("clothing"), chest), at(L.at("clothing"), other)), 0.5f)
        << "the suit " << all(chest) << " / " << all(other);
  }
  // Where any mask is, the person is; face parts do not appear on the
  // background (the top corners of the person region).
  for (const auto& n : semantic_mask_names()) {
    const Layer& l = L.at(n);
    EXPECT_LT(l.data.at<float>(0, 0), 0.02f) << n;
    EXPECT_LT(l.data.at<float>(0, l.data.cols - 1), 0.02f) << n;
  }
}

TEST(Parse, PartsNeverAddUpToMoreThanThePerson) {
  // Straight from the mask builder, on a photo and its person matte.
  auto src = source(people("person02_1.jpg"));
  JobContext ctx;
  const RunResult res = run_recipe(src, "p2", analysis(), ctx, nullptr);
  const Frame& f = *res.frame;
  // The person matte in the masks' grid.
  const Layer& hair = f.layers.at("hair");
  cv::Mat person;
  cv::warpAffine(f.person.data, person, f.person.to(hair.from_source), hair.data.size());
  cv::Mat sum = cv::Mat::zeros(hair.data.size(), CV_32F);
  for (const auto& n : semantic_mask_names()) sum += f.layers.at(n).data;
  double worst = 0;
  cv::minMaxLoc(sum - person, nullptr, &worst);
  EXPECT_LT(worst, 0.02);
  // And they cover most of the person (what is left: brows, the inside of
  // the mouth, make-up and glasses on the face).
  EXPECT_GT(cv::sum(sum)[0], 0.9 * cv::sum(person)[0]);
  // Without a mesh there are no parts, and no crash.
  const auto none = semantic_masks(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(128)), cv::Mat::ones(64, 64, CV_32F), {});
  for (const auto& [n, m] : none) EXPECT_EQ(cv::countNonZero(m), 0) << n;
}

TEST(Parse, VaryingCropOrAspectNeverRunsTheAnalysisAgain) {
  auto src = source(people("person05_1.jpg"));
  JobContext ctx;
  FrameCache cache;
  Recipe a = build_recipe(plan_prompt("", "corporate"), 0).until("render");
  a.find("segment")->params["resolution"] = "640";
  Recipe b = a;
  b.find("frame")->params["crop"] = "headshot";
  b.find("frame")->params["width"] = 800;
  b.find("frame")->params["height"] = 800;
  const RunResult first = run_recipe(src, "p5", a, ctx, &cache);
  const RunResult second = run_recipe(src, "p5", b, ctx, &cache);
  for (const char* id : {"faces", "segment", "parse"}) {
    for (const auto& s : second.steps)
      if (s.stage == id) EXPECT_TRUE(s.cached) << id << " ran again";
  }
  // The masks came along through the new plan: on the square canvas too.
  ASSERT_TRUE(second.frame->layers.count("face_skin"));
  EXPECT_EQ(second.frame->layers.at("face_skin").data.size(), cv::Size(800, 800));
  EXPECT_GT(cv::countNonZero(second.frame->layers.at("face_skin").data > 0.5), 800 * 800 / 50);
  EXPECT_EQ(second.frame->subject_face()->mesh.size(), size_t(kFaceMeshPoints));
}

TEST(Parse, NeedsTheSourcePersonMatte) {
  auto src = source(people("person05_1.jpg"));
  JobContext ctx;
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0).until("parse");
  r.steps.erase(r.steps.begin() + 1);  // no segment
  try {
    run_recipe(src, "p6", r, ctx, nullptr);
    FAIL() << "parse ran without a person matte";
  } catch (const Error& e) {
    EXPECT_EQ(e.info().stage, "parse");
  }
}
