// cutout: the person of a photo as RGBA at the photo's own size: the source
// analysis and matte of the portrait pipeline on an identity plan, the
// person's estimated own colour (no fringe of the old background) and alpha.
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/hash.hpp"
#include "likeness/studio.hpp"

namespace likeness {

RunResult run_at_photo_size(std::shared_ptr<const Frame> source, const std::string& source_key, const Recipe& analysis,
                            const Recipe& finish, JobContext& ctx, FrameCache* cache) {
  RunResult a = run_recipe(std::move(source), source_key, analysis, ctx, cache);
  auto planned = std::make_shared<Frame>(*a.frame);
  planned->plan.canvas = planned->image.size();
  planned->plan.scale = 1;
  planned->plan.offset = {0, 0};
  RunResult r =
      run_recipe(planned, Sha256().field(a.steps.back().key).field("identity plan").hex(), finish, ctx, cache);
  a.steps.insert(a.steps.end(), r.steps.begin(), r.steps.end());
  r.steps = std::move(a.steps);
  return r;
}

Cutout cut_out(std::shared_ptr<const Frame> source, const std::string& source_key, JobContext& ctx,
               const json& segment_params, FrameCache* cache, const json& matte_params) {
  Recipe analysis, finish;
  for (const char* id : {"faces", "segment"})
    analysis.steps.push_back({id, find_stage(id).version(), std::string(id) == "segment" ? segment_params : json{}});
  finish.steps.push_back({"render", find_stage("render").version(), json::object()});
  finish.steps.push_back({"matte", find_stage("matte").version(), matte_params});
  const RunResult r = run_at_photo_size(std::move(source), source_key, analysis, finish, ctx, cache);
  Cutout c;
  c.frame = r.frame;
  const cv::Mat fg = linear_to_srgb8(r.frame->foreground);
  cv::Mat a8;
  r.frame->alpha.convertTo(a8, CV_8U, 255);
  std::vector<cv::Mat> ch;
  cv::split(fg, ch);
  ch.push_back(a8);
  cv::merge(ch, c.bgra);
  return c;
}

}  // namespace likeness
