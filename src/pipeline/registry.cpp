#include "likeness/error.hpp"
#include "likeness/stage.hpp"
#include "stages/stages.hpp"

namespace likeness {

const std::vector<const Stage*>& all_stages() {
  static const std::vector<const Stage*> stages = {
      &faces_stage(),   &segment_stage(), &parse_stage(),   &frame_stage(),    &render_stage(),
      &matte_stage(),   &denoise_stage(), &retouch_stage(), &wardrobe_stage(), &backdrop_stage(),
      &relight_stage(), &grade_stage(),   &grain_stage(),   &export_stage()};
  return stages;
}

const Stage& find_stage(const std::string& id) {
  for (const Stage* s : all_stages())
    if (s->id() == id) return *s;
  std::string known;
  for (const Stage* s : all_stages()) known += (known.empty() ? "" : ", ") + s->id();
  throw Error(ErrorCode::usage, "unknown stage '" + id + "' (stages: " + known + ")");
}

}  // namespace likeness
