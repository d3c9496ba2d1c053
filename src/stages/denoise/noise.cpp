#include "stages/denoise/noise.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>
#include <vector>

#include "likeness/color.hpp"
#include "likeness/parallel.hpp"

namespace likeness::noise {

namespace {

// A tabulated curve on [0, top], linearly interpolated (inputs clamped).
class Curve {
 public:
  template <class F>
  Curve(int steps, float top, F f) : scale_(steps / top), t_(steps + 2) {
    for (int i = 0; i <= steps + 1; ++i) t_[i] = f(std::min(top, i / scale_));
  }
  float operator()(float v) const {
    const float x = std::clamp(v, 0.f, float(t_.size() - 2) / scale_) * scale_;
    const int i = int(x);
    return t_[i] + (t_[i + 1] - t_[i]) * (x - i);
  }

 private:
  float scale_;
  std::vector<float> t_;
};

// The curve's step near black is steep (sRGB's linear toe is 12.92x): 16k
// steps keep the way up within 0.01 level.
const Curve& to_srgb_curve() {
  static const Curve c(16384, 1.f, [](float v) { return 255.f * linear_to_srgb(v); });
  return c;
}
const Curve& to_linear_curve() {
  static const Curve c(4096, 255.f, [](float v) { return srgb_to_linear(v / 255.f); });
  return c;
}

cv::Mat map_values(const cv::Mat& in, const Curve& curve) {
  CV_Assert(in.depth() == CV_32F);
  cv::Mat out(in.size(), in.type());
  const int n = in.cols * in.channels();
  parallel_ranges(cv::Range(0, in.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const float* s = in.ptr<float>(y);
      float* d = out.ptr<float>(y);
      for (int i = 0; i < n; ++i) d[i] = curve(s[i]);
    }
  });
  return out;
}

const float kR2 = 1 / std::sqrt(2.f), kR3 = 1 / std::sqrt(3.f), kR6 = 1 / std::sqrt(6.f);

// BGR -> (Y, C1, C2), orthonormal (see the header).
void to_opponent(const cv::Mat& bgr, cv::Mat& Y, cv::Mat& C1, cv::Mat& C2) {
  Y.create(bgr.size(), CV_32F);
  C1.create(bgr.size(), CV_32F);
  C2.create(bgr.size(), CV_32F);
  parallel_ranges(cv::Range(0, bgr.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const cv::Vec3f* s = bgr.ptr<cv::Vec3f>(y);
      float *py = Y.ptr<float>(y), *p1 = C1.ptr<float>(y), *p2 = C2.ptr<float>(y);
      for (int x = 0; x < bgr.cols; ++x) {
        const float b = s[x][0], g = s[x][1], rr = s[x][2];
        py[x] = (b + g + rr) * kR3;
        p1[x] = (rr - b) * kR2;
        p2[x] = (rr - 2 * g + b) * kR6;
      }
    }
  });
}

// (Y, C1, C2) -> BGR, each channel mixed toward its filtered version:
// Y + luma_mix * (Yf - Y), C + chroma_mix * (Cf - C). One pass.
cv::Mat from_opponent(const cv::Mat& Y, const cv::Mat& Yf, float luma_mix, const cv::Mat& C1, const cv::Mat& C1f,
                      const cv::Mat& C2, const cv::Mat& C2f, float chroma_mix) {
  cv::Mat out(Y.size(), CV_32FC3);
  parallel_ranges(cv::Range(0, Y.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const float *py = Y.ptr<float>(y), *pyf = Yf.ptr<float>(y), *p1 = C1.ptr<float>(y), *p1f = C1f.ptr<float>(y),
                  *p2 = C2.ptr<float>(y), *p2f = C2f.ptr<float>(y);
      cv::Vec3f* d = out.ptr<cv::Vec3f>(y);
      for (int x = 0; x < Y.cols; ++x) {
        const float l = (py[x] + luma_mix * (pyf[x] - py[x])) * kR3, a = (p1[x] + chroma_mix * (p1f[x] - p1[x])) * kR2,
                    c = (p2[x] + chroma_mix * (p2f[x] - p2[x])) * kR6;
        d[x] = cv::Vec3f(l - a + c, l - 2 * c, l + a + c);
      }
    }
  });
  return out;
}

constexpr int kBlock = 16;

// Immerkaer's operator (the difference of two Laplacians) responds to noise
// of sigma with a mean |response| of 6 * sqrt(2/pi) * sigma, and to smooth
// shading not at all.
cv::Mat immerkaer_abs(const cv::Mat& ch) {
  static const cv::Mat k = (cv::Mat_<float>(3, 3) << 1, -2, 1, -2, 4, -2, 1, -2, 1);
  cv::Mat r;
  cv::filter2D(ch, r, CV_32F, k, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
  r = cv::abs(r);  // in place
  return r;
}

// Per-block means (the image cropped to whole blocks).
cv::Mat block_means(const cv::Mat& m, cv::Size blocks) {
  cv::Mat out;
  cv::resize(m(cv::Rect(0, 0, blocks.width * kBlock, blocks.height * kBlock)), out, blocks, 0, 0, cv::INTER_AREA);
  return out;
}

// The flattest tenth of the blocks reads low on pure noise too (a 16x16
// block's mean response varies by about 6%): measured on Gaussian noise,
// their mean response is this fraction of the true one.
constexpr float kFlattestBias = 0.9f;

float smoothstep01(float t) {
  t = std::clamp(t, 0.f, 1.f);
  return t * t * (3 - 2 * t);
}

}  // namespace

cv::Mat linear_to_srgb255(const cv::Mat& linear) { return map_values(linear, to_srgb_curve()); }
cv::Mat srgb255_to_linear(const cv::Mat& srgb255) { return map_values(srgb255, to_linear_curve()); }

NoiseLevel estimate_noise(const cv::Mat& srgb255, const cv::Mat& ignore) {
  CV_Assert(srgb255.type() == CV_32FC3);
  NoiseLevel level;
  const cv::Size blocks(srgb255.cols / kBlock, srgb255.rows / kBlock);
  if (blocks.area() < 16) return level;
  cv::Mat Y, C1, C2;
  to_opponent(srgb255, Y, C1, C2);
  const cv::Mat ry = block_means(immerkaer_abs(Y), blocks), r1 = block_means(immerkaer_abs(C1), blocks),
                r2 = block_means(immerkaer_abs(C2), blocks);
  // Usable blocks: the photo's own (nothing ignored), away from clipping
  // (mean luminance within 12 levels of black or white).
  cv::Mat lum = block_means(Y, blocks) * kR3;
  cv::Mat ign = ignore.empty() ? cv::Mat::zeros(blocks, CV_32F) : cv::Mat();
  if (!ignore.empty()) {
    cv::Mat f;
    ignore.convertTo(f, CV_32F);
    ign = block_means(f, blocks);
  }
  std::vector<float> vy, vc;
  for (int by = 0; by < blocks.height; ++by)
    for (int bx = 0; bx < blocks.width; ++bx) {
      const float l = lum.at<float>(by, bx);
      if (ign.at<float>(by, bx) > 0 || l < 12 || l > 243) continue;
      vy.push_back(ry.at<float>(by, bx));
      vc.push_back(0.5f * (r1.at<float>(by, bx) + r2.at<float>(by, bx)));
    }
  if (vy.size() < 16) return level;
  const auto flattest = [](std::vector<float>& v) {
    const size_t k = v.size() / 10;
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[k];
  };
  const float to_sigma = std::sqrt(float(CV_PI) / 2) / 6 / kFlattestBias;
  level.luma = flattest(vy) * to_sigma;
  level.chroma = flattest(vc) * to_sigma;
  level.blocks = int(vy.size());
  return level;
}

cv::Mat denoise(const cv::Mat& srgb255, const NoiseLevel& level, const DenoiseAmounts& a, DenoiseApplied* applied) {
  CV_Assert(srgb255.type() == CV_32FC3);
  const float s = std::clamp(a.strength, 0.f, 1.f);
  const float blend = std::min(1.f, 2 * s), boost = std::max(1.f, 2 * s);
  const auto gate = [](float sigma) { return smoothstep01((sigma - kCleanNoise) / (kFullNoise - kCleanNoise)); };
  const float luma_mix = std::clamp(a.luminance, 0.f, 1.f) * blend * gate(level.luma);
  const float chroma_mix = std::clamp(a.chroma, 0.f, 1.f) * blend * gate(level.chroma);
  if (applied) *applied = {luma_mix, chroma_mix};
  if (luma_mix <= 0 && chroma_mix <= 0) return srgb255;

  cv::Mat Y, C1, C2;
  to_opponent(srgb255, Y, C1, C2);
  cv::Mat Yf = Y, C1f = C1, C2f = C2;  // the filtered channels
  if (chroma_mix > 0) {
    // Chroma at half size (its noise halves), filtered with a guided filter
    // steered by the luminance: in a window of half-size pixels the chroma
    // is a linear function of the luminance, flat where the luminance is
    // (the noise averaged away), following it across a lightness edge. The
    // window is as small as brings the noise to about a level (radius a
    // third of the half-size sigma: 1 at sigma 8, 2 to 3 at 15); a wider one
    // costs small faces their colour detail (lips, irises) and the
    // recognizer its certainty. eps: twice the half-size noise, squared.
    const cv::Size half((Y.cols + 1) / 2, (Y.rows + 1) / 2);
    cv::Mat Yh, ch, chans[2], filtered;
    cv::resize(Y, Yh, half, 0, 0, cv::INTER_AREA);
    cv::resize(C1, chans[0], half, 0, 0, cv::INTER_AREA);
    cv::resize(C2, chans[1], half, 0, 0, cv::INTER_AREA);
    cv::merge(chans, 2, ch);
    const float sh = level.chroma * boost / 2;
    const int r = std::clamp(int(std::lround(sh / 3)), 1, 6);
    cv::ximgproc::guidedFilter(Yh, ch, filtered, r, 4 * sh * sh);
    cv::split(filtered, chans);
    C1f = cv::Mat();  // (not into C1's buffer)
    C2f = cv::Mat();
    cv::resize(chans[0], C1f, Y.size(), 0, 0, cv::INTER_LINEAR);
    cv::resize(chans[1], C2f, Y.size(), 0, 0, cv::INTER_LINEAR);
  }
  if (luma_mix > 0) {
    // Luminance: a bilateral filter (7x7, spatial sigma 3 px) whose range
    // is twice the noise: neighbours within the noise are averaged, an edge
    // (hair, lashes, the lips' line) is not crossed.
    const float sy = level.luma * boost;
    Yf = cv::Mat();  // (not into Y's buffer)
    cv::bilateralFilter(Y, Yf, 7, 2 * sy, 3, cv::BORDER_REFLECT);
  }
  return from_opponent(Y, Yf, luma_mix, C1, C1f, C2, C2f, chroma_mix);
}

float grain_sigma_px(cv::Size canvas, float size) {
  return 0.6f * std::max(0.f, size) * canvas.height / float(kGrainReferenceHeight);
}

namespace {
// The grain as pixels see it: a continuous field (white noise blurred by a
// Gaussian of `sigma` px) averaged over each pixel. With the white noise
// taken per pixel, that is the noise filtered by the Gaussian convolved with
// a pixel-wide triangle (a pixel's box on the noise's side and on the
// pixel's), sampled at whole pixels; one axis of the separable kernel.
cv::Mat pixel_grain_kernel(float sigma) {
  if (sigma < 0.05f) return cv::Mat(1, 1, CV_32F, cv::Scalar(1));  // finer than a pixel shows
  const int r = int(std::ceil(3 * sigma)) + 1;
  cv::Mat k(2 * r + 1, 1, CV_32F);
  constexpr int kSteps = 64;
  for (int i = -r; i <= r; ++i) {
    double sum = 0;
    for (int j = 0; j < kSteps; ++j) {
      const double t = -1 + (j + 0.5) * 2 / kSteps, w = 1 - std::abs(t), d = i - t;
      sum += w * std::exp(-d * d / (2.0 * sigma * sigma));
    }
    k.at<float>(i + r) = float(sum);
  }
  return k / cv::sum(k)[0];
}
}  // namespace

cv::Mat grain_field(cv::Size canvas, float size, uint64_t seed) {
  // A canvas f times the reference's height has pixels of 1/f^2 the area:
  // the average of white noise over one varies f times as much; its grain is
  // f times wider in pixels. So its 2x2 averages match the reference's
  // pixels (the same grain seen at the same size), and the field is scaled
  // so that the reference canvas's has a deviation of 1.
  const double f = double(canvas.height) / kGrainReferenceHeight;
  const float sigma = grain_sigma_px(canvas, size), ref_sigma = grain_sigma_px({0, kGrainReferenceHeight}, size);
  const cv::Mat ref = pixel_grain_kernel(ref_sigma);
  const double ref_dev = ref.dot(ref);  // 2-D: (sum of squares of one axis)^2, its root
  cv::Mat g(canvas, CV_32F);
  cv::RNG rng(seed ? seed : 0x9e3779b97f4a7c15ull);  // cv::RNG takes 0 for another fixed state
  rng.fill(g, cv::RNG::NORMAL, 0, f / ref_dev);
  const cv::Mat k = pixel_grain_kernel(sigma);
  cv::sepFilter2D(g, g, CV_32F, k, k, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
  g -= cv::mean(g)[0];
  return g;
}

cv::Mat add_grain(const cv::Mat& srgb255, const cv::Mat& field, float amount) {
  CV_Assert(srgb255.type() == CV_32FC3 && field.type() == CV_32F && field.size() == srgb255.size());
  cv::Mat out(srgb255.size(), CV_32FC3);
  const float dev = 8 * std::clamp(amount, 0.f, 1.f);
  parallel_ranges(cv::Range(0, srgb255.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const cv::Vec3f* s = srgb255.ptr<cv::Vec3f>(y);
      const float* g = field.ptr<float>(y);
      cv::Vec3f* d = out.ptr<cv::Vec3f>(y);
      for (int x = 0; x < srgb255.cols; ++x) {
        // Midtone weight 4 l (1 - l) on the pixel's lightness (1 at mid grey,
        // 0 at black and white).
        const float l = std::clamp((s[x][0] + s[x][1] + s[x][2]) / (3 * 255.f), 0.f, 1.f);
        const float v = dev * 4 * l * (1 - l) * g[x];
        d[x] = cv::Vec3f(s[x][0] + v, s[x][1] + v, s[x][2] + v);
      }
    }
  });
  return out;
}

cv::Mat linear_change(const cv::Mat& before255, const cv::Mat& after255, cv::Mat* changed) {
  CV_Assert(before255.type() == CV_32FC3 && after255.type() == CV_32FC3 && before255.size() == after255.size());
  cv::Mat delta(before255.size(), CV_32FC3);
  if (changed) changed->create(before255.size(), CV_32F);
  const Curve& lin = to_linear_curve();
  parallel_ranges(cv::Range(0, before255.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const cv::Vec3f *b = before255.ptr<cv::Vec3f>(y), *a = after255.ptr<cv::Vec3f>(y);
      cv::Vec3f* d = delta.ptr<cv::Vec3f>(y);
      float* c = changed ? changed->ptr<float>(y) : nullptr;
      for (int x = 0; x < before255.cols; ++x) {
        float most = 0;
        for (int k = 0; k < 3; ++k) {
          d[x][k] = lin(a[x][k]) - lin(b[x][k]);
          most = std::max(most, std::abs(a[x][k] - b[x][k]));
        }
        if (c) c[x] = std::min(1.f, most * (1 / 16.f));
      }
    }
  });
  return delta;
}

}  // namespace likeness::noise
