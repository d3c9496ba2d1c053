// The user's own picture as the backdrop: scaled to cover the canvas,
// defocused as the portrait lens would (and always blurrier than the face),
// its highlights allowed to bloom into discs, and its light nudged toward
// the person's (colour balance, brightness) without repainting it.
#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "stages/backdrop/backdrop.hpp"

namespace likeness::backdrop {

namespace {
float luma(const cv::Vec3f& c) { return 0.0722f * c[0] + 0.7152f * c[1] + 0.2126f * c[2]; }

// The share of a grey image's detail (below 8 px) that is at the finest
// scale, measured as seen (gamma encoded): a sharp photo ~0.3-0.5, a soft one
// ~0.1, a smooth one toward 1/64. Independent of contrast.
double sharpness(const cv::Mat& linear_gray) {
  cv::Mat g, b1, b8;
  cv::sqrt(cv::max(linear_gray, 0.0), g);
  cv::GaussianBlur(g, b1, cv::Size(0, 0), 1.0);
  cv::GaussianBlur(g, b8, cv::Size(0, 0), 8.0);
  const double fine = cv::norm(g, b1, cv::NORM_L2), all = cv::norm(g, b8, cv::NORM_L2);
  return all > 1e-9 ? fine / all : 0;
}

cv::Mat gray_of(const cv::Mat& bgr) {
  cv::Mat g;
  cv::transform(bgr, g, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  return g;
}

cv::Mat cover(const cv::Mat& img, cv::Size S) {
  const double s = std::max(double(S.width) / img.cols, double(S.height) / img.rows);
  const cv::Size big(std::max(S.width, int(std::ceil(img.cols * s))), std::max(S.height, int(std::ceil(img.rows * s))));
  cv::Mat r;
  cv::resize(img, r, big, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  return r(cv::Rect((big.width - S.width) / 2, (big.height - S.height) / 2, S.width, S.height)).clone();
}
}  // namespace

Backdrop user_image(const Request& req, const Shot& shot, const Lens& lens, bool sharp) {
  const cv::Size S = shot.size;
  if (req.image.empty())
    throw Error(
        ErrorInfo{ErrorCode::usage, "style image needs a picture (--backdrop-image FILE)", "backdrop", "image", {}});
  DecodeLimits limits;
  limits.shrink_to = std::max(S.width, S.height);
  const DecodedImage d = decode_image(req.image, limits);  // bad_input: missing, huge, not an image
  cv::Mat img = cover(srgb_to_linear(d.bgr), S);

  // Its light, read before anything changes: the brightest 2% give the
  // sources' colour, the brightness's balance the direction.
  Backdrop out;
  out.light.set = true;
  {
    const cv::Mat g = gray_of(img);
    cv::Mat sorted = g.reshape(1, 1).clone();
    cv::sort(sorted, sorted, cv::SORT_ASCENDING);
    const float hi = sorted.at<float>(0, int(sorted.cols * 0.98));
    cv::Scalar src = cv::mean(img, g >= hi);
    cv::Vec3f c = cv::Vec3f(float(src[0]), float(src[1]), float(src[2]));
    c = c / std::max({c[0], c[1], c[2], 1e-6f});
    out.light.color = c * 0.5f + cv::Vec3f(1, 1, 1) * 0.5f;
    out.light.color /= std::max({out.light.color[0], out.light.color[1], out.light.color[2]});
    const int w = S.width / 2, h = S.height / 2;
    const double left = cv::mean(g(cv::Rect(0, 0, w, S.height)))[0],
                 right = cv::mean(g(cv::Rect(w, 0, S.width - w, S.height)))[0];
    const double top = cv::mean(g(cv::Rect(0, 0, S.width, h)))[0],
                 bottom = cv::mean(g(cv::Rect(0, h, S.width, S.height - h)))[0];
    const double lx = std::clamp(2 * (right - left) / std::max(1e-6, right + left), -0.9, 0.9);
    const double ly = std::clamp(0.3 + (top - bottom) / std::max(1e-6, top + bottom), -0.2, 0.9);
    out.light.direction = toward(float(lx), float(ly), 0.6f);
    cv::Mat soft;
    cv::resize(g, soft, cv::Size(16, 20), 0, 0, cv::INTER_AREA);
    cv::Scalar m, sd;
    cv::meanStdDev(soft, m, sd);
    out.light.softness = float(std::clamp(1 - sd[0] / std::max(1e-6, m[0]), 0.3, 0.9));
  }

  if (!sharp) {
    // Highlights near clipping were brighter than the file can say: give
    // them back some energy, so they bloom into discs as real ones do.
    for_each_pixel(img, [&](int x, int y) {
      const cv::Vec3f c = img.at<cv::Vec3f>(y, x);
      const float t = std::max(0.f, (luma(c) - 0.75f) / 0.25f);
      return c * (1 + 3 * t * t);
    });
    // The lens's defocus for a place ~4 m behind the subject; more if the
    // face itself is soft, so the backdrop is always the blurrier.
    double dia = lens.coc_px(lens.subject_m + 4);
    if (!shot.face_gray.empty()) {
      const double face = sharpness(shot.face_gray);
      const cv::Mat g = gray_of(img);
      for (int i = 0; i < 8 && dia < S.height / 6.0; ++i, dia *= 1.4) {
        const cv::Mat b = defocus(g, dia, 0);
        if (sharpness(cv::min(b, 1.0)) <= 0.5 * face) break;
      }
    }
    img = defocus(img, dia, 0.12f);
    out.words = cv::format("your picture %s, defocused (%.0f px blur disc)",
                           std::filesystem::path(req.image).filename().c_str(), dia);
  } else {
    out.words = "your picture " + std::filesystem::path(req.image).filename().string();
  }

  // Nudge (not repaint) toward the person's light: a fraction of the
  // colour-balance difference, at most 8% a channel, and brightness pulled
  // into a range a real room behind the person would have.
  const cv::Vec3f person = shot.subject_mean;
  if (luma(person) > 1e-4) {
    const cv::Scalar m = cv::mean(img);
    const cv::Vec3f back = cv::Vec3f(float(m[0]), float(m[1]), float(m[2]));
    cv::Vec3f gain;
    for (int k = 0; k < 3; ++k) {
      const float pc = person[k] / std::max(1e-6f, (person[0] + person[1] + person[2]) / 3);
      const float bc = back[k] / std::max(1e-6f, (back[0] + back[1] + back[2]) / 3);
      gain[k] = std::clamp(std::pow(std::max(1e-3f, pc) / std::max(1e-3f, bc), 0.25f), 0.92f, 1.08f);
    }
    gain /= luma(gain);
    const float ratio = luma(back) / luma(person);
    const float want = std::clamp(ratio, 0.3f, 1.6f);
    const float exposure = std::sqrt(want / std::max(1e-6f, ratio));
    cv::multiply(img, cv::Scalar(gain[0] * exposure, gain[1] * exposure, gain[2] * exposure), img);
  }
  cv::RNG rng(0x1a6e0000ull + uint64_t(req.seed));
  add_grain(img, shot.grain, rng);
  out.image = img;
  return out;
}

}  // namespace likeness::backdrop
