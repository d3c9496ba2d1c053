// The pipeline on real photos: determinism, the cache across variations,
// keys, framing geometry, the matte, halo-free compositing, cancellation.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"
#include "stages/matte/foreground.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {
std::shared_ptr<const Frame> source(const std::string& file) { return source_frame(file); }

Recipe recipe(int variation = 0, int w = 512, int h = 640) {
  Recipe r = build_recipe(plan_prompt("", "corporate"), variation);
  r.find("frame")->params["width"] = w;
  r.find("frame")->params["height"] = h;
  return r;
}
}  // namespace

TEST(Pipeline, SameInputsAndRecipeGiveIdenticalBytes) {
  auto src = source(people("person06_1.jpg"));
  JobContext ctx;
  const RunResult a = run_recipe(src, "k", recipe(), ctx, nullptr);
  const RunResult b = run_recipe(src, "k", recipe(), ctx, nullptr);
  ASSERT_FALSE(a.frame->encoded.empty());
  EXPECT_TRUE(a.frame->encoded == b.frame->encoded) << "outputs differ";
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) EXPECT_EQ(a.steps[i].key, b.steps[i].key);
}

TEST(Pipeline, VariationsReuseFacesFrameAndMatteThroughTheCache) {
  auto src = source(people("person06_2.jpg"));
  JobContext ctx;
  FrameCache cache;
  const RunResult first = run_recipe(src, "k2", recipe(0), ctx, &cache);
  const RunResult second = run_recipe(src, "k2", recipe(1), ctx, &cache);
  ASSERT_EQ(second.steps.size(), all_stages().size());
  const size_t b = recipe().until("backdrop").steps.size() - 1;
  for (size_t i = 0; i < b; ++i) {  // faces, segment, parse, frame, render, matte
    EXPECT_TRUE(second.steps[i].cached) << second.steps[i].stage;
    EXPECT_EQ(second.steps[i].key, first.steps[i].key);
  }
  EXPECT_EQ(second.steps[b].stage, "backdrop");
  EXPECT_FALSE(second.steps[b].cached);  // backdrop differs
  EXPECT_NE(second.steps[b].key, first.steps[b].key);
  EXPECT_TRUE(first.frame->encoded != second.frame->encoded);
  // A cached result equals a fresh one.
  const RunResult fresh = run_recipe(src, "k2", recipe(1), ctx, nullptr);
  EXPECT_TRUE(fresh.frame->encoded == second.frame->encoded) << "the cached result differs from a fresh one";
}

TEST(Pipeline, FramePlacesTheEyeLineAndCentresTheFace) {
  // The photo on a wide canvas, so a head-and-shoulders frame has room.
  auto photo = source(faces_dir() + "/fullsize/person03_5_full.jpg");
  auto src = std::make_shared<Frame>();
  cv::copyMakeBorder(photo->image, src->image, 1500, 1500, 1500, 1500, cv::BORDER_CONSTANT, cv::Scalar(90, 90, 90));
  JobContext ctx;
  Recipe r = recipe(0, 800, 1000);
  r = r.until("render");
  r.find("frame")->params["eye_line"] = 0.4;
  const RunResult res = run_recipe(src, "k3", r, ctx, nullptr);
  const Face* f = res.frame->subject_face();
  ASSERT_NE(f, nullptr);
  const cv::Point2f eyes = (f->left_eye() + f->right_eye()) * 0.5f;
  std::printf("eyes at (%.1f, %.1f), eye distance %.1f\n", eyes.x, eyes.y, f->eye_distance());
  EXPECT_NEAR(eyes.y, 0.4 * 1000, 3);
  EXPECT_NEAR(eyes.x, 400, 3);
  EXPECT_EQ(res.frame->image.size(), cv::Size(800, 1000));
  // Head-and-shoulders: the eyes are 1/7 of the frame height apart.
  EXPECT_NEAR(f->eye_distance(), 1000 / 7.0, 6);
  EXPECT_EQ(cv::countNonZero(res.frame->outside), 0);

  // The bare photo is too tight for the frame: it zooms in rather than
  // reach past an edge the person runs off (the body at the bottom and
  // sides), and says so; only headroom above the hair may be backdrop.
  const RunResult tight = run_recipe(photo, "k3b", r, ctx, nullptr);
  const Frame& t = *tight.frame;
  const Face* tf = t.subject_face();
  const int below_hair = std::max(0, int(tf->left_eye().y - 2 * tf->eye_distance()));
  EXPECT_EQ(cv::countNonZero(t.outside.rowRange(below_hair, t.outside.rows)), 0);
  EXPECT_GT(tf->eye_distance(), 1000 / 7.0 + 6);
  bool said = false;
  for (const auto& e : tight.frame->edits) said |= e.find("zoomed in") != std::string::npos;
  EXPECT_TRUE(said);
}

class Matte : public ::testing::TestWithParam<const char*> {};

// Photos with background in both top corners of a head-and-shoulders frame.
INSTANTIATE_TEST_SUITE_P(People, Matte,
                         ::testing::Values("person04_1.jpg", "person03_2.jpg", "person06_1.jpg", "person08_1.jpg"));

TEST_P(Matte, CoversTheFaceAndNotTheCorners) {
  auto src = source(people(GetParam()));
  JobContext ctx;
  Recipe r = recipe();
  r = r.until("matte");
  const RunResult res = run_recipe(src, "k4", r, ctx, nullptr);
  const Frame& fr = *res.frame;
  ASSERT_EQ(fr.alpha.size(), fr.image.size());
  const Face* f = fr.subject_face();
  ASSERT_NE(f, nullptr);
  // The inner face (between the eyes down to the mouth) is person.
  const cv::Rect inner(cv::Point(int(f->landmarks[36].x), int(f->landmarks[19].y)),
                       cv::Point(int(f->landmarks[45].x), int(f->landmarks[57].y)));
  const int c = fr.image.cols / 12;
  const double face = cv::mean(fr.alpha(inner))[0], tl = cv::mean(fr.alpha(cv::Rect(0, 0, c, c)))[0],
               tr = cv::mean(fr.alpha(cv::Rect(fr.image.cols - c, 0, c, c)))[0];
  std::printf("%s: matte on the inner face %.3f, top corners %.3f %.3f\n", GetParam(), face, tl, tr);
  EXPECT_GT(face, 0.95);
  EXPECT_LT(tl, 0.05);
  EXPECT_LT(tr, 0.05);
  // The fast 640 on the person's region mostly agrees with ISNet's native
  // 1024 (person06_1 is the known exception: 640 drops his dark jacket).
  r.find("segment")->params["resolution"] = "640";
  const RunResult fast = run_recipe(src, "k4", r, ctx, nullptr);
  const cv::Mat a = fast.frame->alpha > 0.5, b = fr.alpha > 0.5;
  const double iou = double(cv::countNonZero(a & b)) / std::max(1, cv::countNonZero(a | b));
  std::printf("%s: matte IoU 640 vs 1024 %.4f\n", GetParam(), iou);
  if (std::string(GetParam()) != "person06_1.jpg") EXPECT_GT(iou, 0.94);
}

TEST(Backdrop, RemovesTheOldBackgroundColourFromEdges) {
  // A grey subject with a soft edge on saturated green (mixed in linear
  // light, as light mixes), composited onto blue.
  Frame f;
  f.rendered = true;
  const cv::Vec3f grey = linear_color(cv::Scalar(128, 128, 128)), green = linear_color(cv::Scalar(40, 200, 40));
  f.image = cv::Mat(200, 200, CV_32FC3);
  f.alpha = cv::Mat(200, 200, CV_32F, cv::Scalar(0));
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 200; ++x) {
      const float d = std::hypot(x - 100.f, y - 100.f);
      const float a = std::clamp((60.f - d) / 12.f, 0.f, 1.f);
      f.alpha.at<float>(y, x) = a;
      f.image.at<cv::Vec3f>(y, x) = a * grey + (1 - a) * green;
    }
  f.foreground = estimate_foreground(f.image, f.alpha);
  const Stage& b = find_stage("backdrop");
  JobContext ctx;
  auto run = [&](bool decont) {
    Frame out =
        b.run(f,
              resolve_params(
                  "backdrop", b.params(),
                  {{"style", "solid"}, {"color", "#203080"}, {"decontaminate", decont}, {"wrap", 0}, {"harmonise", 0}}),
              ctx);
    out.image = linear_to_srgb8(out.image);
    return out;
  };
  const Frame clean = run(true), naive = run(false);
  // Green excess (G - (R+B)/2) in the edge band against what a grey subject
  // over the new blue gives.
  auto green_excess = [&](const Frame& out) {
    double sum = 0;
    int n = 0;
    const cv::Vec3f blue = linear_color(cv::Scalar(0x80, 0x30, 0x20));
    for (int y = 0; y < 200; ++y)
      for (int x = 0; x < 200; ++x) {
        const float a = f.alpha.at<float>(y, x);
        if (a < 0.2f || a > 0.8f) continue;
        const cv::Vec3f want = a * grey + (1 - a) * blue;
        cv::Vec3f ws;
        for (int c = 0; c < 3; ++c) ws[c] = 255 * linear_to_srgb(want[c]);
        const cv::Vec3b p = out.image.at<cv::Vec3b>(y, x);
        sum += (p[1] - (p[0] + p[2]) / 2.0) - (ws[1] - (ws[0] + ws[2]) / 2.0);
        ++n;
      }
    return sum / n;
  };
  std::printf("green excess in the edge band: naive %.1f, decontaminated %.1f\n", green_excess(naive),
              green_excess(clean));
  EXPECT_GT(green_excess(naive), 20);  // the halo
  EXPECT_LT(std::abs(green_excess(clean)), 4);
  // Clear background is exactly the requested colour.
  EXPECT_EQ(clean.image.at<cv::Vec3b>(5, 5), cv::Vec3b(0x80, 0x30, 0x20));
  EXPECT_EQ(clean.source_type, "compositeWithTrainedAlgorithmicMedia");
}

TEST(Pipeline, CancelFlagStopsTheJob) {
  auto src = source(people("person07_1.jpg"));
  std::atomic<bool> cancel{true};
  JobContext ctx;
  ctx.cancel = &cancel;
  try {
    run_recipe(src, "k5", recipe(), ctx, nullptr);
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::cancelled);
  }
}

TEST(Pipeline, NoFaceIsBadInputNamingTheStage) {
  auto src = source(portrait("zebra_stripes.jpg"));
  JobContext ctx;
  try {
    run_recipe(src, "k6", recipe(), ctx, nullptr);
    FAIL() << "framed a zebra";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_input);
    EXPECT_EQ(e.info().stage, "segment");  // the first stage that needs the face
  }
}
