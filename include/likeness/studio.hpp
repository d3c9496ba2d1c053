// The studio: turns reference photos + prompt + purpose into portraits.
#pragma once
#include <string>
#include <vector>

#include "likeness/c2pa.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"
#include "likeness/output_sink.hpp"
#include "likeness/purpose.hpp"
#include "likeness/recipe.hpp"
#include "likeness/store.hpp"

namespace likeness {

// What a prompt and purpose ask of the stages. The prompt is read clause
// by clause (commas, semicolons, full stops) against the vocabulary in
// data/vocabulary/, longest phrase first; every word is accounted for:
// applied, not understood (to rephrase), refused (what refining a real
// photo cannot do, with why) or understood but not applied (with why).
struct PromptPlan {
  std::string purpose;            // its name (data/purposes/)
  json params = json::object();   // stage id -> {key: value}
  json origins = json::object();  // stage id -> {key: "purpose corporate" | "prompt 'navy suit'" | "--attire '...'"}
  std::vector<std::string> applied;
  std::vector<std::string> not_applied;     // understood, not applicable: "'white shirt': one garment's colour ..."
  std::vector<std::string> not_understood;  // phrases, as written
  struct Refusal {
    std::string phrase, why;
  };
  std::vector<Refusal> refused;
};
// Structured fields: each read like the prompt, after it, so they win.
struct PromptFields {
  std::string attire, setting, lighting, composition;
};
PromptPlan plan_prompt(const std::string& prompt, const std::string& purpose, const PromptFields& fields = {});
// `likeness plan --json`: {"purpose", "recipe" (every step, every parameter
// resolved), "origins" (each parameter's: prompt phrase, purpose or
// default), "applied", "not_applied", "not_understood", "refused"}.
json plan_json(const PromptPlan& plan, const std::string& purpose);

// The recipe of the plan, with `overrides` (stage id -> {key: value}, from
// flags) on top. Variation i > 0 varies what the person did not ask for:
// the backdrop within its family (tone, solid or gradient, another view of
// a place), the key light's side, every third the crop; a parameter the
// prompt, a field or a flag set stays as set.
Recipe build_recipe(const PromptPlan& plan, int variation, const json& overrides = json::object());

// What a client asks of a shoot: serialisable, and nothing in it names a
// file (the photos are the subject's, found by whoever runs the job). The
// same spec from the CLI's flags or the service's JSON makes the same job.
struct ShootSpec {
  std::string subject;  // the consent record's subject id (required)
  std::string prompt;
  PromptFields fields;  // --attire, --setting, --lighting, --composition: win over the prompt
  std::string purpose = "corporate";
  std::string use;  // personal or commercial; "" the purpose's. The consent must permit it (else Error{no_consent})
  int count = 1;
  json overrides = json::object();  // stage id -> {key: value}, from flags; wins over the prompt
  float min_likeness = 0;           // raise the gate above the person's baseline (stricter)
  json to_json() const;
  // Error{usage} naming the field for a wrong type, an unknown key, a count
  // outside 1..kMaxCount or a parameter no stage declares.
  static ShootSpec from_json(const json& j);
  static constexpr int kMaxCount = 20;
};

// The CLI's shoot: the spec, where the photos are, where the files go.
struct ShootOptions : ShootSpec {
  std::string refs_dir;
  std::string out_dir;
  std::vector<std::string> ref_files;  // alternative to refs_dir (the demo)
  std::string sign_cert, sign_key;     // own C2PA signing chain + key (PEM); default: the installation's
  bool cache = true;                   // false: every step of every variation runs again (benchmarks)
};

// A shoot in three parts, so a server can run them apart:
//   plan_shoot    consent (and the use it permits), the prompt's plan, the
//                 reference photos checked against the portraits asked for;
//   render_shoot  every portrait, sidecar, edit map, the contact sheet and
//                 the report, in memory, with progress per stage and
//                 cancellation between stages (Error{cancelled});
//   deliver       the files into a sink, the consent checked again before
//                 every write: a subject forgotten meanwhile gets nothing
//                 written, and what the job kept of them before is swept.
struct ShootPlan {
  ShootSpec spec;
  PromptPlan prompt;
  ConsentRecord consent;
  std::string use;  // the use the portraits are for, permitted by the consent
  SetCheck set;
  std::string set_record;  // the stored set record's path
};
ShootPlan plan_shoot(const ShootSpec& spec, const std::vector<std::string>& files, JobContext& ctx);

struct ShootFiles {
  json report;
  std::vector<std::pair<std::string, std::string>> files;  // name, bytes (report.json last)
};
struct RenderOptions {
  std::string sign_cert, sign_key;  // "" the installation's signer
  bool cache = true;
  // Also write portrait_NN.before.jpg: the source photo under the same
  // framing and nothing else (a before/after view), named in the report.
  bool before = false;
};
ShootFiles render_shoot(const ShootPlan& plan, const OutputSink& names, JobContext& ctx, const RenderOptions& ro = {});
void deliver(const ShootFiles& files, OutputSink& sink, const std::string& subject, ConsentStore& consent);

// `likeness check` on a list of photos. Without a subject nothing is kept.
// With one, its consent must cover `purpose` (else Error{no_consent}); the
// analyses, photo digests and the set's record (check + baseline) go to the
// subject's folder of the store, and the record's path to `stored`.
// `target`: the portrait the photos are judged as sources for (flags
// too_tight, low_resolution); the frame stage's defaults unless given.
SetCheck check_references(const std::vector<std::string>& files, JobContext& ctx, const std::string& subject = "",
                          const std::string& purpose = "likeness", std::string* stored = nullptr,
                          const PortraitTarget& target = PortraitTarget::from_frame_params({}));

// The CLI's shoot: plan, render, deliver into out_dir (portrait_NN.<ext>,
// sidecars, edit maps, contact sheet, report.json, all at once); returns the
// report. A portrait below the likeness gate is re-rendered from the
// next-ranked source, else refused. Throws Error{bad_input} when no
// reference photo is usable.
json shoot(const ShootOptions& opt, JobContext& ctx);

// `likeness team DIR`: one folder of photos per person (its name the
// person's subject id, each with their own consent record), every person
// given the same look — backdrop, light and its side, crop, eye line, grade
// pinned from the team's recipe — and each still gated on their own
// likeness. Writes OUT/<person>/ (a shoot of one) for each, then
// team.json (the consistency report: backdrop colour spread in CIEDE2000,
// eye line and face height spread, skin light colour temperature) and
// team_sheet.jpg, both recorded as outputs of every member (forgetting any
// of them deletes them). A person who cannot be shot is reported, the
// others still are; returns the report.
struct TeamOptions {
  std::string dir, out_dir;
  std::string prompt;
  PromptFields fields;
  std::string purpose = "corporate";
  std::string use;
  json overrides = json::object();
  std::string sign_cert, sign_key;
};
// The consistency targets: backdrop colour spread (largest CIEDE2000
// between two members) and eye line spread (of the height).
inline constexpr double kTeamBackdropSpread = 2.0, kTeamEyeLineSpread = 0.03;
json shoot_team(const TeamOptions& opt, JobContext& ctx);

// Identity similarity of the main faces of two photos.
struct Comparison {
  float similarity = 0;
  bool same_person = false;
  float threshold = 0;
};
Comparison compare_photos(const std::string& a, const std::string& b);

std::vector<std::string> list_images(const std::string& dir);  // sorted; throws bad_input if none

// The person of a photo at the photo's own size: the portrait pipeline's
// source analysis (faces, segment with `segment_params`) and matte on an
// identity plan. Throws Error{bad_input} when the photo has no face.
struct Cutout {
  cv::Mat bgra;                        // CV_8UC4: the person's own colour (sRGB) + alpha
  std::shared_ptr<const Frame> frame;  // alpha, foreground (linear), faces
};
// The source analysis, then `finish` on an identity plan (the canvas is the
// photo, scale 1): what cutout and a stage alone stand on. The result's
// steps are both recipes'.
RunResult run_at_photo_size(std::shared_ptr<const Frame> source, const std::string& source_key, const Recipe& analysis,
                            const Recipe& finish, JobContext& ctx, FrameCache* cache);
Cutout cut_out(std::shared_ptr<const Frame> source, const std::string& source_key, JobContext& ctx,
               const json& segment_params = json::object(), FrameCache* cache = nullptr,
               const json& matte_params = json::object());

// One look stage on a photo at its own size (`likeness stage ID IN OUT`):
// the source analysis, the identity plan, render and matte, the stage with
// `params` (validated first: Error{usage}), export in `format` (JPEG or PNG)
// and a signed C2PA manifest whose action is the stage.
std::vector<std::string> standalone_stages();
// The C2PA actions of a run: every step with an action whose parameters
// change pixels and that did change them (`steps`, the run's log, when given).
std::vector<C2paAction> manifest_actions(const Recipe& resolved, const std::vector<StepRecord>* steps = nullptr);
struct StandaloneResult {
  std::string bytes;  // the encoded, signed image
  std::shared_ptr<const Frame> frame;
};
StandaloneResult run_stage_alone(const std::string& stage_id, const std::string& in_path, const json& params,
                                 ImageFormat format, JobContext& ctx);

// `likeness sheet`: one photo through every light, wardrobe colour, polish
// level, grain amount and grade of `purpose`'s default recipe at `size`, a
// labelled thumbnail and a 100% crop of the cheek per tile (BGR 8-bit), and
// what each tile's stage said it did.
struct SheetResult {
  cv::Mat image;
  json tiles = json::array();
};
SheetResult make_sheet(const std::string& photo, const std::string& purpose, cv::Size size, JobContext& ctx);

}  // namespace likeness
