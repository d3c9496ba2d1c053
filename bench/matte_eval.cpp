// matte_eval: measures the person matte against reference mattes on busy
// backgrounds, for each matting method.
//
// References: people photographed on plain backgrounds. The background is
// modelled per pixel (a quadratic surface per channel fitted to the pixels
// far outside the person), and alpha is pulled by colour difference from it
// (CIELAB distance between a noise floor and a contrast ceiling), with the
// person's solid interior (well inside the network's matte) kept at 1.
// Compositing onto a new background B' is then exact under the matting
// model, with no foreground estimate: C' = C + (1 - a)(B' - B), in linear
// light. Each photo goes onto each busy background (a crowd, a festival, a
// couple, a sign with letters, foliage) and every method's matte of the composite is
// compared with the reference:
//   SAD        sum |a - a_ref| / 1000 (the matting literature's unit)
//   edge SAD   the same within the reference's edge band (0 < a_ref < 1,
//              grown by 1% of the photo's height)
//   gradient   sum (|grad a| - |grad a_ref|)^2 / 1000 (Gaussian derivatives,
//              sigma 1.4)
//   MSE        mean (a - a_ref)^2 x 1000
// Usage: matte_eval OUT_DIR [PHOTO ...] (photos default to plain-background
// ones in ../shared/faces). Writes OUT_DIR/report.md, the reference mattes
// and the composites (PNG) for checking by eye.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"

namespace fs = std::filesystem;
using namespace likeness;

namespace {
#ifndef LIKENESS_FACES_DIR
#define LIKENESS_FACES_DIR "../shared/faces"
#endif
const std::string kFaces = LIKENESS_FACES_DIR;

// A quadratic surface per channel fitted to `img` where `mask`.
cv::Mat fit_background(const cv::Mat& img, const cv::Mat& mask) {
  std::vector<cv::Point> pts;
  cv::findNonZero(mask, pts);
  const int step = std::max<int>(1, int(pts.size() / 20000));
  std::vector<cv::Point> s;
  for (size_t i = 0; i < pts.size(); i += step) s.push_back(pts[i]);
  const double W = img.cols, H = img.rows;
  auto basis = [&](double x, double y, double* b) {
    x = x / W - 0.5, y = y / H - 0.5;
    b[0] = 1, b[1] = x, b[2] = y, b[3] = x * x, b[4] = x * y, b[5] = y * y;
  };
  cv::Mat A(int(s.size()), 6, CV_64F), rhs(int(s.size()), 3, CV_64F);
  for (int i = 0; i < int(s.size()); ++i) {
    basis(s[i].x, s[i].y, A.ptr<double>(i));
    const cv::Vec3f c = img.at<cv::Vec3f>(s[i]);
    for (int k = 0; k < 3; ++k) rhs.at<double>(i, k) = c[k];
  }
  cv::Mat coef;
  cv::solve(A, rhs, coef, cv::DECOMP_SVD);
  cv::Mat out(img.size(), CV_32FC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      double b[6];
      basis(x, y, b);
      cv::Vec3f v;
      for (int k = 0; k < 3; ++k) {
        double t = 0;
        for (int j = 0; j < 6; ++j) t += b[j] * coef.at<double>(j, k);
        v[k] = float(t);
      }
      out.at<cv::Vec3f>(y, x) = v;
    }
  return out;
}

cv::Mat lab_of(const cv::Mat& linear) {
  cv::Mat lab;
  cv::cvtColor(linear, lab, cv::COLOR_BGR2Lab);  // float input: linear RGB -> Lab
  return lab;
}

struct Reference {
  cv::Mat linear, background, alpha;
};

Reference pull(const cv::Mat& bgr8) {
  Reference r;
  r.linear = srgb_to_linear(bgr8);
  auto src = std::make_shared<Frame>();
  src->image = bgr8;
  JobContext ctx;
  const Cutout cut = cut_out(src, "ref", ctx);
  const cv::Mat a0 = cut.frame->alpha;
  const int H = bgr8.rows;
  // Far outside the person: the background's samples.
  cv::Mat far_out, inside;
  cv::erode(a0 < 0.02, far_out, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(H / 30 | 1, H / 30 | 1)));
  cv::erode(a0 > 0.5, inside, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(H / 25 | 1, H / 25 | 1)));
  r.background = fit_background(r.linear, far_out);
  cv::Mat lab = lab_of(r.linear), blab = lab_of(r.background), d;
  {
    cv::Mat diff = lab - blab;
    std::vector<cv::Mat> ch;
    cv::split(diff, ch);
    cv::sqrt(ch[0].mul(ch[0]) + ch[1].mul(ch[1]) + ch[2].mul(ch[2]), d);
  }
  // Noise floor: the background's own residual.
  std::vector<float> res;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < bgr8.cols; ++x)
      if (far_out.at<uchar>(y, x)) res.push_back(d.at<float>(y, x));
  std::nth_element(res.begin(), res.begin() + res.size() * 98 / 100, res.end());
  const float t0 = std::max(2.f, res[res.size() * 98 / 100]), t1 = t0 + 25.f;
  r.alpha = cv::min(cv::max((d - t0) / (t1 - t0), 0.0), 1.0);
  r.alpha.setTo(1, inside);
  // Nothing far from the person (a speck of dust on the backdrop).
  cv::Mat near;
  cv::dilate(a0 > 0.02, near, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(H / 20 | 1, H / 20 | 1)));
  r.alpha.setTo(0, ~near);
  return r;
}

// Busy backgrounds at `size`, linear light.
std::vector<std::pair<std::string, cv::Mat>> backgrounds(cv::Size size) {
  std::vector<std::pair<std::string, cv::Mat>> out;
  // A photo behind the person, smaller than the frame (people in it a few
  // metres back), mirrored out to the frame's edges.
  auto behind = [&](const std::string& path, double fraction) {
    cv::Mat img = decode_image(path).bgr;
    const double s = fraction * std::max(double(size.width) / img.cols, double(size.height) / img.rows);
    cv::Mat r, full;
    cv::resize(img, r, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
    const int px = std::max(0, size.width - r.cols), py = std::max(0, size.height - r.rows);
    cv::copyMakeBorder(r, full, py / 2, py - py / 2, px / 2, px - px / 2, cv::BORDER_REFLECT101);
    return srgb_to_linear(
        full(cv::Rect((full.cols - size.width) / 2, (full.rows - size.height) / 2, size.width, size.height)));
  };
  out.emplace_back("crowd", behind(kFaces + "/portraits/classroom_in_tanzania.jpg", 0.8));
  out.emplace_back("festival", behind(kFaces + "/portraits/laos.jpg", 0.8));
  out.emplace_back("people", behind(kFaces + "/portraits/couple.jpg", 0.75));
  {
    // A sign: big letters on a dark panel with a lit border.
    cv::Mat sign(size, CV_8UC3, cv::Scalar(60, 30, 20));
    const double scale = size.height / 180.0;
    const char* words[] = {"COMIC", "SAN DIEGO", "FESTIVAL 24"};
    for (int i = 0; i < 3; ++i)
      cv::putText(sign, words[i], cv::Point(int(size.width * 0.02), int(size.height * (0.3 + 0.3 * i))),
                  cv::FONT_HERSHEY_DUPLEX, scale, i == 1 ? cv::Scalar(40, 200, 250) : cv::Scalar(240, 240, 240),
                  std::max(2, int(scale * 3)), cv::LINE_AA);
    out.emplace_back("sign", srgb_to_linear(sign));
  }
  {
    // Foliage: a texture of grass, tinted green, with light and shade.
    cv::Mat g = cv::imread("/usr/lib/python3/dist-packages/skimage/data/grass.png", cv::IMREAD_GRAYSCALE);
    if (g.empty()) throw Error(ErrorCode::internal, "grass.png (python3-skimage) is missing");
    cv::Mat tiled;
    cv::repeat(g, size.height / g.rows + 1, size.width / g.cols + 1, tiled);
    cv::Mat gf;
    tiled(cv::Rect(0, 0, size.width, size.height)).convertTo(gf, CV_32F, 1.0 / 255);
    std::vector<cv::Mat> ch = {gf * 0.25, gf * 0.8, gf * 0.35};
    cv::Mat leaves;
    cv::merge(ch, leaves);
    out.emplace_back("foliage", srgb_to_linear([&] {
                       cv::Mat u8;
                       leaves.convertTo(u8, CV_8UC3, 255);
                       return u8;
                     }()));
  }
  return out;
}

struct Method {
  std::string name;
  json segment, matte;
};

struct Score {
  double sad = 0, edge = 0, grad = 0, mse = 0;
};

Score score(const cv::Mat& a, const cv::Mat& ref) {
  Score s;
  cv::Mat diff = cv::abs(a - ref);
  s.sad = cv::sum(diff)[0] / 1000;
  s.mse = cv::mean(diff.mul(diff))[0] * 1000;
  cv::Mat band = (ref > 0.001) & (ref < 0.999);
  const int g = std::max(3, ref.rows / 100) | 1;
  cv::dilate(band, band, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * g + 1, 2 * g + 1)));
  cv::Mat in_band = diff.clone();
  in_band.setTo(0, ~band);
  s.edge = cv::sum(in_band)[0] / 1000;
  auto grad = [](const cv::Mat& m) {
    cv::Mat b, gx, gy, mag;
    cv::GaussianBlur(m, b, cv::Size(), 1.4);
    cv::Sobel(b, gx, CV_32F, 1, 0);
    cv::Sobel(b, gy, CV_32F, 0, 1);
    cv::magnitude(gx, gy, mag);
    return mag;
  };
  cv::Mat gd = grad(a) - grad(ref);
  s.grad = cv::sum(gd.mul(gd))[0] / 1000;
  return s;
}
}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::fprintf(stderr, "usage: matte_eval OUT_DIR [PHOTO ...]\n");
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  std::vector<std::string> photos;
  for (int i = 2; i < argc; ++i) photos.push_back(argv[i]);
  if (photos.empty())
    for (const char* p : {"people/person05_1.jpg", "people/person05_3.jpg", "people/person07_2.jpg",
                          "people/person10_1.jpg", "people/person11_2.jpg", "people/person13_2.jpg",
                          "people/person04_6.jpg", "portraits/benedict_cumberbatch_2014.jpg"})
      photos.push_back(kFaces + "/" + p);
  const json plain = {{"fuse", "none"}, {"others", false}};
  auto with = [&](json seg, const json& more) {
    seg.update(more);
    return seg;
  };
  const std::vector<Method> methods = {
      {"defaults (isnet640x1024+selfie+others+guided)", json::object(), json::object()},
      {"isnet1024+guided", with(plain, {{"resolution", "1024"}}), {{"refine", true}}},
      {"isnet1024", with(plain, {{"resolution", "1024"}}), {{"refine", false}}},
      {"isnet640x1024+guided", with(plain, {{"resolution", "640x1024"}}), {{"refine", true}}},
      {"isnet640+selfie+others+guided", {{"resolution", "640"}}, {{"refine", true}}},
      {"isnet1024+selfie+others+guided", {{"resolution", "1024"}}, {{"refine", true}}},
  };
  // LIKENESS_MATTE_EVAL_ONLY=N: only the first N methods.
  const size_t only = getenv("LIKENESS_MATTE_EVAL_ONLY") ? size_t(std::atoi(getenv("LIKENESS_MATTE_EVAL_ONLY"))) : 0;
  const std::vector<Method> chosen(methods.begin(),
                                   methods.begin() + long(only ? std::min(only, methods.size()) : methods.size()));
  std::map<std::string, Score> total;
  std::ofstream rep(out / "report.md");
  rep << "| photo | background | method | SAD | edge SAD | gradient | MSE x1000 |\n|---|---|---|---|---|---|---|\n";
  int n = 0;
  for (const auto& path : photos) {
    const cv::Mat bgr8 = decode_image(path).bgr;
    const std::string stem = fs::path(path).stem();
    const Reference ref = pull(bgr8);
    cv::Mat a8;
    ref.alpha.convertTo(a8, CV_8U, 255);
    cv::imwrite((out / (stem + ".alpha.png")).string(), a8);
    for (const auto& [bg_name, bg] : backgrounds(bgr8.size())) {
      cv::Mat inv;
      cv::merge(std::vector<cv::Mat>(3, 1.0 - ref.alpha), inv);
      const cv::Mat comp = ref.linear + inv.mul(bg - ref.background);
      const cv::Mat comp8 = linear_to_srgb8(comp);
      cv::imwrite((out / (stem + "." + bg_name + ".jpg")).string(), comp8);
      auto src = std::make_shared<Frame>();
      src->image = comp8;
      for (const auto& m : chosen) {
        JobContext ctx;
        Score s;
        try {
          const Cutout cut = cut_out(src, stem + bg_name, ctx, m.segment, nullptr, m.matte);
          s = score(cut.frame->alpha, ref.alpha);
          cv::Mat m8;
          cut.frame->alpha.convertTo(m8, CV_8U, 255);
          cv::imwrite((out / (stem + "." + bg_name + "." + m.name + ".png")).string(), m8);
        } catch (const Error& e) {
          std::fprintf(stderr, "%s %s %s: %s\n", stem.c_str(), bg_name.c_str(), m.name.c_str(), e.what());
          continue;
        }
        char line[256];
        std::snprintf(line, sizeof line, "| %s | %s | %s | %.1f | %.1f | %.1f | %.2f |\n", stem.c_str(),
                      bg_name.c_str(), m.name.c_str(), s.sad, s.edge, s.grad, s.mse);
        rep << line;
        std::fputs(line, stdout);
        std::fflush(stdout);
        Score& t = total[m.name];
        t.sad += s.sad, t.edge += s.edge, t.grad += s.grad, t.mse += s.mse;
      }
      ++n;
    }
  }
  rep << "\n| method (mean of " << n << ") | SAD | edge SAD | gradient | MSE x1000 |\n|---|---|---|---|---|\n";
  std::printf("\nmean of %d composites\n", n);
  for (const auto& m : chosen) {
    const Score& t = total[m.name];
    char line[256];
    std::snprintf(line, sizeof line, "| %s | %.1f | %.1f | %.1f | %.2f |\n", m.name.c_str(), t.sad / n, t.edge / n,
                  t.grad / n, t.mse / n);
    rep << line;
    std::fputs(line, stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "matte_eval: %s\n", e.what());
  return 1;
}
