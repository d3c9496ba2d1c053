#include "stages/matte/foreground.hpp"

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace likeness {

namespace {
constexpr float kSure = 1e-4f;  // a matte this close to 0 or 1 is taken as 0 or 1 from `big_size` on

// One Jacobi sweep at one level over the given pixels (row-major indices):
// per pixel, the 2x2 least-squares system for (F, B) with the compositing
// equation and 4-neighbour smoothness weighted by how little the matte
// changes across the neighbour. Other pixels keep F1 and B1 as they are.
void sweep(const cv::Mat& I, const cv::Mat& A, const cv::Mat& F0, const cv::Mat& B0, cv::Mat& F1, cv::Mat& B1,
           const std::vector<int>& pixels, const ForegroundOptions& o) {
  const int h = I.rows, w = I.cols;
  cv::parallel_for_(cv::Range(0, int(pixels.size())), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      const int y = pixels[i] / w, x = pixels[i] % w;
      const auto* img = I.ptr<cv::Vec3f>(y);
      const float* a = A.ptr<float>(y);
      auto* fo = F1.ptr<cv::Vec3f>(y);
      auto* bo = B1.ptr<cv::Vec3f>(y);
      const float a0 = a[x], a1 = 1 - a0;
      float wsum = 0;
      cv::Vec3f fs(0, 0, 0), bs(0, 0, 0);
      const int nx[4] = {x - 1, x + 1, x, x}, ny[4] = {y, y, y - 1, y + 1};
      for (int k = 0; k < 4; ++k) {
        const int xx = std::clamp(nx[k], 0, w - 1), yy = std::clamp(ny[k], 0, h - 1);
        const float wk = o.regularisation + o.gradient_weight * std::abs(a0 - A.at<float>(yy, xx));
        wsum += wk;
        fs += wk * F0.at<cv::Vec3f>(yy, xx);
        bs += wk * B0.at<cv::Vec3f>(yy, xx);
      }
      // [a0^2 + W, a0 a1; a0 a1, a1^2 + W] [F; B] = [a0 I + fs; a1 I + bs]
      const float m00 = a0 * a0 + wsum, m01 = a0 * a1, m11 = a1 * a1 + wsum;
      const float det = m00 * m11 - m01 * m01;
      const float inv = det > 1e-12f ? 1 / det : 0;
      for (int c = 0; c < 3; ++c) {
        const float r0 = a0 * img[x][c] + fs[c], r1 = a1 * img[x][c] + bs[c];
        fo[x][c] = std::clamp((m11 * r0 - m01 * r1) * inv, 0.f, 1.f);
        bo[x][c] = std::clamp((m00 * r1 - m01 * r0) * inv, 0.f, 1.f);
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
  images[levels - 1] = image, alphas[levels - 1] = alpha;
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
    cv::Mat F1 = F.clone(), B1 = B.clone();
    for (int i = 0; i < n; ++i) {
      sweep(I, A, F, B, F1, B1, pixels, o);
      std::swap(F, F1);
      std::swap(B, B1);
      // The pixels not swept hold the same values in both buffers.
    }
  }
  if (background) *background = B;
  return F;
}

}  // namespace likeness
