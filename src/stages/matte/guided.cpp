#include "stages/matte/guided.hpp"

#include <algorithm>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/parallel.hpp"

namespace likeness {

namespace {
cv::Mat box(const cv::Mat& m, int r) {
  cv::Mat out;
  cv::boxFilter(m, out, CV_32F, cv::Size(2 * r + 1, 2 * r + 1), cv::Point(-1, -1), true, cv::BORDER_REFLECT);
  return out;
}
}  // namespace

cv::Mat guided_filter(const cv::Mat& guide, const cv::Mat& p, int radius, double eps, int subsample,
                      const cv::Mat& where) {
  CV_Assert((guide.type() == CV_8UC3 || guide.type() == CV_32FC3) && p.type() == CV_32F && guide.size() == p.size());
  CV_Assert(where.empty() || (where.type() == CV_8U && where.size() == p.size()));
  cv::Mat I;
  guide.convertTo(I, CV_32F, guide.depth() == CV_8U ? 1.0 / 255 : 1.0);
  const int s = std::max(1, std::min(subsample, radius));
  const int r = std::max(1, int(std::lround(double(radius) / s)));
  cv::Mat Is = I, ps = p;
  if (s > 1) {
    const cv::Size small((I.cols + s - 1) / s, (I.rows + s - 1) / s);
    cv::resize(I, Is, small, 0, 0, cv::INTER_AREA);
    cv::resize(p, ps, small, 0, 0, cv::INTER_AREA);
  }
  const cv::Size sz = Is.size();
  // Products for the window statistics: I p (3), I I^T (6 distinct).
  cv::Mat Ip(sz, CV_32FC3), II(sz, CV_32FC(6));
  each_row(sz.height, [&](int y) {
    const auto* i = Is.ptr<cv::Vec3f>(y);
    const float* q = ps.ptr<float>(y);
    auto* ip = Ip.ptr<cv::Vec3f>(y);
    auto* ii = II.ptr<cv::Vec<float, 6>>(y);
    for (int x = 0; x < sz.width; ++x) {
      const cv::Vec3f& v = i[x];
      ip[x] = v * q[x];
      ii[x] = {v[0] * v[0], v[0] * v[1], v[0] * v[2], v[1] * v[1], v[1] * v[2], v[2] * v[2]};
    }
  });
  const cv::Mat mI = box(Is, r), mp = box(ps, r), mIp = box(Ip, r), mII = box(II, r);
  // Per window: a = (Sigma + eps)^-1 cov(I, p), b = mean p - a . mean I.
  cv::Mat ab(sz, CV_32FC4);
  const float e = float(eps);
  each_row(sz.height, [&](int y) {
    const auto* mi = mI.ptr<cv::Vec3f>(y);
    const float* mq = mp.ptr<float>(y);
    const auto* mip = mIp.ptr<cv::Vec3f>(y);
    const auto* mii = mII.ptr<cv::Vec<float, 6>>(y);
    auto* o = ab.ptr<cv::Vec4f>(y);
    for (int x = 0; x < sz.width; ++x) {
      const cv::Vec3f& u = mi[x];
      const cv::Vec<float, 6>& c = mii[x];
      const float s00 = c[0] - u[0] * u[0] + e, s01 = c[1] - u[0] * u[1], s02 = c[2] - u[0] * u[2],
                  s11 = c[3] - u[1] * u[1] + e, s12 = c[4] - u[1] * u[2], s22 = c[5] - u[2] * u[2] + e;
      const cv::Vec3f cov = mip[x] - u * mq[x];
      // The symmetric 3x3 inverse by cofactors.
      const float i00 = s11 * s22 - s12 * s12, i01 = s02 * s12 - s01 * s22, i02 = s01 * s12 - s02 * s11;
      const float i11 = s00 * s22 - s02 * s02, i12 = s01 * s02 - s00 * s12, i22 = s00 * s11 - s01 * s01;
      const float det = s00 * i00 + s01 * i01 + s02 * i02;
      const float inv = det > 1e-20f ? 1.f / det : 0.f;
      const float a0 = (i00 * cov[0] + i01 * cov[1] + i02 * cov[2]) * inv;
      const float a1 = (i01 * cov[0] + i11 * cov[1] + i12 * cov[2]) * inv;
      const float a2 = (i02 * cov[0] + i12 * cov[1] + i22 * cov[2]) * inv;
      o[x] = {a0, a1, a2, mq[x] - a0 * u[0] - a1 * u[1] - a2 * u[2]};
    }
  });
  cv::Mat mab = box(ab, r);
  if (s > 1) {
    cv::Mat big;
    cv::resize(mab, big, p.size(), 0, 0, cv::INTER_LINEAR);
    mab = big;
  }
  cv::Mat q = where.empty() ? cv::Mat(p.size(), CV_32F) : p.clone();
  each_row(p.rows, [&](int y) {
    const auto* i = I.ptr<cv::Vec3f>(y);
    const auto* c = mab.ptr<cv::Vec4f>(y);
    const uchar* w = where.empty() ? nullptr : where.ptr<uchar>(y);
    float* o = q.ptr<float>(y);
    for (int x = 0; x < p.cols; ++x)
      if (!w || w[x]) o[x] = c[x][0] * i[x][0] + c[x][1] * i[x][1] + c[x][2] * i[x][2] + c[x][3];
  });
  return q;
}

}  // namespace likeness
