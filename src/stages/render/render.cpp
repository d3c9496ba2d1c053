// render: applies the frame's plan. The source region is resampled once onto
// the canvas (area-averaged when reducing) and turned into float linear
// light. When the plan enlarges, the subject's head (or the whole region) is
// first upscaled 2x or 4x by an ESRGAN network and then reduced to the
// canvas, so it is resampled from the network's detail rather than from
// bicubic-enlarged pixels (`upscale` off: bicubic everywhere). Every layer of the source analysis (the person
// matte, the semantic masks) goes through the same map, and so do the faces'
// points and meshes. Canvas pixels beyond the photo are marked `outside` for
// the backdrop to fill.
#include <cmath>
#include <cstdio>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/hash.hpp"
#include "likeness/parallel.hpp"
#include "likeness/upscale.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {

// Enlargements up to this are resampled directly: ESRGAN would cost most
// (the source region is largest) for the least gain.
constexpr double kUpscaleAbove = 1.05;

// How far a network's detail carries: every network runs at x4 (its output
// area-reduced to 2x for slim and medium, whose x4 output has a 4-px block
// grid: see upscale.hpp); thick's x4 output is clean. A plan enlarging more
// than this is resampled bicubically beyond it.
int detail_factor(UpscaleModel m) { return m == UpscaleModel::thick ? 4 : 2; }

// The source pixels `srect` (covering inter, which dst shows) enlarged onto
// dst by ESRGAN: srect plus the network's margin (and the resampler's) is
// upscaled by f, and the result resampled onto dst with the plan's map,
// low-passed first where it is reduced (a Gaussian of the variance of the
// box an area average would use).
// The source pixels the network reads for srect: its margin and the
// resampler's (3 px) around it, within the photo.
cv::Rect esrgan_read(const cv::Mat& image, const cv::Rect& srect, UpscaleModel m) {
  const int pad = upscale_margin(m) + 3;
  return cv::Rect(srect.x - pad, srect.y - pad, srect.width + 2 * pad, srect.height + 2 * pad) &
         cv::Rect(0, 0, image.cols, image.rows);
}

// ESRGAN's enlargement of `region`, the same pixels' result reused within
// the job (its memo): another crop of the same photo reads the same head,
// and the network is most of the render's time. Keyed by the pixels'
// digest, the network and the factor.
cv::Mat upscale_reusing(const cv::Mat& region, const UpscaleOptions& opt, ResultMemo* memo) {
  if (!memo) return upscale(region, opt);
  Sha256 h;
  h.field("esrgan").field(upscale_network(opt)).field(std::to_string(opt.scale));
  h.field(std::to_string(region.cols) + "x" + std::to_string(region.rows) + "/" + std::to_string(region.type()));
  for (int y = 0; y < region.rows; ++y)
    h.update(std::string_view(reinterpret_cast<const char*>(region.ptr(y)), region.cols * region.elemSize()));
  const std::string key = h.hex();
  cv::Mat up;
  if (memo->find(key, up)) return up;
  up = upscale(region, opt);
  memo->put(key, up);
  return up;
}

// The canvas piece `sub` (in the pixels of dst, which shows `inter` of the
// source) from ESRGAN's enlargement of the source pixels rd.
cv::Mat enlarge_with_esrgan(const cv::Mat& image, const cv::Rect& rd, const cv::Rect2d& inter, const cv::Size& dst,
                            const cv::Rect& sub, const UpscaleOptions& opt) {
  const cv::Mat up = upscale_reusing(image(rd), opt, opt.ctx ? opt.ctx->memo : nullptr);
  const int f = opt.scale;
  const double sx = dst.width / inter.width, sy = dst.height / inter.height;
  // Upscaled pixel u's centre is source x = rd.x + (u + 0.5) / f - 0.5; the
  // plan puts source x at dst-local sx * (x - inter.x), sub-local minus sub.x.
  const cv::Matx23d m(sx / f, 0, sx * (0.5 / f - 0.5 + rd.x - inter.x) - sub.x, 0, sy / f,
                      sy * (0.5 / f - 0.5 + rd.y - inter.y) - sub.y);
  const double rx = f / sx, ry = f / sy;  // upscaled px per canvas px
  cv::Mat low;                            // the kept result is never written to
  if (rx > 1 || ry > 1) {
    const double gx = std::sqrt(std::max(0.0, rx * rx - 1) / 12), gy = std::sqrt(std::max(0.0, ry * ry - 1) / 12);
    cv::GaussianBlur(up, low, cv::Size(0, 0), std::max(gx, 1e-3), std::max(gy, 1e-3), cv::BORDER_REPLICATE);
  }
  cv::Mat piece;
  cv::warpAffine(low.empty() ? up : low, piece, m, sub.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  return piece;
}

// The subject's head in the source: face, hair and ears, from the eyes
// (2.3 eye distances either side, 3.2 above for hair, 2.8 below for the
// chin), or the face box grown by half when there are no landmarks.
cv::Rect2d head_region(const Face& f) {
  if (f.landmarks.size() == 68) {
    const cv::Point2f eyes = (f.left_eye() + f.right_eye()) * 0.5f;
    const double d = std::max(4.0f, f.eye_distance());
    return {eyes.x - 2.3 * d, eyes.y - 3.2 * d, 4.6 * d, 6.0 * d};
  }
  return {f.box.x - f.box.width * 0.5, f.box.y - f.box.height * 0.6, f.box.width * 2, f.box.height * 2};
}

// ESRGAN's thick network where the pixels it reads are few (a strong
// enlargement of a small photo: up to about 4.5 s on 2 cores here; 84k px
// took 6.6 s), medium beyond
// (a tenth of the time; a faint 2-px texture the reduction to the canvas
// mostly smooths, as such regions are enlarged less).
constexpr int kThickReadPixels = 60'000;

class RenderStage final : public Stage {
 public:
  std::string id() const override { return "render"; }
  int version() const override { return 2; }
  std::string summary() const override {
    return "Apply the frame's plan to the photo and every layer (ESRGAN detail where it enlarges); float linear "
           "light from here on";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"upscale",
         ParamType::choice,
         "head",
         "Where the plan enlarges the photo more than 1.05x, ESRGAN detail instead of bicubic resampling: on the "
         "subject's head (face and hair, where a viewer looks; bicubic elsewhere), on the whole region, or off",
         0,
         0,
         {"head", "region", "off"}},
        {"upscale_model",
         ParamType::choice,
         "auto",
         "ESRGAN network: thick (detail to 4x, clean; 10x medium's time), medium or slim (detail to 2x, bicubic "
         "beyond; a faint 2-px texture), or auto: thick where it reads under 60k source pixels, medium beyond",
         0,
         0,
         {"auto", "thick", "medium", "slim"}},
    };
  }
  std::vector<std::string> models() const override {
    std::vector<std::string> all;
    for (UpscaleModel m : {UpscaleModel::slim, UpscaleModel::medium, UpscaleModel::thick})
      all.push_back(upscale_network(m, 4));
    return all;
  }
  // The x4 networks the stage may run (auto: thick or medium, by size).
  std::vector<std::string> models_for(const json& p) const override {
    if (p["upscale"] == "off") return {};
    if (p["upscale_model"] == "auto")
      return {upscale_network(UpscaleModel::thick, 4), upscale_network(UpscaleModel::medium, 4)};
    return {upscale_network(upscale_model_from_label(p["upscale_model"]), 4)};
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.plan.valid())
      throw Error(ErrorInfo{ErrorCode::internal, "needs a plan: put the frame stage before it", id(), {}, {}});
    const FramePlan& plan = in.plan;
    const int W = plan.canvas.width, H = plan.canvas.height;
    const double s = plan.scale;
    const cv::Rect2d src = plan.source_rect();
    const cv::Rect2d inter = src & cv::Rect2d(0, 0, in.image.cols, in.image.rows);
    if (inter.area() <= 0) throw Error(ErrorInfo{ErrorCode::bad_input, "the frame misses the photo", id(), {}, {}});

    // Source pixels -> destination rectangle (whole output pixels).
    const int dx0 = std::clamp(int(std::lround((inter.x - src.x) * s)), 0, W - 1);
    const int dy0 = std::clamp(int(std::lround((inter.y - src.y) * s)), 0, H - 1);
    const int dx1 = std::clamp(int(std::lround((inter.x + inter.width - src.x) * s)), dx0 + 1, W);
    const int dy1 = std::clamp(int(std::lround((inter.y + inter.height - src.y) * s)), dy0 + 1, H);
    const cv::Rect dst(dx0, dy0, dx1 - dx0, dy1 - dy0);
    cv::Rect srect(int(std::floor(inter.x)), int(std::floor(inter.y)), 0, 0);
    srect.width = std::min(in.image.cols - srect.x, int(std::ceil(inter.x + inter.width)) - srect.x);
    srect.height = std::min(in.image.rows - srect.y, int(std::ceil(inter.y + inter.height)) - srect.y);
    const double sx = dst.width / inter.width, sy = dst.height / inter.height;

    // ESRGAN detail where the plan enlarges: the part of srect it covers
    // (the head, or all), read with the network's margin.
    const std::string where = p["upscale"];
    const Face* face = in.subject_face();
    // The network reads the whole head even where the frame cuts it, so
    // every crop of a photo reads the same pixels (and reuses the result).
    cv::Rect2d part = inter, read = inter;
    if (where == "head") {
      const cv::Rect2d head = face ? head_region(*face) : cv::Rect2d();
      part = head & inter;
      read = part.area() > 0 ? head & cv::Rect2d(0, 0, in.image.cols, in.image.rows) : cv::Rect2d();
    }
    cv::Rect spart(int(std::floor(read.x)), int(std::floor(read.y)), 0, 0);
    spart.width = std::max(0, int(std::ceil(read.x + read.width)) - spart.x);
    spart.height = std::max(0, int(std::ceil(read.y + read.height)) - spart.y);
    UpscaleOptions up;
    const std::string label = p["upscale_model"];
    up.model = label == "auto" ? (esrgan_read(in.image, spart, UpscaleModel::thick).area() <= kThickReadPixels
                                      ? UpscaleModel::thick
                                      : UpscaleModel::medium)
                               : upscale_model_from_label(label);
    up.scale = detail_factor(up.model);
    up.ctx = &ctx;
    up.stage = id();
    const cv::Rect rd = esrgan_read(in.image, spart, up.model);
    // A region too large for the upscaled image's limit takes 2x, or none.
    while (up.scale >= 2 && uint64_t(rd.area()) * up.scale * up.scale > kMaxUpscaledPixels) up.scale /= 2;
    const bool esrgan = s > kUpscaleAbove && where != "off" && up.scale >= 2 && spart.area() > 0;

    // The photo resampled onto dst (area when reducing, bicubic when
    // enlarging), unless ESRGAN covers all of it.
    cv::Mat piece;
    if (s < 1) {
      cv::resize(in.image(srect), piece, dst.size(), 0, 0, cv::INTER_AREA);
    } else if (esrgan && where == "region") {
      piece.create(dst.size(), CV_8UC3);
    } else {
      const cv::Matx23d m(sx, 0, (srect.x - inter.x) * sx, 0, sy, (srect.y - inter.y) * sy);
      cv::warpAffine(in.image(srect), piece, m, dst.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
    }
    if (esrgan) {
      cv::Rect sub(int(std::floor((part.x - inter.x) * sx)), int(std::floor((part.y - inter.y) * sy)), 0, 0);
      sub.width = int(std::ceil((part.x + part.width - inter.x) * sx)) - sub.x;
      sub.height = int(std::ceil((part.y + part.height - inter.y) * sy)) - sub.y;
      sub &= cv::Rect(0, 0, dst.width, dst.height);
      const cv::Mat detail = enlarge_with_esrgan(in.image, rd, inter, dst.size(), sub, up);
      if (where == "region") {
        detail.copyTo(piece(sub));
      } else {
        // Into the bicubic canvas with a soft edge (a tenth of the head's
        // size) that does not reach the head's sides where the photo goes on.
        cv::Mat w(sub.size(), CV_32F);
        const double feather = std::max(4.0, 0.1 * std::min(sub.width, sub.height));
        const bool open_l = sub.x == 0, open_t = sub.y == 0, open_r = sub.x + sub.width == dst.width,
                   open_b = sub.y + sub.height == dst.height;
        for (int y = 0; y < sub.height; ++y) {
          float* row = w.ptr<float>(y);
          const double dy = std::min(open_t ? 1e9 : y + 0.5, open_b ? 1e9 : sub.height - y - 0.5);
          for (int x = 0; x < sub.width; ++x) {
            const double dx = std::min(open_l ? 1e9 : x + 0.5, open_r ? 1e9 : sub.width - x - 0.5);
            const double t = std::clamp(std::min(dx, dy) / feather, 0.0, 1.0);
            row[x] = float(t * t * (3 - 2 * t));
          }
        }
        cv::Mat a, b, w3;
        piece(sub).convertTo(a, CV_32FC3);
        detail.convertTo(b, CV_32FC3);
        cv::merge(std::vector<cv::Mat>(3, w), w3);
        cv::Mat blended = a + (b - a).mul(w3);
        blended.convertTo(piece(sub), CV_8UC3);
      }
    }
    cv::Mat canvas8;
    cv::copyMakeBorder(piece, canvas8, dst.y, H - dst.y - dst.height, dst.x, W - dst.x - dst.width,
                       cv::BORDER_REPLICATE);

    Frame out;
    out.source_type = in.source_type;
    out.edits = in.edits;
    if (esrgan) {
      // Detail a trained network inferred, composited with the photo's own.
      if (out.source_type != "trainedAlgorithmicMedia") out.source_type = "compositeWithTrainedAlgorithmicMedia";
      char text[160];
      std::snprintf(text, sizeof text, "enlarged %.2gx with ESRGAN (%s, x4 network) detail on %s", s,
                    upscale_model_label(up.model).c_str(), where == "head" ? "the head" : "the whole photo");
      std::string edit = text;
      if (s > up.scale) edit += " up to " + std::to_string(up.scale) + "x, bicubic beyond";
      out.edits.push_back(edit);
    }
    out.plan = plan;
    out.rendered = true;
    out.image = srgb_to_linear(canvas8);
    out.outside = cv::Mat(H, W, CV_8U, cv::Scalar(255));
    out.outside(dst).setTo(0);
    // The person's matte and every layer brought onto the canvas, side by
    // side on the threads (one warp uses them poorly at this size).
    std::vector<std::pair<const Layer*, cv::Mat*>> warps;
    if (!in.person.empty()) warps.emplace_back(&in.person, &out.alpha);
    for (const auto& [name, layer] : in.layers) {
      Layer& l = out.layers[name];
      l.from_source = plan.output_from_source();
      warps.emplace_back(&layer, &l.data);
    }
    parallel_ranges(cv::Range(0, int(warps.size())), [&](const cv::Range& r) {
      for (int i = r.start; i < r.end; ++i) {
        const Layer& from = *warps[i].first;
        cv::Mat& to = *warps[i].second;
        cv::warpAffine(from.data, to, from.to(plan.output_from_source()), plan.canvas, cv::INTER_LINEAR,
                       cv::BORDER_CONSTANT, cv::Scalar(0));
        to.setTo(0, out.outside);
      }
    });
    for (const Face& f : in.faces) {
      Face g = f;
      const cv::Point2f tl = plan.to_output(f.box.tl());
      g.box = cv::Rect2f(tl.x, tl.y, float(f.box.width * s), float(f.box.height * s));
      for (auto& q : g.landmarks) q = plan.to_output(q);
      for (auto& q : g.mesh) {
        const cv::Point2f o = plan.to_output({q.x, q.y});
        q = cv::Point3f(o.x, o.y, float(q.z * s));
      }
      out.faces.push_back(std::move(g));
    }
    out.subject = in.subject;
    out.light = in.light;
    return out;
  }
};
}  // namespace

const Stage& render_stage() {
  static RenderStage s;
  return s;
}

}  // namespace likeness
