#include "stages/matte/foreground.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "likeness/parallel.hpp"

namespace likeness {

namespace {
constexpr float kSure = 1e-4f;  // a matte this close to 0 or 1 is taken as 0 or 1 from `big_size` on

// One pixel's part of a level's Jacobi sweeps, fixed for the level: where it
// is, its four neighbours (clamped at the edges), their weights, and the
// inverse of its 2x2 system's matrix; only F and B change from sweep to
// sweep.
struct Unknown {
  int at;
  int nb[4];
  float w[4];
  float a0, a1;
  float p, q, t;  // the inverse: F = p r0 + q r1, B = q r0 + t r1
};

// Per pixel, the 2x2 least-squares system for (F, B) with the compositing
// equation and 4-neighbour smoothness weighted by how little the matte
// changes across the neighbour:
// [a0^2 + W, a0 a1; a0 a1, a1^2 + W] [F; B] = [a0 I + fs; a1 I + bs].
std::vector<Unknown> unknowns(const cv::Mat& A, const std::vector<int>& pixels, const ForegroundOptions& o) {
  const int h = A.rows, w = A.cols;
  const float* a = A.ptr<float>();
  std::vector<Unknown> u(pixels.size());
  parallel_ranges(cv::Range(0, int(pixels.size())), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      Unknown& k = u[i];
      const int at = pixels[i], y = at / w, x = at % w;
      k.at = at;
      k.nb[0] = y * w + std::max(x - 1, 0), k.nb[1] = y * w + std::min(x + 1, w - 1);
      k.nb[2] = std::max(y - 1, 0) * w + x, k.nb[3] = std::min(y + 1, h - 1) * w + x;
      const float a0 = a[at], a1 = 1 - a0;
      float wsum = 0;
      for (int j = 0; j < 4; ++j) wsum += k.w[j] = o.regularisation + o.gradient_weight * std::abs(a0 - a[k.nb[j]]);
      const float m00 = a0 * a0 + wsum, m01 = a0 * a1, m11 = a1 * a1 + wsum;
      const float det = m00 * m11 - m01 * m01;
      const float inv = det > 1e-12f ? 1 / det : 0;
      k.a0 = a0, k.a1 = a1, k.p = m11 * inv, k.q = -m01 * inv, k.t = m00 * inv;
    }
  });
  return u;
}

// One Jacobi sweep over the unknowns: F1, B1 from F0, B0 (all continuous).
// Other pixels keep F1 and B1 as they are.
void sweep(const cv::Mat& I, const cv::Mat& F0, const cv::Mat& B0, cv::Mat& F1, cv::Mat& B1,
           const std::vector<Unknown>& u) {
  const auto* img = I.ptr<cv::Vec3f>();
  const auto* f0 = F0.ptr<cv::Vec3f>();
  const auto* b0 = B0.ptr<cv::Vec3f>();
  auto* f1 = F1.ptr<cv::Vec3f>();
  auto* b1 = B1.ptr<cv::Vec3f>();
  parallel_ranges(cv::Range(0, int(u.size())), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      const Unknown& k = u[i];
      cv::Vec3f fs = k.w[0] * f0[k.nb[0]], bs = k.w[0] * b0[k.nb[0]];
      for (int j = 1; j < 4; ++j) fs += k.w[j] * f0[k.nb[j]], bs += k.w[j] * b0[k.nb[j]];
      for (int c = 0; c < 3; ++c) {
        const float r0 = k.a0 * img[k.at][c] + fs[c], r1 = k.a1 * img[k.at][c] + bs[c];
        f1[k.at][c] = std::clamp(k.p * r0 + k.q * r1, 0.f, 1.f);
        b1[k.at][c] = std::clamp(k.q * r0 + k.t * r1, 0.f, 1.f);
      }
    }
  });
}
}  // namespace

cv::Mat estimate_foreground(const cv::Mat& image, const cv::Mat& alpha, cv::Mat* background,
                            const ForegroundOptions& o) {
  CV_Assert(image.type() == CV_32FC3 && alpha.type() == CV_32F && image.size() == alpha.size());
  const int w = image.cols, h = image.rows;
  const int levels = int(std::ceil(std::log2(double(std::max(w, h))))) + 1;
  // The levels' sizes, and their image and matte: each reduced from the
  // next larger level, not from the full size (the pyramid costs about
  // twice the full image instead of once per level).
  std::vector<cv::Size> sizes(levels);
  for (int level = 0; level < levels; ++level) {
    const double t = double(level) / std::max(1, levels - 1);
    sizes[level] = cv::Size(std::max(1, int(std::lround(std::pow(double(w), t)))),
                            std::max(1, int(std::lround(std::pow(double(h), t)))));
  }
  std::vector<cv::Mat> images(levels), alphas(levels);
  images[levels - 1] = image.isContinuous() ? image : image.clone();
  alphas[levels - 1] = alpha.isContinuous() ? alpha : alpha.clone();
  for (int level = levels - 2; level >= 0; --level) {
    cv::resize(images[level + 1], images[level], sizes[level], 0, 0, cv::INTER_AREA);
    cv::resize(alphas[level + 1], alphas[level], sizes[level], 0, 0, cv::INTER_AREA);
  }
  cv::Mat F(1, 1, CV_32FC3, cv::mean(image)), B = F.clone();
  for (int level = 0; level < levels; ++level) {
    const int lw = sizes[level].width, lh = sizes[level].height;
    const cv::Mat& I = images[level];
    const cv::Mat& A = alphas[level];
    cv::resize(F, F, cv::Size(lw, lh), 0, 0, cv::INTER_NEAREST);
    cv::resize(B, B, cv::Size(lw, lh), 0, 0, cv::INTER_NEAREST);
    const bool big = std::max(lw, lh) >= o.big_size;
    const int n = big ? o.big_iterations : o.small_iterations;
    // Small levels solve everywhere. From `big_size` on, only the mixed
    // pixels (the matte strictly between 0 and 1, and their neighbours) are
    // unknown: where the matte is 1 the person's colour is the photo's,
    // where it is 0 the background's is, and the sweeps there would only
    // copy it. So the band gets many sweeps for what a few cost everywhere.
    std::vector<int> pixels;
    if (big) {
      cv::Mat mixed = (A > kSure) & (A < 1 - kSure), near;
      cv::dilate(mixed, near, cv::Mat());
      pixels.reserve(size_t(cv::countNonZero(near)));
      for (int y = 0; y < lh; ++y) {
        const uchar* m = near.ptr<uchar>(y);
        for (int x = 0; x < lw; ++x)
          if (m[x]) pixels.push_back(y * lw + x);
      }
      I.copyTo(F, A >= 1 - kSure);
      I.copyTo(B, A <= kSure);
    } else {
      pixels.resize(size_t(lw) * lh);
      for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = int(k);
    }
    CV_Assert(I.isContinuous() && A.isContinuous() && F.isContinuous() && B.isContinuous());
    const std::vector<Unknown> u = unknowns(A, pixels, o);
    cv::Mat F1 = F.clone(), B1 = B.clone();
    for (int i = 0; i < n; ++i) {
      sweep(I, F, B, F1, B1, u);
      std::swap(F, F1);
      std::swap(B, B1);
      // The pixels not swept hold the same values in both buffers.
    }
  }
  if (background) *background = B;
  return F;
}

}  // namespace likeness
