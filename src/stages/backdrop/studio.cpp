// Studio backdrops: solid, two-tone gradient, seamless paper and painted
// canvas. They stand 2-3 m behind the subject, lit by a background light from
// the key side.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "stages/backdrop/backdrop.hpp"

namespace likeness::backdrop {

namespace {
// Strobes through softboxes: daylight-balanced, soft, from the key side,
// above and in front.
SceneLight studio_light(int side, float softness) {
  SceneLight l;
  l.set = true;
  l.direction = toward(0.55f * side, 0.45f, 0.7f);
  l.color = kelvin(5500);
  l.softness = softness;
  return l;
}

cv::Mat gradient(cv::Size size, cv::Vec3f edge, cv::Vec3f centre, cv::Point2f light) {
  cv::Mat b(size, CV_32FC3);
  const float cx = light.x, cy = light.y;
  const float reach = 0.85f * std::hypot(float(size.width), float(size.height)) / 2;
  for_each_pixel(b, [&](int x, int y) {
    const float t = smoothstep(0, 1, std::min(1.f, std::hypot(x - cx, y - cy) / reach));
    return centre + (edge - centre) * t;
  });
  return b;
}

// Seamless paper: a vertical wall Zp from the camera that sweeps into the
// floor with a curve of radius R, lit by one soft background light from the
// key side, in front, at the subject's height, and by the key near the
// camera. Irradiance at the point each pixel sees, relative to the point
// behind the eyes: the wall falls off away from the background light, the
// curve turns away from both and darkens gradually toward the floor.
cv::Mat paper(const Lens& lens, cv::Vec3f color, int side, cv::RNG& rng) {
  const cv::Size S = lens.size;
  const double eye_h = 1.1;                      // camera above the floor (a seated portrait)
  const double Zp = lens.subject_m + 2.4;        // the paper's wall
  const double R = 1.2;                          // the sweep's radius
  const double Ys = -(eye_h - R);                // where the wall starts to curve
  const cv::Vec3d L(side * 1.5, 0.1, Zp - 2.0);  // the background light, at the subject's height
  auto hit = [&](double x, double y, cv::Vec3d& n) {
    const cv::Point2d r = lens.ray(x, y);
    double t = Zp;  // the wall
    if (r.y * t < Ys) {
      // The arc: centre (Ys, Zp - R) in (Y, Z), the far root.
      const double zc = Zp - R;
      const double a = r.y * r.y + 1, b = 2 * (r.y * -Ys - zc), c = Ys * Ys + zc * zc - R * R;
      const double disc = b * b - 4 * a * c;
      t = disc > 0 ? (-b + std::sqrt(disc)) / (2 * a) : Zp;
      const bool on_arc = disc > 0 && r.y * t >= Ys - R && t >= zc;
      if (!on_arc) {  // the floor in front of the sweep
        t = -eye_h / r.y;
        n = cv::Vec3d(0, 1, 0);
        return cv::Vec3d(r.x * t, -eye_h, t);
      }
      n = (cv::Vec3d(r.x * t, Ys, zc) - cv::Vec3d(r.x * t, r.y * t, t)) / R;
      return cv::Vec3d(r.x * t, r.y * t, t);
    }
    n = cv::Vec3d(0, 0, -1);
    return cv::Vec3d(r.x * t, r.y * t, t);
  };
  // The background light (Lambert, inverse square) and the key near the
  // camera, whose light the sweep turns away from (cosine of its normal
  // with the camera's axis).
  auto irradiance = [&](double x, double y) {
    cv::Vec3d n;
    const cv::Vec3d p = hit(x, y, n), d = L - p;
    const double dd = d.dot(d);
    return cv::Vec2d(std::max(0.0, n.dot(d) / std::sqrt(dd)) / dd, std::pow(std::max(0.0, -n[2]), 1.5));
  };
  const cv::Vec2d ref = irradiance(lens.principal.x, lens.principal.y);
  // The paper's own unevenness: faint, large.
  const cv::Size small(std::max(8, S.width / 4), std::max(8, S.height / 4));
  const cv::Mat uneven = fractal_noise(small, small.height * 0.5, 3, 0.5, rng);
  cv::Mat b(small, CV_32FC3);
  for_each_pixel(b, [&](int x, int y) {
    const double fx = (x + 0.5) * S.width / small.width, fy = (y + 0.5) * S.height / small.height;
    const cv::Vec2d i = irradiance(fx, fy);
    const double e = 0.5 * i[0] / ref[0] + 0.5 * i[1] / ref[1];
    const float k = float(0.22 + 0.78 * e) * (1 + 0.012f * uneven.at<float>(y, x));
    return color * k;
  });
  cv::resize(b, b, S, 0, 0, cv::INTER_CUBIC);
  return b;
}

// An old-master painted canvas: the dark and light colours mottled at many
// scales (large soft clouds, smaller dabs), warped like brushwork, lighter
// behind the head on the key side, darker toward the corners.
cv::Mat canvas(cv::Size S, cv::Vec3f dark, cv::Vec3f light, cv::Point2f head, int side, cv::RNG& rng) {
  const cv::Size small(std::max(8, S.width / 4), std::max(8, S.height / 4));
  const double H = small.height;
  cv::Mat tone = fractal_noise(small, 0.35 * H, 4, 0.5, rng);
  // Brushwork: the field pushed around by a slower one.
  const cv::Mat wx = smooth_noise(small, 0.4 * H, rng), wy = smooth_noise(small, 0.4 * H, rng);
  cv::Mat mx(small, CV_32F), my(small, CV_32F);
  for (int y = 0; y < small.height; ++y)
    for (int x = 0; x < small.width; ++x) {
      mx.at<float>(y, x) = float(x + 0.07 * H * wx.at<float>(y, x));
      my.at<float>(y, x) = float(y + 0.07 * H * wy.at<float>(y, x));
    }
  cv::remap(tone, tone, mx, my, cv::INTER_LINEAR, cv::BORDER_REFLECT101);
  const cv::Mat hue = fractal_noise(small, 0.35 * H, 3, 0.5, rng);
  const cv::Mat dabs = fractal_noise(small, 0.1 * H, 2, 0.5, rng);
  const float sx = float(small.width) / S.width, sy = float(small.height) / S.height;
  const cv::Point2f glow((head.x + side * 0.12f * S.width) * sx, (head.y - 0.05f * S.height) * sy);
  const cv::Vec3f umber = cv::Vec3f(0.75f, 0.95f, 1.2f);  // a warmer cast in places (BGR gains)
  cv::Mat b(small, CV_32FC3);
  for_each_pixel(b, [&](int x, int y) {
    const float u = (x + 0.5f) / small.width - 0.5f, v = (y + 0.5f) / small.height - 0.5f;
    const float g =
        std::exp(-((x - glow.x) * (x - glow.x) + (y - glow.y) * (y - glow.y)) / float(2 * 0.3 * 0.3 * H * H));
    const float vignette = 1 - 0.9f * (u * u + v * v * 0.8f);
    float t = 0.3f + 0.45f * tone.at<float>(y, x) + 0.04f * dabs.at<float>(y, x) + 0.45f * g;
    t = std::clamp(t, 0.f, 1.2f);
    cv::Vec3f c = dark + (light - dark) * t;
    const float w = std::clamp(0.5f + 0.5f * hue.at<float>(y, x), 0.f, 1.f) * 0.35f;
    for (int k = 0; k < 3; ++k) c[k] *= 1 + w * (umber[k] - 1);
    return c * std::max(0.2f, vignette);
  });
  cv::resize(b, b, S, 0, 0, cv::INTER_CUBIC);
  return cv::max(b, 0.0);
}
}  // namespace

Backdrop studio(const Request& req, const Shot& shot, const Lens& lens) {
  const cv::Size S = shot.size;
  const int side = shot.key_side ? shot.key_side : (req.seed % 2 ? -1 : 1);
  cv::RNG rng(0x5eed0000ull + uint64_t(req.seed) * 7919u);
  Backdrop out;
  if (req.style == "solid") {
    out.image = cv::Mat(S, CV_32FC3, cv::Scalar(req.color[0], req.color[1], req.color[2]));
    out.light = studio_light(side, 0.6f);
    out.words = "solid studio backdrop";
    return out;
  }
  const cv::Point2f head = shot.eye_px > 0 ? shot.eyes : cv::Point2f(S.width / 2.f, 0.4f * S.height);
  if (req.style == "gradient") {
    // The centre lit behind the head (never above the top fifth).
    out.image = gradient(S, req.color, req.color2, cv::Point2f(head.x, std::max(0.2f * S.height, head.y)));
    out.light = studio_light(side, 0.6f);
    out.words = "two-tone gradient studio backdrop";
  } else if (req.style == "paper") {
    out.image = paper(lens, req.color, side, rng);
    out.light = studio_light(side, 0.55f);
    out.words = "seamless paper backdrop";
  } else {
    out.image = canvas(S, req.color, req.color2, head, side, rng);
    out.light = studio_light(side, 0.7f);
    out.light.direction = toward(0.7f * side, 0.5f, 0.5f);  // painterly: from the side, above
    out.words = "painted canvas backdrop";
  }
  add_grain(out.image, shot.grain, rng);
  return out;
}

}  // namespace likeness::backdrop
