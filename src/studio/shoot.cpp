#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/studio.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {
struct Reference {
  std::string file;
  bool usable = false;
  std::string problem;
  double quality = 0;
  float face_px = 0;
  std::vector<float> embedding;
};

// Sharpness of the face: variance of the Laplacian on the face scaled to 128 px.
double face_sharpness(const cv::Mat& bgr, const cv::Rect2f& box) {
  cv::Rect r(box);
  r &= cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (r.area() < 16) return 0;
  cv::Mat grey, small, lap;
  cv::cvtColor(bgr(r), grey, cv::COLOR_BGR2GRAY);
  cv::resize(grey, small, cv::Size(128, 128), 0, 0, cv::INTER_AREA);
  cv::Laplacian(small, lap, CV_32F);
  cv::Scalar mean, sd;
  cv::meanStdDev(lap, mean, sd);
  return sd[0] * sd[0];
}

// A photo decoded and analysed at the analysis size (long side <= 1280 px).
struct AnalysedPhoto {
  DecodedImage decoded;
  cv::Mat work;  // the analysed pixels
  double scale = 1;
  std::vector<Face> faces;
  int subject = -1;
};

AnalysedPhoto analyse_photo(const std::string& file) {
  constexpr int kAnalysis = 1280;
  AnalysedPhoto a;
  DecodeLimits lim;
  lim.shrink_to = kAnalysis;  // analysis needs no more; shrink-on-load is fast
  a.decoded = decode_image(file, lim);
  a.work = a.decoded.bgr;
  a.scale = std::min(1.0, double(kAnalysis) / std::max(a.work.cols, a.work.rows));
  if (a.scale < 1) cv::resize(a.decoded.bgr, a.work, cv::Size(), a.scale, a.scale, cv::INTER_AREA);
  a.faces = FaceAnalyzer::shared().analyze(a.work);
  a.subject = FaceAnalyzer::main_subject(a.faces, a.work.size());
  if (a.subject >= 0 && a.faces[a.subject].embedding.empty()) a.subject = -1;
  return a;
}

Reference analyse_reference(const std::string& file, JobContext& ctx) {
  Reference ref;
  ref.file = file;
  try {
    ctx.report("analyse", 0);
    const AnalysedPhoto a = analyse_photo(file);
    if (a.subject < 0) {
      ref.problem = "no face found";
      return ref;
    }
    const Face& f = a.faces[a.subject];
    ref.embedding = f.embedding;
    // Eye distance in the photo's own pixels (before shrinking).
    ref.face_px = float(f.eye_distance() / a.scale * a.decoded.source_width / std::max(1, a.decoded.bgr.cols));
    const double sharp = face_sharpness(a.work, f.box);
    ref.quality = f.score * std::min(1.0, f.eye_distance() / 50.0) * (0.4 + 0.6 * std::min(1.0, sharp / 150.0));
    ref.usable = true;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::bad_input) throw;
    ref.problem = e.info().message;
  }
  return ref;
}

float median(std::vector<float> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_bad_input(dir, "not a folder of photos");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* ok : {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff"})
      if (ext == ok) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw_bad_input(dir, "holds no photos (.jpg, .png, .webp, .heic, .tif)");
  if (files.size() > 20) files.resize(20);
  return files;
}

json shoot(const ShootOptions& opt, JobContext& ctx) {
  const std::vector<std::string> files = opt.ref_files.empty() ? list_images(opt.refs_dir) : opt.ref_files;
  std::vector<Reference> refs;
  for (size_t i = 0; i < files.size(); ++i) {
    ctx.item = fs::path(files[i]).filename().string() + " (" + std::to_string(i + 1) + "/" +
               std::to_string(files.size()) + ")";
    ctx.check_cancel();
    refs.push_back(analyse_reference(files[i], ctx));
  }
  json refs_json = json::array();
  int best = -1;
  for (size_t i = 0; i < refs.size(); ++i) {
    const Reference& r = refs[i];
    refs_json.push_back({{"file", r.file},
                         {"usable", r.usable},
                         {"problem", r.problem},
                         {"quality", std::round(r.quality * 1000) / 1000},
                         {"eye_distance_px", std::round(r.face_px)}});
    if (r.usable && (best < 0 || r.quality > refs[best].quality)) best = int(i);
  }
  if (best < 0) {
    std::string why;
    for (const auto& r : refs) why += "\n  " + r.file + ": " + r.problem;
    throw Error(ErrorCode::bad_input, "no usable reference photo:" + why);
  }

  const PromptPlan plan = plan_prompt(opt.prompt, opt.purpose);
  const std::string source_file = refs[best].file;
  ctx.item = fs::path(source_file).filename().string();
  const std::string bytes = read_file(source_file, DecodeLimits{}.max_bytes);
  auto source = std::make_shared<Frame>();
  source->image = decode_image_bytes(bytes, source_file).bgr;
  const std::string source_key = Sha256().field("source").field(sha256_hex(bytes)).hex();

  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + opt.out_dir + ": " + ec.message());

  std::vector<std::vector<float>> ref_embeddings;
  for (const auto& r : refs)
    if (r.usable) ref_embeddings.push_back(r.embedding);
  const float baseline = kSamePersonThreshold;

  FrameCache cache;
  json portraits = json::array();
  for (int v = 0; v < opt.count; ++v) {
    ctx.item = "portrait " + std::to_string(v + 1) + "/" + std::to_string(opt.count);
    Recipe recipe = build_recipe(plan, v);
    for (auto& step : recipe.steps)
      if (opt.overrides.contains(step.stage))
        for (const auto& [k, val] : opt.overrides[step.stage].items()) step.params[k] = val;
    RunResult run = run_recipe(source, source_key, recipe, ctx, &cache);
    const Frame& out = *run.frame;

    // Likeness: the output's subject against every usable reference.
    ctx.report("likeness", 0);
    DecodedImage decoded = decode_image_bytes(out.encoded, "portrait");
    auto faces = FaceAnalyzer::shared().analyze(decoded.bgr);
    const int s = FaceAnalyzer::main_subject(faces, decoded.bgr.size());
    std::vector<float> sims;
    if (s >= 0)
      for (const auto& e : ref_embeddings) sims.push_back(similarity(faces[s].embedding, e));
    const float likeness = median(sims);
    const bool passed = s >= 0 && likeness >= baseline;

    char name[64];
    std::snprintf(name, sizeof name, "portrait_%02d.%s", v + 1,
                  format_extension(format_from_name(out.encoded_format)).c_str());
    const std::string path = (fs::path(opt.out_dir) / name).string();
    json timings = json::object();
    for (const auto& st : run.steps) timings[st.stage] = std::round(st.ms * 10) / 10;
    json entry = {{"file", passed ? path : ""},
                  {"source", source_file},
                  {"likeness", std::round(likeness * 10000) / 10000},
                  {"baseline", std::round(baseline * 10000) / 10000},
                  {"passed", passed},
                  {"digital_source_type", out.source_type},
                  {"edits", out.edits},
                  {"recipe", recipe.resolved().to_json()},
                  {"provenance", run.provenance()},
                  {"timings_ms", timings}};
    if (passed) {
      // The sidecar: the executed recipe and its provenance, beside the image.
      const std::string sidecar = fs::path(path).replace_extension(".json").string();
      entry["sidecar"] = sidecar;
      const json side = {{"file", fs::path(path).filename().string()},
                         {"digital_source_type", out.source_type},
                         {"edits", out.edits},
                         {"recipe", entry["recipe"]},
                         {"provenance", entry["provenance"]},
                         {"generator", std::string("likeness ") + LIKENESS_VERSION}};
      write_file_atomic(path, out.encoded);
      write_file_atomic(sidecar, side.dump(2) + "\n");
    } else {
      entry["refused"] = s < 0 ? "no face found in the output" : "likeness below the person's baseline";
    }
    portraits.push_back(std::move(entry));
  }

  json report = {{"portraits", portraits},
                 {"references", refs_json},
                 {"purpose", opt.purpose},
                 {"prompt", {{"text", opt.prompt}, {"applied", plan.applied}, {"not_applied", plan.not_applied}}},
                 {"baseline",
                  {{"kind", "calibrated_threshold"},
                   {"value", baseline},
                   {"note",
                    "the recogniser's same-person threshold calibrated on ../shared/faces/people; "
                    "per-person baselines come with reference intake"}}},
                 {"cache_hits", cache.hits()}};
  write_file_atomic((fs::path(opt.out_dir) / "report.json").string(), report.dump(2) + "\n");
  return report;
}

Comparison compare_photos(const std::string& a, const std::string& b) {
  std::vector<float> emb[2];
  const std::string files[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    const AnalysedPhoto a = analyse_photo(files[i]);
    if (a.subject < 0) throw_bad_input(files[i], "no face found");
    emb[i] = a.faces[a.subject].embedding;
  }
  Comparison c;
  c.similarity = similarity(emb[0], emb[1]);
  c.threshold = kSamePersonThreshold;
  c.same_person = c.similarity >= c.threshold;
  return c;
}

}  // namespace likeness
