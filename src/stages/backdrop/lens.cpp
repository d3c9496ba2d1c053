#include "stages/backdrop/lens.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/parallel.hpp"

namespace likeness::backdrop {

namespace {
constexpr double kSensorLong = 0.036;  // full frame, metres
constexpr double kEyeSpan = 0.063;     // between the eyes' centres, metres
constexpr double kWorkRadius = 8;      // blur radius (px) worth resolving: larger discs are blurred at reduced size

cv::Mat blur_disc(const cv::Mat& m, double radius, float rim) {
  if (radius < 0.5) return m.clone();
  cv::Mat out;
  cv::filter2D(m, out, -1, disc_kernel(radius, rim), cv::Point(-1, -1), 0, cv::BORDER_REFLECT101);
  return out;
}
}  // namespace

double Lens::coc_px(double d) const {
  d = std::max(d, focal_m * 2);
  const double c = focal_m * focal_m / (f_number * (subject_m - focal_m)) * std::abs(d - subject_m) / d;
  return c * px_per_m;
}

Lens portrait_lens(cv::Size canvas, cv::Point2f eyes, double eye_px, double f_number) {
  Lens l;
  l.size = canvas;
  l.px_per_m = std::max(canvas.width, canvas.height) / kSensorLong;
  l.f_number = f_number;
  // Magnification from the eyes' span on the canvas; without a face, a
  // head-and-shoulders frame (the canvas's height is ~0.65 m at the subject).
  const double m = eye_px > 0 ? eye_px / l.px_per_m / kEyeSpan : (canvas.height / l.px_per_m) / 0.65;
  l.subject_m = std::clamp(l.focal_m * (1 + 1 / m), 0.7, 5.0);
  l.principal =
      eye_px > 0 ? cv::Point2d(canvas.width / 2.0, eyes.y) : cv::Point2d(canvas.width / 2.0, 0.4 * canvas.height);
  return l;
}

Paint::Paint(cv::Size canvas, cv::Size work, int margin, int supersample)
    : work_(work.width + 2 * margin, work.height + 2 * margin),
      margin_(margin),
      ss_(supersample),
      wx_(double(work.width) / canvas.width),
      wy_(double(work.height) / canvas.height),
      color_(work_.height * supersample, work_.width * supersample, CV_32FC3, cv::Scalar::all(0)),
      cover_(work_.height * supersample, work_.width * supersample, CV_32F, cv::Scalar(0)),
      emit_(work_, CV_32FC3, cv::Scalar::all(0)) {}

cv::Point Paint::to_px(cv::Point2f p) const {
  // 4 fractional bits (cv drawing's `shift`).
  return {int(std::lround((p.x * wx_ + margin_) * ss_ * 16)), int(std::lround((p.y * wy_ + margin_) * ss_ * 16))};
}

void Paint::poly(const std::vector<cv::Point2f>& pts, cv::Vec3f c) {
  std::vector<cv::Point> q;
  q.reserve(pts.size());
  for (const auto& p : pts) q.push_back(to_px(p));
  const std::vector<std::vector<cv::Point>> polys{q};
  cv::fillPoly(color_, polys, cv::Scalar(c[0], c[1], c[2]), cv::LINE_8, 4);
  cv::fillPoly(cover_, polys, cv::Scalar(1), cv::LINE_8, 4);
}

void Paint::ellipse(cv::Point2f c, float rx, float ry, float angle, cv::Vec3f col) {
  const cv::Point centre = to_px(c);
  const cv::Size axes(std::max(1, int(std::lround(rx * wx_ * ss_ * 16))),
                      std::max(1, int(std::lround(ry * wy_ * ss_ * 16))));
  cv::ellipse(color_, centre, axes, angle, 0, 360, cv::Scalar(col[0], col[1], col[2]), cv::FILLED, cv::LINE_8, 4);
  cv::ellipse(cover_, centre, axes, angle, 0, 360, cv::Scalar(1), cv::FILLED, cv::LINE_8, 4);
}

void Paint::light(cv::Point2f p, cv::Vec3f energy) {
  const double x = p.x * wx_ + margin_ - 0.5, y = p.y * wy_ + margin_ - 0.5;
  const int x0 = int(std::floor(x)), y0 = int(std::floor(y));
  const float fx = float(x - x0), fy = float(y - y0);
  const cv::Vec3f e = energy * float(wx_ * wy_);
  const float w[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
  const int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
  for (int i = 0; i < 4; ++i)
    if (xs[i] >= 0 && ys[i] >= 0 && xs[i] < work_.width && ys[i] < work_.height)
      emit_.at<cv::Vec3f>(ys[i], xs[i]) += e * w[i];
}

void Paint::shade(const std::function<cv::Vec4f(float, float)>& f) {
  const double kx = 1 / (wx_ * ss_), ky = 1 / (wy_ * ss_);
  parallel_ranges(cv::Range(0, color_.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      auto* c = color_.ptr<cv::Vec3f>(y);
      float* a = cover_.ptr<float>(y);
      const float cy = float((y + 0.5) * ky - margin_ / wy_);
      for (int x = 0; x < color_.cols; ++x) {
        const cv::Vec4f v = f(float((x + 0.5) * kx - margin_ / wx_), cy);
        const float k = v[3];
        if (k <= 0) continue;
        c[x] = cv::Vec3f(v[0], v[1], v[2]) * k + c[x] * (1 - k);
        a[x] = k + a[x] * (1 - k);
      }
    }
  });
}

void Paint::finish(cv::Mat& color, cv::Mat& cover) const {
  if (ss_ > 1) {
    cv::resize(color_, color, work_, 0, 0, cv::INTER_AREA);
    cv::resize(cover_, cover, work_, 0, 0, cv::INTER_AREA);
  } else {
    color = color_.clone();
    cover = cover_.clone();
  }
  color += emit_;
}

cv::Mat disc_kernel(double r, float rim) {
  const int h = int(std::ceil(r + 1));
  cv::Mat k(2 * h + 1, 2 * h + 1, CV_32F);
  for (int y = -h; y <= h; ++y)
    for (int x = -h; x <= h; ++x) {
      const double d = std::hypot(x, y);
      const double inside = std::clamp(r + 0.5 - d, 0.0, 1.0);
      k.at<float>(y + h, x + h) = float(inside * (1 + rim * std::pow(std::min(1.0, d / r), 4)));
    }
  return k / cv::sum(k)[0];
}

cv::Mat render_layers(const Lens& lens, const std::vector<Layer>& layers, const DefocusOptions& opt) {
  const cv::Size S = lens.size;
  // Each layer is painted and blurred at its own working size; all are
  // composited at the size of the sharpest one and enlarged once.
  std::vector<double> radius, scale;
  double top = 0;
  for (const Layer& layer : layers) {
    radius.push_back(opt.sharp ? 0 : lens.coc_px(layer.depth_m) / 2);
    scale.push_back(radius.back() > kWorkRadius ? kWorkRadius / radius.back() : 1.0);
    top = std::max(top, scale.back());
  }
  auto sized = [&](double s) {
    return cv::Size(std::max(8, int(std::lround(S.width * s))), std::max(8, int(std::lround(S.height * s))));
  };
  const cv::Size C = sized(top);
  cv::Mat out(C, CV_32FC3, cv::Scalar::all(0));
  for (size_t i = 0; i < layers.size(); ++i) {
    const cv::Size work = sized(scale[i]);
    const double rw = radius[i] * double(work.height) / S.height;
    // A margin beyond the canvas, so what lies just outside blooms in.
    const int m = int(std::ceil(rw)) + 2;
    Paint paint(S, work, m, 2);
    layers[i].draw(paint);
    cv::Mat color, cover;
    paint.finish(color, cover);
    color = blur_disc(color, rw, opt.rim);
    cover = blur_disc(cover, rw, 0);
    const cv::Rect inner(m, m, work.width, work.height);
    cv::Mat c = color(inner), a = cover(inner);
    if (work != C) {
      cv::resize(c, c, C, 0, 0, cv::INTER_LINEAR);
      cv::resize(a, a, C, 0, 0, cv::INTER_LINEAR);
    }
    parallel_ranges(cv::Range(0, C.height), [&](const cv::Range& r) {
      for (int y = r.start; y < r.end; ++y) {
        auto* o = out.ptr<cv::Vec3f>(y);
        const auto* cc = c.ptr<cv::Vec3f>(y);
        const float* aa = a.ptr<float>(y);
        for (int x = 0; x < C.width; ++x) {
          const float k = 1 - std::clamp(aa[x], 0.f, 1.f);
          for (int ch = 0; ch < 3; ++ch) o[x][ch] = std::max(cc[x][ch], 0.f) + o[x][ch] * k;
        }
      }
    });
  }
  if (C != S) {
    cv::resize(out, out, S, 0, 0, cv::INTER_LINEAR);
    out = cv::max(out, 0.0);
  }
  return out;
}

cv::Mat defocus(const cv::Mat& linear, double diameter, float rim) {
  const double r = diameter / 2;
  if (r < 0.5) return linear.clone();
  const cv::Size S = linear.size();
  const double scale = r > kWorkRadius ? kWorkRadius / r : 1.0;
  cv::Mat small = linear;
  if (scale < 1)
    cv::resize(
        linear, small,
        cv::Size(std::max(8, int(std::lround(S.width * scale))), std::max(8, int(std::lround(S.height * scale)))), 0, 0,
        cv::INTER_AREA);
  cv::Mat out = blur_disc(small, r * double(small.rows) / S.height, rim);
  if (out.size() != S) cv::resize(out, out, S, 0, 0, cv::INTER_LINEAR);
  return cv::max(out, 0.0);
}

cv::Mat smooth_noise(cv::Size size, double cell, cv::RNG& rng) {
  // White noise 4 px per cell, blurred isotropically, then enlarged.
  const double k = 4 / cell;
  const cv::Size g(std::max(4, int(std::ceil(size.width * k)) + 4), std::max(4, int(std::ceil(size.height * k)) + 4));
  cv::Mat n(g, CV_32F);
  rng.fill(n, cv::RNG::NORMAL, 0, 1);
  cv::GaussianBlur(n, n, cv::Size(0, 0), 1.6, 1.6, cv::BORDER_REFLECT101);
  cv::Scalar mean, sd;
  cv::meanStdDev(n, mean, sd);
  n = (n - mean[0]) / std::max(1e-6, sd[0]);
  cv::Mat big;
  cv::resize(n, big, cv::Size(int(std::lround(g.width / k)), int(std::lround(g.height / k))), 0, 0, cv::INTER_CUBIC);
  const int ox = std::min(big.cols - size.width, int(2 / k)), oy = std::min(big.rows - size.height, int(2 / k));
  return big(cv::Rect(std::max(0, ox), std::max(0, oy), size.width, size.height)).clone();
}

cv::Mat fractal_noise(cv::Size size, double cell, int octaves, double gain, cv::RNG& rng) {
  cv::Mat sum(size, CV_32F, cv::Scalar(0));
  double amp = 1, var = 0;
  for (int i = 0; i < octaves; ++i, cell /= 2, amp *= gain) {
    sum += smooth_noise(size, std::max(2.0, cell), rng) * amp;
    var += amp * amp;
  }
  return sum / std::sqrt(var);
}

void add_grain(cv::Mat& img, float sigma, cv::RNG& rng) {
  if (sigma <= 0) return;
  cv::Mat mono(img.size(), CV_32F);
  rng.fill(mono, cv::RNG::NORMAL, 0, 1);
  // Grain a little softer than a pixel; 0.6 px Gaussian keeps ~0.55 of the
  // white noise's deviation.
  cv::GaussianBlur(mono, mono, cv::Size(0, 0), 0.6);
  mono *= 1 / 0.55;
  cv::Mat chroma(cv::Size((img.cols + 1) / 2, (img.rows + 1) / 2), CV_32FC3);
  rng.fill(chroma, cv::RNG::NORMAL, 0, 1);
  cv::resize(chroma, chroma, img.size(), 0, 0, cv::INTER_LINEAR);
  parallel_ranges(cv::Range(0, img.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      auto* p = img.ptr<cv::Vec3f>(y);
      const float* n = mono.ptr<float>(y);
      const auto* c = chroma.ptr<cv::Vec3f>(y);
      for (int x = 0; x < img.cols; ++x)
        for (int k = 0; k < 3; ++k) {
          // sRGB-like perceptual units: dv/dp of v = p^2.2.
          const float v = std::max(p[x][k], 0.f);
          const float slope = 2 * std::sqrt(std::max(v, 0.002f));  // ~2.2 v^0.55
          p[x][k] = std::max(0.f, v + sigma * slope * (n[x] + 0.3f * c[x][k]));
        }
    }
  });
}

void for_each_pixel(cv::Mat& img, const std::function<cv::Vec3f(int, int)>& f) {
  parallel_ranges(cv::Range(0, img.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      auto* p = img.ptr<cv::Vec3f>(y);
      for (int x = 0; x < img.cols; ++x) p[x] = f(x, y);
    }
  });
}

}  // namespace likeness::backdrop
