// The retouch stage on real portraits: at each purpose's polish the skin's
// fine detail (pores, freckles) stays, its mid band (mottling) is smoothed,
// identity holds; a painted blemish goes, the mole on city_portrait.jpg
// stays unless listed to remove; polish 0 changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"
#include "stages/retouch/skin.hpp"
#include "stages/stages.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;

namespace {
// The canvas the retouch gets (rendered and matted, before it), at 768x960,
// shared by every test in the process.
const Frame& canvas(const std::string& file, int width = 768, int height = 960) {
  static std::map<std::string, Frame> cache;
  const std::string key = file + cv::format("@%dx%d", width, height);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Recipe r = build_recipe(plan_prompt("", "corporate"), 0).until("matte");
  r.find("frame")->params["width"] = width;
  r.find("frame")->params["height"] = height;
  JobContext ctx;
  return cache[key] = *run_recipe(source_frame(file), "retouch:" + key, r, ctx, nullptr).frame;
}

Frame retouched(const Frame& in, const json& params) {
  const Stage& s = retouch_stage();
  JobContext ctx;
  return s.run(in, resolve_params("retouch", s.params(), params), ctx);
}

cv::Mat srgb(const Frame& f) { return linear_to_srgb8(f.image); }

// Grey 0..255 of the 8-bit sRGB image (what a viewer sees), float.
cv::Mat grey(const Frame& f) {
  cv::Mat g, gf;
  cv::cvtColor(srgb(f), g, cv::COLOR_BGR2GRAY);
  g.convertTo(gf, CV_32F);
  return gf;
}

// The face's skin, away from its edges and the features by `away` px: a
// band measured nearer measures the edge of a brow, a lash line, a glasses
// rim or the jaw against the backdrop, not the skin. 8 px (4 sigma) for the
// fine band (sigma 2), 16 px (2 sigma) for the mid band (G2 - G8, whose
// wider Gaussian reaches that far).
cv::Mat skin_mask(const Frame& f, int away = 8) {
  cv::Mat m = f.layers.at("face_skin").data.mul(f.alpha) > 0.5, e;
  cv::erode(m, e, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * away + 1, 2 * away + 1)));
  return e;
}

// Energy of the fine band (I - G(I, 2)) and of the mid band (G(I, 2) -
// G(I, 8)) in a mask.
struct Bands {
  double fine = 0, mid = 0;
};
Bands bands(const cv::Mat& g, const cv::Mat& mask) {
  cv::Mat g2, g8;
  cv::GaussianBlur(g, g2, cv::Size(), 2);
  cv::GaussianBlur(g, g8, cv::Size(), 8);
  const cv::Mat f = g - g2, m = g2 - g8;
  return {cv::norm(f, cv::NORM_L2SQR, mask), cv::norm(m, cv::NORM_L2SQR, mask)};
}

std::vector<float> embedding(const cv::Mat& bgr) {
  const std::vector<Face> faces = FaceAnalyzer::shared().analyze(bgr, true);
  const int s = FaceAnalyzer::main_subject(faces, bgr.size());
  return s < 0 ? std::vector<float>{} : faces[s].embedding;
}

std::string dump_dir() {
  const char* d = std::getenv("RETOUCH_DUMP");
  return d ? d : "";
}
void dump(const std::string& name, const cv::Mat& bgr8) {
  if (!dump_dir().empty()) write_bytes(dump_dir() + "/" + name + ".png", encode_image(bgr8, ImageFormat::png, 0));
}
cv::Rect face_box(const Frame& f, float grow = 0.15f) {
  const Face& face = *f.subject_face();
  std::vector<cv::Point2f> p;
  for (const auto& q : face.mesh) p.emplace_back(q.x, q.y);
  cv::Rect2f b = cv::boundingRect(p);
  b.x -= grow * b.width, b.y -= grow * b.height, b.width *= 1 + 2 * grow, b.height *= 1 + 2 * grow;
  return cv::Rect(b) & cv::Rect(cv::Point(), f.image.size());
}

// Eight people (women and men, fair to dark skin, 20s to 50s, a beard and
// glasses).
const char* kPeople[] = {"person01_1.jpg", "person04_1.jpg", "person10_1.jpg", "person11_1.jpg",
                         "person05_1.jpg", "person08_1.jpg", "person02_1.jpg", "person13_1.jpg"};

// Every purpose's retouch, its polish read from its data file
// (data/purposes/): the fine band's energy each keeps at least (the issue's
// 70% corporate, 85% nonprofit, 95% artist; a warm natural dating portrait
// like nonprofit; actor's casting headshot is not retouched at all).
struct PurposeCase {
  const char* name;
  double fine_kept;
  double polish() const { return find_purpose(name).stages["retouch"]["polish"].get<double>(); }
  bool corporate() const { return std::string(name) == "corporate"; }
};
const PurposeCase kDefaults[] = {{"corporate", 0.70}, {"nonprofit", 0.85}, {"artist", 0.95}, {"ecommerce", 0.70},
                                 {"social", 0.70},    {"actor", 1.0},      {"dating", 0.85}};
double corporate_polish() { return kDefaults[0].polish(); }

// L* of a linear BGR image.
cv::Mat lightness(const cv::Mat& linear) {
  cv::Mat lin, lab, L;
  cv::min(cv::max(linear, 0.0), 1.0, lin);
  cv::cvtColor(lin, lab, cv::COLOR_LBGR2Lab);
  cv::extractChannel(lab, L, 0);
  return L;
}

// How much darker (L*) a spot at p (radius r) is than the ring around it
// (2r..3.5r): the darkest 3x3 mean inside against the ring's median.
double spot_contrast(const cv::Mat& linear, cv::Point2f p, float r) {
  const cv::Mat L = lightness(linear);
  cv::Mat L3;
  cv::blur(L, L3, cv::Size(3, 3));
  double darkest = 1e9;
  std::vector<float> ring;
  const int R = int(std::ceil(3.5f * r));
  for (int y = int(p.y) - R; y <= int(p.y) + R; ++y)
    for (int x = int(p.x) - R; x <= int(p.x) + R; ++x) {
      const double d = std::hypot(x - p.x, y - p.y);
      if (d <= r) darkest = std::min(darkest, double(L3.at<float>(y, x)));
      if (d >= 2 * r && d <= 3.5 * r) ring.push_back(L.at<float>(y, x));
    }
  std::nth_element(ring.begin(), ring.begin() + ring.size() / 2, ring.end());
  return ring[ring.size() / 2] - darkest;
}

}  // namespace

// At each purpose's polish, on eight people: the fine band (I - G(I, 2))
// keeps at least 70% (corporate, ecommerce, social), 85% (nonprofit), 95%
// (artist) of its energy in the skin; at corporate the mid band (G2 - G8)
// is smoothed to 0.95 or less; identity (cosine of the recogniser's
// embeddings, 8-bit sRGB canvas before and after) 0.995 or more.
// Measured at corporate: mid 0.818-0.940 (person13 0.940, person02 0.933
// the closest), identity 0.9959 (person13) to 0.9991; fine 0.905-1.000.
// The mid band is measured 16 px (its wider sigma's 2 sigma) from anything
// that is not skin; at 8 px, like the fine band, 70% (person02: eye makeup
// beside the protected lash line, lash and smile-crease edges) and 79%
// (person13: glasses rims, the beard's borders) of the energy measured lay
// where the stage must not smooth, and those two stayed at 0.962 and 0.958.
TEST(Retouch, EveryPurposeHasItsDetailTarget) {
  for (const std::string& name : purpose_names())
    EXPECT_TRUE(
        std::any_of(std::begin(kDefaults), std::end(kDefaults), [&](const PurposeCase& c) { return name == c.name; }))
        << name << ": give it a fine-detail target here";
  EXPECT_LT(find_purpose("artist").stages["retouch"]["polish"].get<double>(), corporate_polish());
}

class Purposes : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(People, Purposes, ::testing::ValuesIn(kPeople));

TEST_P(Purposes, FineDetailKeptMidBandSmoothedIdentityHeld) {
  const std::string file = GetParam();
  const Frame& in = canvas(people(file));
  ASSERT_NE(in.subject_face(), nullptr);
  const cv::Mat mask = skin_mask(in);
  ASSERT_GT(cv::countNonZero(mask), 20000);
  const cv::Mat open_skin = skin_mask(in, 16);
  ASSERT_GT(cv::countNonZero(open_skin), 10000);
  const Bands b0 = bands(grey(in), mask);
  const double mid0 = bands(grey(in), open_skin).mid;
  const auto e0 = embedding(srgb(in));
  ASSERT_FALSE(e0.empty());
  for (const PurposeCase& pu : kDefaults) {
    const Frame out = retouched(in, {{"polish", pu.polish()}});
    const Bands b1 = bands(grey(out), mask);
    const double fine = b1.fine / b0.fine, mid = bands(grey(out), open_skin).mid / mid0;
    const double cos = similarity(embedding(srgb(out)), e0);
    std::printf("%s %-9s polish %.2f: fine %.3f, mid %.4f (at 8 px %.4f), identity %.5f; %s\n", file.c_str(), pu.name,
                pu.polish(), fine, mid, b1.mid / b0.mid, cos, out.edits.back().c_str());
    EXPECT_GE(fine, pu.fine_kept) << pu.name;
    if (pu.corporate()) {
      EXPECT_LE(mid, 0.95) << pu.name;
    }
    EXPECT_GE(cos, 0.995) << pu.name;
  }
}

namespace {
// A blemish painted on the cheek (mesh point 205, the subject's right
// cheek): a 6 px disc in the cheek's own colour made 12 L* darker and 14
// a* redder — an inflamed spot (reddish-brown), feathered over a pixel.
Frame painted(const Frame& in, cv::Point2f* where) {
  const Face& f = *in.subject_face();
  const cv::Point2f c(f.mesh[205].x, f.mesh[205].y);
  cv::Mat lab;
  cv::Mat lin;
  cv::min(cv::max(in.image, 0.0), 1.0, lin);
  cv::cvtColor(lin, lab, cv::COLOR_LBGR2Lab);
  const cv::Rect around(int(c.x) - 6, int(c.y) - 6, 13, 13);
  cv::Scalar m = cv::mean(lab(around));
  cv::Mat px(1, 1, CV_32FC3, cv::Scalar(m[0] - 12, m[1] + 14, m[2] + 4)), spot_lin;
  cv::cvtColor(px, spot_lin, cv::COLOR_Lab2LBGR);
  const cv::Vec3f colour = spot_lin.at<cv::Vec3f>(0, 0);
  Frame out = in;
  out.image = in.image.clone();
  for (int y = around.y; y < around.br().y; ++y)
    for (int x = around.x; x < around.br().x; ++x) {
      const float a = std::clamp(3.5f - float(std::hypot(x - c.x, y - c.y)), 0.f, 1.f);  // radius 3, 1 px edge
      cv::Vec3f& v = out.image.at<cv::Vec3f>(y, x);
      v = (1 - a) * v + a * colour;
    }
  if (!in.foreground.empty()) out.foreground = out.image.clone();
  *where = c;
  return out;
}
}  // namespace

// The painted blemish goes at polish 0.3 and more: at least 60% of the
// darkness it added is gone (measured: person04 all of it — 0.3-1.0 L*
// left where the unpainted cheek has 1.7 —, person10 77-79%, person11
// 69-70%; what is left on person11 is the heal's fill, a little darker
// than the ring on a textured cheek — by eye the spot is gone). On person04
// the spot sits in finely striated skin beside a strand of hair: at the
// finder's threshold it is one large component with that texture, found
// only since large components are split (skin.cpp). A `keep` at its
// position keeps it.
TEST(Retouch, APaintedBlemishOnACheekIsHealed) {
  for (const char* file : {"person04_1.jpg", "person10_1.jpg", "person11_1.jpg"}) {
    cv::Point2f c;
    const Frame in = painted(canvas(people(file)), &c);
    const double before = spot_contrast(in.image, c, 3);
    const double clean = spot_contrast(canvas(people(file)).image, c, 3);
    for (double pol : {0.1, 0.3, 0.5, 1.0}) {
      const Frame out = retouched(in, {{"polish", pol}});
      const double after = spot_contrast(out.image, c, 3);
      if (pol == 0.3) {
        const cv::Rect r = cv::Rect(int(c.x) - 40, int(c.y) - 40, 80, 80) & cv::Rect(cv::Point(), in.image.size());
        cv::Mat both;
        cv::hconcat(srgb(in)(r), srgb(out)(r), both);
        dump(std::string("spot_") + file, both);
      }
      std::printf("%s polish %.1f: spot %.1f L* darker than the skin around it (unpainted %.1f) -> %.1f; %s\n", file,
                  pol, before, clean, after, out.edits.back().c_str());
      if (pol >= 0.3) {
        EXPECT_LE(after, clean + 0.4 * (before - clean)) << file << " at " << pol;
        const std::string at = cv::format("%.4f,%.4f", c.x / in.image.cols, c.y / in.image.rows);
        const Frame kept = retouched(in, {{"polish", pol}, {"keep", at}});
        EXPECT_GE(spot_contrast(kept.image, c, 3), 0.8 * before) << "listed to keep";
      }
    }
  }
}

namespace {
// The mole on city_portrait.jpg (below the subject's left eye, toward the
// nose): measured once at the 768x960 canvas, at (528, 439) with that eye
// (landmarks 42-47, the image's right) at (533.9, 341.5) and the eye
// distance 300 px: written as an offset from the eye in eye distances.
constexpr float kMoleDx = -0.0198f, kMoleDy = 0.3250f;
cv::Point2f mole_of(const Frame& f) {
  const Face& face = *f.subject_face();
  return face.right_eye() + face.eye_distance() * cv::Point2f(kMoleDx, kMoleDy);
}
}  // namespace

TEST(Retouch, TheMoleStaysAtEveryPurposeAndGoesWhenListed) {
  const Frame& in = canvas(portrait("city_portrait.jpg"));
  const Face& face = *in.subject_face();
  std::printf("eye %.1f,%.1f, eye distance %.1f; mole offset %.4f, %.4f\n", face.right_eye().x, face.right_eye().y,
              face.eye_distance(), (528 - face.right_eye().x) / face.eye_distance(),
              (439 - face.right_eye().y) / face.eye_distance());
  const cv::Point2f m = mole_of(in);
  const float r = 0.018f * face.eye_distance();  // the mole's radius (about 5.5 px here)
  const double before = spot_contrast(in.image, m, r);
  std::printf("mole at %.0f,%.0f: %.1f L* darker than the skin around it\n", m.x, m.y, before);
  ASSERT_GT(before, 10);
  for (const PurposeCase& pu : kDefaults) {
    const Frame out = retouched(in, {{"polish", pu.polish()}});
    const double after = spot_contrast(out.image, m, r);
    std::printf("  %-9s polish %.2f: %.1f (%.0f%%); %s\n", pu.name, pu.polish(), after, 100 * after / before,
                out.edits.back().c_str());
    EXPECT_GE(after, 0.8 * before) << pu.name;
    if (pu.corporate()) {
      const cv::Rect box = face_box(in, 0.f);
      cv::Mat both;
      cv::hconcat(srgb(in)(box), srgb(out)(box), both);
      dump("city_corporate", both);
    }
  }
  const std::string at = cv::format("%.4f,%.4f", m.x / in.image.cols, m.y / in.image.rows);
  const Frame gone = retouched(in, {{"polish", corporate_polish()}, {"remove", at}});
  const double after = spot_contrast(gone.image, m, r);
  std::printf("  remove %s: %.1f (%.0f%%); %s\n", at.c_str(), after, 100 * after / before, gone.edits.back().c_str());
  // What is left is the skin's own variation (3-5 L* in any ring).
  EXPECT_LE(after, 0.4 * before);
  // Removed even at polish 0: a listed mark is the user's own choice.
  const Frame only = retouched(in, {{"polish", 0.0}, {"remove", at}});
  EXPECT_LE(spot_contrast(only.image, m, r), 0.4 * before);
}

TEST(Retouch, PolishZeroChangesNothing) {
  const Stage& s = retouch_stage();
  const json p0 = resolve_params("retouch", s.params(), {{"polish", 0.0}});
  EXPECT_FALSE(s.changes_pixels(p0));
  EXPECT_TRUE(s.changes_pixels(resolve_params("retouch", s.params(), json::object())));
  const Frame& in = canvas(people("person04_1.jpg"));
  const Frame out = retouched(in, {{"polish", 0.0}});
  EXPECT_EQ(cv::norm(out.image, in.image, cv::NORM_INF), 0);
  EXPECT_TRUE(out.retouched.empty());
  EXPECT_EQ(s.c2pa_action(), "c2pa.filtered");
  EXPECT_EQ(s.c2pa_source_type(), "algorithmicallyEnhanced");
}

// The edit map shows the skin (and only near the face), and the person's own
// colour for the composite changed with the image.
TEST(Retouch, RecordsWhatItChangedAndKeepsTheForegroundInStep) {
  const Frame& in = canvas(people("person10_1.jpg"));
  const Frame out = retouched(in, {{"polish", corporate_polish()}});
  ASSERT_FALSE(out.retouched.empty());
  ASSERT_EQ(out.retouched.size(), in.image.size());
  const cv::Mat skin = skin_mask(in);
  const double on_skin = cv::mean(out.retouched, skin)[0], corner = out.retouched.at<float>(5, 5);
  std::printf("edit map: mean %.3f on the skin, %.3f in the corner\n", on_skin, corner);
  EXPECT_GT(on_skin, 0.02);
  EXPECT_EQ(corner, 0);
  EXPECT_EQ(out.source_type, "algorithmicallyEnhanced");
  if (!in.foreground.empty()) {
    const cv::Mat d_img = out.image - in.image, d_fg = out.foreground - in.foreground;
    // Inside the person (alpha 1), where the composite's colour is the
    // image's own, the foreground moved with it.
    EXPECT_LT(cv::norm(d_img, d_fg, cv::NORM_INF, in.alpha > 0.999), 1e-5);
  }
}

TEST(Retouch, BadMarksAreAClearUsageError) {
  const Stage& s = retouch_stage();
  for (const char* bad : {"0.5", "0.5;0.3", "1.2,0.3", "a,b", "0.5,0.3,0.1", "[0.5,0.3]"}) {
    try {
      resolve_params("retouch", s.params(), {{"remove", bad}});
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::usage);
      EXPECT_EQ(e.info().param, "remove");
      EXPECT_NE(std::string(e.what()).find("x,y;x,y"), std::string::npos) << e.what();
      if (std::string(bad) == "0.5;0.3") std::printf("%s\n", e.what());
    }
  }
  for (const char* good : {"", "0.5,0.3", " 0.5 , 0.3 ; 1,0 ;", ".25,.75;0.1,0.9"}) {
    const json p = resolve_params("retouch", s.params(), {{"remove", good}});
    EXPECT_NO_THROW(retouch::parse_marks(p["remove"], cv::Size(100, 100), "remove")) << good;
  }
  EXPECT_EQ(retouch::parse_marks(".25,.75;0.1,0.9", cv::Size(100, 200), "remove"),
            (std::vector<cv::Point2f>{{25, 150}, {10, 180}}));
  // Through the CLI's text parsing too.
  for (const ParamSpec& p : s.params())
    if (p.key == "remove") {
      EXPECT_THROW(parse_param_text("retouch", p, "0.5;0.3"), Error);
    }
}

// Time at a 1024x1280 canvas on two threads (the face's region only).
TEST(Retouch, TimeAt1024x1280) {
  const Frame& in = canvas(people("person04_1.jpg"), 1024, 1280);
  cv::setNumThreads(2);
  retouched(in, {{"polish", 0.5}});  // warm
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    retouched(in, {{"polish", 0.5}});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("retouch at 1024x1280 (eye distance %.0f px): median %.0f ms, best %.0f ms\n",
              in.subject_face()->eye_distance(), ms[2], ms[0]);
  // Measured after the work moved to the face's region: 70-93 ms median
  // with the machine quiet (load < 2), 120-180 ms with it shared (load
  // 3-5); 485 ms before (load ~3). With the blemish finder's splitting,
  // the soft knee and the taper near features: 125-141 ms against 113-131
  // ms for the stage before them, run alternately on the shared machine
  // (load 1.1-1.7).
  EXPECT_LT(ms[2], 1000) << "a regression guard; the target is 120 ms";
}
