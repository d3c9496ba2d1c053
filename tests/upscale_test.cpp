// ESRGAN upscaling on real portraits: sharper than bicubic without changing
// the face, tiling equal to one whole-image run, the render stage using it
// where the plan enlarges, the CLI command and its errors.
//
// Photos: fullsize/person03_5_full (a 12 MP original, its face crop reduced
// to 320 px wide), portraits/adele_2016, people/person01_1 and
// people/person08_1 (face crops at their own resolution).
#include "likeness/upscale.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/stage.hpp"
#include "likeness/studio.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;

namespace {

constexpr int kBorder = 8;  // pixels at the crop's edges left out of the measures

double psnr(const cv::Mat& a, const cv::Mat& b, int border = kBorder) {
  const cv::Rect r(border, border, a.cols - 2 * border, a.rows - 2 * border);
  cv::Mat d;
  cv::absdiff(a(r), b(r), d);
  d.convertTo(d, CV_64F);
  d = d.mul(d);
  const double mse = cv::mean(d.reshape(1))[0];
  return 10 * std::log10(255.0 * 255.0 / std::max(mse, 1e-12));
}

// Fine detail: the mean of |I - GaussianBlur(I, sigma 1)|.
double detail(const cv::Mat& img, int border = kBorder) {
  cv::Mat f, blurred;
  img.convertTo(f, CV_32F);
  cv::GaussianBlur(f, blurred, cv::Size(0, 0), 1.0);
  const cv::Mat d = cv::abs(f - blurred);
  const cv::Scalar m = cv::mean(d(cv::Rect(border, border, img.cols - 2 * border, img.rows - 2 * border)));
  return (m[0] + m[1] + m[2]) / d.channels();
}

std::vector<float> embedding(const cv::Mat& bgr) {
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(bgr, true);
  const int s = FaceAnalyzer::main_subject(faces, bgr.size());
  return s < 0 ? std::vector<float>{} : faces[s].embedding;
}

// A face crop of a photo (2 face widths by 2.5), at most `width` px wide and
// a multiple of 4 px in both directions.
cv::Mat face_crop(const std::string& file, int width) {
  const cv::Mat img = decode_image(file).bgr;
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(img, false);
  const int s = FaceAnalyzer::main_subject(faces, img.size());
  if (s < 0) throw std::runtime_error("no face in " + file);
  const cv::Rect2f b = faces[s].box;
  const float w = b.width * 2.0f, h = w * 1.25f;
  cv::Rect r(int(b.x + b.width / 2 - w / 2), int(b.y + b.height / 2 - h * 0.45f), int(w), int(h));
  r &= cv::Rect(0, 0, img.cols, img.rows);
  cv::Mat crop = img(r).clone();
  if (crop.cols > width)
    cv::resize(crop, crop, cv::Size(), double(width) / crop.cols, double(width) / crop.cols, cv::INTER_AREA);
  return crop(cv::Rect(0, 0, crop.cols / 4 * 4, crop.rows / 4 * 4)).clone();
}

const std::vector<std::string>& photos() {
  static const std::vector<std::string> p = {faces_dir() + "/fullsize/person03_5_full.jpg", portrait("adele_2016.jpg"),
                                             people("person01_1.jpg"), people("person08_1.jpg")};
  return p;
}

}  // namespace

// Downscaled by 2 and 4 (area) and upscaled back with the default network:
// as much of the person as bicubic keeps (identity cosine: on average at
// least bicubic's, each within 0.0005 of it), PSNR within 1 dB of bicubic's,
// and fine detail nearer the original's than bicubic's.
TEST(Upscale, SharperThanBicubicWithoutAnotherFace) {
  const UpscaleOptions defaults;
  double sum_up = 0, sum_bi = 0;
  for (const std::string& file : photos()) {
    const cv::Mat hr = face_crop(file, 320);
    const std::vector<float> e_hr = embedding(hr);
    ASSERT_FALSE(e_hr.empty()) << file;
    for (int f : {2, 4}) {
      cv::Mat lr, bicubic;
      cv::resize(hr, lr, hr.size() / f, 0, 0, cv::INTER_AREA);
      cv::resize(lr, bicubic, hr.size(), 0, 0, cv::INTER_CUBIC);
      UpscaleOptions o = defaults;
      o.scale = f;
      const cv::Mat up = upscale(lr, o);
      ASSERT_EQ(up.size(), hr.size());
      const std::vector<float> e_up = embedding(up), e_bi = embedding(bicubic);
      ASSERT_FALSE(e_up.empty()) << file << " x" << f << ": no face in the upscaled crop";
      ASSERT_FALSE(e_bi.empty());
      const double c_up = similarity(e_up, e_hr), c_bi = similarity(e_bi, e_hr);
      const double p_up = psnr(up, hr), p_bi = psnr(bicubic, hr);
      const double d_hr = detail(hr), d_up = detail(up), d_bi = detail(bicubic);
      std::printf(
          "%s x%d: cosine %.4f (bicubic %.4f), PSNR %.2f dB (bicubic %.2f), detail %.2f (bicubic %.2f, "
          "original %.2f)\n",
          fs::path(file).filename().c_str(), f, c_up, c_bi, p_up, p_bi, d_up, d_bi, d_hr);
      // Cosines of 0.99 and more differ in the fourth decimal between any two
      // resamplings; the same-person threshold is 0.93.
      EXPECT_GE(c_up, c_bi - 5e-4) << file << " x" << f;
      sum_up += c_up;
      sum_bi += c_bi;
      EXPECT_GE(p_up, p_bi - 1.0) << file << " x" << f;
      EXPECT_LT(std::abs(d_up - d_hr), std::abs(d_bi - d_hr)) << file << " x" << f;
    }
  }
  std::printf("mean cosine: ESRGAN %.5f, bicubic %.5f\n", sum_up / 8, sum_bi / 8);
  EXPECT_GE(sum_up, sum_bi);
}

// Tiles of 48 px with the model's margin give the whole-image run's pixels;
// without the margin the seams show.
TEST(Upscale, TiledEqualsTheWholeImageRun) {
  const cv::Mat hr = face_crop(people("person01_1.jpg"), 320);
  cv::Mat lr;
  cv::resize(hr, lr, hr.size() / 2, 0, 0, cv::INTER_AREA);  // 160 x 200: 4 x 5 tiles
  for (int f : {2, 4}) {
    UpscaleOptions o;
    o.scale = f;
    o.tile = 48;
    const cv::Mat whole = upscale_whole(lr, o);
    const double tiled = psnr(upscale(lr, o), whole, 0);
    o.margin = 0;
    const double seams = psnr(upscale(lr, o), whole, 0);
    std::printf("x%d: tiled vs whole %.1f dB; without margins %.1f dB\n", f, tiled, seams);
    EXPECT_GE(tiled, 60.0) << "x" << f;
    EXPECT_LT(seams, 55.0) << "x" << f << ": the margin test no longer tests anything";
  }
}

TEST(Upscale, RefusesOversizeOutputsBadFactorsAndModels) {
  const cv::Mat big(4100, 4000, CV_8UC3, cv::Scalar::all(128));  // x4 would be 262 MP
  UpscaleOptions o;
  o.scale = 4;
  try {
    upscale(big, o);
    FAIL() << "a 262 MP output was not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_input);
    EXPECT_NE(std::string(e.what()).find("MP"), std::string::npos) << e.what();
  }
  o.scale = 3;
  try {
    upscale(big(cv::Rect(0, 0, 64, 64)), o);
    FAIL() << "x3 was not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage);
  }
  EXPECT_THROW(upscale_model_from_label("huge"), Error);
}

TEST(Upscale, CancelStopsBetweenTiles) {
  const cv::Mat img = decode_image(people("person01_1.jpg")).bgr(cv::Rect(0, 0, 200, 200)).clone();
  std::atomic<bool> cancel{true};
  JobContext ctx;
  ctx.cancel = &cancel;
  UpscaleOptions o;
  o.ctx = &ctx;
  try {
    upscale(img, o);
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::cancelled);
  }
}

namespace {
Recipe render_recipe(const std::string& upscale_mode) {
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0);
  r.find("frame")->params["width"] = 1024;
  r.find("frame")->params["height"] = 1280;
  r.find("render")->params["upscale"] = upscale_mode;
  while (r.steps.back().stage != "render") r.steps.pop_back();  // the analysis, the frame, the render
  return r;
}
double gray_detail(const cv::Mat& linear, const cv::Rect& r) {
  cv::Mat g8;
  cv::Mat srgb;
  cv::pow(cv::max(linear(r), 0.0), 1 / 2.2, srgb);
  srgb.convertTo(g8, CV_8U, 255);
  return detail(g8, 0);
}
}  // namespace

// A 300 px photo framed onto 1024 x 1280 is enlarged about 4x: the render
// runs ESRGAN on the head (the step names the network, the frame says so),
// the face has more fine detail than the bicubic render, both lie on the same
// pixels, and away from the head (the clothes at the bottom) the two agree.
TEST(Upscale, RenderEnlargesWithEsrganDetail) {
  auto src = std::make_shared<Frame>();
  cv::resize(decode_image(people("person08_1.jpg")).bgr, src->image, cv::Size(), 0.45, 0.45, cv::INTER_AREA);
  JobContext ctx;
  FrameCache cache;
  const RunResult a = run_recipe(src, "up", render_recipe("head"), ctx, &cache);
  const RunResult b = run_recipe(src, "up", render_recipe("off"), ctx, &cache);
  const Frame& fa = *a.frame;
  const Frame& fb = *b.frame;
  std::printf("plan scale %.2f\n", fa.plan.scale);
  ASSERT_GT(fa.plan.scale, 2.0) << "the photo is no longer enlarged 2x: pick a smaller one";
  const Stage& render = find_stage("render");
  const json models = render.models_for(a.steps.back().params);
  ASSERT_FALSE(fa.edits.empty());
  std::printf("render models %s; edit: %s\n", models.dump().c_str(), fa.edits.back().c_str());
  EXPECT_NE(models.dump().find("esrgan_"), std::string::npos);
  EXPECT_TRUE(render.models_for(b.steps.back().params).empty());
  EXPECT_EQ(fa.source_type, "compositeWithTrainedAlgorithmicMedia");
  EXPECT_EQ(fb.source_type, "digitalCapture");
  ASSERT_FALSE(fa.edits.empty());
  EXPECT_NE(fa.edits.back().find("ESRGAN"), std::string::npos);
  // auto: a head this small is worth the thick network (detail to 4x).
  EXPECT_NE(fa.edits.back().find("thick"), std::string::npos) << fa.edits.back();
  EXPECT_NE(a.steps.back().key, b.steps.back().key);

  const Face* face = fa.subject_face();
  ASSERT_NE(face, nullptr);
  const cv::Rect r = cv::Rect(face->box) & cv::Rect(0, 0, 1024, 1280);
  const double da = gray_detail(fa.image, r), db = gray_detail(fb.image, r);
  std::printf("face detail: ESRGAN %.3f, bicubic %.3f\n", da, db);
  EXPECT_GT(da, db * 1.03);
  // Same geometry: the two renders are not shifted against each other.
  cv::Mat ga, gb;
  cv::cvtColor(fa.image(r), ga, cv::COLOR_BGR2GRAY);
  cv::cvtColor(fb.image(r), gb, cv::COLOR_BGR2GRAY);
  cv::Mat ga64, gb64;
  ga.convertTo(ga64, CV_64F);
  gb.convertTo(gb64, CV_64F);
  const cv::Point2d shift = cv::phaseCorrelate(ga64, gb64);
  std::printf("shift between the renders: (%.3f, %.3f) px\n", shift.x, shift.y);
  EXPECT_LT(std::hypot(shift.x, shift.y), 0.25);

  // Below the chin by more than the head's reach, the portrait is the
  // bicubic one; the head's soft edge leaves no step where it ends.
  const cv::Rect low(0, 1280 - 200, 1024, 200);
  EXPECT_LT(cv::norm(fa.image(low), fb.image(low), cv::NORM_INF), 1e-6);
  cv::Mat diff;
  cv::absdiff(fa.image, fb.image, diff);
  cv::Mat rows;
  cv::reduce(diff.reshape(1, diff.rows), rows, 1, cv::REDUCE_AVG);
  double worst_step = 0;
  for (int y = 1; y < rows.rows; ++y)
    worst_step = std::max(worst_step, double(std::abs(rows.at<float>(y) - rows.at<float>(y - 1))));
  std::printf("largest row-to-row change of the ESRGAN difference: %.5f\n", worst_step);
  EXPECT_LT(worst_step, 0.01);
}

TEST(Upscale, CliWritesTheImageAndRejectsBadInput) {
  const std::string dir = temp_dir("upscale");
  const cv::Mat crop = face_crop(people("person01_1.jpg"), 160);
  write_bytes(dir + "/in.png", encode_image(crop, ImageFormat::png, 0));
  CliResult r = run_cli({"upscale", dir + "/in.png", dir + "/out.jpg", "--scale", "2", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const DecodedImage out = decode_image(dir + "/out.jpg");
  EXPECT_EQ(out.bgr.size(), crop.size() * 2);
  EXPECT_EQ(out.format, "jpeg");
  cv::Mat small;
  cv::resize(out.bgr, small, crop.size(), 0, 0, cv::INTER_AREA);
  EXPECT_GT(psnr(small, crop), 30.0) << "the upscale is not the photo";

  r = run_cli({"upscale", dir + "/in.png", dir + "/bad.png", "--scale", "3"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_cli({"upscale", dir + "/in.png", dir + "/bad.png", "--model", "huge"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_cli({"upscale", dir + "/in.png", dir + "/bad.gif"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // 20 MP is a photo `check` takes, but 4x of it is over the output limit:
  // refused at the header, before decoding.
  write_bytes(dir + "/huge.png", png_claiming(5000, 4000));
  r = run_cli({"upscale", dir + "/huge.png", dir + "/bad.png", "--scale", "4"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("over the limit"), std::string::npos) << r.err;
  write_bytes(dir + "/text.jpg", "not an image at all");
  r = run_cli({"upscale", dir + "/text.jpg", dir + "/bad.png"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_FALSE(r.err.empty());
  EXPECT_FALSE(fs::exists(dir + "/bad.png")) << "a failed run left an output";
  fs::remove_all(dir);
}
