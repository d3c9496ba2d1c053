// The denoise and grain stages on real photos.
//
// Denoise: four photos (people/person01_1, person04_1, person08_1 at their own
// size, 758x1024 to 1024x682, and portraits/adele_2016) as rendered canvases,
// with Gaussian noise of sigma 8 and 15 (8-bit sRGB levels, seeded) added:
// the output's PSNR to the clean photo gains at least 3 dB, its identity
// cosine to the clean photo beats the noisy photo's, the noise measured is
// within 20% of the noise added, and the fine skin detail is kept.
//
// Fine skin detail: the RMS of G - GaussianBlur(G, sigma 2) (G the 8-bit
// grey) over two cheek squares (0.6 eye distances wide, halfway between
// each eye's centre and the mouth's corner on that side). On a clean photo
// the stage must keep at least 98% of it (in fact it changes nothing); on a
// noisy one the output's must be at least 60% of the clean photo's (the
// noise itself adds to the measure, so the noisy photo's is well above).
//
// A clean photo is left unchanged (measured under 1.5 levels), and every
// clean photo of people/ and portraits/ nearly so (those reading just over
// it are textured, and keep their texture).
//
// Grain: deterministic for a seed, zero-mean, luminance only, sized to the
// canvas (a 2x canvas's grain reduced 2x looks like the 1x canvas's), drawn
// in the edit map; amount 0 changes nothing. Both stages refuse a frame that
// was not rendered.
#include <gtest/gtest.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"
#include "stages/denoise/noise.hpp"
#include "stages/stages.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {

constexpr int kBorder = 8;  // pixels at the edges left out of PSNR

double psnr(const cv::Mat& a, const cv::Mat& b) {
  const cv::Rect r(kBorder, kBorder, a.cols - 2 * kBorder, a.rows - 2 * kBorder);
  return cv::PSNR(a(r), b(r), 255);
}

// The photo with Gaussian noise of `sigma` 8-bit levels on each channel.
cv::Mat with_noise(const cv::Mat& bgr8, double sigma, int seed) {
  cv::Mat n(bgr8.size(), CV_32FC3), f, out;
  cv::RNG rng(seed);
  rng.fill(n, cv::RNG::NORMAL, 0, sigma);
  bgr8.convertTo(f, CV_32F);
  f += n;
  f.convertTo(out, CV_8U);  // rounded and clamped
  return out;
}

// An 8-bit photo as the rendered canvas the stage sees (linear light, the
// whole photo the person's own colour).
Frame canvas_of(const cv::Mat& bgr8) {
  Frame f;
  f.rendered = true;
  f.image = srgb_to_linear(bgr8);
  f.foreground = f.image.clone();
  return f;
}

Frame run_stage(const Stage& s, const Frame& in, const json& given = json::object()) {
  JobContext ctx;
  return s.run(in, resolve_params(s.id(), s.params(), given), ctx);
}

std::vector<float> embedding(const cv::Mat& bgr) {
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(bgr, true);
  const int s = FaceAnalyzer::main_subject(faces, bgr.size());
  return s < 0 ? std::vector<float>{} : faces[s].embedding;
}

// Two cheek squares of the photo's subject (see the header).
std::vector<cv::Rect> cheeks(const cv::Mat& bgr) {
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(bgr, true);
  const int s = FaceAnalyzer::main_subject(faces, bgr.size());
  if (s < 0 || faces[s].landmarks.size() != 68) return {};
  const Face& f = faces[s];
  const float side = 0.6f * f.eye_distance();
  std::vector<cv::Rect> out;
  for (const auto& [eye, mouth] :
       {std::pair{f.left_eye(), f.landmarks[48]}, std::pair{f.right_eye(), f.landmarks[54]}}) {
    const cv::Point2f c = (eye + mouth) * 0.5f;
    out.push_back(cv::Rect(int(c.x - side / 2), int(c.y - side / 2), int(side), int(side)) &
                  cv::Rect(0, 0, bgr.cols, bgr.rows));
  }
  return out;
}

double skin_detail(const cv::Mat& bgr8, const std::vector<cv::Rect>& where) {
  cv::Mat g, blurred;
  cv::cvtColor(bgr8, g, cv::COLOR_BGR2GRAY);
  g.convertTo(g, CV_32F);
  cv::GaussianBlur(g, blurred, cv::Size(0, 0), 2.0);
  const cv::Mat d = g - blurred;
  double sum = 0, n = 0;
  for (const cv::Rect& r : where) {
    sum += d(r).dot(d(r));
    n += r.area();
  }
  return std::sqrt(sum / std::max(1.0, n));
}

const char* kPhotos[] = {"people/person01_1.jpg", "people/person04_1.jpg", "people/person08_1.jpg",
                         "portraits/adele_2016.jpg"};

cv::Mat photo(const std::string& name) { return decode_image(faces_dir() + "/" + name).bgr; }

}  // namespace

class NoisyPhoto : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Photos, NoisyPhoto, ::testing::ValuesIn(kPhotos));

TEST_P(NoisyPhoto, GainsThreeDecibelsKeepsTheFaceAndTheSkinsDetail) {
  const cv::Mat clean = photo(GetParam());
  const std::vector<cv::Rect> skin = cheeks(clean);
  ASSERT_EQ(skin.size(), 2u);
  const std::vector<float> e_clean = embedding(clean);
  ASSERT_FALSE(e_clean.empty());
  const double detail_clean = skin_detail(clean, skin);
  int seed = 11;
  for (const double sigma : {8.0, 15.0}) {
    const cv::Mat noisy = with_noise(clean, sigma, seed++);
    const Frame in = canvas_of(noisy);
    const cv::Mat image0 = in.image.clone(), foreground0 = in.foreground.clone();
    const Frame out = run_stage(denoise_stage(), in);
    // The frame it was given is left alone (frames share buffers).
    EXPECT_EQ(cv::norm(in.image, image0, cv::NORM_INF), 0);
    EXPECT_EQ(cv::norm(in.foreground, foreground0, cv::NORM_INF), 0);
    const cv::Mat result = linear_to_srgb8(out.image);
    const noise::NoiseLevel level = noise::estimate_noise(noise::linear_to_srgb255(in.image));
    const double p0 = psnr(noisy, clean), p1 = psnr(result, clean);
    const float c0 = similarity(embedding(noisy), e_clean), c1 = similarity(embedding(result), e_clean);
    const double d0 = skin_detail(noisy, skin), d1 = skin_detail(result, skin);
    std::printf(
        "%s sigma %2.0f: measured luma %.2f chroma %.2f | PSNR %.2f -> %.2f dB (%+.2f) | identity cos %.4f -> %.4f | "
        "skin detail clean %.2f noisy %.2f denoised %.2f (%.0f%% of clean)\n  edit: %s\n",
        GetParam(), sigma, level.luma, level.chroma, p0, p1, p1 - p0, c0, c1, detail_clean, d0, d1,
        100 * d1 / detail_clean, out.edits.empty() ? "" : out.edits.back().c_str());
    EXPECT_NEAR(level.luma, sigma, 0.2 * sigma) << "the noise is measured on the photo";
    EXPECT_NEAR(level.chroma, sigma, 0.2 * sigma);
    EXPECT_GE(p1 - p0, 3.0);
    // At this size the recognizer (which sees the face at 112 px) hardly
    // notices the noise: the output's identity must not be further than
    // the recognizer's own jitter (0.001) below the noisy photo's.
    EXPECT_GE(c1, c0 - 0.001) << "the face's identity drifted";
    EXPECT_GE(d1, 0.6 * detail_clean) << "fine skin detail wiped out";
    // The edit map shows the change, and the person's own colour changed
    // exactly as the image did.
    ASSERT_EQ(out.retouched.size(), in.image.size());
    EXPECT_GT(cv::mean(out.retouched)[0], 0.05);
    EXPECT_LT(cv::norm(out.foreground - in.foreground, out.image - in.image, cv::NORM_INF), 1e-5);
    ASSERT_FALSE(out.edits.empty());
    EXPECT_NE(out.edits.back().find("noise reduced"), std::string::npos);
    EXPECT_EQ(out.source_type, "algorithmicallyEnhanced");
  }
}

// Where noise does reach the recognizer: the photo reduced so the eyes are
// 36 px apart (a face about 90 px wide, as in a group photo or a small
// source), noise added at that size. The output is closer to the clean
// photo's identity than the noisy photo is.
TEST_P(NoisyPhoto, SmallFaceIsCloserToTheCleanIdentity) {
  cv::Mat clean = photo(GetParam());
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(clean, true);
  const int s = FaceAnalyzer::main_subject(faces, clean.size());
  ASSERT_GE(s, 0);
  const double k = std::min(1.0, 36.0 / faces[s].eye_distance());
  cv::resize(clean, clean, cv::Size(), k, k, cv::INTER_AREA);
  const std::vector<float> e_clean = embedding(clean);
  ASSERT_FALSE(e_clean.empty());
  int seed = 21;
  for (const double sigma : {8.0, 15.0}) {
    const cv::Mat noisy = with_noise(clean, sigma, seed++);
    const cv::Mat result = linear_to_srgb8(run_stage(denoise_stage(), canvas_of(noisy)).image);
    const float c0 = similarity(embedding(noisy), e_clean), c1 = similarity(embedding(result), e_clean);
    std::printf("%s at %dx%d, sigma %2.0f: PSNR %.2f -> %.2f dB, identity cos %.4f -> %.4f\n", GetParam(), clean.cols,
                clean.rows, sigma, psnr(noisy, clean), psnr(result, clean), c0, c1);
    EXPECT_GT(c1, c0) << "closer to the clean photo's identity than the noisy photo";
  }
}

TEST(Denoise, LeavesACleanPhotoAsItIs) {
  for (const char* name : kPhotos) {
    const cv::Mat clean = photo(name);
    const Frame in = canvas_of(clean);
    for (const double strength : {0.5, 1.0}) {
      const Frame out = run_stage(denoise_stage(), in, {{"strength", strength}});
      const noise::NoiseLevel level = noise::estimate_noise(noise::linear_to_srgb255(in.image));
      const std::vector<cv::Rect> skin = cheeks(clean);
      const double kept = skin_detail(linear_to_srgb8(out.image), skin) / skin_detail(clean, skin);
      std::printf("%s clean, strength %.1f: measured luma %.2f chroma %.2f, skin detail kept %.1f%%, max change %.4f\n",
                  name, strength, level.luma, level.chroma, 100 * kept, cv::norm(out.image, in.image, cv::NORM_INF));
      EXPECT_LT(level.luma, noise::kCleanNoise) << name;
      EXPECT_GE(kept, 0.98);
      EXPECT_EQ(cv::norm(out.image, in.image, cv::NORM_INF), 0) << name << ": a clean photo is left unchanged";
      EXPECT_TRUE(out.retouched.empty());
      ASSERT_FALSE(out.edits.empty());
      EXPECT_NE(out.edits.back().find("clean, nothing changed"), std::string::npos) << out.edits.back();
    }
  }
}

// Every photo in people/ and portraits/ (73 JPEGs, as they come): a few
// textured ones read just over the clean threshold (person05_2: 2.4, its
// background blown out, what is left hair and a heather shirt), and there
// the filter, whose range is twice that, leaves the texture: the mean change
// stays under a quarter level and the fine detail (RMS of G - Gauss(G, 2)
// over the whole photo) over 98%.
TEST(Denoise, LeavesEveryCleanTestPhotoNearlyAsItIs) {
  std::vector<std::string> files = list_images(faces_dir() + "/people");
  for (const auto& f : list_images(faces_dir() + "/portraits")) files.push_back(f);
  const auto fine = [](const cv::Mat& bgr) {
    cv::Mat g, b;
    cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
    cv::GaussianBlur(g, b, cv::Size(0, 0), 2.0);
    return cv::norm(g - b);
  };
  int touched = 0;
  for (const auto& f : files) {
    cv::Mat img;
    decode_image(f).bgr.convertTo(img, CV_32F);
    const noise::NoiseLevel level = noise::estimate_noise(img);
    noise::DenoiseApplied applied;
    const cv::Mat out = noise::denoise(img, level, {}, &applied);
    const double change = cv::mean(cv::abs(out - img))[0], kept = fine(out) / fine(img);
    if (applied.luma > 0 || applied.chroma > 0) {
      ++touched;
      std::printf("%s: measured luminance %.2f, colour %.2f; mean change %.3f levels, fine detail kept %.1f%%\n",
                  f.c_str(), level.luma, level.chroma, change, 100 * kept);
    }
    EXPECT_LT(change, 0.25) << f;
    EXPECT_GE(kept, 0.98) << f;
  }
  std::printf("%d of %zu clean photos touched at all\n", touched, files.size());
}

TEST(Denoise, MeasuresNoiseOnAFlatGreyWithinTenPercent) {
  for (const double sigma : {2.0, 5.0, 10.0, 20.0}) {
    cv::Mat img(640, 512, CV_32FC3, cv::Scalar(120, 128, 136)), n(img.size(), CV_32FC3);
    cv::RNG rng(3);
    rng.fill(n, cv::RNG::NORMAL, 0, sigma);
    const noise::NoiseLevel level = noise::estimate_noise(img + n);
    std::printf("flat grey, sigma %.0f: measured luma %.2f chroma %.2f\n", sigma, level.luma, level.chroma);
    EXPECT_NEAR(level.luma, sigma, 0.1 * sigma);
    EXPECT_NEAR(level.chroma, sigma, 0.1 * sigma);
  }
  // Nothing to measure on: canvas beyond the photo is left out.
  const cv::Mat img(640, 512, CV_32FC3, cv::Scalar(128, 128, 128));
  EXPECT_EQ(noise::estimate_noise(img, cv::Mat(img.size(), CV_8U, cv::Scalar(255))).blocks, 0);
}

TEST(Denoise, StrengthZeroChangesNothing) {
  const Frame in = canvas_of(with_noise(photo(kPhotos[0]), 10, 5));
  EXPECT_FALSE(denoise_stage().changes_pixels(resolve_params("denoise", denoise_stage().params(), {{"strength", 0}})));
  const Frame out = run_stage(denoise_stage(), in, {{"strength", 0}});
  EXPECT_EQ(cv::norm(out.image, in.image, cv::NORM_INF), 0);
  // Chroma only: the luminance (B+G+R) stays, within rounding.
  const Frame c = run_stage(denoise_stage(), in, {{"luminance", 0}});
  const cv::Mat a = noise::linear_to_srgb255(in.image), b = noise::linear_to_srgb255(c.image);
  cv::Mat sa, sb;
  cv::transform(a, sa, cv::Matx13f(1, 1, 1));
  cv::transform(b, sb, cv::Matx13f(1, 1, 1));
  // (Away from black and white, where a channel the chroma moves clips.)
  cv::Mat ch[3];
  cv::split(a, ch);
  const cv::Mat inside = cv::min(ch[0], cv::min(ch[1], ch[2])) > 24 & cv::max(ch[0], cv::max(ch[1], ch[2])) < 231;
  const double moved = cv::countNonZero(cv::abs(sa - sb) > 0.5 & inside) / double(cv::countNonZero(inside));
  std::printf("chroma only: %.3f%% of pixels away from black and white changed luminance by over 0.5 level\n",
              100 * moved);
  EXPECT_LT(moved, 0.005);
  EXPECT_GT(cv::norm(a, b, cv::NORM_INF), 5);
}

TEST(Denoise, NeedsTheRenderedCanvas) {
  Frame source;
  source.image = photo(kPhotos[0]);  // 8-bit, not rendered
  for (const Stage* s : {&denoise_stage(), &grain_stage()}) {
    try {
      run_stage(*s, source, s->id() == "grain" ? json{{"amount", 0.5}} : json::object());
      ADD_FAILURE() << s->id() << " ran on a source frame";
    } catch (const Error& e) {
      EXPECT_EQ(e.info().stage, s->id());
      EXPECT_NE(std::string(e.what()).find("after render"), std::string::npos) << e.what();
    }
  }
}

TEST(Grain, DeterministicZeroMeanLuminanceOnlyAndInTheEditMap) {
  const Frame in = canvas_of(photo(kPhotos[1]));
  const cv::Mat image0 = in.image.clone();
  const json p = {{"amount", 0.5}, {"seed", 7}};
  const Frame a = run_stage(grain_stage(), in, p), b = run_stage(grain_stage(), in, p);
  EXPECT_EQ(cv::norm(in.image, image0, cv::NORM_INF), 0) << "the frame it was given is left alone";
  const Frame c = run_stage(grain_stage(), in, {{"amount", 0.5}, {"seed", 8}});
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0) << "the same seed, the same grain";
  EXPECT_GT(cv::norm(a.image, c.image, cv::NORM_INF), 0) << "another seed, another grain";
  // The change in sRGB levels: its mean, its spread, and how much of it is
  // colour (the spread of each channel's difference from the channels'
  // mean) against how much is luminance.
  const cv::Mat d = noise::linear_to_srgb255(a.image) - noise::linear_to_srgb255(in.image);
  cv::Mat lum;
  cv::transform(d, lum, cv::Matx13f(1 / 3.f, 1 / 3.f, 1 / 3.f));
  cv::Mat lum3;
  cv::merge(std::vector<cv::Mat>{lum, lum, lum}, lum3);
  cv::Scalar mean, dev, cmean, cdev;
  cv::meanStdDev(lum, mean, dev);
  const cv::Mat colour = d - lum3;
  cv::meanStdDev(colour.reshape(1), cmean, cdev);
  std::printf("grain amount 0.5: mean %+.3f levels, luminance deviation %.2f levels, colour deviation %.3f levels\n",
              mean[0], dev[0], cdev[0]);
  EXPECT_LT(std::abs(mean[0]), 0.1);
  EXPECT_GT(dev[0], 1.0);
  EXPECT_LT(cdev[0], 0.05 * dev[0]) << "grain is luminance";
  ASSERT_EQ(a.retouched.size(), in.image.size());
  EXPECT_GT(cv::mean(a.retouched)[0], 0.02);
  EXPECT_NE(a.edits.back().find("film grain"), std::string::npos);
  // amount 0 (the default): nothing.
  const json off = resolve_params("grain", grain_stage().params(), json::object());
  EXPECT_FALSE(grain_stage().changes_pixels(off));
  const Frame none = run_stage(grain_stage(), in);
  EXPECT_EQ(cv::norm(none.image, in.image, cv::NORM_INF), 0);
  EXPECT_TRUE(none.retouched.empty());
}

namespace {
// Correlation of a field with itself shifted by `lag` px horizontally.
double lag_correlation(const cv::Mat& g, int lag) {
  const cv::Mat a = g(cv::Rect(0, 0, g.cols - lag, g.rows)), b = g(cv::Rect(lag, 0, g.cols - lag, g.rows));
  return a.dot(b) / std::sqrt(a.dot(a) * b.dot(b));
}
}  // namespace

TEST(Grain, SizedToTheCanvas) {
  for (const double size : {0.5, 1.0, 2.0}) {
    const cv::Mat small = noise::grain_field({1024, 1280}, float(size), 3);
    const cv::Mat big = noise::grain_field({2048, 2560}, float(size), 3);
    // Seen at the same size: the big canvas's grain reduced to the small's
    // size varies as much and is as wide (correlates with its neighbour as
    // much) as the small canvas's.
    cv::Mat reduced;
    cv::resize(big, reduced, small.size(), 0, 0, cv::INTER_AREA);
    cv::Scalar m, ds, dr;
    cv::meanStdDev(small, m, ds);
    cv::meanStdDev(reduced, m, dr);
    const double rs = lag_correlation(small, 1), rr = lag_correlation(reduced, 1), rb = lag_correlation(big, 2);
    std::printf(
        "grain size %.1f: deviation 1024x1280 %.3f, 2048x2560 reduced %.3f; neighbour correlation %.3f, reduced "
        "%.3f, 2048x2560 at 2 px %.3f\n",
        size, ds[0], dr[0], rs, rr, rb);
    EXPECT_NEAR(ds[0], 1.0, 0.02);
    EXPECT_NEAR(dr[0], ds[0], 0.1 * ds[0]);
    EXPECT_NEAR(rr, rs, 0.05);
  }
}

// Both stages in the default recipe, denoise after the matte and grain after
// the grade; on a clean photo's canvas the denoise step reports it clean.
TEST(Denoise, RunsInTheRecipe) {
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0);
  std::vector<std::string> order;
  for (const auto& s : r.steps) order.push_back(s.stage);
  const auto at = [&](const char* id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
  EXPECT_EQ(at("denoise"), at("matte") + 1);
  EXPECT_LT(at("denoise"), at("backdrop"));
  EXPECT_EQ(at("grain"), at("grade") + 1);
  EXPECT_EQ(at("export"), at("grain") + 1);
  r = r.until("denoise");
  r.find("frame")->params["width"] = 512;
  r.find("frame")->params["height"] = 640;
  auto src = std::make_shared<Frame>();
  src->image = photo(kPhotos[2]);
  JobContext ctx;
  const RunResult run = run_recipe(src, "denoise:recipe", r, ctx, nullptr);
  const Frame& out = *run.frame;
  ASSERT_FALSE(out.edits.empty());
  std::printf("recipe canvas: %s\n", out.edits.back().c_str());
  EXPECT_NE(out.edits.back().find("noise"), std::string::npos);
  // A clean photo: the step hands its input on, and the manifest claims no
  // filtering for it. A noisy one: the step changed it and says so.
  auto filtered = [&](const RunResult& rr) {
    for (const auto& a : manifest_actions(r.resolved(), &rr.steps))
      if (a.action == "c2pa.filtered") return true;
    return false;
  };
  EXPECT_FALSE(run.steps.back().changed);
  EXPECT_FALSE(filtered(run));
  auto noisy = std::make_shared<Frame>();
  noisy->image = with_noise(photo(kPhotos[2]), 12, 3);
  const RunResult nr = run_recipe(noisy, "denoise:recipe-noisy", r, ctx, nullptr);
  EXPECT_TRUE(nr.steps.back().changed);
  EXPECT_TRUE(filtered(nr));
}
