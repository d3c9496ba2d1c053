// Defocused places: office interior, city window, greenery, café, moody
// sky. Each is a small 2.5-D scene in metres around the camera (eye height,
// the room's planes, objects at their depths, light sources with their
// colour temperatures), drawn sharp in linear light and defocused layer by
// layer by the portrait lens (lens.hpp): ceiling lights converge toward the
// eye line, highlights bloom into discs the size of their defocus, and the
// backdrop stands 2-20 m behind a subject focused at ~1.5 m.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "stages/backdrop/backdrop.hpp"

namespace likeness::backdrop {

namespace {
using V3 = cv::Vec3f;

struct Scene {
  std::vector<Layer> layers;  // back to front
  SceneLight light;
  float rim = 0.15f;
  std::string words;
};

V3 mix(const V3& a, const V3& b, float t) { return a + (b - a) * t; }
// A source of colour temperature k as the camera white-balanced for wb sees
// it (largest channel 1).
V3 seen(double k, double wb) {
  const V3 c = kelvin(k), w = kelvin(wb);
  const V3 r(c[0] / w[0], c[1] / w[1], c[2] / w[2]);
  return r / std::max({r[0], r[1], r[2]});
}
float uni(cv::RNG& r, double a, double b) { return float(r.uniform(a, b)); }
cv::Vec4f opaque(const V3& c) { return {c[0], c[1], c[2], 1}; }
// The scene with its key light (direction, colour, softness) and its lens's
// bokeh rim.
Scene with_light(Scene sc, const cv::Vec3f& direction, const V3& color, float softness, float rim) {
  sc.light = SceneLight{true, direction, color};
  sc.light.softness = softness;
  sc.rim = rim;
  return sc;
}

// An upright rectangle facing the camera at depth z, and a level one (floor,
// ceiling, desk top) at height y from z0 to z1.
std::vector<cv::Point2f> upright(const Lens& l, double x0, double x1, double y0, double y1, double z) {
  return {l.project(x0, y1, z), l.project(x1, y1, z), l.project(x1, y0, z), l.project(x0, y0, z)};
}
std::vector<cv::Point2f> level(const Lens& l, double x0, double x1, double y, double z0, double z1) {
  return {l.project(x0, y, z0), l.project(x1, y, z0), l.project(x1, y, z1), l.project(x0, y, z1)};
}
// A small light source of this size (m) and brightness at a point: its
// energy is brightness x its area on the canvas.
void bulb(Paint& p, const Lens& l, double X, double Y, double Z, double size_m, const V3& radiance) {
  const double a = size_m * l.focal_px() / Z;
  p.light(l.project(X, Y, Z), radiance * float(a * a));
}

// A noise field sampled at canvas coordinates (bilinear), covering the
// canvas and a margin around it.
class Field {
 public:
  Field(cv::Size canvas, double cell, int octaves, double gain, cv::RNG& rng) {
    scale_ = 0.25f;
    margin_ = 0.35f * std::max(canvas.width, canvas.height);
    const cv::Size s(int((canvas.width + 2 * margin_) * scale_) + 2, int((canvas.height + 2 * margin_) * scale_) + 2);
    m_ = fractal_noise(s, cell * scale_, octaves, gain, rng);
  }
  float at(float x, float y) const {
    const float u = std::clamp((x + margin_) * scale_, 0.f, m_.cols - 1.001f),
                v = std::clamp((y + margin_) * scale_, 0.f, m_.rows - 1.001f);
    const int x0 = int(u), y0 = int(v);
    const float fx = u - x0, fy = v - y0;
    const float* r0 = m_.ptr<float>(y0);
    const float* r1 = m_.ptr<float>(y0 + 1);
    return (r0[x0] * (1 - fx) + r0[x0 + 1] * fx) * (1 - fy) + (r1[x0] * (1 - fx) + r1[x0 + 1] * fx) * fy;
  }

 private:
  cv::Mat m_;
  float scale_, margin_;
};

// A clump of leaves: many small ellipses around a centre (metres at depth z),
// darker inside, lit from the key side's top.
void foliage(Paint& p, const Lens& l, cv::RNG& rng, double X, double Y, double Z, double rx, double ry, int n,
             const V3& base, int side, double leaf_m) {
  const double f = l.focal_px() / Z;
  for (int i = 0; i < n; ++i) {
    const double a = rng.uniform(0.0, 2 * CV_PI), r = std::sqrt(rng.uniform(0.0, 1.0));
    const double dx = r * std::cos(a), dy = r * std::sin(a);
    const float lit = float(0.5 + 0.5 * (dx * side * 0.6 + dy * 0.8));  // toward the light
    const V3 c = base * (0.35f + 0.9f * lit * lit) * uni(rng, 0.75, 1.25);
    const V3 tint(c[0] * uni(rng, 0.8, 1.1), c[1], c[2] * uni(rng, 0.85, 1.3));
    const float s = float(leaf_m * f * uni(rng, 0.6, 1.4));
    p.ellipse(l.project(X + dx * rx, Y + dy * ry, Z), s, s * uni(rng, 0.45, 0.8), uni(rng, 0, 180), tint);
  }
}

// Office: an open-plan floor 15-21 m deep under rows of ceiling panels,
// windows along the back wall, desks and partitions, a pillar and a plant in
// the middle distance and the edge of a desk behind the subject.
Scene office(const Lens& L, int side, cv::RNG& rng) {
  Scene sc;
  sc.words = "defocused office interior";
  const double eye = 1.45, ceil = 2.75 - eye, floor = -eye;
  const double Zb = uni(rng, 15, 21), axis = uni(rng, -1.2, 1.2);
  const double wb = 4300;
  const V3 wall(0.17f, 0.175f, 0.18f), ceiling(0.15f, 0.155f, 0.16f), carpet(0.04f, 0.034f, 0.03f);
  const V3 daylight = seen(6800, wb) * 1.3f, panel = seen(4000, wb) * uni(rng, 3.5, 4.5);
  const V3 accent = rng.uniform(0, 2) ? V3(0.05f, 0.09f, 0.16f) : V3(0.12f, 0.1f, 0.04f);  // wood or teal
  auto tex = std::make_shared<Field>(L.size, L.size.height * 0.4, 3, 0.5, rng);
  const double pane = uni(rng, 1.2, 1.8), pane0 = uni(rng, 0, pane);
  // Back wall, ceiling, floor.
  sc.layers.push_back({Zb, [=, &L](Paint& p) {
                         p.shade([&](float x, float y) {
                           const cv::Point2d r = L.ray(x, y);
                           double z = Zb;
                           int what = 0;  // 0 wall, 1 ceiling, 2 floor
                           if (r.y > 1e-6 && ceil / r.y < z) z = ceil / r.y, what = 1;
                           if (r.y < -1e-6 && floor / r.y < z) z = floor / r.y, what = 2;
                           const float n = tex->at(x, y);
                           if (what == 1) return opaque(ceiling * float(0.85 + 0.1 * n) * float(1 - 0.25 * z / Zb));
                           if (what == 2) return opaque(carpet * float(1 + 0.1 * n));
                           const double X = r.x * Zb - axis, Y = r.y * Zb;
                           if (Y > floor + 0.9 && Y < ceil - 0.25) {
                             const double m = std::fmod(X - pane0 + 100 * pane, pane);
                             if (m < 0.07) return opaque(V3(0.04f, 0.04f, 0.045f));  // mullion
                             // Outside: sky over trees and buildings; blinds half down.
                             // Outside: trees and buildings (mottled), sky above; blinds half down.
                             const float out =
                                 float(0.45 + 0.5 * n + (Y > 0.1 ? 0.35 : 0)) * (Y > ceil - 0.8 ? 0.4f : 1.f);
                             return opaque(daylight * std::max(0.1f, out));
                           }
                           if (X * side < -2.5) return opaque(accent * float(0.9 + 0.2 * n));
                           return opaque(wall * float(0.9 + 0.15 * n));
                         });
                       }});
  // Desks, partitions, monitors and a few people in the far rows.
  const double far_z = std::max(9.0, Zb - 4.5);
  const int seed_people = rng.uniform(2, 6);
  const uint64 furniture_seed = rng.next();
  sc.layers.push_back(
      {far_z, [=, &L](Paint& p) {
         cv::RNG r(furniture_seed);
         for (double z : {Zb - 1.8, far_z}) {
           for (double x = -6 + axis; x < 6 + axis; x += 1.6) {
             const V3 fabric = (r.uniform(0, 3) ? V3(0.07f, 0.06f, 0.05f) : V3(0.12f, 0.08f, 0.04f)) * uni(r, 0.7, 1.3);
             p.poly(upright(L, x + 0.03, x + 1.57, floor, floor + 1.2, z), fabric);
             const double mx = x + uni(r, 0.3, 1.0);
             const bool facing = r.uniform(0, 2) == 0;
             p.poly(upright(L, mx, mx + 0.55, floor + 1.15, floor + 1.5, z + 0.4),
                    facing ? V3(0.55f, 0.45f, 0.38f) * uni(r, 0.6, 1.2) : V3(0.02f, 0.02f, 0.02f));
           }
         }
         for (int i = 0; i < seed_people; ++i) {  // heads above the partitions
           const double x = axis + uni(r, -2.5, 2.5), z = far_z - 0.6;
           const V3 skin = V3(0.16f, 0.24f, 0.38f) * uni(r, 0.4, 1.1);
           const V3 shirts[4] = {
               {0.25f, 0.24f, 0.23f}, {0.2f, 0.08f, 0.03f}, {0.03f, 0.04f, 0.16f}, {0.05f, 0.05f, 0.05f}};
           p.poly(upright(L, x - 0.22, x + 0.22, floor + 0.9, floor + 1.25, z), shirts[r.uniform(0, 4)]);
           p.ellipse(L.project(x, floor + 1.38, z), float(0.09 * L.focal_px() / z), float(0.12 * L.focal_px() / z), 0,
                     skin);
           p.ellipse(L.project(x, floor + 1.44, z), float(0.095 * L.focal_px() / z), float(0.08 * L.focal_px() / z), 0,
                     V3(0.02f, 0.025f, 0.03f));
         }
       }});
  // Ceiling panels: rows converging on the eye line.
  sc.layers.push_back({std::min(12.0, Zb - 2), [=, &L](Paint& p) {
                         for (double z = 4.8; z < Zb - 0.6; z += 2.4)
                           for (double x : {-4.2, -1.8, 0.6, 3.0})
                             p.poly(level(L, x + axis, x + axis + 0.6, ceil - 0.01, z, z + 0.6), panel);
                       }});
  // A pillar away from the key side and a plant toward it.
  const double pz = uni(rng, 5.5, 7.5), px = -side * uni(rng, 0.9, 1.4), plx = side * uni(rng, 0.8, 1.3);
  const uint64 plant_seed = rng.next();
  sc.layers.push_back(
      {pz, [=, &L](Paint& p) {
         p.poly(upright(L, px - 0.3, px, floor, ceil, pz), wall * (side > 0 ? 0.8f : 1.2f));
         p.poly(upright(L, px, px + 0.3, floor, ceil, pz), wall * (side > 0 ? 1.2f : 0.8f));
         cv::RNG r(plant_seed);
         p.poly(upright(L, plx - 0.2, plx + 0.2, floor, floor + 0.45, pz - 0.3), V3(0.06f, 0.07f, 0.08f));
         foliage(p, L, r, plx, floor + 1.1, pz - 0.3, 0.45, 0.7, 160, V3(0.03f, 0.12f, 0.06f), side, 0.09);
       }});
  // The desk behind the subject: its lit front edge and a monitor's back.
  const double dz = L.subject_m + uni(rng, 2.0, 2.6), top = floor + 0.74;
  const double mon = side * uni(rng, 0.45, 0.8);
  sc.layers.push_back(
      {dz, [=, &L](Paint& p) {
         p.poly(upright(L, -3, 3, floor, top - 0.03, dz), V3(0.03f, 0.03f, 0.032f));
         p.poly(upright(L, -3, 3, top - 0.03, top, dz), V3(0.3f, 0.31f, 0.33f));
         p.poly(level(L, -3, 3, top, dz, dz + 0.8), V3(0.15f, 0.16f, 0.17f));
         p.poly(upright(L, mon - 0.04, mon + 0.04, top, top + 0.12, dz + 0.45), V3(0.03f, 0.03f, 0.03f));
         p.poly(upright(L, mon - 0.3, mon + 0.3, top + 0.1, top + 0.45, dz + 0.4), V3(0.035f, 0.035f, 0.04f));
       }});
  // Overhead panels, a little from the windows' side.
  return with_light(std::move(sc), toward(0.25f * side, 0.85f, 0.45f), seen(4300, wb), 0.75f, uni(rng, 0.1, 0.25));
}

// City window: floor-to-ceiling glass 2-3 m behind the subject, its mullions
// softly dark, beyond it a skyline a few hundred metres to kilometres away in
// daylight haze, sun glinting on glass facades.
Scene city(const Lens& L, int side, cv::RNG& rng) {
  Scene sc;
  sc.words = "defocused city window";
  struct Building {
    double x, d, w, top;
    V3 color;
    double floor_h;
  };
  std::vector<Building> bs;
  for (int i = 0; i < 140; ++i) {
    const double d = std::exp(rng.uniform(std::log(700.0), std::log(5000.0)));
    const double glass = rng.uniform(0.0, 1.0);
    const V3 c = glass < 0.5 ? V3(0.3f, 0.24f, 0.18f) * uni(rng, 0.5, 1.2)   // blue glass
                             : V3(0.2f, 0.24f, 0.28f) * uni(rng, 0.5, 1.3);  // stone
    bs.push_back({rng.uniform(-0.3, 0.3) * d, d, rng.uniform(20.0, 70.0),
                  rng.uniform(-60.0, 320.0) * (d < 1800 ? 1 : 0.45), c, rng.uniform(3.4, 4.2)});
  }
  std::sort(bs.begin(), bs.end(), [](const Building& a, const Building& b) { return a.d < b.d; });
  const double wb = 5800;
  const V3 haze = V3(0.85f, 0.8f, 0.72f), zenith = V3(0.75f, 0.5f, 0.3f), sun = seen(5200, wb);
  const double ground = -120;  // we are ~120 m up
  auto tex = std::make_shared<Field>(L.size, L.size.height * 0.2, 3, 0.5, rng);
  std::vector<cv::Vec4d> glints;
  for (int i = 0; i < 14; ++i) {
    const Building& b = bs[rng.uniform(0, int(bs.size()))];
    glints.push_back(
        {b.x + rng.uniform(-0.5, 0.5) * b.w, rng.uniform(ground + 20, b.top), b.d, rng.uniform(40.0, 160.0)});
  }
  sc.layers.push_back({800, [=, &L](Paint& p) {
                         p.shade([&](float x, float y) {
                           const cv::Point2d r = L.ray(x, y);
                           for (const Building& b : bs) {
                             const double X = r.x * b.d, Y = r.y * b.d;
                             if (std::abs(X - b.x) > b.w / 2 || Y > b.top || Y < ground) continue;
                             // Floors: glass bands and spandrels; the sunny side lighter.
                             const double f = std::fmod(Y - ground, b.floor_h) / b.floor_h;
                             const float band = f < 0.3 ? 1.25f : 0.85f;
                             const float lit = (X - b.x) * side > 0 ? 1.15f : 0.8f;
                             const float air = float(1 - std::exp(-b.d / 3500));
                             return opaque(mix(b.color * band * lit, haze * 0.9f, air));
                           }
                           const float t = smoothstep(-0.02f, 0.25f, float(r.y));
                           V3 sky = mix(haze * 1.1f, zenith, t);
                           return opaque(r.y < ground / 5000 ? haze * 0.6f : sky * float(1 + 0.04 * tex->at(x, y)));
                         });
                         for (const auto& g : glints) bulb(p, L, g[0], g[1], g[2], 1.2, sun * float(g[3]));
                       }});
  // The window: mullions and transom, the sill and the wall beside it.
  const double zw = L.subject_m + uni(rng, 2.0, 2.8), pane = uni(rng, 0.9, 1.3), x0 = uni(rng, -0.4, 0.4);
  const double wall_x = -side * uni(rng, 0.55, 0.85), transom = uni(rng, 0.5, 0.9);
  sc.layers.push_back({zw, [=, &L](Paint& p) {
                         const V3 frame(0.03f, 0.03f, 0.032f);
                         for (int k = -4; k <= 4; ++k) {
                           const double x = x0 + k * pane;
                           p.poly(upright(L, x - 0.045, x + 0.045, -2, 2, zw), frame);
                         }
                         p.poly(upright(L, -5, 5, transom - 0.04, transom + 0.04, zw), frame);
                         p.poly(upright(L, -5, 5, -3, -0.95, zw), V3(0.05f, 0.055f, 0.06f));           // below the sill
                         p.poly(upright(L, -5, 5, -0.97, -0.93, zw - 0.05), V3(0.25f, 0.26f, 0.27f));  // the sill, lit
                         const double a = side > 0 ? -6 : wall_x, b = side > 0 ? wall_x : 6;
                         p.poly(upright(L, a, b, -3, 3, zw - 0.1), V3(0.08f, 0.085f, 0.09f));  // the room's wall
                       }});
  return with_light(std::move(sc), toward(0.8f * side, 0.25f, 0.3f), seen(6200, wb), 0.65f, uni(rng, 0.1, 0.3));
}

// Greenery: a park's tree line 50-90 m back with sky through the leaves, a
// lawn, a tree and bushes at 12-16 m, sun glinting on leaves.
Scene greenery(const Lens& L, int side, cv::RNG& rng) {
  Scene sc;
  sc.words = "defocused park greenery";
  const double eye = 1.6, far = uni(rng, 50, 90);
  const double wb = 5600;
  const V3 sky = seen(7500, wb) * 1.1f, leaf(0.02f, 0.1f, 0.045f), grass(0.025f, 0.12f, 0.07f);
  auto canopy = std::make_shared<Field>(L.size, L.size.height * 0.5, 3, 0.5, rng);
  auto holes = std::make_shared<Field>(L.size, L.size.height * 0.035, 2, 0.6, rng);
  auto tint = std::make_shared<Field>(L.size, L.size.height * 0.15, 2, 0.5, rng);
  const double top = uni(rng, 14, 22);
  const V3 sunlight = seen(5200, wb);
  std::vector<cv::Vec3d> far_glints;
  for (int i = 0; i < 40; ++i)
    far_glints.push_back({rng.uniform(-0.3, 0.3) * far, rng.uniform(0.0, top), rng.uniform(20.0, 80.0)});
  sc.layers.push_back(
      {far, [=, &L](Paint& p) {
         p.shade([&](float x, float y) {
           const cv::Point2d r = L.ray(x, y);
           if (r.y < 0 && -eye / r.y < far) {  // the lawn
             const double z = -eye / r.y;
             return opaque(grass * float(0.8 + 0.6 * (1 - std::exp(-z / 25)) + 0.1 * canopy->at(x, y)));
           }
           const double Y = r.y * far;
           const double h = top * (0.75 + 0.3 * canopy->at(x * 0.5f, 0));
           const float open = smoothstep(0.15f, 0.9f, holes->at(x, y) + float((Y - h) / top) * 2.5f);
           const float light =
               float(0.6 + 1.2 * std::clamp(Y / top, 0.0, 1.0)) * float(1 + 0.5 * std::max(0.f, holes->at(y, x)));
           const V3 green =
               (leaf * light * float(1 + 0.35 * tint->at(x, y))).mul(V3(1, 1, float(1 + 0.25 * tint->at(y, x))));
           return opaque(mix(green, sky * float(1 - 0.2 * r.y), open));
         });
         for (const auto& g : far_glints) bulb(p, L, g[0], g[1], far, 0.05, sunlight * float(g[2]));
       }});
  // A tree and a hedge in the middle distance.
  const double mz = uni(rng, 11, 16), tx = -side * uni(rng, 1.0, 2.0);
  const uint64 mid_seed = rng.next();
  sc.layers.push_back(
      {mz, [=, &L](Paint& p) {
         cv::RNG r(mid_seed);
         p.poly(upright(L, tx - 0.18, tx + 0.18, -eye, 3, mz), V3(0.02f, 0.025f, 0.03f));
         for (int i = 0; i < 6; ++i)
           foliage(p, L, r, tx + r.uniform(-1.6, 1.6), r.uniform(2.0, 4.5), mz, 1.4, 1.0, 260, leaf * 1.2f, side, 0.07);
         for (double x = -5; x < 5; x += 1.2)
           foliage(p, L, r, x + r.uniform(-0.3, 0.3), -eye + 0.6, mz - 1, 0.9, 0.6, 120, leaf, side, 0.06);
         for (int i = 0; i < 25; ++i)
           bulb(p, L, tx + r.uniform(-2.5, 2.5), r.uniform(1.5, 5.0), mz, 0.03, sunlight * uni(r, 30, 120));
       }});
  return with_light(std::move(sc), toward(0.5f * side, 0.75f, 0.45f), seen(5600, wb), 0.7f, uni(rng, 0.15, 0.35));
}

// Warm café: a brick wall 6-8 m back with sconces' pools of light, shelves
// of bottles, pendant bulbs and a string of lights, the counter with an
// espresso machine behind the subject, dusk blue in a window.
Scene cafe(const Lens& L, int side, cv::RNG& rng) {
  Scene sc;
  sc.words = "defocused warm café";
  const double eye = 1.2, floor = -eye, Zb = uni(rng, 6, 8), off = uni(rng, -0.6, 0.6);
  const double wb = 3800;
  const V3 brick(0.03f, 0.05f, 0.1f), warm = seen(2700, wb), string_col = seen(2300, wb);
  auto tex = std::make_shared<Field>(L.size, L.size.height * 0.25, 4, 0.55, rng);
  const double s1 = off - uni(rng, 0.8, 1.4), s2 = off + uni(rng, 0.8, 1.4);
  const double win0 = -side * uni(rng, 1.1, 1.5);
  sc.layers.push_back({Zb, [=, &L](Paint& p) {
                         p.shade([&](float x, float y) {
                           const cv::Point2d r = L.ray(x, y);
                           if (r.y < 0 && floor / r.y < Zb) return opaque(V3(0.015f, 0.022f, 0.035f));  // wood floor
                           const double X = r.x * Zb, Y = r.y * Zb;
                           if ((X - win0) * -side > 0 && (X - win0) * -side < 1.4 && Y > -0.4 && Y < 1.3)
                             return opaque(V3(0.32f, 0.2f, 0.12f) * float(0.9 + 0.2 * tex->at(x, y)));  // dusk outside
                           auto pool = [&](double sx) {
                             return std::exp(-((X - sx) * (X - sx) / 0.35 + (Y - 0.5) * (Y - 0.5) / 0.6));
                           };
                           const float lit = float(0.45 + 2.2 * (pool(s1) + pool(s2)));
                           return opaque(brick * lit * float(1 + 0.3 * tex->at(x, y)));
                         });
                       }});
  // Shelves with bottles on the back wall.
  const uint64 shelf_seed = rng.next();
  sc.layers.push_back({Zb - 0.3, [=, &L](Paint& p) {
                         cv::RNG r(shelf_seed);
                         const double z = Zb - 0.3;
                         for (double sy : {0.05, 0.5}) {
                           p.poly(upright(L, off - 1.3, off + 1.3, sy - 0.03, sy, z), V3(0.04f, 0.07f, 0.11f));
                           for (double x = off - 1.2; x < off + 1.2; x += uni(r, 0.09, 0.16)) {
                             const V3 glass = r.uniform(0, 2) ? V3(0.02f, 0.06f, 0.1f) : V3(0.03f, 0.07f, 0.03f);
                             const double h = uni(r, 0.2, 0.32);
                             p.poly(upright(L, x - 0.035, x + 0.035, sy, sy + h * 0.7, z), glass * uni(r, 0.7, 1.6));
                             p.poly(upright(L, x - 0.012, x + 0.012, sy, sy + h, z), glass);
                             if (r.uniform(0, 3) == 0) bulb(p, L, x, sy + h * 0.4, z, 0.012, warm * uni(r, 60, 140));
                           }
                         }
                       }});
  // A string of small bulbs sagging across the room.
  const double sz = Zb - uni(rng, 1.0, 1.8), sag = uni(rng, 0.2, 0.45), sy0 = uni(rng, 1.0, 1.3);
  sc.layers.push_back({sz, [=, &L](Paint& p) {
                         for (double x = -4; x <= 4; x += 0.32) {
                           const double u = x / 4, y = sy0 - sag * (1 - u * u);
                           bulb(p, L, x + off, y, sz, 0.03, string_col * 45.f);
                         }
                       }});
  // Pendants: dark shades with a bare bulb below each.
  const int np = rng.uniform(2, 4);
  std::vector<cv::Vec3d> pend;
  for (int i = 0; i < np; ++i)
    pend.push_back({off + (i - (np - 1) / 2.0) * uni(rng, 1.0, 1.4), uni(rng, 0.75, 1.05), uni(rng, 3.8, 5.0)});
  double pz = 0;
  for (const auto& q : pend) pz += q[2] / np;
  sc.layers.push_back({pz, [=, &L](Paint& p) {
                         for (const auto& q : pend) {
                           const double X = q[0], Y = q[1], Z = q[2];
                           p.poly(upright(L, X - 0.006, X + 0.006, Y + 0.15, 3, Z), V3(0.01f, 0.01f, 0.01f));
                           p.poly({L.project(X - 0.03, Y + 0.17, Z), L.project(X + 0.03, Y + 0.17, Z),
                                   L.project(X + 0.16, Y + 0.02, Z), L.project(X - 0.16, Y + 0.02, Z)},
                                  V3(0.015f, 0.02f, 0.025f));
                           p.ellipse(L.project(X, Y + 0.02, Z), float(0.15 * L.focal_px() / Z),
                                     float(0.02 * L.focal_px() / Z), 0, warm * 3.f);  // the shade's lit rim
                           bulb(p, L, X, Y - 0.02, Z, 0.06, warm * 40.f);
                         }
                       }});
  // The counter behind the subject, an espresso machine on it.
  const double cz = L.subject_m + uni(rng, 2.0, 2.6), ctop = floor + 1.05, mx = side * uni(rng, 0.5, 0.9);
  sc.layers.push_back(
      {cz, [=, &L](Paint& p) {
         p.poly(upright(L, -4, 4, floor, ctop - 0.04, cz), V3(0.02f, 0.035f, 0.06f));
         p.poly(upright(L, -4, 4, ctop - 0.04, ctop, cz - 0.02), V3(0.12f, 0.2f, 0.32f));  // lit edge
         p.poly(upright(L, mx - 0.3, mx + 0.3, ctop, ctop + 0.42, cz + 0.35), V3(0.07f, 0.075f, 0.08f));
         p.poly(upright(L, mx - 0.3, mx + 0.3, ctop + 0.38, ctop + 0.42, cz + 0.34), V3(0.25f, 0.26f, 0.28f));
         for (int i = 0; i < 3; ++i) bulb(p, L, mx - 0.2 + 0.2 * i, ctop + 0.3, cz + 0.33, 0.015, warm * 80.f);
         bulb(p, L, mx + 0.25, ctop + 0.1, cz + 0.33, 0.01, V3(0.4f, 0.5f, 1.f) * 60.f);  // a standby LED
       }});
  return with_light(std::move(sc), toward(0.75f * side, 0.15f, 0.6f), seen(3000, wb), 0.5f, uni(rng, 0.15, 0.35));
}

// Moody sky: a storm's clouds on a plane 1.5 km up (thinning toward the
// horizon by perspective), the sun breaking through low on the key side, a
// dark line of hills and trees on the horizon.
Scene sky(const Lens& L, int side, cv::RNG& rng) {
  Scene sc;
  sc.words = "defocused moody sky";
  const int T = 768;
  cv::Mat clouds = fractal_noise(cv::Size(T, T), T * 0.12, 5, 0.5, rng);
  const double alt = 1500, scale = uni(rng, 1500, 2500), u0 = uni(rng, 0, T), v0 = uni(rng, 0, T);
  const float cover = uni(rng, -0.1, 0.35);
  auto hills = std::make_shared<Field>(L.size, L.size.width * 0.4, 3, 0.5, rng);
  auto trees = std::make_shared<Field>(L.size, L.size.width * 0.06, 2, 0.5, rng);
  const cv::Point2f sun_at(float(L.principal.x + side * 0.45 * L.size.width),
                           float(L.principal.y - 0.1 * L.size.height));
  const V3 blue(0.3f, 0.2f, 0.13f), dark(0.045f, 0.04f, 0.038f), lit = seen(4500, 6000) * 0.9f,
                                                                 glow = seen(3800, 6000) * 0.7f;
  auto sample = [clouds, T](double u, double v) {
    // Mirrored repeat, bilinear.
    auto wrap = [T](double a) {
      a = std::fmod(std::abs(a), 2.0 * T);
      return a >= T ? 2.0 * T - a - 1e-3 : a;
    };
    u = std::min(wrap(u), T - 1.001);
    v = std::min(wrap(v), T - 1.001);
    const int x = int(u), y = int(v);
    const float fx = float(u - x), fy = float(v - y);
    return (clouds.at<float>(y, x) * (1 - fx) + clouds.at<float>(y, x + 1) * fx) * (1 - fy) +
           (clouds.at<float>(y + 1, x) * (1 - fx) + clouds.at<float>(y + 1, x + 1) * fx) * fy;
  };
  sc.layers.push_back({1e4, [=, &L](Paint& p) {
                         p.shade([&](float x, float y) {
                           const cv::Point2d r = L.ray(x, y);
                           const double land = 0.004 + 0.012 * (0.5 + 0.5 * hills->at(x, 0)) +
                                               0.004 * std::max(0.f, trees->at(x, 0) + 0.3f);
                           if (r.y < land) {
                             const float haze = smoothstep(-0.01f, float(land), float(r.y));
                             return opaque(mix(V3(0.012f, 0.018f, 0.016f), V3(0.05f, 0.05f, 0.045f), haze * 0.6f));
                           }
                           // Cloud-plane distance; the texture squashed toward the horizon.
                           const double t = alt / std::max(r.y, 1e-4);
                           const double u = u0 + r.x * T * 1.6, v = v0 - std::log(r.y + 0.01) * T * 0.35 * scale / 2000;
                           const float d = sample(u, v) + cover;
                           const float dens = smoothstep(-0.35f, 0.45f, d);
                           // Edges toward the sun lit, bases dark.
                           const float rim = std::clamp(sample(u - side * 6.0, v + 6.0) - d + 0.05f, 0.f, 0.6f);
                           const float far = float(std::exp(-t / 150000));
                           const float g = std::exp(-(std::pow(x - sun_at.x, 2.f) + std::pow(y - sun_at.y, 2.f)) /
                                                    float(2 * std::pow(0.22 * L.size.height, 2)));
                           const V3 clear = mix(blue * 1.6f, blue, smoothstep(0, 0.2f, float(r.y))) + glow * (0.9f * g);
                           const V3 cloud =
                               dark + (lit * (0.2f + 1.4f * g) - dark) * std::min(1.f, rim * 1.8f + 0.15f * g);
                           const V3 c = mix(clear, cloud, dens * (0.35f + 0.65f * far));
                           return opaque(mix(V3(0.3f, 0.3f, 0.3f) + glow * (0.5f * g), c, 0.4f + 0.6f * far));
                         });
                       }});
  return with_light(std::move(sc), toward(0.3f * side, 0.9f, 0.3f), seen(7000, 6000), 0.85f, 0.1f);
}
}  // namespace

Backdrop scene(const Request& req, const Shot& shot, const Lens& lens, bool sharp) {
  const int side = shot.key_side ? shot.key_side : (req.seed % 2 ? -1 : 1);
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the style, so each scene has its own variations
  for (char c : req.style) h = (h ^ uint8_t(c)) * 1099511628211ull;
  cv::RNG rng(h ^ (uint64_t(req.seed) * 0x9e3779b97f4a7c15ull));
  Scene sc = req.style == "office"     ? office(lens, side, rng)
             : req.style == "city"     ? city(lens, side, rng)
             : req.style == "greenery" ? greenery(lens, side, rng)
             : req.style == "cafe"     ? cafe(lens, side, rng)
                                       : sky(lens, side, rng);
  std::stable_sort(sc.layers.begin(), sc.layers.end(),
                   [](const Layer& a, const Layer& b) { return a.depth_m > b.depth_m; });
  Backdrop out;
  out.image = render_layers(lens, sc.layers, DefocusOptions{sharp, sc.rim});
  out.light = sc.light;
  out.light.set = true;
  out.words = sc.words;
  add_grain(out.image, shot.grain, rng);
  return out;
}

}  // namespace likeness::backdrop
