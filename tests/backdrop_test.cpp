// Backdrops: every style is deterministic and declares its light; scenes
// are really defocused (bokeh discs the size of their defocus, flat-topped);
// paper has its falloff and floor curve, canvas its mottling; the user's
// picture enters the step key by content and fails cleanly; and on a real
// photo, nothing of the old scene survives behind any backdrop.
#include "stages/backdrop/backdrop.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;
namespace bd = likeness::backdrop;

namespace {
const Stage& stage() { return find_stage("backdrop"); }

json params(const std::string& style, int seed = 3) {
  return resolve_params("backdrop", stage().params(), {{"style", style}, {"seed", seed}});
}

// A 256x320 head-and-shoulders canvas, eyes at 38% of the height.
bd::Shot small_shot(float grain = 0.006f) {
  bd::Shot s;
  s.size = cv::Size(256, 320);
  s.eyes = cv::Point2f(128, 0.38f * 320);
  s.eye_px = 32;
  s.grain = grain;
  return s;
}

bd::Backdrop make(const std::string& style, int seed, const bd::Shot& shot, bool sharp = false) {
  return bd::make(bd::request_from(params(style, seed)), shot, bd::Options{sharp});
}

double luma_mean(const cv::Mat& m) {
  const cv::Scalar s = cv::mean(m);
  return 0.0722 * s[0] + 0.7152 * s[1] + 0.2126 * s[2];
}

cv::Mat gray(const cv::Mat& bgr) {
  cv::Mat g;
  cv::transform(bgr, g, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  return g;
}

// Mean squared Laplacian of the gamma-encoded grey: fine detail.
double hf_energy(const cv::Mat& linear) {
  cv::Mat g, lap;
  cv::sqrt(cv::max(gray(linear), 0.0), g);
  cv::Laplacian(g, lap, CV_32F);
  return cv::mean(lap.mul(lap))[0];
}

std::vector<std::string> generated_styles() {
  std::vector<std::string> s;
  for (const auto& x : bd::styles())
    if (x != "image") s.push_back(x);
  return s;
}

std::string user_picture(const std::string& tag, const std::string& from) {
  const std::string dir = temp_dir(tag);
  const std::string path = dir + "/backdrop.jpg";
  fs::copy_file(from, path, fs::copy_options::overwrite_existing);
  return path;
}
}  // namespace

class EveryStyle : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Styles, EveryStyle, ::testing::ValuesIn(generated_styles()),
                         [](const auto& info) { return info.param; });

TEST_P(EveryStyle, SameSeedSamePixelsAndADeclaredLight) {
  const bd::Shot shot = small_shot();
  const bd::Backdrop a = make(GetParam(), 3, shot), b = make(GetParam(), 3, shot), c = make(GetParam(), 4, shot);
  ASSERT_EQ(a.image.size(), shot.size);
  ASSERT_EQ(a.image.type(), CV_32FC3);
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0) << "same seed, same pixels";
  if (GetParam() != "solid") {
    EXPECT_GT(cv::norm(a.image, c.image, cv::NORM_L1), 0) << "another seed, another variation";
  }
  const SceneLight& l = a.light;
  EXPECT_TRUE(l.set);
  EXPECT_NEAR(cv::norm(l.direction), 1.0, 1e-4);
  EXPECT_GT(l.direction[1], 0) << "key light from above";
  EXPECT_NEAR(std::max({l.color[0], l.color[1], l.color[2]}), 1.0, 1e-4);
  EXPECT_GT(std::min({l.color[0], l.color[1], l.color[2]}), 0.1f) << "a plausible light colour";
  const cv::Scalar m = cv::mean(a.image);
  EXPECT_NEAR(l.ambient[1], m[1], 1e-4) << "ambient is the backdrop's mean";
  EXPECT_GE(l.softness, 0.f);
  EXPECT_LE(l.softness, 1.f);
  double lo = 0, hi = 0;
  cv::minMaxLoc(a.image.reshape(1), &lo, &hi);
  EXPECT_GE(lo, 0);
  EXPECT_GT(luma_mean(a.image), 0.005) << "not black";
}

TEST(Backdrop, WarmCafeWarmerThanTheCityWindowsDaylight) {
  const bd::Shot shot = small_shot();
  const float cafe = bd::warmth(make("cafe", 1, shot).light.color),
              city = bd::warmth(make("city", 1, shot).light.color);
  std::printf("warmth (R/B): cafe %.2f, city %.2f\n", cafe, city);
  EXPECT_GT(cafe, 1.3f);
  EXPECT_LT(city, 1.1f);
  EXPECT_GT(cafe, city * 1.4f);
  // The city window's light comes from a side, the sky's from above.
  EXPECT_GT(std::abs(make("city", 1, shot).light.direction[0]), 0.6f);
  EXPECT_GT(make("sky", 1, shot).light.direction[1], 0.8f);
}

// A scene is a defocused render: far less fine detail than the same scene
// rendered sharp.
class Defocus : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Scenes, Defocus, ::testing::Values("office", "city", "greenery", "cafe", "sky"),
                         [](const auto& info) { return info.param; });

TEST_P(Defocus, FarLessFineDetailThanTheSharpScene) {
  const bd::Shot shot = small_shot(0);  // no grain: detail is the scene's
  const double blurred = hf_energy(make(GetParam(), 2, shot).image),
               sharp = hf_energy(make(GetParam(), 2, shot, true).image);
  std::printf("%s: fine detail %.3g defocused, %.3g sharp (ratio %.3f)\n", GetParam().c_str(), blurred, sharp,
              blurred / sharp);
  EXPECT_LT(blurred, 0.1 * sharp);
}

// A small bright light behind the focus becomes a flat-topped disc whose
// diameter is the lens's blur disc at its depth, not a Gaussian blob.
TEST(Backdrop, PointLightsBloomIntoDiscsTheSizeOfTheirDefocus) {
  const bd::Lens lens = bd::portrait_lens(cv::Size(512, 640), cv::Point2f(256, 240), 64, 2.0);
  for (double depth : {4.0, 20.0}) {
    const std::vector<bd::Layer> layers = {
        {depth, [](bd::Paint& p) { p.rect(-50, -50, 600, 700, cv::Vec3f(0, 0, 0)); }},
        {depth, [&](bd::Paint& p) { p.light(cv::Point2f(256, 320), cv::Vec3f(1, 1, 1) * 5000.f); }}};
    const cv::Mat img = bd::render_layers(lens, layers, bd::DefocusOptions{false, 0});
    cv::Mat row = gray(img).row(320);
    double peak = 0;
    cv::minMaxLoc(row, nullptr, &peak);
    // Width at half maximum ~ the disc's diameter; the top flat: 80% of
    // the width is above 80% of the peak (a Gaussian: 57%).
    int half = 0, top = 0;
    for (int x = 0; x < row.cols; ++x) {
      half += row.at<float>(x) >= 0.5 * peak;
      top += row.at<float>(x) >= 0.8 * peak;
    }
    const double coc = lens.coc_px(depth);
    std::printf("point at %.0f m: blur disc %.1f px, half-max width %d, above 80%%: %d\n", depth, coc, half, top);
    EXPECT_NEAR(half, coc, 0.15 * coc + 2);
    EXPECT_GT(top, 0.75 * half) << "flat-topped";
    // The energy is kept: a disc, not a smear that loses the light.
    EXPECT_NEAR(cv::sum(gray(img))[0], 5000, 500);
  }
  EXPECT_GT(lens.coc_px(20), 1.5 * lens.coc_px(4));
}

// Paper: brighter on the key side (falloff), and the floor curve's shading
// changes monotonically through the lower part of the frame.
TEST(Backdrop, PaperFallsOffFromTheKeySideAndCurvesIntoTheFloor) {
  bd::Shot shot = small_shot(0);
  for (int side : {-1, 1}) {
    shot.key_side = side;
    const cv::Mat g = gray(make("paper", 1, shot).image);
    const double left = cv::mean(g.colRange(0, 64))[0], right = cv::mean(g.colRange(192, 256))[0];
    std::printf("key %+d: left %.4f right %.4f\n", side, left, right);
    EXPECT_GT(side > 0 ? right / left : left / right, 1.08);
    // Bands of 10 rows through the lower part (the paper's faint unevenness
    // averages out).
    cv::Mat rows;
    cv::reduce(g, rows, 1, cv::REDUCE_AVG);
    std::vector<double> band;
    for (int y = int(0.6 * g.rows); y + 10 <= g.rows; y += 10) band.push_back(cv::mean(rows.rowRange(y, y + 10))[0]);
    int ups = 0, downs = 0;
    for (size_t i = 0; i + 1 < band.size(); ++i) {
      ups += band[i + 1] > band[i];
      downs += band[i + 1] < band[i];
    }
    const double change = band.back() / band.front();
    std::printf("  lower part: %d bands brighter, %d darker than the one above, bottom/top %.3f\n", ups, downs, change);
    EXPECT_TRUE(ups == 0 || downs == 0) << "monotonic";
    EXPECT_GT(std::abs(change - 1), 0.05) << "the curve's shading shows";
  }
}

// Canvas: mottled at low spatial frequencies (far more than a smooth
// gradient), little at the highest (no noise).
TEST(Backdrop, CanvasIsMottledNotNoisy) {
  const bd::Shot shot = small_shot(0);
  auto bands = [](const cv::Mat& img) {
    cv::Mat g, b1, b4, b24;
    cv::sqrt(gray(img), g);
    cv::GaussianBlur(g, b1, cv::Size(0, 0), 1);
    cv::GaussianBlur(g, b4, cv::Size(0, 0), 4);
    cv::GaussianBlur(g, b24, cv::Size(0, 0), 24);
    return std::pair<double, double>{cv::norm(b4, b24) / std::sqrt(double(g.total())),
                                     cv::norm(g, b1) / std::sqrt(double(g.total()))};
  };
  const auto [canvas_low, canvas_high] = bands(make("canvas", 5, shot).image);
  const auto [grad_low, grad_high] = bands(make("gradient", 5, shot).image);
  std::printf("low band: canvas %.4f gradient %.4f; highest: canvas %.5f gradient %.5f\n", canvas_low, grad_low,
              canvas_high, grad_high);
  EXPECT_GT(canvas_low, 2 * grad_low);
  EXPECT_LT(canvas_high, 0.1 * canvas_low);
}

// The user's picture: its content enters the key; it is defocused below the
// sharpness of a sharp face; missing or non-image files are clear errors.
TEST(Backdrop, UserPictureEntersTheKeyByContent) {
  const std::string path = user_picture("bd-key", portrait("laos.jpg"));
  json p = params("image");
  p["image"] = path;
  p = resolve_params("backdrop", stage().params(), p);
  const std::string k1 = step_key("prev", stage(), p), k1b = step_key("prev", stage(), p);
  EXPECT_EQ(k1, k1b);
  fs::copy_file(portrait("classroom_in_tanzania.jpg"), path, fs::copy_options::overwrite_existing);
  const std::string k2 = step_key("prev", stage(), p);
  EXPECT_NE(k1, k2) << "same path, other content, other key";
  // Without the picture the key reads no file.
  EXPECT_NE(step_key("prev", stage(), params("office")), k2);
  fs::remove_all(fs::path(path).parent_path());
}

TEST(Backdrop, UserPictureIsDefocusedBelowTheFacesSharpness) {
  const std::string path = user_picture("bd-img", portrait("classroom_in_tanzania.jpg"));
  json p = params("image");
  p["image"] = path;
  bd::Shot shot = small_shot(0);
  // A sharp face: a crop of a real portrait.
  const cv::Mat face = srgb_to_linear(decode_image(portrait("woman_portrait.jpg")).bgr);
  cv::Mat f;
  cv::resize(face(cv::Rect(face.cols / 4, face.rows / 6, face.cols / 2, face.rows / 2)), f, cv::Size(80, 100), 0, 0,
             cv::INTER_AREA);
  shot.face_gray = gray(f);
  const bd::Backdrop b = bd::make(bd::request_from(p), shot);
  const bd::Backdrop s = bd::make(bd::request_from(p), shot, bd::Options{true});
  const double face_hf = hf_energy(f), b_hf = hf_energy(b.image), s_hf = hf_energy(s.image);
  std::printf("fine detail: face %.3g, picture sharp %.3g, as backdrop %.3g (%s)\n", face_hf, s_hf, b_hf,
              b.words.c_str());
  EXPECT_LT(b_hf, 0.1 * s_hf);
  EXPECT_LT(b_hf, 0.1 * face_hf);
  EXPECT_TRUE(b.light.set);
  fs::remove_all(fs::path(path).parent_path());
}

TEST(Backdrop, UnusablePicturesAreClearErrors) {
  auto code_of = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode(0);
  };
  const std::string dir = temp_dir("bd-bad");
  json p = params("image");
  p["image"] = dir + "/missing.jpg";
  EXPECT_EQ(code_of([&] { step_key("prev", stage(), p); }), ErrorCode::bad_input);
  write_bytes(dir + "/notes.jpg", "these are not pixels");
  p["image"] = dir + "/notes.jpg";
  Frame f;
  f.rendered = true;
  f.image = cv::Mat(64, 64, CV_32FC3, cv::Scalar::all(0.2));
  f.alpha = cv::Mat(64, 64, CV_32F, cv::Scalar(0));
  JobContext ctx;
  EXPECT_EQ(code_of([&] { stage().run(f, p, ctx); }), ErrorCode::bad_input);
  EXPECT_EQ(code_of([&] { step_key("prev", stage(), params("image")); }), ErrorCode(0)) << "no file named, none read";
  EXPECT_EQ(code_of([&] { stage().run(f, params("image"), ctx); }), ErrorCode::usage) << "style image wants a picture";
  EXPECT_EQ(code_of([&] { resolve_params("backdrop", stage().params(), {{"style", "plaid"}}); }), ErrorCode::usage);
  fs::remove_all(dir);
}

// End to end on a real photo: behind every backdrop, pixels farther than 3%
// of the frame's height from the person are the backdrop alone.
TEST(Backdrop, NoOldSceneLeftBehindAnyBackdrop) {
  const std::string photo = people("person04_1.jpg");
  const std::string pic = user_picture("bd-e2e", portrait("laos.jpg"));
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0);
  r.find("frame")->params["width"] = 400;
  r.find("frame")->params["height"] = 500;
  r = r.until("matte");  // the matte's frame, composited below
  JobContext ctx;
  auto src = std::make_shared<Frame>();
  src->image = decode_image(photo).bgr;
  const Frame matte = *run_recipe(src, "bd-e2e:" + photo, r, ctx, nullptr).frame;
  ASSERT_NE(matte.subject_face(), nullptr);
  cv::Mat dist;
  cv::distanceTransform(~cv::Mat(matte.alpha >= 0.5), dist, cv::DIST_L2, cv::DIST_MASK_5);
  const cv::Mat far = dist > 0.03 * matte.image.rows;
  for (const auto& style : bd::styles()) {
    json p = params(style, 7);
    if (style == "image") p["image"] = pic;
    const Frame out = stage().run(matte, p, ctx);
    const bd::Backdrop alone = bd::make(bd::request_from(p), bd::shot_from(matte));
    cv::Mat diff;
    cv::absdiff(linear_to_srgb8(out.image), linear_to_srgb8(alone.image), diff);
    double worst = 0;
    cv::Mat far3;
    cv::merge(std::vector<cv::Mat>{far, far, far}, far3);
    cv::minMaxLoc(diff.reshape(1, 1), nullptr, &worst, nullptr, nullptr, far3.reshape(1, 1));
    std::printf("%-9s %2.0f%% far from the person, largest difference there %.0f; %s\n", style.c_str(),
                100.0 * cv::countNonZero(far) / far.total(), worst, out.edits.back().c_str());
    EXPECT_LE(worst, 6) << style;
    EXPECT_TRUE(out.light.set) << style;
    EXPECT_EQ(cv::norm(out.light.color - alone.light.color), 0) << style;
    EXPECT_NE(out.edits.back().find("background replaced with"), std::string::npos);
  }
  fs::remove_all(fs::path(pic).parent_path());
}
