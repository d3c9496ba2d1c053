// The relight stage on real portraits: the key's side moves the light
// between the cheeks; Rembrandt keeps a lit triangle under the far eye while
// the far cheek darkens; the nose casts a shadow where the pattern has one;
// shadows of skin stay warm, not grey; the face's exposure is kept; every
// pattern keeps the person (identity cosine to the input >= 0.97); "none"
// changes nothing and "match" without a backdrop is a usage error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"
#include "stages/relight/light.hpp"
#include "stages/stages.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {
// Frontal, evenly lit portraits of three people, composited on a neutral
// grey (so the backdrop's light is neutral), before the relight.
const std::vector<std::string>& subjects() {
  static const std::vector<std::string> s = {"person01_1.jpg", "person05_1.jpg", "person13_2.jpg", "person11_2.jpg"};
  return s;
}

const Frame& composite(const std::string& file) {
  static std::mutex mu;
  static std::map<std::string, Frame> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(file);
  if (it != cache.end()) return it->second;
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0).until("backdrop");
  r.find("frame")->params["width"] = 512;
  r.find("frame")->params["height"] = 640;
  r.find("frame")->params["crop"] = "headshot";
  r.find("backdrop")->params = {{"style", "solid"}, {"color", "#808080"}, {"harmonise", 0}, {"wrap", 0}};
  auto src = std::make_shared<Frame>();
  src->image = decode_image(people(file)).bgr;
  JobContext ctx;
  return cache.emplace(file, *run_recipe(src, "relight-test:" + file, r, ctx, nullptr).frame).first->second;
}

Frame relit(const Frame& in, json given) {
  const Stage& s = relight_stage();
  JobContext ctx;
  return s.run(in, resolve_params("relight", s.params(), given), ctx);
}

cv::Mat srgb8(const Frame& f) { return linear_to_srgb8(f.image); }

cv::Mat luminance(const Frame& f) {
  cv::Mat l;
  cv::transform(f.image, l, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  return l;
}

// Mean luminance of the face's skin in a disc around a point.
double disc_mean(const Frame& f, const cv::Mat& lum, cv::Point2f c, float r) {
  cv::Mat m = cv::Mat::zeros(lum.size(), CV_8U);
  cv::circle(m, c, int(std::lround(r)), cv::Scalar(255), -1);
  m &= f.layers.at("face_skin").data > 0.5f;
  EXPECT_GT(cv::countNonZero(m), 10);
  return cv::mean(lum, m)[0];
}

cv::Point2f at(const Face& f, int i) { return {f.mesh[i].x, f.mesh[i].y}; }

// The cheeks: below the outer corner of each eye, level with the nose's wing.
// Subject's left cheek (image right) and right cheek (image left).
double cheek_ratio(const Frame& f) {
  const Face& face = f.faces[f.subject];
  const float fw = float(cv::norm(at(face, 234) - at(face, 454)));
  const cv::Mat lum = luminance(f);
  return disc_mean(f, lum, at(face, 425), 0.07f * fw) / disc_mean(f, lum, at(face, 205), 0.07f * fw);
}

std::vector<float> embedding(const cv::Mat& bgr) {
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(bgr, true);
  const int s = FaceAnalyzer::main_subject(faces, bgr.size());
  return s < 0 ? std::vector<float>{} : faces[s].embedding;
}

void dump(const std::string& name, const Frame& f) {
  const char* dir = std::getenv("LIKENESS_RELIGHT_DUMP");
  if (!dir) return;
  std::filesystem::create_directories(dir);
  cv::imwrite(std::string(dir) + "/" + name + ".png", srgb8(f));
}
}  // namespace

TEST(Relight, TheKeysSideMovesTheLightBetweenTheCheeks) {
  for (const auto& file : subjects()) {
    const Frame& in = composite(file);
    dump(file + "-input", in);
    const double before = cheek_ratio(in);
    for (const char* pattern : {"split", "rembrandt", "loop"}) {
      const Frame left = relit(in, {{"pattern", pattern}, {"side", "left"}});
      const Frame right = relit(in, {{"pattern", pattern}, {"side", "right"}});
      dump(file + "-" + pattern + "-left", left);
      dump(file + "-" + pattern + "-right", right);
      const double l = cheek_ratio(left), r = cheek_ratio(right);
      std::printf("%s %-9s: cheek ratio (subject's left / right) input %.3f, key left %.3f, key right %.3f: %.2fx\n",
                  file.c_str(), pattern, before, l, r, l / r);
      // A loop light is gentler than many photos' own: only its order holds.
      EXPECT_GT(l, r) << file << " " << pattern;
      if (std::string(pattern) == "loop") continue;
      EXPECT_GT(l, before) << file << " " << pattern;
      EXPECT_LT(r, before) << file << " " << pattern;
      if (std::string(pattern) == "split") EXPECT_GE(l / r, 2.5) << file;
    }
  }
}

// Rembrandt with the key on the subject's left: the far (right) eye's cheek
// goes into shadow, but a triangle of light stays under that eye, beside
// the nose, where the key passes over the bridge.
TEST(Relight, RembrandtKeepsALitTriangleUnderTheFarEye) {
  for (const auto& file : subjects()) {
    const Frame& in = composite(file);
    const Frame out = relit(in, {{"pattern", "rembrandt"}, {"side", "left"}, {"strength", 1.0}});
    const Face& face = in.faces[in.subject];
    const float fw = float(cv::norm(at(face, 234) - at(face, 454)));
    // The far eye's centre, the nose's tip and the far cheek's outer part.
    const cv::Point2f eye = (at(face, 33) + at(face, 133)) * 0.5f, nose = at(face, 4);
    const cv::Point2f triangle(eye.x + 0.15f * (nose.x - eye.x), eye.y + 0.7f * (nose.y - eye.y));
    const cv::Point2f cheek = at(face, 205) - cv::Point2f(0.06f * fw, -0.04f * fw);
    const cv::Mat li = luminance(in), lo = luminance(out);
    const double t0 = disc_mean(in, li, triangle, 0.04f * fw), c0 = disc_mean(in, li, cheek, 0.05f * fw);
    const double t1 = disc_mean(out, lo, triangle, 0.04f * fw), c1 = disc_mean(out, lo, cheek, 0.05f * fw);
    if (std::getenv("LIKENESS_RELIGHT_DUMP")) {
      Frame marked = out;
      marked.image = out.image.clone();
      cv::circle(marked.image, triangle, int(0.04f * fw), cv::Scalar(0, 1, 0), 1);
      cv::circle(marked.image, cheek, int(0.05f * fw), cv::Scalar(0, 0, 1), 1);
      dump(file + "-rembrandt-marked", marked);
    }
    std::printf("%s rembrandt: far cheek %.4f -> %.4f (%.2fx), triangle/cheek %.2f -> %.2f\n", file.c_str(), c0, c1,
                c1 / c0, t0 / c0, t1 / c1);
    EXPECT_LT(c1, 0.85 * c0) << file << ": the far cheek darkens";
    EXPECT_GT(t1 / c1, 1.15 * (t0 / c0)) << file << ": the triangle stays lit against the cheek";
    EXPECT_GT(t1 / c1, 1.5) << file;
  }
}

// The nose casts its shadow: with a loop light from the subject's left the
// skin just right of the nose (subject's right) darkens more than the same
// spot would under the key's shading alone, i.e. more than the far cheek's
// inner part a little further out.
TEST(Relight, TheNoseCastsAShadowWhereThePatternHasOne) {
  for (const auto& file : subjects()) {
    const Frame& in = composite(file);
    const Face& face = in.faces[in.subject];
    const float fw = float(cv::norm(at(face, 234) - at(face, 454)));
    const relight::Shape shape = relight::subject_shape(in.alpha, face.mesh, 1.0);
    ASSERT_TRUE(shape.valid());
    const relight::Light loop =
        relight::light_for(relight::find_pattern("loop"), 0, relight::facing_side(face.mesh), 1, 0, 0, 0, 0);
    const cv::Mat vis = relight::key_visibility(shape, loop.key, loop.softness);
    // Below and beside the nose on the far side: the loop's shadow.
    const cv::Point2f tip = at(face, 4);
    const cv::Point2f below(tip.x - 0.07f * fw, tip.y + 0.1f * fw);
    const float v_shadow = vis.at<float>(cv::Point(below)), v_lit = vis.at<float>(cv::Point(at(face, 425)));
    const relight::Light front =
        relight::light_for(relight::find_pattern("butterfly"), 0, 0, 1, 0, -45, 0, 0);  // on the camera's axis
    const float v_front = relight::key_visibility(shape, front.key, front.softness).at<float>(cv::Point(below));
    std::printf("%s: key visibility beside the nose %.2f (lit cheek %.2f, frontal key %.2f)\n", file.c_str(), v_shadow,
                v_lit, v_front);
    EXPECT_LT(v_shadow, 0.5f) << file;
    EXPECT_GT(v_lit, 0.95f) << file;
    EXPECT_GT(v_front, 0.95f) << file;
  }
}

// The mean of the brighter half of a set of values.
double top_half(const cv::Mat& values, const cv::Mat& mask) {
  std::vector<float> v;
  for (int y = 0; y < values.rows; ++y)
    for (int x = 0; x < values.cols; ++x)
      if (mask.at<uchar>(y, x)) v.push_back(values.at<float>(y, x));
  std::sort(v.begin(), v.end());
  double s = 0;
  for (size_t i = v.size() / 2; i < v.size(); ++i) s += v[i];
  return s / double(v.size() - v.size() / 2);
}

// Every pattern keeps the face's exposure (its lit side, as a photographer
// exposes) and the person.
TEST(Relight, EveryPatternKeepsTheFacesExposureAndThePerson) {
  for (const auto& file : subjects()) {
    const Frame& in = composite(file);
    const std::vector<float> e0 = embedding(srgb8(in));
    ASSERT_FALSE(e0.empty());
    const cv::Mat skin = in.layers.at("face_skin").data.mul(in.alpha) > 0.5f;
    const double y0 = top_half(luminance(in), skin), m0 = cv::mean(luminance(in), skin)[0];
    double worst = 1;
    for (const auto& p : relight::patterns()) {
      if (p.name == "none" || p.name == "match") continue;
      const Frame out = relit(in, {{"pattern", p.name}});
      dump(file + "-p-" + p.name, out);
      const double cos = similarity(e0, embedding(srgb8(out)));
      const double y1 = top_half(luminance(out), skin), m1 = cv::mean(luminance(out), skin)[0];
      std::printf("%s %-13s identity %.4f, lit side %+.1f%%, face mean %+.1f%%\n", file.c_str(), p.name.c_str(), cos,
                  100 * (y1 / y0 - 1), 100 * (m1 / m0 - 1));
      worst = std::min(worst, cos);
      EXPECT_GE(cos, 0.97) << file << " " << p.name;
      EXPECT_NEAR(y1 / y0, 1.0, 0.03) << file << " " << p.name;
    }
    std::printf("%s: lowest identity %.4f\n", file.c_str(), worst);
  }
}

// The shadow side of skin keeps its colour: darkened skin is as saturated
// as before and no cooler (real skin shadows are warm and dense, not grey).
TEST(Relight, SkinShadowsStayWarmNotGrey) {
  for (const auto& file : subjects()) {
    const Frame& in = composite(file);
    const Frame out = relit(in, {{"pattern", "split"}, {"side", "left"}, {"strength", 1.0}});
    cv::Mat lab0, lab1;
    cv::cvtColor(cv::min(cv::max(in.image, 0), 1), lab0, cv::COLOR_LBGR2Lab);
    cv::cvtColor(cv::min(cv::max(out.image, 0), 1), lab1, cv::COLOR_LBGR2Lab);
    const cv::Mat darker =
        (luminance(out) < 0.6 * luminance(in)) & (in.layers.at("face_skin").data > 0.5f) & (in.alpha > 0.95f);
    ASSERT_GT(cv::countNonZero(darker), 200) << file;
    std::vector<cv::Mat> c0, c1;
    cv::split(lab0, c0);
    cv::split(lab1, c1);
    cv::Mat chroma0, chroma1, hue0, hue1;
    cv::magnitude(c0[1], c0[2], chroma0);
    cv::magnitude(c1[1], c1[2], chroma1);
    cv::phase(c0[1], c0[2], hue0, true);
    cv::phase(c1[1], c1[2], hue1, true);
    // Saturation as the eye reads it: chroma relative to lightness.
    const double s0 = cv::mean(chroma0 / cv::max(c0[0], 1), darker)[0],
                 s1 = cv::mean(chroma1 / cv::max(c1[0], 1), darker)[0];
    const double h0 = cv::mean(hue0, darker)[0], h1 = cv::mean(hue1, darker)[0];
    std::printf("%s: skin in shadow: saturation C*/L* %.3f -> %.3f, hue %.1f -> %.1f deg\n", file.c_str(), s0, s1, h0,
                h1);
    EXPECT_GE(s1, 1.05 * s0) << file << ": denser, not grey";
    EXPECT_LE(h1, h0 + 1) << file << ": no cooler (toward yellow-green) than before";
  }
}

TEST(Relight, NoneChangesNothingAndMatchNeedsABackdrop) {
  const Frame& in = composite(subjects()[0]);
  const Frame none = relit(in, {{"pattern", "none"}});
  EXPECT_EQ(cv::norm(none.image, in.image, cv::NORM_INF), 0.0);
  EXPECT_FALSE(relight_stage().changes_pixels(resolve_params("relight", relight_stage().params(), {})));
  Frame bare = in;
  bare.light = SceneLight{};
  try {
    relit(bare, {{"pattern", "match"}});
    FAIL() << "match without a backdrop's light";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage);
    EXPECT_NE(std::string(e.what()).find("backdrop"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_params("relight", relight_stage().params(), {{"pattern", "disco"}}), Error);
  // A whole recipe is refused before any work when match has no backdrop
  // before it; with one, or with a named pattern, it is fine.
  Recipe plan = build_recipe(plan_prompt("", "corporate"), 0);
  plan.find("relight")->params["pattern"] = "match";
  EXPECT_NO_THROW(check_needs(plan));
  Recipe no_backdrop;
  for (const auto& st : plan.steps)
    if (st.stage != "backdrop") no_backdrop.steps.push_back(st);
  try {
    check_needs(no_backdrop, "photo.jpg");
    FAIL() << "a recipe with match and no backdrop";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage);
    EXPECT_EQ(e.info().stage, "relight");
    EXPECT_EQ(e.info().param, "pattern");
  }
  no_backdrop.find("relight")->params["pattern"] = "loop";
  EXPECT_NO_THROW(check_needs(no_backdrop));
  // The backdrop's light: the composite's key side is the side it declares.
  const Frame matched = relit(in, {{"pattern", "match"}, {"strength", 1.0}});
  EXPECT_NE(matched.edits.back().find("relit: match"), std::string::npos) << matched.edits.back();
  const Frame flipped =
      relit(in, {{"pattern", "match"}, {"strength", 1.0}, {"side", in.light.direction[0] > 0 ? "right" : "left"}});
  const double r = cheek_ratio(matched), rf = cheek_ratio(flipped);
  std::printf("match: the backdrop's key at x %+.2f; cheek ratio %.3f, key flipped %.3f\n", in.light.direction[0], r,
              rf);
  if (in.light.direction[0] > 0) EXPECT_GT(r, rf);
  if (in.light.direction[0] < 0) EXPECT_LT(r, rf);
  // The edit map's red channel: the face changed, the backdrop did not.
  ASSERT_FALSE(matched.relit.empty());
  EXPECT_EQ(cv::countNonZero((matched.relit > 0.f) & (in.alpha < 0.001f)), 0);
}

// No seam where the mesh ends: the light's change (log of output over input
// luminance) is as smooth across the mesh's outline (hairline, ears, jaw)
// as inside the face — a cut between the mesh's normals and the head's
// would show there as a ridge.
TEST(Relight, NoSeamWhereTheMeshEnds) {
  for (const auto& file : subjects()) {
    const Frame& in = composite(file);
    const relight::Shape shape = relight::subject_shape(in.alpha, in.faces[in.subject].mesh, 1.0);
    const cv::Mat cover = shape.height == shape.height;  // not NaN: the mesh covers
    cv::Mat outer, inner, band;
    const cv::Mat k = cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9});
    cv::dilate(cover, outer, k);
    cv::erode(cover, inner, k);
    band = (outer & ~inner) & (in.alpha > 0.98f);
    cv::Mat deep;
    cv::erode(cover, deep, cv::getStructuringElement(cv::MORPH_ELLIPSE, {41, 41}));
    for (const char* pattern : {"rembrandt", "split", "overcast-noon"}) {
      const Frame out = relit(in, {{"pattern", pattern}, {"strength", 1.0}});
      cv::Mat ratio;
      cv::log(cv::max(luminance(out), 1e-4) / cv::max(luminance(in), 1e-4), ratio);
      cv::GaussianBlur(ratio, ratio, cv::Size(0, 0), 1.5);  // the photo's own texture is the same in both
      cv::Mat gx, gy, g;
      cv::Sobel(ratio, gx, CV_32F, 1, 0, 3, 1.0 / 8);
      cv::Sobel(ratio, gy, CV_32F, 0, 1, 3, 1.0 / 8);
      cv::magnitude(gx, gy, g);
      auto p99 = [&](const cv::Mat& m) {
        std::vector<float> v;
        for (int y = 0; y < g.rows; ++y)
          for (int x = 0; x < g.cols; ++x)
            if (m.at<uchar>(y, x)) v.push_back(g.at<float>(y, x));
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.f : v[v.size() * 99 / 100];
      };
      const float at_edge = p99(band), inside = p99(deep);
      std::printf("%s %-13s: light's change per px, 99th percentile: at the mesh's outline %.4f, inside %.4f\n",
                  file.c_str(), pattern, at_edge, inside);
      EXPECT_LE(at_edge, 1.5f * inside + 0.005f) << file << " " << pattern;
    }
  }
}
