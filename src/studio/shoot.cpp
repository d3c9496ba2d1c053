#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>

#include "likeness/badge_sheet.hpp"
#include "likeness/c2pa.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"
#include "likeness/measure.hpp"
#include "likeness/numeric.hpp"
#include "likeness/output_job.hpp"
#include "likeness/resample.hpp"
#include "likeness/stage.hpp"
#include "likeness/store.hpp"
#include "likeness/studio.hpp"
#include "likeness/xmp.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

// The main subject of a photo decoded in full and analysed at 1280 px.
std::vector<float> main_embedding(const std::string& file) {
  const PhotoAnalysis a = analyse_photo(file);
  if (!a.error.empty()) throw_bad_input(file, a.error);
  if (a.faces.empty()) throw_bad_input(file, "no face found");
  // Largest first; the candidate scoring of main_subject on the stored boxes.
  std::vector<Face> faces;
  for (const auto& f : a.faces) faces.push_back(f.face);
  const int s = FaceAnalyzer::main_subject(faces, cv::Size(a.width, a.height));
  if (s < 0 || faces[s].embedding.empty()) throw_bad_input(file, "no face found");
  return faces[s].embedding;
}

// A checked set's record (the check with its baseline), keyed by the
// photos' content, in the subject's folder of the store.
std::string store_set(const SetCheck& set, const std::string& dir) {
  std::vector<std::string> shas;
  for (const auto& p : set.photos) shas.push_back(p.a.sha256);
  std::sort(shas.begin(), shas.end());
  Sha256 h;
  h.field("set");
  for (const auto& s : shas) h.field(s);
  const std::string path = (fs::path(dir) / (h.hex().substr(0, 32) + ".json")).string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + dir + ": " + ec.message());
  write_file_atomic(path, set.to_json().dump(2) + "\n");
  return path;
}

// Channels (BGR): blue = synthesised backdrop, green = retouched, red =
// relit or recoloured; the value is how much (255 = wholly). Only stages that
// ran contribute; untouched pixels stay 0.
cv::Mat edit_map(const Frame& out, Recipe recipe) {
  cv::Mat map(out.image.size(), CV_8UC3, cv::Scalar::all(0));
  if (recipe.find("backdrop") && !out.alpha.empty() && out.alpha.size() == out.image.size()) {
    cv::Mat amount;
    cv::Mat(1.0 - out.alpha).convertTo(amount, CV_8U, 255.0);
    if (!out.outside.empty()) amount.setTo(255, out.outside);
    cv::Mat ch[3];
    cv::split(map, ch);
    ch[0] = amount;
    cv::merge(ch, 3, map);
  } else if (!out.outside.empty()) {
    map.setTo(cv::Scalar(255, 0, 0), out.outside);
  }
  // Stages' own records: green (1) retouched, red (2) relit or recoloured.
  for (const auto& [amount, channel] : {std::pair{&out.retouched, 1}, std::pair{&out.relit, 2}}) {
    if (amount->empty() || amount->size() != map.size()) continue;
    cv::Mat ch[3], a8;
    cv::split(map, ch);
    amount->convertTo(a8, CV_8U, 255.0);
    ch[channel] = cv::max(ch[channel], a8);
    cv::merge(ch, 3, map);
  }
  return map;
}

// How a variation ranks among the others: its likeness within the person's
// own band (0 at the gate, 0.5 at their median, 1 as far above it), the
// technical quality of its face, and its fit to the request measured on it
// (1 when nothing measurable was asked). Likeness weighs most: the winner
// is the most recognisable, not the smoothest.
struct Choice {
  double score = 0, likeness = 0, quality = 0, fit = 1;
  static json weights() { return {{"likeness", 0.5}, {"quality", 0.25}, {"fit", 0.25}}; }
  json to_json() const {
    auto r = [](double v) { return round_to(v, 0.001); };
    return {{"score", r(score)}, {"likeness", r(likeness)}, {"quality", r(quality)}, {"fit", r(fit)}};
  }
};

Choice choice_of(const LikenessScore& s, const Baseline& b, double quality, const json& fit) {
  Choice c;
  if (b.kind == "leave_one_out") {
    const double span = std::max(0.005, double(b.median - b.gate));
    c.likeness = std::clamp(0.5 + (s.raw - b.median) / (2 * span), 0.0, 1.0);
  } else {
    c.likeness = std::clamp((s.raw - b.gate) / 0.1, 0.0, 1.0);  // one photo: no band, distance above the gate
  }
  c.quality = quality;
  c.fit = fit.is_number() ? fit.get<double>() : 1.0;
  const json w = Choice::weights();
  c.score = w["likeness"].get<double>() * c.likeness + w["quality"].get<double>() * c.quality +
            w["fit"].get<double>() * c.fit;
  return c;
}

// A variation's tile on the shoot's contact sheet: rank and likeness on the
// badge, the person's band, quality and fit under it.
SheetTile variation_tile(const cv::Mat& preview, const json& e, const Baseline& b) {
  SheetTile t;
  t.image = preview;
  if (!e.value("passed", false)) {
    t.badge = "refused";
    t.badge_colour = kBadgeBad;
    t.title = "variation " + std::to_string(e.value("variation", 0));
    t.lines = {{e.value("refused", ""), kBadgeBad, 0.34}};
    return t;
  }
  const double raw = e["likeness"].value("raw", 0.0);
  t.badge = cv::format("#%d  likeness %.3f", e.value("rank", 0), raw);
  t.badge_colour = kBadgeGood;
  t.title = fs::path(e.value("file", "")).filename().string();
  t.lines = {
      {cv::format("your band %.3f-%.3f, gate %.3f", b.min, b.max, b.gate), cv::Scalar(60, 60, 60), 0.34},
      {cv::format("quality %.2f, fit %s, choice %.2f", e["quality"].value("score", 0.0),
                  e["fit"]["score"].is_number() ? cv::format("%.2f", e["fit"]["score"].get<double>()).c_str() : "n/a",
                  e["choice"].value("score", 0.0)),
       cv::Scalar(60, 60, 60), 0.34}};
  return t;
}

}  // namespace

std::vector<C2paAction> manifest_actions(const Recipe& resolved, const std::vector<StepRecord>* steps) {
  std::vector<C2paAction> actions;
  for (const auto& st : resolved.steps) {
    const Stage& stage = find_stage(st.stage);
    if (stage.c2pa_action().empty() || !stage.changes_pixels(st.params)) continue;
    if (steps) {
      auto rec = std::find_if(steps->begin(), steps->end(), [&](const StepRecord& r) { return r.stage == st.stage; });
      if (rec != steps->end() && !rec->changed) continue;
    }
    actions.push_back({stage.c2pa_action(),
                       stage.summary(),
                       {{"stage", st.stage}, {"version", st.version}, {"params", st.params}},
                       stage.c2pa_source_type()});
  }
  return actions;
}

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_bad_input(dir, "not a folder of photos");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = lower_extension(e.path().string());
    for (const char* ok : {"jpg", "jpeg", "png", "webp", "heic", "heif", "tif", "tiff"})
      if (ext == ok) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw_bad_input(dir, "holds no photos (.jpg, .png, .webp, .heic, .tif)");
  return files;
}

namespace {
// The job's consent store: the service's, or the embedded one.
ConsentStore& consent_of(const JobContext& ctx) { return ctx.consent ? *ctx.consent : Store::open(); }
}  // namespace

SetCheck check_references(const std::vector<std::string>& files, JobContext& ctx, const std::string& subject,
                          const std::string& purpose, std::string* stored, const PortraitTarget& target) {
  if (files.size() > 20)
    throw Error(ErrorCode::bad_input,
                std::to_string(files.size()) + " photos given; likeness takes 1 to 20 photos of one person");
  // The analyses go where the job says: nowhere without a subject
  // (transient: nothing about the person is kept), else their folder.
  JobContext job = ctx;
  if (subject.empty()) {
    job.analysis_store = "";
    return check_set(files, job, true, target);
  }
  ConsentStore& store = consent_of(ctx);
  store.require(subject, purpose);
  // A store that keeps no local folder (a database shared by machines)
  // keeps them itself, if it can; else they live with the job only.
  const std::string dir = store.subject_dir(subject);
  job.analysis_store = dir.empty() ? "" : dir + "/analysis";
  if (dir.empty()) job.analysis_keeper = store.analysis_keeper(subject);
  SetCheck set = check_set(files, job, true, target);
  for (const auto& p : set.photos)
    if (!p.a.sha256.empty()) store.add_photo(subject, p.a.sha256);
  if (!dir.empty()) {
    const std::string path = store_set(set, dir + "/sets");
    if (stored) *stored = path;
  }
  return set;
}

json ShootSpec::to_json() const {
  return {{"subject", subject},
          {"prompt", prompt},
          {"attire", fields.attire},
          {"setting", fields.setting},
          {"lighting", fields.lighting},
          {"composition", fields.composition},
          {"purpose", purpose},
          {"use", use},
          {"count", count},
          {"params", overrides},
          {"min_likeness", min_likeness}};
}

ShootSpec ShootSpec::from_json(const json& j) {
  auto bad = [](const std::string& field, const std::string& why) {
    throw Error(ErrorInfo{ErrorCode::usage, "'" + field + "' " + why, "", field, ""});
  };
  if (!j.is_object()) throw Error(ErrorCode::usage, "a shoot is a JSON object");
  static const std::vector<std::string> keys = {"subject", "prompt", "attire", "setting", "lighting",    "composition",
                                                "purpose", "use",    "count",  "params",  "min_likeness"};
  for (const auto& [k, v] : j.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) bad(k, "is not a shoot field");
  ShootSpec s;
  auto text = [&](const char* k, std::string& out) {
    if (!j.contains(k) || j[k].is_null()) return;
    if (!j[k].is_string()) bad(k, "must be text");
    out = j[k].get<std::string>();
    if (out.size() > 2000) bad(k, "is longer than 2000 characters");
  };
  text("subject", s.subject);
  text("prompt", s.prompt);
  text("attire", s.fields.attire);
  text("setting", s.fields.setting);
  text("lighting", s.fields.lighting);
  text("composition", s.fields.composition);
  text("purpose", s.purpose);
  text("use", s.use);
  if (s.purpose.empty()) s.purpose = "corporate";
  find_purpose(s.purpose);  // Error{usage} naming the purposes
  if (!s.use.empty() && s.use != "personal" && s.use != "commercial") bad("use", "is personal or commercial");
  if (j.contains("count") && !j["count"].is_null()) {
    if (!j["count"].is_number_integer()) bad("count", "must be a whole number");
    s.count = j["count"].get<int>();
    if (s.count < 1 || s.count > kMaxCount) bad("count", "is 1 to " + std::to_string(kMaxCount));
  }
  if (j.contains("min_likeness") && !j["min_likeness"].is_null()) {
    if (!j["min_likeness"].is_number()) bad("min_likeness", "must be a number");
    s.min_likeness = j["min_likeness"].get<float>();
    if (!(s.min_likeness >= 0 && s.min_likeness <= 1)) bad("min_likeness", "is 0 to 1");
  }
  if (j.contains("params") && !j["params"].is_null()) {
    if (!j["params"].is_object()) bad("params", "must be an object of stages");
    for (const auto& [stage_id, given] : j["params"].items()) {
      const Stage& stage = find_stage(stage_id);  // Error{usage} for an unknown stage
      if (!given.is_object()) bad("params." + stage_id, "must be an object of parameters");
      const std::vector<ParamSpec> specs = stage.params();
      json checked = json::object();
      for (const auto& [key, value] : given.items()) {
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& p) { return p.key == key; });
        if (spec == specs.end()) bad("params." + stage_id + "." + key, "is not a parameter of " + stage_id);
        // A client names no file on the machine that runs the job.
        if (spec->type == ParamType::path)
          bad("params." + stage_id + "." + key, "names a file; a shoot's spec names none");
        checked[key] = parse_param(stage_id, *spec, value);
      }
      s.overrides[stage_id] = checked;
    }
  }
  return s;
}

ShootPlan plan_shoot(const ShootSpec& spec, const std::vector<std::string>& files, JobContext& ctx) {
  // Shooting keeps the person's photo digests, embeddings and portraits:
  // only with a valid consent record.
  if (spec.subject.empty())
    throw Error(ErrorCode::no_consent,
                "shoot keeps a person's photo digests, face embeddings and portraits, so it needs --subject ID with "
                "a consent record. Record it first: likeness consent grant --subject ID --by NAME --purposes "
                "portraits,likeness --retention DAYS");
  if (spec.count < 1 || spec.count > ShootSpec::kMaxCount)
    throw Error(ErrorCode::usage, "count is 1 to " + std::to_string(ShootSpec::kMaxCount));
  ShootPlan plan;
  plan.spec = spec;
  plan.consent = consent_of(ctx).require(spec.subject, "portraits");
  // The use the portraits are for: the consent must permit it (the model
  // release), and every portrait carries it.
  plan.use = spec.use.empty() ? find_purpose(spec.purpose).use : spec.use;
  if (plan.use != "personal" && plan.use != "commercial")
    throw Error(ErrorCode::usage, "--use is personal or commercial, not '" + plan.use + "'");
  if (!plan.consent.permits(plan.use)) {
    std::string permitted;
    for (const auto& u : plan.consent.uses) permitted += (permitted.empty() ? "" : ", ") + u;
    throw Error(ErrorCode::no_consent,
                "the consent of subject '" + spec.subject + "' (" + plan.consent.id + ") permits " + permitted +
                    " use only; these portraits are for " + plan.use + " use" +
                    (spec.use.empty() ? " (the " + find_purpose(spec.purpose).name + " purpose's)" : std::string()) +
                    ". Record consent that covers it (likeness consent grant ... --uses personal,commercial)" +
                    (plan.use == "commercial" ? ", or shoot with --use personal" : std::string()));
  }
  if (spec.overrides.contains("export") && spec.overrides["export"].value("format", "jpeg") == "webp")
    throw Error(ErrorInfo{ErrorCode::usage,
                          "Content Credentials are embedded in JPEG and PNG portraits; WebP cannot carry them yet — "
                          "use --export-format jpeg or png",
                          "export", "format", ""});
  // The portraits asked for: the references are judged as sources for them.
  plan.prompt = plan_prompt(spec.prompt, spec.purpose, spec.fields);
  json frame_params = json::object();
  {
    Recipe first = build_recipe(plan.prompt, 0, spec.overrides);
    if (const Step* f = first.find("frame")) frame_params = f->params;
  }
  plan.set = check_references(files, ctx, spec.subject, "likeness", &plan.set_record,
                              PortraitTarget::from_frame_params(frame_params));
  SetCheck& set = plan.set;
  if (spec.min_likeness > set.baseline.gate) {
    set.baseline.gate = spec.min_likeness;
    set.baseline.note += "; raised to " + std::to_string(spec.min_likeness).substr(0, 6) + " by --min-likeness";
  }
  if (set.ranking.empty()) {
    std::string why;
    for (const auto& p : set.photos) {
      std::string flags;
      for (const auto& f : p.flags) flags += (flags.empty() ? "" : ", ") + f;
      why += "\n  " + p.a.file + ": " + flags + " — " + p.advice;
    }
    throw Error(ErrorCode::bad_input, "no usable reference photo:" + why);
  }
  return plan;
}

void deliver(const ShootFiles& files, OutputSink& sink, const std::string& subject, ConsentStore& store) {
  try {
    // The consent is checked again before every write (and once more in
    // the commit's own transaction): a forget while the job ran leaves
    // nothing of the subject.
    for (const auto& [name, bytes] : files.files) {
      store.require(subject, "portraits");
      sink.put(name, bytes);
    }
    store.require(subject, "portraits");
    sink.commit();
  } catch (const Error& e) {
    const std::string left = sink.abandon();
    // Forgotten while the job ran: what the job kept of them before this
    // point (analyses, the set record) goes too.
    if (e.code() == ErrorCode::no_consent && store.latest(subject).id.empty()) store.forget(subject);
    ErrorInfo info = e.info();
    info.message += left.empty() ? " (nothing was written)" : " (" + left + ")";
    throw Error(info);
  }
}

json shoot(const ShootOptions& opt, JobContext& ctx) {
  const std::vector<std::string> files = opt.ref_files.empty() ? list_images(opt.refs_dir) : opt.ref_files;
  const ShootPlan plan = plan_shoot(opt, files, ctx);
  // The folder is checked before the work, the files are written after it:
  // the write phase is short, and a failed render writes nothing.
  FolderSink sink(Store::open(), opt.subject, opt.out_dir);
  const ShootFiles made = render_shoot(plan, sink, ctx, {opt.sign_cert, opt.sign_key, opt.cache});
  deliver(made, sink, opt.subject, consent_of(ctx));
  return made.report;
}

ShootFiles render_shoot(const ShootPlan& plan, const OutputSink& names, JobContext& ctx, const RenderOptions& ro) {
  ShootFiles made;
  auto& files = made.files;
  const ShootSpec& opt = plan.spec;
  SetCheck set = plan.set;  // a copy: the plan stays as planned
  const ConsentRecord& consent = plan.consent;
  const std::string& stored = plan.set_record;
  // Sources in the check's ranking; a portrait that fails the likeness gate is
  // re-rendered from the next one (at most three sources are tried).
  struct Source {
    std::shared_ptr<Frame> frame;
    std::string key;
    std::string sha256, mime;
  };
  const std::string& use = plan.use;  // checked against the consent
  // Every portrait carries a signed C2PA manifest (JPEG APP11, PNG caBX).
  const Signer signer = ro.sign_cert.empty() ? Signer::installation() : Signer::from_files(ro.sign_cert, ro.sign_key);
  std::map<int, Source> sources;
  auto source_of = [&](int photo) -> Source& {
    auto it = sources.find(photo);
    if (it != sources.end()) return it->second;
    const std::string& file = set.photos[photo].a.file;
    const std::string bytes = read_file(file, DecodeLimits{}.max_bytes);
    Source s;
    s.frame = std::make_shared<Frame>();
    const DecodedImage d = decode_image_bytes(bytes, file);
    s.frame->image = d.bgr;
    // The subject intake chose in this photo: the faces stage takes it
    // rather than guessing again (a group photo's main face may be another).
    if (const AnalysedFace* f = set.photos[photo].subject_face()) s.frame->subject_hint = f->face.box;
    const cv::Rect2f& h = s.frame->subject_hint;
    s.sha256 = sha256_hex(bytes);
    s.key = Sha256()
                .field("source")
                .field(s.sha256)
                .field(std::to_string(h.x) + "," + std::to_string(h.y) + "," + std::to_string(h.width) + "," +
                       std::to_string(h.height))
                .hex();
    s.mime = "image/" + d.format;
    return sources.emplace(photo, std::move(s)).first->second;
  };
  const int max_tries = std::min<int>(3, int(set.ranking.size()));

  // Each variation starts from another of the best-ranked sources in turn
  // (the source photo is a variation too), the others its fallbacks. They
  // are rendered grouped by that source, so a source's analysis is reused
  // from the cache before other sources' steps push it out.
  const bool vary_source = find_purpose(plan.prompt.purpose).varies("source");
  auto first_source = [&](int v) { return vary_source ? v % max_tries : 0; };
  std::vector<int> order(opt.count);
  for (int v = 0; v < opt.count; ++v) order[v] = v;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return first_source(a) < first_source(b); });
  FrameCache cache;
  // The job's memo (ESRGAN's enlargement of a head, shared by its crops),
  // with the step cache or not at all; the caller's context is left as it was.
  ResultMemo memo;
  ResultMemo* const outer_memo = ctx.memo;
  ctx.memo = ro.cache ? &memo : nullptr;
  // Progress through the whole render: slots done, and the step within the
  // recipe running now.
  int slots_done = 0;
  const Recipe* running = nullptr;
  const auto outer_progress = ctx.on_progress;
  if (outer_progress)
    ctx.on_progress = [&](const Progress& p) {
      Progress q = p;
      double within = 0;
      if (running && !running->steps.empty()) {
        const auto& steps = running->steps;
        const auto it = std::find_if(steps.begin(), steps.end(), [&](const Step& s) { return s.stage == p.stage; });
        within = it == steps.end() ? 1.0 : (double(it - steps.begin()) + p.fraction) / double(steps.size() + 1);
      }
      q.job = std::clamp((slots_done + within) / opt.count, 0.0, 1.0);
      outer_progress(q);
    };
  struct Restore {
    JobContext& ctx;
    ResultMemo* memo;
    std::function<void(const Progress&)> progress;
    ~Restore() {
      ctx.memo = memo;
      ctx.on_progress = progress;
    }
  } restore{ctx, outer_memo, outer_progress};
  // A portrait too like one already made (on 64x80 thumbnails, a mean
  // difference under kDistinct levels of 255: the key's side the photo's
  // own already, everything else fixed by the request) is not a choice:
  // another variation of the same slot is tried instead, twice at most
  // (numbers count + 1 apart: the key's side flips between them).
  constexpr double kDistinct = 3.0;
  std::vector<std::pair<int, cv::Mat>> thumbs;  // slot, thumbnail
  auto thumbnail = [](const cv::Mat& bgr) {
    cv::Mat t;
    cv::resize(bgr, t, cv::Size(64, 80), 0, 0, cv::INTER_AREA);
    t.convertTo(t, CV_32F);
    return t;
  };
  // A portrait that passed: everything needed to name, sign and write it
  // once the variations are ranked.
  struct Made {
    int variation = 0;
    json entry;  // without file names
    std::string encoded, extension, edit_map_png, source_sha256, source_mime;
    std::vector<C2paAction> actions;
    cv::Mat preview;         // for the contact sheet
    std::string before_jpg;  // RenderOptions::before
    double choice = 0;
  };
  std::vector<Made> passed;
  std::vector<json> refused;  // slots nothing passed for
  for (const int v : order) {
    json attempts = json::array();
    bool done = false;
    for (int round = 0; round < 3 && !done; ++round) {
      const Recipe recipe = build_recipe(plan.prompt, v + round * (opt.count + 1), opt.overrides);
      bool too_alike = false;
      for (int t = 0; t < max_tries && !too_alike; ++t) {
        const int photo = set.ranking[(first_source(v) + t) % max_tries];
        const std::string& source_file = set.photos[photo].a.file;
        ctx.item = "portrait " + std::to_string(v + 1) + "/" + std::to_string(opt.count) + " from " +
                   fs::path(source_file).filename().string();
        Source& src = source_of(photo);
        running = &recipe;
        RunResult run = run_recipe(src.frame, src.key, recipe, ctx, ro.cache ? &cache : nullptr);
        const Frame& out = *run.frame;

        // The portrait as written, analysed as a photo is: its face, likeness
        // against the set (leaving out the photo it was made from, so it
        // compares like with the leave-one-out baseline), technical quality,
        // and what it shows against what was asked.
        ctx.report("likeness", 0);
        const PhotoAnalysis analysed = analyse_image_bytes(out.encoded, "portrait");
        const DecodedImage decoded = decode_image_bytes(out.encoded, "portrait");
        std::vector<Face> faces;
        for (const auto& f : analysed.faces) faces.push_back(f.face);
        const int s = FaceAnalyzer::main_subject(faces, decoded.bgr.size());
        const auto& emb_photo = set.embedding_photo;
        const int exclude = int(std::find(emb_photo.begin(), emb_photo.end(), photo) - emb_photo.begin());
        LikenessScore score;
        float source_sim = 0;
        if (s >= 0 && !faces[s].embedding.empty()) {
          score = score_likeness(faces[s].embedding, set.embeddings, set.baseline, exclude);
          source_sim = similarity(faces[s].embedding, set.embeddings[exclude]);
        }
        json likeness = score.to_json();
        likeness["source_similarity"] = std::round(source_sim * 10000) / 10000;
        if (!score.passed) {
          attempts.push_back(
              {{"source", source_file},
               {"likeness", likeness},
               {"refused", s < 0 ? "no face found in the output" : "likeness below the person's baseline band"}});
          continue;
        }
        const cv::Mat thumb = thumbnail(decoded.bgr);
        for (const auto& [slot, other] : thumbs) {
          const cv::Scalar d = cv::mean(cv::abs(thumb - other));
          const double diff = (d[0] + d[1] + d[2]) / 3;
          if (diff < kDistinct) {
            attempts.push_back({{"source", source_file},
                                {"likeness", likeness},
                                {"refused", cv::format("too like variation %d (mean difference %.1f levels): another "
                                                       "variation tried",
                                                       slot + 1, diff)}});
            too_alike = true;
            break;
          }
        }
        if (too_alike) break;
        thumbs.emplace_back(v, thumb);

        const PortraitMeasures measures = measure_portrait(decoded.bgr, out.alpha, out.outside, &faces[s]);
        const Recipe resolved = recipe.resolved();
        const json fit = request_fit(measures, resolved, out.edits);
        const TechnicalQuality quality = technical_quality(analysed.faces[s].m);
        const Choice choice = choice_of(score, set.baseline, quality.score, fit["score"]);
        json timings = json::object();
        for (const auto& st : run.steps) timings[st.stage] = std::round(st.ms * 10) / 10;
        std::string summary;
        for (const auto& e : out.edits) summary += (summary.empty() ? "" : "; ") + e;
        Made m;
        m.variation = v;
        m.choice = choice.score;
        m.encoded = out.encoded;
        m.extension = format_extension(format_from_name(out.encoded_format));
        m.edit_map_png = encode_image(edit_map(out, recipe), ImageFormat::png, 0);
        m.source_sha256 = src.sha256;
        m.source_mime = src.mime;
        m.actions = manifest_actions(resolved, &run.steps);
        m.preview = fit_into(decoded.bgr, cv::Size(320, 400));
        if (ro.before && out.plan.valid())
          m.before_jpg =
              encode_image(warp_reduced(src.frame->image, out.plan.output_from_source(), out.plan.canvas, 2.0,
                                        cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(128, 128, 128)),
                           ImageFormat::jpeg, 90);
        m.entry = {{"variation", v + 1},
                   {"summary", summary.empty() ? "framed only; every pixel is the photo's own" : summary},
                   {"source", source_file},
                   {"likeness", likeness},
                   {"quality", {{"score", round_to(quality.score, 0.001)}, {"parts", quality.parts}}},
                   {"fit", fit},
                   {"measures", measures.to_json()},
                   {"choice", choice.to_json()},
                   {"passed", true},
                   {"digital_source_type", out.source_type},
                   {"edits", out.edits},
                   {"recipe", resolved.to_json()},
                   {"provenance", run.provenance()},
                   {"timings_ms", timings}};
        passed.push_back(std::move(m));
        done = true;
        break;
      }
      // Below the gate from every source: another variation would not make
      // the person more recognisable; only a portrait too like another is
      // tried again.
      if (!too_alike) break;
    }
    ++slots_done;
    running = nullptr;
    ctx.check_cancel();
    if (!done)
      refused.push_back(
          {{"variation", v + 1},
           {"file", ""},
           {"passed", false},
           {"refused",
            std::any_of(attempts.begin(), attempts.end(),
                        [](const json& a) { return a.value("refused", "").rfind("too like", 0) == 0; })
                ? "every variation tried was too like another portrait or below the person's likeness gate; "
                  "nothing was written: the request leaves too little to vary (fewer portraits, or fewer fixed "
                  "settings)"
                : "every source tried fell below the person's likeness gate; nothing was written"},
           {"attempts", attempts}});
    else
      passed.back().entry["attempts"] = attempts;
  }

  // Best first: portrait_01 is the one to look at first. Named, signed and
  // put in the job's files in that order.
  std::stable_sort(passed.begin(), passed.end(), [](const Made& a, const Made& b) { return a.choice > b.choice; });
  json portraits = json::array();
  std::vector<SheetTile> tiles;
  const UsageRights rights{consent.uses, consent.id};
  for (size_t r = 0; r < passed.size(); ++r) {
    Made& m = passed[r];
    char name[64];
    std::snprintf(name, sizeof name, "portrait_%02d.%s", int(r) + 1, m.extension.c_str());
    const std::string path = names.locate(name);
    const std::string sidecar = fs::path(path).replace_extension(".json").string();
    const std::string map_path = fs::path(path).replace_extension(".edits.png").string();
    // The manifest: the source as parentOf ingredient (its hash only), then
    // one action per stage that changed pixels, with its parameters.
    ManifestInput mi;
    mi.source_sha256 = m.source_sha256;
    mi.source_format = m.source_mime;
    mi.title = name;
    mi.consent_id = consent.id;
    mi.uses = rights.uses;
    mi.model_release = rights.release_status();
    mi.actions = m.actions;
    files.emplace_back(name, sign_c2pa(embed_usage_rights(m.encoded, rights), mi, signer));
    // The edit map: per pixel, how much each kind of change touched it
    // (blue: synthesised backdrop; black: the photo's own pixels).
    files.emplace_back(fs::path(map_path).filename().string(), m.edit_map_png);
    json entry = {{"rank", int(r) + 1}, {"file", path}, {"sidecar", sidecar}, {"edit_map", map_path}};
    if (!m.before_jpg.empty()) {
      const std::string before = fs::path(path).replace_extension(".before.jpg").string();
      files.emplace_back(fs::path(before).filename().string(), m.before_jpg);
      entry["before"] = before;
    }
    entry["usage"] = {{"use", use}, {"permitted", rights.uses}, {"model_release", rights.release_status()}};
    entry.update(m.entry);
    // The sidecar: the executed recipe and its provenance, beside the image.
    const json side = {{"file", name},
                       {"rank", int(r) + 1},
                       {"digital_source_type", entry["digital_source_type"]},
                       {"edits", entry["edits"]},
                       {"likeness", entry["likeness"]},
                       {"quality", entry["quality"]},
                       {"fit", entry["fit"]},
                       {"recipe", entry["recipe"]},
                       {"provenance", entry["provenance"]},
                       {"generator", std::string("likeness ") + LIKENESS_VERSION}};
    files.emplace_back(fs::path(sidecar).filename().string(), side.dump(2) + "\n");
    tiles.push_back(variation_tile(m.preview, entry, set.baseline));
    portraits.push_back(std::move(entry));
  }
  for (json& e : refused) {
    tiles.push_back(variation_tile(cv::Mat(), e, set.baseline));
    portraits.push_back(std::move(e));
  }
  // The contact sheet: the variations side by side, best first, each with
  // its likeness badge.
  const std::string sheet_path = names.locate("contact_sheet.jpg");
  files.emplace_back("contact_sheet.jpg",
                     encode_image(badge_sheet(tiles, cv::Size(240, 300), 70, 4), ImageFormat::jpeg, 90));

  json check = set.to_json();
  json report = {
      {"portraits", portraits},
      {"references", check["photos"]},
      {"ranking", check["ranking"]},
      {"coverage", check["coverage"]},
      {"reference_advice", check["advice"]},
      {"baseline", check["baseline"]},
      {"set_record", stored},
      {"consent", {{"record", consent.id}, {"basis", consent.basis}, {"retention_until", consent.retention_until}}},
      {"purpose", opt.purpose},
      {"prompt",
       [&] {
         json refused = json::array();
         for (const auto& r : plan.prompt.refused) refused.push_back({{"phrase", r.phrase}, {"why", r.why}});
         return json{{"text", opt.prompt},
                     {"applied", plan.prompt.applied},
                     {"not_applied", plan.prompt.not_applied},
                     {"not_understood", plan.prompt.not_understood},
                     {"refused", refused}};
       }()},
      {"contact_sheet", sheet_path},
      {"choice_weights", Choice::weights()},
      {"cache_hits", cache.hits()},
      {"reused_results", memo.hits()}};
  files.emplace_back("report.json", report.dump(2) + "\n");
  made.report = std::move(report);
  return made;
}

Comparison compare_photos(const std::string& a, const std::string& b) {
  const std::vector<float> emb[2] = {main_embedding(a), main_embedding(b)};
  Comparison c;
  c.similarity = similarity(emb[0], emb[1]);
  c.threshold = kSamePersonThreshold;
  c.same_person = c.similarity >= c.threshold;
  return c;
}

}  // namespace likeness
