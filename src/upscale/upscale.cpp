// ESRGAN upscaling in tiles. Every network is fully convolutional with zero
// ("SAME") padding: an output pixel depends on the input within the
// network's receptive field, and at the image's own edges on the padding. A
// tile therefore reads its core plus a margin, clipped to the image (where a
// whole-image run sees the same padding), and keeps the output of its core.
#include "likeness/upscale.hpp"

#include <algorithm>
#include <chrono>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/inference.hpp"
#include "likeness/model_store.hpp"
#include "likeness/stage.hpp"

namespace likeness {

std::string upscale_model_label(UpscaleModel model) {
  switch (model) {
    case UpscaleModel::slim:
      return "slim";
    case UpscaleModel::medium:
      return "medium";
    case UpscaleModel::thick:
      return "thick";
  }
  return "medium";
}

UpscaleModel upscale_model_from_label(const std::string& label) {
  for (UpscaleModel m : {UpscaleModel::slim, UpscaleModel::medium, UpscaleModel::thick})
    if (upscale_model_label(m) == label) return m;
  throw Error(ErrorCode::usage, "unknown upscale model '" + label + "': slim, medium or thick");
}

std::string upscale_network(UpscaleModel model, int scale) {
  if (scale != 2 && scale != 4)
    throw Error(ErrorCode::usage, "the upscale factor is 2 or 4 (got " + std::to_string(scale) + ")");
  return "esrgan_" + upscale_model_label(model) + "_x" + std::to_string(scale);
}

// slim and medium: their receptive fields (the manifest's halo); the tiled
// output is then bit-identical to the whole-image run. thick's field is 154
// px, but its residual blocks are scaled by 0.2: with 16 px the tiled output
// is 101 dB from the whole run (max difference 1 level), with 8 px 84 dB.
int upscale_margin(UpscaleModel model) {
  switch (model) {
    case UpscaleModel::slim:
      return 10;
    case UpscaleModel::medium:
      return 18;
    case UpscaleModel::thick:
      return 16;
  }
  return 18;
}

std::string upscale_network(const UpscaleOptions& options) {
  return upscale_network(options.model, options.scale == 2 && options.via_x4 ? 4 : options.scale);
}

namespace {

void check_input(const cv::Mat& bgr8, int scale) {
  if (bgr8.empty() || bgr8.type() != CV_8UC3)
    throw Error(ErrorCode::internal, "upscale wants a non-empty 8-bit BGR image");
  const uint64_t out = uint64_t(bgr8.cols) * bgr8.rows * uint64_t(scale) * scale;
  if (out > kMaxUpscaledPixels)
    throw Error(ErrorCode::bad_input, "a " + std::to_string(scale) + "x upscale of " + std::to_string(bgr8.cols) + "x" +
                                          std::to_string(bgr8.rows) + " would be " + std::to_string(out / 1'000'000) +
                                          " MP; the limit is " + std::to_string(kMaxUpscaledPixels / 1'000'000) +
                                          " MP");
}

// One network run: 8-bit BGR -> float RGB 0..255 as NHWC -> 8-bit BGR, the
// network's output area-reduced to `scale` when its own factor is larger.
cv::Mat run_network(const Network& net, const cv::Mat& bgr8, int net_scale, int scale) {
  cv::Mat rgb;
  cv::cvtColor(bgr8, rgb, cv::COLOR_BGR2RGB);
  rgb.convertTo(rgb, CV_32F);  // continuous, H x W x 3 = the NHWC tensor's bytes
  const int in_dims[] = {1, rgb.rows, rgb.cols, 3};
  const cv::Mat tensor(4, in_dims, CV_32F, rgb.data);
  const std::vector<cv::Mat> outs = net.run(tensor);
  const cv::Mat& o = outs.at(0);
  if (o.dims != 4 || o.size[1] != bgr8.rows * net_scale || o.size[2] != bgr8.cols * net_scale || o.size[3] != 3)
    throw Error(ErrorCode::internal, net.name() + " gave an output of an unexpected shape");
  const cv::Mat image(o.size[1], o.size[2], CV_32FC3, const_cast<float*>(o.ptr<float>()));
  cv::Mat reduced = image;
  if (net_scale != scale) cv::resize(image, reduced, bgr8.size() * scale, 0, 0, cv::INTER_AREA);
  cv::Mat out8, bgr;
  reduced.convertTo(out8, CV_8U);  // saturates: clips to 0..255 and rounds
  cv::cvtColor(out8, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

int network_scale(const UpscaleOptions& opt) { return opt.scale == 2 && opt.via_x4 ? 4 : opt.scale; }

}  // namespace

cv::Mat upscale_whole(const cv::Mat& bgr8, const UpscaleOptions& opt) {
  const std::string name = upscale_network(opt);
  check_input(bgr8, network_scale(opt));
  return run_network(network(name), bgr8, network_scale(opt), opt.scale);
}

namespace {
// A tile: the core it keeps and the region it reads (core + margin, clipped).
struct Tile {
  cv::Rect core, read;
};

// Cores of equal size (at most options.tile) so no thin tile wastes a run.
std::vector<Tile> tiles(int W, int H, const UpscaleOptions& opt) {
  if (opt.tile < 16) throw Error(ErrorCode::usage, "upscale tiles are at least 16 px");
  const int margin = opt.margin >= 0 ? opt.margin : upscale_margin(opt.model);
  const int nx = (W + opt.tile - 1) / opt.tile, ny = (H + opt.tile - 1) / opt.tile;
  std::vector<Tile> out;
  for (int ty = 0; ty < ny; ++ty)
    for (int tx = 0; tx < nx; ++tx) {
      const cv::Rect core(tx * W / nx, ty * H / ny, (tx + 1) * W / nx - tx * W / nx, (ty + 1) * H / ny - ty * H / ny);
      const cv::Rect read =
          cv::Rect(core.x - margin, core.y - margin, core.width + 2 * margin, core.height + 2 * margin) &
          cv::Rect(0, 0, W, H);
      out.push_back({core, read});
    }
  return out;
}
}  // namespace

uint64_t upscale_tiled_pixels(int width, int height, const UpscaleOptions& options) {
  uint64_t n = 0;
  for (const Tile& t : tiles(width, height, options)) n += uint64_t(t.read.area());
  return n;
}

cv::Mat upscale(const cv::Mat& bgr8, const UpscaleOptions& opt) {
  const std::string name = upscale_network(opt);
  check_input(bgr8, opt.scale);
  const std::vector<Tile> all = tiles(bgr8.cols, bgr8.rows, opt);
  const Network& net = network(name);
  const int s = opt.scale;
  cv::Mat out(bgr8.rows * s, bgr8.cols * s, CV_8UC3);
  for (size_t i = 0; i < all.size(); ++i) {
    if (opt.ctx) opt.ctx->check_cancel();
    const Tile& t = all[i];
    // Areas of whole network pixels: a tile's reduced output is the whole
    // run's, since tiles start at whole input pixels.
    const cv::Mat up = run_network(net, bgr8(t.read), network_scale(opt), s);
    const cv::Rect keep((t.core.x - t.read.x) * s, (t.core.y - t.read.y) * s, t.core.width * s, t.core.height * s);
    up(keep).copyTo(out(cv::Rect(t.core.x * s, t.core.y * s, t.core.width * s, t.core.height * s)));
    if (opt.ctx) opt.ctx->report(opt.stage, double(i + 1) / all.size());
  }
  return out;
}

std::vector<UpscaleTiming> time_upscalers(const cv::Mat& bgr8, int repeat, int tile) {
  std::vector<UpscaleTiming> out;
  for (UpscaleModel m : {UpscaleModel::slim, UpscaleModel::medium, UpscaleModel::thick})
    for (int f : {2, 4}) {
      UpscaleOptions opt;
      opt.model = m;
      opt.scale = f;
      opt.via_x4 = false;
      opt.tile = tile;
      UpscaleTiming t;
      t.network = upscale_network(opt);
      t.macs_per_pixel = ModelStore::shared().info(t.network).input.value("macs_per_input_pixel", 0.0);
      t.useful_pixels = uint64_t(bgr8.total());
      t.computed_pixels = upscale_tiled_pixels(bgr8.cols, bgr8.rows, opt);
      upscale(bgr8(cv::Rect(0, 0, std::min(bgr8.cols, 64), std::min(bgr8.rows, 64))), opt);  // loads the session
      std::vector<double> s;
      for (int r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        upscale(bgr8, opt);
        s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(s.begin(), s.end());
      t.seconds = s[s.size() / 2];
      out.push_back(t);
    }
  return out;
}

}  // namespace likeness
