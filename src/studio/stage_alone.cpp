// `likeness stage ID IN OUT --param value`: one look stage on a photo at its
// own size. The source analysis (faces, segment, parse) and the identity
// plan, render and matte that every look stage stands on, then the stage
// with the given parameters, then export; signed like a portrait, with the
// stage as the manifest's action.
#include <algorithm>
#include <filesystem>

#include "likeness/c2pa.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/studio.hpp"

namespace likeness {

std::vector<std::string> standalone_stages() {
  std::vector<std::string> ids;
  bool after_matte = false;
  for (const Stage* s : all_stages()) {
    if (after_matte && s->id() != "export" && !s->c2pa_action().empty()) ids.push_back(s->id());
    if (s->id() == "matte") after_matte = true;
  }
  return ids;
}

StandaloneResult run_stage_alone(const std::string& stage_id, const std::string& in_path, const json& params,
                                 ImageFormat format, JobContext& ctx) {
  const auto ids = standalone_stages();
  if (std::find(ids.begin(), ids.end(), stage_id) == ids.end()) {
    std::string known;
    for (const auto& i : ids) known += (known.empty() ? "" : ", ") + i;
    throw Error(ErrorCode::usage, "'" + stage_id + "' does not run alone (stages that do: " + known + ")");
  }
  if (format == ImageFormat::webp)
    throw Error(ErrorCode::usage,
                "Content Credentials are embedded in JPEG and PNG; WebP cannot carry them yet — name the output "
                ".jpg or .png");
  const Stage& stage = find_stage(stage_id);
  const json resolved = resolve_params(stage_id, stage.params(), params);  // bad parameters fail before the work
  const std::string bytes = read_file(in_path, DecodeLimits{}.max_bytes);
  const DecodedImage img = decode_image_bytes(bytes, in_path);
  auto src = std::make_shared<Frame>();
  src->image = img.bgr;
  const std::string sha = sha256_hex(bytes);

  Recipe analysis;
  for (const char* id : {"faces", "segment", "parse"}) analysis.steps.push_back({id, find_stage(id).version(), {}});
  Recipe finish;
  finish.steps.push_back({"render", find_stage("render").version(), json::object()});
  finish.steps.push_back({"matte", find_stage("matte").version(), json::object()});
  finish.steps.push_back({stage_id, stage.version(), resolved});
  const std::string fmt = format == ImageFormat::png ? "png" : "jpeg";
  finish.steps.push_back({"export", find_stage("export").version(), {{"format", fmt}}});
  {
    Recipe whole = analysis;
    whole.steps.insert(whole.steps.end(), finish.steps.begin(), finish.steps.end());
    check_needs(whole, in_path);  // before the analysis's seconds, not after
  }
  const RunResult r = run_at_photo_size(src, Sha256().field("source").field(sha).hex(), analysis, finish, ctx, nullptr);

  ManifestInput mi;
  mi.source_sha256 = sha;
  mi.source_format = "image/" + img.format;
  mi.title = std::filesystem::path(in_path).filename().string();
  Recipe all = analysis;
  all.steps.insert(all.steps.end(), finish.steps.begin(), finish.steps.end());
  mi.actions = manifest_actions(all.resolved(), &r.steps);
  StandaloneResult out;
  out.frame = r.frame;
  out.bytes = sign_c2pa(r.frame->encoded, mi, Signer::installation());
  return out;
}

}  // namespace likeness
