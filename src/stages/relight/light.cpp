#include "stages/relight/light.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/parallel.hpp"

namespace likeness::relight {

namespace {
constexpr float kPi = 3.14159265f;

cv::Vec3f unit(cv::Vec3f v) {
  const float n = std::sqrt(v.dot(v));
  return n > 1e-6f ? v / n : cv::Vec3f(0, 0, 1);
}

// A light's colour at a temperature, relative to daylight (5500 K), so a
// 5500 K light is neutral.
cv::Vec3f light_color(float k) {
  const cv::Vec3f c = kelvin(k), d = kelvin(5500);
  return luminance_one({c[0] / d[0], c[1] / d[1], c[2] / d[2]});
}

// The mean of the brighter half.
double top_half_mean(std::vector<float> v) {
  const auto q = v.begin() + long(v.size() / 2);
  std::nth_element(v.begin(), q, v.end());
  double sum = 0;
  for (auto it = q; it != v.end(); ++it) sum += *it;
  return sum / double(v.end() - q);
}

// Normals of a height field (x right, y up, z toward the camera).
cv::Mat normals_of(const cv::Mat& h) {
  cv::Mat gx, gy;
  cv::Sobel(h, gx, CV_32F, 1, 0, 3, 1.0 / 8);
  cv::Sobel(h, gy, CV_32F, 0, 1, 3, 1.0 / 8);
  cv::Mat n(h.size(), CV_32FC3);
  for (int y = 0; y < h.rows; ++y) {
    const float* px = gx.ptr<float>(y);
    const float* py = gy.ptr<float>(y);
    auto* o = n.ptr<cv::Vec3f>(y);
    for (int x = 0; x < h.cols; ++x) o[x] = unit({-px[x], py[x], 1.f});  // image y runs down
  }
  return n;
}

cv::Mat blur(const cv::Mat& m, double sigma) {
  cv::Mat out;
  if (sigma < 0.3) return m.clone();
  cv::GaussianBlur(m, out, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
  return out;
}

// The face mesh's height toward the camera, rasterised over its Delaunay
// triangles (linear in each), and where it covers.
void mesh_height(const std::vector<cv::Point3f>& mesh, double s, cv::Size grid, cv::Mat& h, cv::Mat& cover) {
  h = cv::Mat::zeros(grid, CV_32F);
  cover = cv::Mat::zeros(grid, CV_32F);
  const cv::Rect2f box(-1.f, -1.f, float(grid.width) + 2, float(grid.height) + 2);
  cv::Subdiv2D sub(cv::Rect(-2, -2, grid.width + 4, grid.height + 4));
  std::vector<cv::Point3f> pts;
  for (const auto& q : mesh) {
    const cv::Point3f g(float(q.x * s), float(q.y * s), float(-q.z * s));
    pts.push_back(g);
    if (box.contains({g.x, g.y})) sub.insert(cv::Point2f(g.x, g.y));
  }
  std::vector<cv::Vec6f> tris;
  sub.getTriangleList(tris);
  // Each vertex's height, found by position (Subdiv2D keeps no index).
  auto height_at = [&](cv::Point2f p) {
    float best = 1e30f, z = 0;
    for (const auto& q : pts) {
      const float d = (q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y);
      if (d < best) best = d, z = q.z;
    }
    return z;
  };
  for (const auto& t : tris) {
    const cv::Point2f a(t[0], t[1]), b(t[2], t[3]), c(t[4], t[5]);
    if (!box.contains(a) || !box.contains(b) || !box.contains(c)) continue;
    const float za = height_at(a), zb = height_at(b), zc = height_at(c);
    const float det = (b.y - c.y) * (a.x - c.x) + (c.x - b.x) * (a.y - c.y);
    if (std::abs(det) < 1e-6f) continue;
    const int x0 = std::max(0, int(std::floor(std::min({a.x, b.x, c.x})))),
              x1 = std::min(grid.width - 1, int(std::ceil(std::max({a.x, b.x, c.x}))));
    const int y0 = std::max(0, int(std::floor(std::min({a.y, b.y, c.y})))),
              y1 = std::min(grid.height - 1, int(std::ceil(std::max({a.y, b.y, c.y}))));
    for (int y = y0; y <= y1; ++y) {
      float* hr = h.ptr<float>(y);
      float* cr = cover.ptr<float>(y);
      for (int x = x0; x <= x1; ++x) {
        const float l1 = ((b.y - c.y) * (x - c.x) + (c.x - b.x) * (y - c.y)) / det;
        const float l2 = ((c.y - a.y) * (x - c.x) + (a.x - c.x) * (y - c.y)) / det;
        const float l3 = 1 - l1 - l2;
        if (l1 < -1e-4f || l2 < -1e-4f || l3 < -1e-4f) continue;
        hr[x] = l1 * za + l2 * zb + l3 * zc;
        cr[x] = 1;
      }
    }
  }
}
}  // namespace

cv::Vec3f luminance_one(cv::Vec3f c) {
  const float y = 0.0722f * c[0] + 0.7152f * c[1] + 0.2126f * c[2];
  return y > 1e-6f ? c / y : cv::Vec3f(1, 1, 1);
}

int facing_side(const std::vector<cv::Point3f>& mesh) {
  if (mesh.size() < 468) return 0;
  const float left = mesh[234].x, right = mesh[454].x, nose = mesh[1].x;
  const float w = std::abs(right - left);
  if (w < 1) return 0;
  const float off = (nose - 0.5f * (left + right)) / w;  // the nose toward the side the face turns to
  // Turned toward image left: the broad (nearer) side is the image's right.
  return off < -0.06f ? 1 : off > 0.06f ? -1 : 0;
}

Shape subject_shape(const cv::Mat& alpha, const std::vector<cv::Point3f>& mesh, double scale) {
  Shape sh;
  if (mesh.size() < 468 || alpha.empty()) return sh;
  sh.scale = scale;
  const cv::Size grid(std::max(8, int(std::lround(alpha.cols * scale))),
                      std::max(8, int(std::lround(alpha.rows * scale))));
  cv::Mat a;
  cv::resize(alpha, a, grid, 0, 0, cv::INTER_AREA);
  sh.face_width =
      float(cv::norm(cv::Point2f(mesh[234].x, mesh[234].y) - cv::Point2f(mesh[454].x, mesh[454].y)) * scale);
  const float fw = std::max(8.f, sh.face_width);

  // The body: the silhouette inflated into a rounded relief, a quarter
  // circle of radius ~half a face width at the edge, flat inside.
  cv::Mat inside = a > 0.5f, d;
  cv::distanceTransform(inside, d, cv::DIST_L2, cv::DIST_MASK_5);
  const float r = 0.5f * fw;
  cv::Mat hb(grid, CV_32F);
  each_row(grid.height, [&](int y) {
    const float* dr = d.ptr<float>(y);
    float* o = hb.ptr<float>(y);
    for (int x = 0; x < grid.width; ++x) {
      const float t = std::min(dr[x], r);
      o[x] = std::sqrt(std::max(0.f, 2 * r * t - t * t));
    }
  });
  const cv::Mat n_body = normals_of(blur(hb, 0.12 * fw));

  // The face: the mesh's height, smoothed inside its cover only (normalised
  // convolution) so its triangles do not show as facets.
  cv::Mat hf, cover;
  mesh_height(mesh, scale, grid, hf, cover);
  const double sf = std::max(1.0, 0.025 * fw);
  cv::Mat num = blur(hf.mul(cover), sf), den = blur(cover, sf);
  cv::Mat hs = num / cv::max(den, 1e-3);
  const cv::Mat n_face = normals_of(hs);
  sh.height = hs.clone();
  sh.height.setTo(std::numeric_limits<float>::quiet_NaN(), cover < 0.5f);

  // The head: an ellipsoid on the mesh's outline (the width between the
  // outline's sides, the height from the forehead to the chin, as deep as
  // wide), which carries the face's roundness out to the ears and the hair
  // where the mesh ends; it fades out below the chin and beyond the hair.
  const cv::Point2f l(mesh[234].x, mesh[234].y), r2(mesh[454].x, mesh[454].y), top(mesh[10].x, mesh[10].y),
      chin(mesh[152].x, mesh[152].y);
  const cv::Point2f c = (l + r2 + top + chin) * (0.25f * float(scale));
  const float rx = 0.55f * float(cv::norm(r2 - l) * scale), ry = 0.6f * float(cv::norm(chin - top) * scale);
  const float rz = rx, chin_y = chin.y * float(scale);
  cv::Mat n_head(grid, CV_32FC3), w_head(grid, CV_32F);
  each_row(grid.height, [&](int y) {
    auto* o = n_head.ptr<cv::Vec3f>(y);
    float* w = w_head.ptr<float>(y);
    for (int x = 0; x < grid.width; ++x) {
      const float u = (x - c.x) / rx, v = (y - c.y) / ry, rho = std::sqrt(u * u + v * v);
      const float k = rho > 0.97f ? 0.97f / rho : 1.f;  // beyond the ellipse: its rim's normal
      const float uu = u * k, vv = v * k;
      o[x] = unit({uu / rx, -vv / ry, std::sqrt(std::max(0.f, 1 - uu * uu - vv * vv)) / rz});
      const float below = std::max(0.f, (y - chin_y) / (0.25f * ry));
      w[x] = std::clamp(1.4f - rho, 0.f, 0.4f) / 0.4f * std::max(0.f, 1 - below);
    }
  });
  w_head = blur(w_head, 0.05 * fw);

  // The mesh's share: full well inside its outline, fading out over ~8% of
  // the face's width before the outline, where its normals turn unreliable.
  // (cover is 0 or 1: eroding it by a disc is thresholding its distance
  // transform, in linear time.)
  cv::Mat core;
  {
    cv::Mat d;
    cv::distanceTransform(cover > 0.5f, d, cv::DIST_L2, cv::DIST_MASK_5);
    cv::Mat(d > float(int(0.08 * fw))).convertTo(core, CV_32F, 1.0 / 255);
  }
  sh.face = cv::min(blur(core, 0.05 * fw), cover);
  sh.normal.create(grid, CV_32FC3);
  each_row(grid.height, [&](int y) {
    const auto* nf = n_face.ptr<cv::Vec3f>(y);
    const auto* nh = n_head.ptr<cv::Vec3f>(y);
    const auto* nb = n_body.ptr<cv::Vec3f>(y);
    const float* w = sh.face.ptr<float>(y);
    const float* wh = w_head.ptr<float>(y);
    auto* o = sh.normal.ptr<cv::Vec3f>(y);
    for (int x = 0; x < grid.width; ++x) {
      const cv::Vec3f rest = unit(nh[x] * wh[x] + nb[x] * (1 - wh[x]));
      o[x] = unit(nf[x] * w[x] + rest * (1 - w[x]));
    }
  });
  return sh;
}

Light light_for(const Pattern& p, int photo_side, int facing, int side, float turn, float raise, float softer,
                float k) {
  Light l;
  int s = side;
  if (s == 0) {
    if (p.side == KeySide::broad && facing != 0)
      s = facing;
    else if (p.side == KeySide::narrow && facing != 0)
      s = -facing;
    else
      s = photo_side != 0 ? photo_side : 1;  // unknown: the subject's left (the image's right)
  }
  l.side = s;
  const float az = std::clamp(p.azimuth + turn, -100.f, 100.f) * kPi / 180,
              el = std::clamp(p.elevation + raise, -30.f, 85.f) * kPi / 180;
  l.key = unit({float(s) * std::sin(az) * std::cos(el), std::sin(el), std::cos(az) * std::cos(el)});
  l.softness = std::clamp(p.softness + softer, 0.f, 1.f);
  l.fill = p.fill;
  l.rim = p.rim;
  l.under = p.under;
  l.key_color = light_color(k > 0 ? k : p.key_kelvin);
  l.fill_color = light_color(p.fill_kelvin);
  return l;
}

cv::Vec3f OldLight::direction() const {
  const cv::Vec3f d(c[1], c[2], c[3]);
  return fitted && cv::norm(d) > 1e-6 ? unit(d) : cv::Vec3f(0, 0, 1);
}

OldLight fit_old_light(const cv::Mat& lum, const Shape& shape, const cv::Mat& skin) {
  OldLight o;
  // Samples: skin where the mesh's normals hold, every other pixel.
  std::vector<cv::Vec4f> rows;
  std::vector<float> y;
  for (int r = 0; r < lum.rows; r += 2) {
    const float* l = lum.ptr<float>(r);
    const float* s = skin.ptr<float>(r);
    const float* w = shape.face.ptr<float>(r);
    const auto* n = shape.normal.ptr<cv::Vec3f>(r);
    for (int x = 0; x < lum.cols; x += 2)
      if (s[x] > 0.5f && w[x] > 0.5f) {
        rows.emplace_back(1.f, n[x][0], n[x][1], n[x][2]);
        y.push_back(l[x]);
      }
  }
  if (rows.size() < 60) return o;
  // Iteratively reweighted least squares (Huber): a beard's edge, a mole or
  // a catchlight does not tilt the fit.
  std::vector<float> wts(rows.size(), 1.f);
  cv::Vec4f c(1, 0, 0, 0);
  for (int it = 0; it < 4; ++it) {
    cv::Matx44d A = cv::Matx44d::zeros();
    cv::Vec4d b(0, 0, 0, 0);
    for (size_t i = 0; i < rows.size(); ++i) {
      const cv::Vec4d v(rows[i][0], rows[i][1], rows[i][2], rows[i][3]);
      A += wts[i] * (v * v.t());
      b += wts[i] * y[i] * v;
    }
    for (int k = 1; k < 4; ++k) A(k, k) += 1e-3 * A(0, 0);  // a little ridge: flat light stays flat
    cv::Vec4d sol;
    if (!cv::solve(A, b, sol, cv::DECOMP_CHOLESKY)) return o;
    c = cv::Vec4f(float(sol[0]), float(sol[1]), float(sol[2]), float(sol[3]));
    std::vector<float> res(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) res[i] = std::abs(y[i] - c.dot(rows[i]));
    std::vector<float> sorted = res;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const float k = std::max(1e-5f, 1.5f * 1.4826f * sorted[sorted.size() / 2]);
    for (size_t i = 0; i < rows.size(); ++i) wts[i] = res[i] <= k ? 1.f : k / res[i];
  }
  if (c.dot(cv::Vec4f(1, 0, 0, 1)) <= 0) return o;
  o.c = c;
  o.fitted = true;
  return o;
}

cv::Mat key_visibility(const Shape& shape, const cv::Vec3f& key, float softness) {
  cv::Mat vis(shape.height.size(), CV_32F, cv::Scalar(1));
  const float planar = std::hypot(key[0], key[1]);
  if (planar < 0.05f) return vis;  // a light on the camera's axis: shadows hide behind the features
  const float dx = key[0] / planar, dy = -key[1] / planar;  // image y runs down
  const float rise = key[2] / planar;                       // the ray's climb per pixel travelled
  const float pen = 0.04f + 0.45f * softness;               // penumbra per pixel travelled
  const float bias = 0.6f + 0.01f * shape.face_width;
  const int steps = std::max(4, int(0.6f * shape.face_width));
  const cv::Mat& h = shape.height;
  // Only a term under 1 shades (v < 1). With every height at most hmax, a
  // term is at least (h0 + bias - hmax + t rise) / (t pen): once that is 1
  // and the ray climbs faster than its penumbra widens, no later term can
  // shade, and the march stops there (the same answer, sooner).
  float hmax = -1e30f;
  for (int y = 0; y < h.rows; ++y) {
    const float* hr = h.ptr<float>(y);
    for (int x = 0; x < h.cols; ++x)
      if (!std::isnan(hr[x])) hmax = std::max(hmax, hr[x]);
  }
  const bool climbs = rise > pen;
  parallel_ranges(cv::Range(0, h.rows), [&](const cv::Range& rr) {
    for (int y = rr.start; y < rr.end; ++y) {
      const float* hr = h.ptr<float>(y);
      float* v = vis.ptr<float>(y);
      for (int x = 0; x < h.cols; ++x) {
        const float h0 = hr[x];
        if (std::isnan(h0)) continue;
        float worst = 1e30f;
        const int last =
            climbs ? int(std::min(float(steps), std::ceil((hmax - h0 - bias) / (rise - pen)) + 1.f)) : steps;
        for (int t = 2; t <= last; ++t) {
          const float fx = x + dx * t + 0.5f, fy = y + dy * t + 0.5f;  // rounded: floor(v + 0.5)
          const int qx = int(fx) - (fx < 0), qy = int(fy) - (fy < 0);
          if (qx < 0 || qy < 0 || qx >= h.cols || qy >= h.rows) break;
          const float hq = h.at<float>(qy, qx);
          if (std::isnan(hq)) break;
          worst = std::min(worst, (h0 + t * rise + bias - hq) / (t * pen));
        }
        if (worst < 1e29f) v[x] = std::clamp(0.5f + 0.5f * worst, 0.f, 1.f);
      }
    }
  });
  return blur(vis, std::max(0.7, 0.01 * shape.face_width));
}

Relit relight(const cv::Mat& image, const cv::Mat& alpha, const cv::Mat& face_skin, const cv::Mat& skin,
              const Shape& shape, const Light& light, float strength) {
  CV_Assert(image.type() == CV_32FC3 && alpha.type() == CV_32F && shape.valid());
  Relit out;
  const cv::Size grid = shape.normal.size();
  auto to_grid = [&](const cv::Mat& m) {
    cv::Mat g;
    cv::resize(m, g, grid, 0, 0, cv::INTER_AREA);
    return g;
  };
  cv::Mat lum_full;
  cv::transform(image, lum_full, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  const cv::Mat lum = to_grid(lum_full), fskin = to_grid(face_skin), a = to_grid(alpha);
  out.old_light = fit_old_light(lum, shape, cv::Mat(fskin.mul(a)));
  const OldLight& old = out.old_light;

  const cv::Mat vis = key_visibility(shape, light.key, light.softness);
  const float wrap = 0.1f + 0.6f * light.softness;
  const cv::Vec3f under = unit({0, -0.6f, 0.8f});
  const cv::Vec3f rim = unit({-0.8f * float(light.side), 0.3f, -0.5f});
  const cv::Vec3f half = unit(light.key + cv::Vec3f(0, 0, 1));
  const float shine = 30 + 90 * (1 - light.softness);  // skin's lobe: tight under a bare light

  // Old and new shading on the grid: ratio (per channel) and the key's
  // specular lobe (to be weighted by the skin).
  cv::Mat ratio(grid, CV_32FC3), lobe(grid, CV_32F);
  const float old_floor = 0.3f * std::max(1e-4f, old.c[0] + old.c[3]);  // a photo's shadow holds fill
  each_row(grid.height, [&](int y) {
    const auto* n = shape.normal.ptr<cv::Vec3f>(y);
    const float* v = vis.ptr<float>(y);
    auto* r = ratio.ptr<cv::Vec3f>(y);
    float* sp = lobe.ptr<float>(y);
    for (int x = 0; x < grid.width; ++x) {
      const cv::Vec3f& nn = n[x];
      const float k = std::max(0.f, (nn.dot(light.key) + wrap) / (1 + wrap)) * v[x];
      const float u = std::max(0.f, nn.dot(under)), b = std::pow(std::max(0.f, nn.dot(rim)), 1.5f);
      const cv::Vec3f e = light.key_color * (k + light.under * u) + light.fill_color * light.fill +
                          cv::Vec3f(1, 1, 1) * (light.rim * b * 1.5f);
      const float eo = old.fitted ? std::max(old_floor, old.c.dot(cv::Vec4f(1, nn[0], nn[1], nn[2]))) : 1.f;
      r[x] = e / eo;
      sp[x] = v[x] * std::pow(std::max(0.f, nn.dot(half)), shine);
    }
  });
  const cv::Mat sk = to_grid(skin);
  // The face's exposure is kept as a photographer keeps it: for the lit
  // side. The brighter half of the face's skin after relighting is as
  // bright as the brighter half before; the shadow side goes where the
  // pattern puts it (a split light darkens half the face, it does not
  // blow out the other half to hold an average).
  auto keep_exposure = [&] {
    std::vector<float> before, after;
    for (int y = 0; y < grid.height; ++y) {
      const float* l = lum.ptr<float>(y);
      const float* s = fskin.ptr<float>(y);
      const float* aa = a.ptr<float>(y);
      const auto* r = ratio.ptr<cv::Vec3f>(y);
      for (int x = 0; x < grid.width; ++x) {
        if (s[x] * aa[x] < 0.5f) continue;
        before.push_back(l[x]);
        after.push_back(l[x] * (0.0722f * r[x][0] + 0.7152f * r[x][1] + 0.2126f * r[x][2]));
      }
    }
    if (before.size() < 40) return;
    const double k = top_half_mean(before) / std::max(1e-6, top_half_mean(after));
    ratio *= k;
  };
  keep_exposure();
  // Strength in the log domain. Light can be taken away freely, but a
  // shadow lifted far shows the photo's noise and the shadow's colour, so a
  // lift rolls off toward 1.5x. Skin keeps its colour: light that reaches
  // less deep scatters red, so darkened skin goes warmer and denser, never
  // grey.
  constexpr float kLift = 1.5f;
  each_row(grid.height, [&](int y) {
    auto* r = ratio.ptr<cv::Vec3f>(y);
    const float* s = sk.ptr<float>(y);
    for (int x = 0; x < grid.width; ++x) {
      cv::Vec3f q = r[x];
      const float y0 = std::max(1e-4f, 0.0722f * q[0] + 0.7152f * q[1] + 0.2126f * q[2]);
      float yl = std::exp(strength * std::log(std::clamp(y0, 0.12f, 4.f)));
      if (yl > 1) yl = 1 + (kLift - 1) * std::tanh((yl - 1) / (kLift - 1));
      // The light's colour, at the same strength, on the new luminance.
      for (int c = 0; c < 3; ++c) q[c] = std::exp(strength * std::log(std::max(1e-4f, q[c] / y0)));
      q = luminance_one(q) * yl;
      if (s[x] > 0 && yl < 1) {
        const float lg = std::log(yl) * s[x];
        const cv::Vec3f t = luminance_one({std::exp(0.12f * lg), std::exp(0.05f * lg), std::exp(-0.12f * lg)});
        q = cv::Vec3f(q[0] * t[0], q[1] * t[1], q[2] * t[2]);
      }
      r[x] = q;
    }
  });
  keep_exposure();

  cv::Mat ratio_full, lobe_full;
  cv::resize(ratio, ratio_full, image.size(), 0, 0, cv::INTER_LINEAR);
  cv::resize(lobe, lobe_full, image.size(), 0, 0, cv::INTER_LINEAR);
  // Specular sheen: at the lobe's peak a tenth of the face's mean
  // luminance, less as the light grows softer (a broad source spreads it
  // thin), and broken up by the skin's own fine texture as real sheen is
  // (pores and creases catch none): never a smooth white film.
  const double face_mean = cv::mean(lum_full, face_skin > 0.5f)[0];
  const float sheen = float(0.1 * face_mean) * (1 - 0.8f * light.softness) * strength;
  // (Only the face's skin takes sheen: the texture is measured in its box,
  // grown by the blur's reach.)
  const double sigma_t = std::max(1.0, 0.006 * shape.face_width / shape.scale);
  const int reach = int(std::ceil(3 * sigma_t)) + 2;
  cv::Rect fbox = cv::boundingRect(face_skin > 0);
  fbox = cv::Rect(fbox.x - reach, fbox.y - reach, fbox.width + 2 * reach, fbox.height + 2 * reach) &
         cv::Rect(cv::Point(), image.size());
  if (fbox.area() > 0) {
    const cv::Mat lum_box = lum_full(fbox);
    cv::Mat smooth, texture;
    cv::GaussianBlur(lum_box, smooth, cv::Size(0, 0), sigma_t);
    texture = (lum_box - smooth) / cv::max(smooth, 1e-3) * 4 + 1;
    cv::min(cv::max(texture, 0), 2, texture);
    cv::Mat lobe_box = lobe_full(fbox);
    cv::multiply(lobe_box, texture, lobe_box);
  }
  out.image.create(image.size(), CV_32FC3);
  out.amount.create(image.size(), CV_32F);
  parallel_ranges(cv::Range(0, image.rows), [&](const cv::Range& rr) {
    for (int y = rr.start; y < rr.end; ++y) {
      const auto* p = image.ptr<cv::Vec3f>(y);
      const auto* r = ratio_full.ptr<cv::Vec3f>(y);
      const float* al = alpha.ptr<float>(y);
      const float* s = face_skin.ptr<float>(y);  // the sheen: the face's skin only
      const float* sp = lobe_full.ptr<float>(y);
      auto* o = out.image.ptr<cv::Vec3f>(y);
      float* am = out.amount.ptr<float>(y);
      for (int x = 0; x < image.cols; ++x) {
        const float w = al[x];
        if (w <= 0) {  // not the person: as it was
          o[x] = p[x], am[x] = 0;
          continue;
        }
        cv::Vec3f q = p[x];
        for (int c = 0; c < 3; ++c) q[c] *= 1 + w * (r[x][c] - 1);
        q += light.key_color * (sheen * sp[x] * s[x] * w);
        o[x] = q;
        const float yl = 0.0722f * r[x][0] + 0.7152f * r[x][1] + 0.2126f * r[x][2];
        am[x] = std::min(1.f, w * (std::abs(std::log(std::max(1e-3f, yl))) * 1.5f + sheen * sp[x] * s[x] * 4));
      }
    }
  });
  // The sheen adds light: the lit side's exposure is measured again on the
  // canvas and the subject scaled to hold it.
  {
    cv::Mat lo;
    cv::transform(out.image, lo, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
    const cv::Mat m = face_skin.mul(alpha) > 0.5f;
    std::vector<float> before, after;
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x)
        if (m.at<uchar>(y, x)) before.push_back(lum_full.at<float>(y, x)), after.push_back(lo.at<float>(y, x));
    if (before.size() >= 40) {
      const double k = top_half_mean(before) / std::max(1e-6, top_half_mean(after));
      cv::Mat gain = 1 + alpha * (k - 1);
      cv::Mat g3;
      cv::merge(std::vector<cv::Mat>{gain, gain, gain}, g3);
      out.image = out.image.mul(g3);
      out.exposure_kept = float(top_half_mean(after) * k / top_half_mean(before));
    }
  }
  return out;
}

}  // namespace likeness::relight
