// Super-resolution with the ESRGAN networks of UpscalerJS (slim, medium,
// thick; x2 and x4), converted to ONNX by `make models`. Images of any size
// run in tiles of bounded memory; each tile reads a margin of context around
// its core and keeps only the core, so the tiled result equals one run over
// the whole image.
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness {

struct JobContext;

enum class UpscaleModel { slim, medium, thick };

// "slim" / "medium" / "thick" and back (an unknown name throws usage).
std::string upscale_model_label(UpscaleModel model);
UpscaleModel upscale_model_from_label(const std::string& label);
// The installed network for a model and factor, e.g. "esrgan_thick_x4"
// (a factor other than 2 or 4 throws usage).
std::string upscale_network(UpscaleModel model, int scale);

// Context (input px) a tile needs on each side of its core for the tiled
// output to match the whole-image run to within 8-bit rounding: slim 10 and
// medium 18 (their receptive fields: bit-identical), thick 16 (its field is
// 154 px, but far taps carry almost no weight: see upscale.cpp).
int upscale_margin(UpscaleModel model);

// The largest output an upscale may make (pixels): 64 MP is 192 MB of 8-bit
// BGR; a 4x of a 16 MP photo would be 256 MP and is refused.
inline constexpr uint64_t kMaxUpscaledPixels = 64'000'000;

// The measured choice, on 17 face crops of ../shared/faces (fullsize,
// portraits, people) reduced (area) by 2 and 4 and upscaled back:
//  - at 2x the x2 networks are softer than bicubic (less fine detail); the x4
//    networks area-reduced by 2 are sharper;
//  - slim's and medium's x4 outputs carry a 4-px block grid, visible at 100%
//    even after the reduction to 2x, and lose up to 3.8 dB PSNR to bicubic;
//  - thick has no grid and gains +0.6 dB (2x) and +1.0 dB (4x) over bicubic,
//    at 7.3 M multiply-adds per input pixel, ten times medium's.
struct UpscaleOptions {
  int scale = 2;                             // the output factor: 2 or 4
  UpscaleModel model = UpscaleModel::thick;  // see above
  bool via_x4 = true;                        // scale 2: the x4 network, its output area-reduced by 2
  int tile = 256;                            // core of a tile, input px
  int margin = -1;                           // context each side, input px; -1: upscale_margin(model)
  const JobContext* ctx = nullptr;           // cancellation and progress between tiles
  std::string stage = "upscale";             // the progress label
};

// The network `options` run ("esrgan_medium_x4").
std::string upscale_network(const UpscaleOptions& options);

// 8-bit BGR in, 8-bit BGR out at exactly scale x the size (network output
// clipped to 0..255 and rounded). Throws bad_input when the output would be
// larger than kMaxUpscaledPixels, cancelled when ctx's flag is raised.
// Inference threads: the calling thread's ThreadBudget.
cv::Mat upscale(const cv::Mat& bgr8, const UpscaleOptions& options);

// The same with one network run over the whole image (no tiles): for small
// images and to check the tiling against.
cv::Mat upscale_whole(const cv::Mat& bgr8, const UpscaleOptions& options);

// Input pixels the tiles of `upscale` feed the network for a w x h image
// (cores plus their margins): the work, against w * h useful pixels.
uint64_t upscale_tiled_pixels(int width, int height, const UpscaleOptions& options);

// Timing of every network on one region, for `likeness bench --upscale`.
struct UpscaleTiming {
  std::string network;           // "esrgan_medium_x2"
  double seconds = 0;            // median of the runs
  double macs_per_pixel = 0;     // multiply-adds per input pixel (the manifest's count over the Conv nodes)
  uint64_t useful_pixels = 0;    // the region's
  uint64_t computed_pixels = 0;  // with the tiles' margins
};
std::vector<UpscaleTiming> time_upscalers(const cv::Mat& bgr8, int repeat, int tile);

}  // namespace likeness
