// likeness — the command-line studio. Every stage parameter flag below is
// generated from the stages' own declarations.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <opencv2/core.hpp>
#include <sstream>

#include "likeness/c2pa.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/inference.hpp"
#include "likeness/intake.hpp"
#include "likeness/model_store.hpp"
#include "likeness/process.hpp"
#include "likeness/rank.hpp"
#include "likeness/service.hpp"
#include "likeness/store.hpp"
#include "likeness/studio.hpp"
#include "likeness/upscale.hpp"
#include "likeness/xmp.hpp"
#include "progress.hpp"

#ifndef LIKENESS_DEMO_IMAGE
#define LIKENESS_DEMO_IMAGE "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"
#endif

namespace fs = std::filesystem;
using namespace likeness;

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 internal error (missing model, disk), 2 usage, 3 bad input (unreadable image, no face, "
    "no usable photo; verify: no manifest), 4 verify: invalid or tampered, 5 no valid consent record, 6 cancelled, "
    "7 the shared database (PostgreSQL) cannot be reached.";

// --<stage>-<key> flags for every declared parameter.
struct StageFlags {
  std::map<std::pair<std::string, std::string>, std::string> values;

  void add_to(CLI::App* app) {
    for (const Stage* s : all_stages()) {
      for (const ParamSpec& p : s->params()) {
        std::string flag = "--" + s->id() + "-" + p.key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        const std::string help = p.help + " [" + p.allowed() + "; default " + p.default_value.dump() + "]";
        app->add_option(flag, values[{s->id(), p.key}], help)->group("Stage parameters (" + s->id() + ")");
      }
    }
  }

  json overrides() const {
    json out = json::object();
    for (const auto& [k, text] : values) {
      if (text.empty()) continue;
      const Stage& s = find_stage(k.first);
      for (const ParamSpec& p : s.params())
        if (p.key == k.second) out[k.first][k.second] = parse_param_text(s.id(), p, text);
    }
    return out;
  }
};

void parse_size(const std::string& text, json& overrides) {
  int w = 0, h = 0;
  char x = 0;
  if (text.empty()) return;
  if (std::sscanf(text.c_str(), "%d%c%d", &w, &x, &h) != 3 || (x != 'x' && x != 'X'))
    throw Error(ErrorCode::usage, "--size wants WIDTHxHEIGHT, e.g. 1024x1280 (got '" + text + "')");
  const Stage& frame = find_stage("frame");
  for (const ParamSpec& p : frame.params()) {
    if (p.key == "width") overrides["frame"]["width"] = parse_param("frame", p, w);
    if (p.key == "height") overrides["frame"]["height"] = parse_param("frame", p, h);
  }
}

long peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

void print_shoot(const json& report, const std::string& out_dir) {
  for (const auto& n : report["prompt"]["not_applied"]) std::cerr << "note: prompt " << n.get<std::string>() << "\n";
  for (const auto& n : report["prompt"]["not_understood"])
    std::cerr << "note: prompt '" << n.get<std::string>() << "' not understood: rephrase it\n";
  for (const auto& r : report["prompt"]["refused"])
    std::cerr << "note: prompt '" << r["phrase"].get<std::string>() << "' refused: " << r["why"].get<std::string>()
              << "\n";
  for (const auto& r : report["references"])
    if (r["verdict"] == "reject")
      std::cerr << "skipped " << r["file"].get<std::string>() << ": " << r["advice"].get<std::string>() << "\n";
  const json& b = report["baseline"];
  std::printf("baseline: %s, gate %.3f\n",
              b["kind"] == "leave_one_out" ? "your photos' leave-one-out likeness" : "calibrated threshold (one photo)",
              b["gate"].get<double>());
  for (const auto& p : report["portraits"]) {
    for (const auto& a : p["attempts"])
      std::printf("re-rendering: a portrait from %s scored likeness %.3f (gate %.3f)\n",
                  a["source"].get<std::string>().c_str(), a["likeness"]["raw"].get<double>(),
                  a["likeness"]["gate"].get<double>());
    if (p["passed"].get<bool>() && b["kind"] == "leave_one_out")
      std::printf(
          "#%d %s  likeness %.3f (gate %.3f; %.0f%% of your own photos match each other at or below it), "
          "quality %.2f, fit %s\n",
          p["rank"].get<int>(), p["file"].get<std::string>().c_str(), p["likeness"]["raw"].get<double>(),
          p["likeness"]["gate"].get<double>(), 100 * p["likeness"]["band_position"].get<double>(),
          p["quality"]["score"].get<double>(),
          p["fit"]["score"].is_number() ? cv::format("%.2f", p["fit"]["score"].get<double>()).c_str() : "n/a");
    else if (p["passed"].get<bool>())
      std::printf("#%d %s  likeness %.3f to your one photo (gate %.3f)\n", p["rank"].get<int>(),
                  p["file"].get<std::string>().c_str(), p["likeness"]["raw"].get<double>(),
                  p["likeness"]["gate"].get<double>());
    else
      std::printf("refused a portrait: %s\n", p["refused"].get<std::string>().c_str());
  }
  std::printf("contact sheet: %s\nreport: %s\n", report["contact_sheet"].get<std::string>().c_str(),
              (fs::path(out_dir) / "report.json").string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  tune_process_memory();
  // A purpose by name or alias (data/purposes/), refused with the list.
  const CLI::Validator purpose_check(
      [](std::string& v) {
        try {
          v = find_purpose(v).name;
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      },
      "PURPOSE");
  CLI::App app{"likeness — professional portraits from your own photos, refined, never replaced.\n" +
               std::string(kExitCodes)};
  app.set_version_flag("--version", std::string("likeness ") + LIKENESS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  bool quiet = false;
  int threads = 2;
  app.add_flag("-q,--quiet", quiet, "No progress output");
  app.add_option("--threads", threads, "Worker threads")->check(CLI::Range(1, 64));
  app.footer(kExitCodes);

  // shoot
  ShootOptions so;
  std::string size;
  StageFlags shoot_flags;
  auto* shoot_cmd = app.add_subcommand("shoot", "Make portraits from a folder of your photos");
  shoot_cmd->add_option("--refs", so.refs_dir, "Folder with 1-20 photos of the person")->required();
  shoot_cmd->add_option("--subject", so.subject, "The person's id in the consent records (likeness consent grant)");
  shoot_cmd->add_option("--out", so.out_dir, "Output folder")->required();
  shoot_cmd->add_option("--prompt", so.prompt, "What you want: \"navy backdrop, head-and-shoulders\"");
  auto add_fields = [](CLI::App* cmd, PromptFields& f) {
    cmd->add_option("--attire", f.attire, "Subject and attire, read after the prompt: \"navy blazer\"");
    cmd->add_option("--setting", f.setting, "Setting and background: \"blurred city skyline\"");
    cmd->add_option("--lighting", f.lighting, "Lighting: \"soft window light from the left\"");
    cmd->add_option("--composition", f.composition, "Composition and style: \"headshot, black and white\"");
  };
  add_fields(shoot_cmd, so.fields);
  std::string plan_prompt_text, plan_purpose = "corporate";
  PromptFields plan_fields;
  bool plan_as_json = false;
  auto* plan_cmd = app.add_subcommand(
      "plan",
      "Print the recipe a prompt and purpose would run, each parameter with its origin, and what of the "
      "prompt was not understood or refused");
  plan_cmd->add_option("--prompt", plan_prompt_text, "What you want, in words");
  plan_cmd->add_option("--purpose", plan_purpose, "What the portraits are for: " + purpose_list())
      ->check(purpose_check);
  add_fields(plan_cmd, plan_fields);
  plan_cmd->add_flag("--json", plan_as_json, "As JSON: recipe, origins, not_understood, refused");
  shoot_cmd->add_option("--purpose", so.purpose, "What the portraits are for: " + purpose_list())->check(purpose_check);
  shoot_cmd
      ->add_option("--use", so.use,
                   "What the portraits will be used for: personal or commercial (default: the purpose's; the "
                   "consent must permit it, else exit 5)")
      ->check(CLI::IsMember({"personal", "commercial"}));
  shoot_cmd->add_option("--count", so.count, "Number of portraits")->check(CLI::Range(1, 20));
  shoot_cmd->add_option("--size", size, "Output size WIDTHxHEIGHT (default 1024x1280)");
  shoot_cmd
      ->add_option("--min-likeness", so.min_likeness,
                   "Refuse portraits below this likeness even if your baseline allows them")
      ->check(CLI::Range(0.0, 1.0));
  shoot_cmd->add_option("--sign-cert", so.sign_cert, "Your own C2PA signing certificate chain (PEM, leaf first)");
  shoot_cmd->add_option("--sign-key", so.sign_key, "The private key of --sign-cert (PEM, ECDSA P-256)");
  shoot_flags.add_to(shoot_cmd);

  // team
  TeamOptions to;
  std::string team_size;
  StageFlags team_flags;
  auto* team_cmd = app.add_subcommand(
      "team",
      "One look for a whole team: the same backdrop, light, crop, eye line and grade for everyone, each "
      "person gated on their own likeness, and a consistency report");
  team_cmd
      ->add_option("DIR", to.dir,
                   "Folder with one folder of photos per person, each named by the person's subject id (each "
                   "needs a consent record)")
      ->required();
  team_cmd->add_option("--out", to.out_dir, "Output folder: one folder per person, team.json, team_sheet.jpg")
      ->required();
  team_cmd->add_option("--prompt", to.prompt, "The team's look: \"light grey backdrop, soft light\"");
  add_fields(team_cmd, to.fields);
  team_cmd->add_option("--purpose", to.purpose, "What the portraits are for: " + purpose_list())->check(purpose_check);
  team_cmd->add_option("--use", to.use, "personal or commercial (default: the purpose's)")
      ->check(CLI::IsMember({"personal", "commercial"}));
  team_cmd->add_option("--size", team_size, "Output size WIDTHxHEIGHT (default 1024x1280)");
  team_cmd->add_option("--sign-cert", to.sign_cert, "Your own C2PA signing certificate chain (PEM, leaf first)");
  team_cmd->add_option("--sign-key", to.sign_key, "The private key of --sign-cert (PEM, ECDSA P-256)");
  team_flags.add_to(team_cmd);

  // demo
  std::string demo_out = "demo-out";
  auto* demo_cmd =
      app.add_subcommand("demo", "Run shoot on the embedded public-domain sample (NASA astronaut portrait)");
  demo_cmd->add_option("--out", demo_out, "Output folder");

  // compare
  std::string cmp_a, cmp_b;
  bool cmp_json = false;
  auto* cmp_cmd = app.add_subcommand("compare", "Identity similarity of the main faces of two photos");
  cmp_cmd->add_option("A", cmp_a, "First photo")->required();
  cmp_cmd->add_option("B", cmp_b, "Second photo")->required();
  cmp_cmd->add_flag("--json", cmp_json, "JSON output");

  // cutout
  std::string cut_in, cut_out_path;
  auto* cut_cmd = app.add_subcommand(
      "cutout", "The person of a photo as RGBA PNG (their own edge colours + alpha): background removal");
  cut_cmd->add_option("PHOTO", cut_in, "Photo with a person")->required();
  cut_cmd->add_option("--out", cut_out_path, "Output .png")->required();

  // stage ID IN OUT --param value: one look stage alone, its parameters as
  // flags generated from their declarations.
  auto* stage_cmd = app.add_subcommand(
      "stage", "Run one look stage on a photo at its own size (the analysis it stands on first), signed");
  stage_cmd->require_subcommand(1);
  std::string st_in, st_out;
  std::map<std::string, std::map<std::string, std::string>> st_values;
  std::map<std::string, CLI::App*> st_cmds;
  for (const std::string& id : standalone_stages()) {
    const Stage& s = find_stage(id);
    auto* c = stage_cmd->add_subcommand(id, s.summary());
    c->add_option("IN", st_in, "Photo")->required();
    c->add_option("OUT", st_out, "Output .jpg or .png")->required();
    for (const ParamSpec& p : s.params()) {
      std::string flag = "--" + p.key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      c->add_option(flag, st_values[id][p.key],
                    p.help + " [" + p.allowed() + "; default " + p.default_value.dump() + "]");
    }
    st_cmds[id] = c;
  }

  // sheet
  std::string sheet_in, sheet_out, sheet_purpose = "corporate", sheet_size = "512x640";
  auto* sheet_cmd = app.add_subcommand(
      "sheet",
      "One photo through every light, wardrobe colour, polish level, grain and grade, with 100% crops of skin");
  sheet_cmd->add_option("PHOTO", sheet_in, "Photo")->required();
  sheet_cmd->add_option("OUT", sheet_out, "Contact sheet .jpg or .png")->required();
  sheet_cmd
      ->add_option("--purpose", sheet_purpose, "The purpose whose default recipe every tile varies: " + purpose_list())
      ->check(purpose_check);
  sheet_cmd->add_option("--size", sheet_size, "Each portrait's size WIDTHxHEIGHT (default 512x640)");

  // upscale
  std::string up_in, up_out, up_model = upscale_model_label(UpscaleOptions{}.model);
  int up_scale = 2;
  auto* up_cmd = app.add_subcommand(
      "upscale", "Enlarge a photo 2x or 4x with ESRGAN super-resolution (2x: the x4 network's output area-reduced)");
  up_cmd->add_option("IN", up_in, "Photo")->required();
  up_cmd->add_option("OUT", up_out, "Output .jpg, .png or .webp")->required();
  up_cmd->add_option("--scale", up_scale, "2 or 4");
  up_cmd->add_option("--model", up_model, "ESRGAN network: slim, medium or thick (default " + up_model + ")");

  // check
  std::vector<std::string> check_paths;
  bool check_json = false;
  std::string check_sheet;
  std::string rank_refs, rank_candidates, rank_sheet;
  bool rank_json = false;
  auto* rank_cmd = app.add_subcommand(
      "rank",
      "Score any folder of headshots (from any generator, photographer or this studio) against the person's "
      "own photos: likeness and its place in their band, a verdict (you, doubtful, not you), technical "
      "quality, ranked best first; nothing is stored unless --subject");
  rank_cmd->add_option("--refs", rank_refs, "Folder of 1-20 of the person's own photos")->required();
  rank_cmd->add_option("--candidates", rank_candidates, "Folder of headshots to rank")->required();
  rank_cmd->add_flag("--json", rank_json, "Every figure as JSON on stdout");
  rank_cmd->add_option("--sheet", rank_sheet, "Also write a contact sheet with badges (.jpg, .png or .webp)");
  std::string rank_subject;
  rank_cmd->add_option("--subject", rank_subject,
                       "Keep the analyses and the ranking in this person's store (needs their consent record for "
                       "likeness; forget deletes them)");
  auto* check_cmd = app.add_subcommand(
      "check", "Check reference photos: a verdict and advice per photo, coverage, your likeness baseline");
  check_cmd->add_option("DIR", check_paths, "Folder of 1-20 photos of the person (or the photo files)")->required();
  check_cmd->add_flag("--json", check_json, "Every figure as JSON on stdout");
  check_cmd->add_option("--sheet", check_sheet, "Also write a contact sheet (.jpg, .png or .webp)");
  std::string check_subject;
  check_cmd->add_option("--subject", check_subject,
                        "Keep the analyses and baseline with this consented subject (without it nothing is stored)");

  // consent, forget, purge, store
  std::string c_subject, c_by, c_behalf, c_purposes;
  int c_days = 0;
  bool c_json = false;
  auto* consent_cmd = app.add_subcommand("consent", "Consent records: nobody's likeness is processed without one");
  consent_cmd->require_subcommand(1);
  auto* grant_cmd = consent_cmd->add_subcommand("grant", "Record consent (prints the consent text it covers)");
  grant_cmd->add_option("--subject", c_subject, "The person's id (letters, digits, - _ .)")->required();
  grant_cmd->add_option("--by", c_by, "Who gives consent")->required();
  grant_cmd->add_option("--on-behalf-of", c_behalf, "If given for someone else: for whom");
  grant_cmd->add_option("--purposes", c_purposes, "Comma-separated: portraits,likeness")->required();
  grant_cmd->add_option("--retention", c_days, "Days the data may be kept (1-1095)")->required();
  std::string c_uses = "personal";
  grant_cmd->add_option("--uses", c_uses,
                        "Comma-separated: what the portraits may be used for, personal and/or commercial (the model "
                        "release; default personal)");
  auto* show_cmd = consent_cmd->add_subcommand("show", "Show a subject's consent record");
  show_cmd->add_option("--subject", c_subject, "The person's id")->required();
  auto* withdraw_cmd = consent_cmd->add_subcommand("withdraw", "Withdraw consent (shoot refuses afterwards)");
  withdraw_cmd->add_option("--subject", c_subject, "The person's id")->required();
  std::string forget_subject;
  auto* forget_cmd = app.add_subcommand("forget", "Delete everything the studio keeps about a subject, at once");
  forget_cmd->add_option("SUBJECT", forget_subject, "The person's id")->required();
  auto* purge_cmd = app.add_subcommand("purge", "Delete the data of every subject past retention or withdrawn");
  auto* store_cmd = app.add_subcommand("store", "List what the studio keeps, per subject");
  for (auto* c : {grant_cmd, show_cmd, withdraw_cmd, forget_cmd, purge_cmd, store_cmd})
    c->add_flag("--json", c_json, "JSON output");

  // verify
  std::string verify_file, verify_trust;
  bool verify_json = false;
  auto* verify_cmd = app.add_subcommand(
      "verify",
      "Check a portrait's Content Credentials: hash binding, signature, actions (exit 0 valid, 4 invalid, 3 none)");
  verify_cmd->add_option("FILE", verify_file, "A JPEG or PNG portrait")->required();
  verify_cmd->add_option("--trust", verify_trust, "Trust these CA certificates (PEM) instead of the installation's CA");
  verify_cmd->add_flag("--json", verify_json, "JSON output");

  // serve
  ServeOptions serve_opt;
  auto* serve_cmd = app.add_subcommand("serve", "The studio as a service: the HTTP API (docs/api.md) and the web page");
  serve_cmd->add_option("--port", serve_opt.port, "Port (0: a free one, printed)")->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--host", serve_opt.host, "Address to listen on (loopback unless you mean otherwise)");
  serve_cmd->add_option("--data", serve_opt.data_dir,
                        "Data folder (default: $LIKENESS_DATA or ~/.local/share/likeness)");
  serve_cmd->add_option("--web", serve_opt.web_dir, "The page's folder (default: the installation's web/)");
  auto* serve_db = serve_cmd->add_option(
      "--db", serve_opt.db,
      "A shared PostgreSQL database (postgresql://user@host:port/db) instead of the embedded store; jobs are then "
      "run by `likeness worker --db` processes, on any machine");
  serve_cmd->add_option("--workers", serve_opt.workers, "Jobs at once (default: one per two cores)")
      ->check(CLI::Range(1, 64))
      ->excludes(serve_db);
  serve_cmd->add_option("--threads-per-job", serve_opt.threads_per_job, "Each job's threads (default: cores / workers)")
      ->check(CLI::Range(1, 64))
      ->excludes(serve_db);
  serve_cmd->add_option("--queue", serve_opt.max_queued, "Jobs waiting at most; more answer 429")
      ->check(CLI::Range(1, 10000));
  size_t serve_upload_mb = serve_opt.max_upload >> 20;
  serve_cmd->add_option("--max-upload-mb", serve_upload_mb, "One request's files at most, MB (one photo: 40 MB)")
      ->check(CLI::Range(1, 4096));

  // worker
  WorkerOptions worker_opt;
  auto* worker_cmd = app.add_subcommand(
      "worker", "A worker of a studio on several machines: takes jobs from the PostgreSQL queue at --db");
  worker_cmd->add_option("--db", worker_opt.db, "The database (postgresql://user@host:port/db)")->required();
  worker_cmd->add_option("--jobs", worker_opt.jobs, "Jobs at once")->check(CLI::Range(1, 64));
  worker_cmd->add_option("--threads-per-job", worker_opt.threads_per_job, "Each job's threads (default: cores / jobs)")
      ->check(CLI::Range(1, 64));
  worker_cmd->add_option("--lease", worker_opt.lease_seconds, "A job's lease, seconds (renewed every third of it)")
      ->check(CLI::Range(1.0, 3600.0));
  worker_cmd->add_option("--name", worker_opt.name, "This worker's name in the queue (default: host:pid)");

  // keys
  std::string ca_out;
  auto* keys_cmd = app.add_subcommand("keys", "The installation's signing identity");
  auto* export_ca =
      keys_cmd->add_subcommand("export-ca", "Write the installation's CA certificate (PEM) so others can trust it");
  export_ca->add_option("FILE", ca_out, "Where to write it (- for stdout)")->required();
  keys_cmd->require_subcommand(1);

  // stages
  bool stages_json = false;
  auto* stages_cmd = app.add_subcommand("stages", "List the pipeline's stages and parameters");
  bool purposes_json = false;
  auto* purposes_cmd =
      app.add_subcommand("purposes", "List the purposes (data/purposes/*.json): each one's look and output sizes");
  purposes_cmd->add_flag("--json", purposes_json, "Every purpose as JSON");
  stages_cmd->add_flag("--json", stages_json, "JSON schema of every stage");

  // models
  bool models_json = false;
  auto* models_cmd = app.add_subcommand("models", "List the installed models with source and licence");
  models_cmd->add_flag("--json", models_json, "JSON output");

  // bench
  std::string bench_photo, bench_size = "1024x1280";
  int bench_repeat = 3;
  auto* bench_cmd = app.add_subcommand("bench", "Per-stage milliseconds and peak memory for one photo");
  std::string bench_check;
  auto* photo_opt = bench_cmd->add_option("--photo", bench_photo, "Photo to run through the pipeline");
  bench_cmd->add_option("--check", bench_check, "Instead: time `check` on this folder, every photo analysed afresh")
      ->excludes(photo_opt);
  bench_cmd->add_option("--size", bench_size, "Output size WIDTHxHEIGHT");
  std::string bench_upscale;
  bench_cmd
      ->add_option("--upscale", bench_upscale,
                   "Instead: time every ESRGAN network on a WIDTHxHEIGHT region of --photo (e.g. 512x640)")
      ->excludes("--check");
  bench_cmd->add_option("--repeat", bench_repeat, "Runs (median reported)")->check(CLI::Range(1, 50));
  std::string bench_shoot;
  int bench_count = 6;
  bench_cmd
      ->add_option("--shoot", bench_shoot,
                   "Instead: time `shoot --count N` on this folder of one person's photos, with and without the "
                   "step cache (in a temporary store)")
      ->excludes(photo_opt)
      ->excludes("--check");
  bench_cmd->add_option("--count", bench_count, "Variations for --shoot")->check(CLI::Range(1, 20));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_code(ErrorCode::usage);
  }

  try {
    // The budget of this command's job: its own helper threads for the
    // studio's and OpenCV's loops, its ONNX sessions, libvips's pipelines.
    const ThreadBudget budget(threads);
    set_image_io_threads(threads);
    JobContext ctx;
    ctx.threads = threads;
    cli::ProgressLine progress(!quiet);
    ctx.on_progress = [&](const Progress& p) { progress.update(p); };

    if (*shoot_cmd) {
      so.overrides = shoot_flags.overrides();
      parse_size(size, so.overrides);
      const json report = shoot(so, ctx);
      progress.finish();
      print_shoot(report, so.out_dir);
      return 0;
    }
    if (*team_cmd) {
      to.overrides = team_flags.overrides();
      parse_size(team_size, to.overrides);
      const json report = shoot_team(to, ctx);
      progress.finish();
      for (const auto& m : report["members"])
        std::printf("%-12s %s  likeness %.3f (gate %.3f), eye line %.1f%%\n", m["person"].get<std::string>().c_str(),
                    m["file"].get<std::string>().c_str(), m["likeness"]["raw"].get<double>(),
                    m["likeness"]["gate"].get<double>(), 100 * m["measures"].value("eye_line", 0.0));
      for (const auto& f : report["failed"])
        std::fprintf(stderr, "%s: not shot: %s\n", f["person"].get<std::string>().c_str(),
                     f["why"].get<std::string>().c_str());
      const json& c = report["consistency"];
      std::printf("backdrop spread: CIEDE2000 %.2f (target <= %.1f)%s\n",
                  c["backdrop_delta_e00"]["largest"].get<double>(), kTeamBackdropSpread,
                  c["backdrop_delta_e00"]["met"].get<bool>() ? "" : "  NOT MET");
      std::printf("eye line spread: %.1f%% of the height (target <= %.0f%%)%s\n",
                  100 * c["eye_line"]["spread"].get<double>(), 100 * kTeamEyeLineSpread,
                  c["eye_line"]["met"].get<bool>() ? "" : "  NOT MET");
      std::printf("face height spread: %.1f%%; skin light %ld K spread\n",
                  100 * c["face_height"]["spread"].get<double>(), c["skin_light_kelvin"]["spread"].get<long>());
      if (!report["members"].empty())
        std::printf("report: %s\nsheet: %s\n", (fs::path(to.out_dir) / "team.json").string().c_str(),
                    (fs::path(to.out_dir) / "team_sheet.jpg").string().c_str());
      // Everyone shot: 0; else the first failure's code (the others were still shot).
      return report["failed"].empty() ? 0 : report["failed"][0]["exit_code"].get<int>();
    }
    if (*demo_cmd) {
      ShootOptions d;
      d.ref_files = {LIKENESS_DEMO_IMAGE};
      d.out_dir = demo_out;
      d.prompt = "navy backdrop, head-and-shoulders";
      d.purpose = "corporate";
      d.count = 2;
      if (!fs::exists(LIKENESS_DEMO_IMAGE))
        throw Error(ErrorCode::internal, std::string("the demo sample ") + LIKENESS_DEMO_IMAGE +
                                             " is missing — run `make demo` (it installs python3-skimage)");
      std::printf("demo: NASA's public-domain astronaut portrait (%s)\n", LIKENESS_DEMO_IMAGE);
      // The sample is a public-domain NASA photo: its record's basis says so
      // instead of a person's consent.
      d.subject = "demo-astronaut";
      Store& store = Store::open();
      if (!store.latest(d.subject).valid_now())
        store.grant(d.subject, "NASA (public domain)", "", {"portraits", "likeness"}, 30, {"personal", "commercial"},
                    "public-domain sample");
      std::printf(
          "demo: subject 'demo-astronaut' is recorded with basis \"public-domain sample\" — no person's "
          "consent is involved; your own photos need `likeness consent grant` first\n");
      const json report = shoot(d, ctx);
      progress.finish();
      print_shoot(report, demo_out);
      std::printf("demo results are in %s/\n", demo_out.c_str());
      return 0;
    }
    if (*check_cmd) {
      if (!check_sheet.empty()) format_from_path(check_sheet);  // a bad extension fails before the work
      std::vector<std::string> files;
      for (const auto& p : check_paths) {
        if (fs::is_directory(p)) {
          for (auto& f : list_images(p)) files.push_back(f);
        } else {
          files.push_back(p);
        }
      }
      std::string stored;
      const SetCheck set = check_references(files, ctx, check_subject, "likeness", &stored);
      progress.finish();
      if (!check_sheet.empty()) write_contact_sheet(set, check_sheet);
      if (check_json) {
        json out = set.to_json();
        out["set_record"] = stored.empty() ? json(nullptr) : json(stored);
        std::cout << out.dump(2) << "\n";
      } else {
        std::cout << describe_set(set);
        if (!check_sheet.empty()) std::cout << "contact sheet: " << check_sheet << "\n";
      }
      if (set.ranking.empty()) {
        std::cerr << "likeness: no usable reference photo\n";
        return exit_code(ErrorCode::bad_input);
      }
      return 0;
    }
    if (*consent_cmd || *forget_cmd || *purge_cmd || *store_cmd) {
      Store& store = Store::open();
      json out;
      if (*grant_cmd) {
        std::vector<std::string> purposes;
        std::stringstream ss(c_purposes);
        for (std::string p; std::getline(ss, p, ',');)
          if (!p.empty()) purposes.push_back(p);
        std::vector<std::string> uses;
        std::stringstream us(c_uses);
        for (std::string u; std::getline(us, u, ',');)
          if (!u.empty()) uses.push_back(u);
        const ConsentRecord r = store.grant(c_subject, c_by, c_behalf, purposes, c_days, uses);
        out = r.to_json();
        std::string use_list;
        for (const auto& u : r.uses) use_list += (use_list.empty() ? "" : ", ") + u;
        if (!c_json)
          std::printf(
              "consent recorded: %s for subject '%s' until %s; the portraits may be used for: %s\nthe text agreed to "
              "(version %s, sha256 %s):\n  %s\n",
              r.id.c_str(), r.subject.c_str(), r.retention_until.c_str(), use_list.c_str(), r.text_version.c_str(),
              r.text_sha256.c_str(), consent_text().c_str());
      } else if (*show_cmd) {
        const ConsentRecord r = store.latest(c_subject);
        if (r.id.empty()) throw Error(ErrorCode::no_consent, "no consent record for subject '" + c_subject + "'");
        out = r.to_json();
        if (!c_json) std::cout << out.dump(2) << "\n";
      } else if (*withdraw_cmd) {
        if (!store.withdraw(c_subject))
          throw Error(ErrorCode::no_consent, "subject '" + c_subject + "' has no active consent to withdraw");
        out = store.latest(c_subject).to_json();
        if (!c_json)
          std::printf(
              "consent withdrawn for '%s'; shoot refuses this subject now. `likeness forget %s` deletes "
              "the data at once, `likeness purge` with the others.\n",
              c_subject.c_str(), c_subject.c_str());
      } else if (*forget_cmd) {
        out = store.forget(forget_subject);
        if (!c_json)
          std::printf(
              "forgot '%s': %d consent records, %d photo digests, %d files (analyses, baselines), %zu "
              "files shoot wrote (portraits, sidecars, edit maps, reports)\n",
              forget_subject.c_str(), out["consent_records"].get<int>(), out["photo_digests"].get<int>(),
              out["files"].get<int>(), out["outputs"].size());
        if (!c_json && !out["unfinished_jobs"].empty())
          std::printf("  and %zu folders of shoots that did not finish\n", out["unfinished_jobs"].size());
        if (!c_json)
          for (const auto& k : out["kept"]) std::printf("  kept %s\n", k.get<std::string>().c_str());
      } else if (*purge_cmd) {
        out = store.purge();
        if (!c_json) std::printf("purged %zu subjects past retention or withdrawn\n", out.size());
      } else {
        out = store.list();
        if (!c_json) std::cout << (out.empty() ? "the store holds nothing\n" : out.dump(2) + "\n");
      }
      if (c_json) std::cout << out.dump(2) << "\n";
      return 0;
    }
    if (*verify_cmd) {
      const std::string bytes = read_file(verify_file, DecodeLimits{}.max_bytes);
      const std::string trust = verify_trust.empty() ? "" : read_file(verify_trust, 1 << 20);
      const Verification v = verify_c2pa(bytes, trust);
      const json report = verification_report(bytes, v);
      const json& usage = report["usage"];
      if (verify_json) {
        std::cout << report.dump(2) << "\n";
      } else {
        std::printf("%s: %s%s\n", verify_file.c_str(), report["state"].get<std::string>().c_str(),
                    v.state == Verification::valid ? (v.trusted ? " (signed by a trusted CA)" : "") : "");
        if (!v.digital_source_type.empty()) std::printf("  source type: %s\n", v.digital_source_type.c_str());
        if (usage.contains("usage_terms"))
          std::printf("  usage terms: %s\n", usage["usage_terms"].get<std::string>().c_str());
        if (usage.contains("model_release_status"))
          std::printf("  model release: %s (%s)\n", usage["model_release_status"].get<std::string>().c_str(),
                      usage.value("model_release_id", std::string("no id")).c_str());
        if (usage.contains("signed_uses")) {
          std::string u;
          for (const auto& x : usage["signed_uses"]) u += (u.empty() ? "" : ", ") + x.get<std::string>();
          std::printf("  signed: permitted uses %s, consent record %s\n", u.c_str(),
                      usage.value("signed_consent_record", std::string("?")).c_str());
        }
        for (const auto& p : v.problems) std::printf("  problem: %s\n", p.c_str());
        if (v.manifest.contains("actions"))
          for (const auto& a : v.manifest["actions"]) {
            if (!a.is_object()) continue;  // a foreign manifest may hold anything
            auto text = [&](const char* k) { return a.contains(k) && a[k].is_string() ? a[k].get<std::string>() : ""; };
            std::string line = "  action: " + text("action");
            if (!text("description").empty()) line += " — " + text("description");
            std::string type = text("digitalSourceType");
            if (type.rfind(kDigitalSourceTypeBase, 0) == 0)
              type = type.substr(std::string(kDigitalSourceTypeBase).size());
            if (!type.empty()) line += " [" + type + "]";
            std::printf("%s\n", line.c_str());
          }
      }
      return int(v.state);
    }
    if (*serve_cmd) {
      serve_opt.max_upload = serve_upload_mb << 20;
      serve_opt.max_photo = std::min(serve_opt.max_photo, serve_opt.max_upload);
      return serve(serve_opt);
    }
    if (*worker_cmd) return run_worker(worker_opt);
    if (*keys_cmd) {
      const std::string pem = Signer::installation_ca_pem();
      if (ca_out == "-")
        std::cout << pem;
      else
        write_file_atomic(ca_out, pem);
      return 0;
    }
    if (*cut_cmd) {
      if (lower_extension(cut_out_path) != "png")
        throw Error(ErrorCode::usage, "cutout writes PNG (it has an alpha channel): name the output .png");
      const std::string bytes = read_file(cut_in, DecodeLimits{}.max_bytes);
      auto src = std::make_shared<Frame>();
      src->image = decode_image_bytes(bytes, cut_in).bgr;
      ctx.item = cut_in;
      const Cutout c = cut_out(src, Sha256().field("source").field(sha256_hex(bytes)).hex(), ctx);
      write_file_atomic(cut_out_path, encode_image(c.bgra, ImageFormat::png, 0));
      progress.finish();
      if (!quiet)
        std::printf("%s  %dx%d, person %.0f%% of the photo\n", cut_out_path.c_str(), c.bgra.cols, c.bgra.rows,
                    100 * cv::mean(c.frame->alpha)[0]);
      return 0;
    }
    if (*stage_cmd) {
      for (const auto& [id, c] : st_cmds) {
        if (!*c) continue;
        const Stage& s = find_stage(id);
        json params = json::object();
        for (const ParamSpec& p : s.params())
          if (!st_values[id][p.key].empty()) params[p.key] = parse_param_text(id, p, st_values[id][p.key]);
        ctx.item = st_in;
        const StandaloneResult r = run_stage_alone(id, st_in, params, format_from_path(st_out), ctx);
        write_file_atomic(st_out, r.bytes);
        progress.finish();
        if (!quiet) {
          std::string edits;
          for (const auto& e : r.frame->edits) edits += (edits.empty() ? "" : "; ") + e;
          std::printf("%s  %dx%d, %s\n", st_out.c_str(), r.frame->image.cols, r.frame->image.rows, edits.c_str());
        }
      }
      return 0;
    }
    if (*sheet_cmd) {
      json size;
      parse_size(sheet_size, size);
      const ImageFormat fmt = format_from_path(sheet_out);
      if (fmt == ImageFormat::webp) throw Error(ErrorCode::usage, "name the sheet .jpg or .png");
      ctx.item = sheet_in;
      const SheetResult r = make_sheet(sheet_in, sheet_purpose,
                                       {size["frame"]["width"].get<int>(), size["frame"]["height"].get<int>()}, ctx);
      write_file_atomic(sheet_out, encode_image(r.image, fmt, 90));
      progress.finish();
      if (!quiet) std::printf("%s  %dx%d, %zu tiles\n", sheet_out.c_str(), r.image.cols, r.image.rows, r.tiles.size());
      return 0;
    }
    if (*up_cmd) {
      UpscaleOptions uo;
      uo.scale = up_scale;
      uo.model = upscale_model_from_label(up_model);
      upscale_network(uo.model, uo.scale);  // a bad --scale or --model fails before the work
      const ImageFormat format = format_from_path(up_out);
      // The output limit, applied to the input's header before decoding.
      DecodeLimits limits;
      limits.max_pixels = kMaxUpscaledPixels / (uo.scale * uo.scale);
      const DecodedImage img = decode_image(up_in, limits);
      ctx.item = up_in;
      uo.ctx = &ctx;
      const cv::Mat big = upscale(img.bgr, uo);
      write_file_atomic(up_out, encode_image(big, format, 92));
      progress.finish();
      if (!quiet)
        std::printf("%s  %dx%d (%dx with ESRGAN %s)\n", up_out.c_str(), big.cols, big.rows, uo.scale, up_model.c_str());
      return 0;
    }
    if (*cmp_cmd) {
      const Comparison c = compare_photos(cmp_a, cmp_b);
      progress.finish();
      if (cmp_json) {
        std::cout
            << json{{"similarity", c.similarity}, {"same_person", c.same_person}, {"threshold", c.threshold}}.dump()
            << "\n";
      } else {
        std::printf("similarity %.4f — %s (threshold %.3f)\n", c.similarity,
                    c.same_person ? "same person" : "different people", c.threshold);
      }
      return 0;
    }
    if (*stages_cmd) {
      if (stages_json) {
        json out = {{"$schema", "https://json-schema.org/draft/2020-12/schema"}, {"title", "likeness stages"}};
        json stages = json::object();
        for (const Stage* s : all_stages()) {
          json props = json::object();
          for (const auto& p : s->params()) props[p.key] = p.schema();
          stages[s->id()] = {{"description", s->summary()},   {"version", s->version()},
                             {"models", s->models()},         {"type", "object"},
                             {"additionalProperties", false}, {"properties", props}};
        }
        out["stages"] = stages;
        std::cout << out.dump(2) << "\n";
      } else {
        for (const Stage* s : all_stages()) {
          std::printf("%s (v%d) — %s\n", s->id().c_str(), s->version(), s->summary().c_str());
          for (const auto& p : s->params())
            std::printf("  %-14s %-8s %-40s default %s\n      %s\n", p.key.c_str(), p.type_name().c_str(),
                        p.allowed().c_str(), p.default_value.dump().c_str(), p.help.c_str());
        }
      }
      return 0;
    }
    if (*rank_cmd) {
      JobContext ctx;
      ctx.threads = threads;
      std::string subject_dir;
      if (!rank_subject.empty()) {
        Store& store = Store::open();
        store.require(rank_subject, "likeness");
        subject_dir = store.subject_dir(rank_subject);
        ctx.analysis_store = subject_dir + "/analysis";
      }
      const HeadshotRanking r = rank_headshots(list_images(rank_refs), list_images(rank_candidates), ctx);
      if (!rank_sheet.empty()) write_ranking_sheet(r, rank_sheet);
      const std::string kept = subject_dir.empty() ? std::string() : keep_ranking(r, subject_dir + "/rankings");
      if (rank_json) {
        json j = r.to_json();
        if (!kept.empty()) j["kept"] = kept;
        std::cout << j.dump(2) << "\n";
        return 0;
      }
      std::printf("baseline: gate %.3f (your photos' own likeness %.3f-%.3f); doubtful down to %.3f\n",
                  r.refs.baseline.gate, r.refs.baseline.min, r.refs.baseline.max, r.refs.baseline.gate - kDoubtfulBand);
      for (const int i : r.order) {
        const RankedHeadshot& h = r.headshots[i];
        if (h.verdict == "no face")
          std::printf("#%-3d %-9s %s%s\n", h.rank, h.verdict.c_str(), h.file.c_str(),
                      h.error.empty() ? "" : (": " + h.error).c_str());
        else
          std::printf("#%-3d %-9s %s  likeness %.3f (band position %.2f), quality %.2f\n", h.rank, h.verdict.c_str(),
                      h.file.c_str(), h.likeness.raw, h.likeness.band_position, h.quality);
      }
      if (!rank_sheet.empty()) std::printf("sheet: %s\n", rank_sheet.c_str());
      if (!kept.empty()) std::printf("kept: %s\n", kept.c_str());
      return 0;
    }
    if (*plan_cmd) {
      const PromptPlan plan = plan_prompt(plan_prompt_text, plan_purpose, plan_fields);
      const json j = plan_json(plan, plan_purpose);
      if (plan_as_json) {
        std::cout << j.dump(2) << "\n";
        return 0;
      }
      std::printf("purpose %s\n", j["purpose"].get<std::string>().c_str());
      for (const json& step : j["recipe"]["steps"]) {
        const std::string id = step["stage"];
        if (step["params"].empty()) continue;
        std::printf("%s\n", id.c_str());
        for (const auto& [k, v] : step["params"].items())
          std::printf("  %-14s %-22s %s\n", k.c_str(), v.dump().c_str(),
                      j["origins"][id][k].get<std::string>().c_str());
      }
      for (const auto& n : j["not_applied"]) std::printf("not applied: %s\n", n.get<std::string>().c_str());
      for (const auto& n : j["not_understood"])
        std::printf("not understood: '%s' (rephrase it)\n", n.get<std::string>().c_str());
      for (const auto& r : j["refused"])
        std::printf("refused: '%s': %s\n", r["phrase"].get<std::string>().c_str(), r["why"].get<std::string>().c_str());
      return 0;
    }
    if (*purposes_cmd) {
      json all = json::array();
      for (const Purpose& pu : purposes()) {
        json sizes = json::array();
        for (const OutputSize& o : pu.sizes)
          sizes.push_back({{"name", o.name}, {"width", o.width}, {"height", o.height}});
        all.push_back({{"name", pu.name},
                       {"aliases", pu.aliases},
                       {"summary", pu.summary},
                       {"why", pu.why},
                       {"stages", pu.stages},
                       {"sizes", sizes},
                       {"file", "data/" + pu.file}});
      }
      if (purposes_json) {
        std::cout << all.dump(2) << "\n";
        return 0;
      }
      for (const json& pu : all) {
        std::string aka;
        for (const auto& a : pu["aliases"]) aka += (aka.empty() ? " (also " : ", ") + a.get<std::string>();
        if (!aka.empty()) aka += ")";
        std::printf("%s%s — %s\n  %s\n", pu["name"].get<std::string>().c_str(), aka.c_str(),
                    pu["summary"].get<std::string>().c_str(), pu["why"].get<std::string>().c_str());
        for (const auto& [id, params] : pu["stages"].items()) {
          std::string kv;
          for (const auto& [k, v] : params.items()) kv += (kv.empty() ? "" : ", ") + k + " " + v.dump();
          std::printf("    %-9s %s\n", id.c_str(), kv.c_str());
        }
        std::string sz;
        for (const auto& o : pu["sizes"])
          sz += (sz.empty() ? "" : ", ") + o["name"].get<std::string>() + " " + std::to_string(o["width"].get<int>()) +
                "x" + std::to_string(o["height"].get<int>());
        std::printf("    %-9s %s\n", "sizes", sz.c_str());
      }
      return 0;
    }
    if (*models_cmd) {
      ModelStore& store = ModelStore::shared();
      if (store.models().empty())
        throw Error(ErrorCode::internal, "no models installed in " + store.dir() + " — run `make models`");
      json out = json::array();
      for (const auto& m : store.models()) {
        out.push_back({{"name", m.name},
                       {"source", m.source},
                       {"licence", m.licence},
                       {"sha256", m.files[0].sha256},
                       {"input", m.input}});
        if (!models_json)
          std::printf("%-18s %s\n%-18s licence: %s\n%-18s sha256: %s\n", m.name.c_str(), m.source.c_str(), "",
                      m.licence.c_str(), "", m.files[0].sha256.c_str());
      }
      if (models_json) std::cout << out.dump(2) << "\n";
      return 0;
    }
    if (*bench_cmd && !bench_shoot.empty()) {
      // A store of its own, thrown away after: two subjects, so neither run
      // reuses the other's analyses.
      char tmpl[] = "/tmp/likeness-bench-XXXXXX";
      if (!mkdtemp(tmpl)) throw Error(ErrorCode::internal, "cannot make a temporary folder");
      const std::string tmp = tmpl;
      setenv("LIKENESS_DATA", (tmp + "/data").c_str(), 1);
      Store& store = Store::open();
      JobContext quiet_ctx;
      quiet_ctx.threads = threads;
      check_set({list_images(bench_shoot)[0]}, quiet_ctx, false);  // loads the face models once
      json size = json::object();
      parse_size(bench_size, size);
      double ms[2] = {0, 0};
      int hits = 0;
      for (int cached = 1; cached >= 0; --cached) {
        const std::string subject = cached ? "bench-cached" : "bench-uncached";
        store.grant(subject, "bench", "", {"portraits", "likeness"}, 1, {"personal", "commercial"});
        ShootOptions o;
        o.refs_dir = bench_shoot;
        o.out_dir = tmp + "/" + subject;
        o.subject = subject;
        o.count = bench_count;
        o.cache = cached;
        o.overrides = size;
        const auto t0 = std::chrono::steady_clock::now();
        const json report = shoot(o, quiet_ctx);
        ms[cached] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (cached) hits = report["cache_hits"].get<int>() + report["reused_results"].get<int>();
        store.forget(subject);
      }
      std::error_code ec;
      fs::remove_all(tmp, ec);
      std::printf("shoot --count %d of %s at %s, %d threads (check of the photos included)\n", bench_count,
                  bench_shoot.c_str(), bench_size.c_str(), threads);
      std::printf("  with the step cache     %9.1f ms  (%d steps and enlargements reused)\n", ms[1], hits);
      std::printf("  without                 %9.1f ms\n", ms[0]);
      std::printf("  saved by caching        %9.1f ms  (%.0f%%)\n  mean per portrait       %9.1f ms\n", ms[0] - ms[1],
                  100 * (ms[0] - ms[1]) / ms[0], bench_count > 1 ? ms[1] / bench_count : ms[1]);
      std::printf("  peak RSS                %9ld MB\n", peak_rss_mb());
      return 0;
    }
    if (*bench_cmd && !bench_check.empty()) {
      const std::vector<std::string> files = list_images(bench_check);
      JobContext quiet_ctx;
      quiet_ctx.threads = threads;
      check_set({files[0]}, quiet_ctx, false);  // loads the models once
      std::vector<double> ms;
      for (int i = 0; i < bench_repeat; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const SetCheck set = check_set(files, ctx, false);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      progress.finish();
      std::sort(ms.begin(), ms.end());
      double mp = 0;
      for (const auto& f : files) {
        DecodeLimits header_only;
        header_only.shrink_to = 64;
        const DecodedImage h = decode_image(f, header_only);
        mp += double(h.source_width) * h.source_height / 1e6;
      }
      const double med = ms[ms.size() / 2];
      std::printf("check of %zu photos (%.1f MP average) in %s, %d threads, median of %d\n", files.size(),
                  mp / files.size(), bench_check.c_str(), threads, bench_repeat);
      std::printf("  set        %9.1f ms\n  per photo  %9.1f ms\n  peak RSS   %9ld MB\n", med, med / files.size(),
                  peak_rss_mb());
      return 0;
    }
    if (*bench_cmd && !bench_upscale.empty()) {
      if (bench_photo.empty()) throw Error(ErrorCode::usage, "bench --upscale wants --photo FILE");
      json size = json::object();
      parse_size(bench_upscale, size);
      const cv::Mat photo = decode_image(bench_photo).bgr;
      const int w = std::min(photo.cols, size["frame"]["width"].get<int>());
      const int h = std::min(photo.rows, size["frame"]["height"].get<int>());
      const cv::Mat region = photo(cv::Rect((photo.cols - w) / 2, (photo.rows - h) / 2, w, h)).clone();
      const int tile = UpscaleOptions{}.tile;
      std::printf("ESRGAN on a %dx%d region of %s, %d threads, %d px tiles, median of %d\n", w, h, bench_photo.c_str(),
                  threads, tile, bench_repeat);
      std::printf("  %-18s %9s %12s %14s %12s\n", "network", "s", "MMAC/in px", "GMAC (tiled)", "GMAC/s");
      for (const UpscaleTiming& t : time_upscalers(region, bench_repeat, tile)) {
        const double gmac = t.macs_per_pixel * double(t.computed_pixels) / 1e9;
        std::printf("  %-18s %9.3f %12.3f %14.1f %12.1f\n", t.network.c_str(), t.seconds, t.macs_per_pixel / 1e6, gmac,
                    gmac / t.seconds);
      }
      std::printf("  peak RSS   %9ld MB\n", peak_rss_mb());
      return 0;
    }
    if (*bench_cmd) {
      if (bench_photo.empty()) throw Error(ErrorCode::usage, "bench wants --photo FILE or --check DIR");
      json ov = json::object();
      parse_size(bench_size, ov);
      // Decode timed like the stages: the file read and decoded again after
      // a first time (libvips starts up once per process, as the models
      // load once), the median of the repeats.
      auto source = std::make_shared<Frame>();
      source->image = decode_image(bench_photo).bgr;
      std::vector<double> decode_runs;
      for (int i = 0; i < bench_repeat; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const cv::Mat again = decode_image_bytes(read_file(bench_photo, DecodeLimits{}.max_bytes), bench_photo).bgr;
        decode_runs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(decode_runs.begin(), decode_runs.end());
      const double decode_ms = decode_runs[decode_runs.size() / 2];
      PromptPlan plan = plan_prompt("", "corporate");
      Recipe r = build_recipe(plan, 0);
      r.find("frame")->params["width"] = ov["frame"]["width"];
      r.find("frame")->params["height"] = ov["frame"]["height"];
      // A further variation of the same photo (what `shoot --count N`
      // renders next): every step it shares with the first comes from the
      // cache, the analysis included.
      Recipe next = build_recipe(plan, 1);
      next.find("frame")->params = r.find("frame")->params;
      // Warm-up loads every model once, so the runs below time the stages.
      run_recipe(source, "bench", r, ctx, nullptr);
      std::map<std::string, std::vector<double>> ms;
      std::vector<double> variation_ms;
      std::vector<std::string> variation_steps;
      for (int i = 0; i < bench_repeat; ++i) {
        FrameCache cache;
        for (const auto& st : run_recipe(source, "bench", r, ctx, &cache).steps) ms[st.stage].push_back(st.ms);
        double v = 0;
        variation_steps.clear();
        for (const auto& st : run_recipe(source, "bench", next, ctx, &cache).steps)
          if (!st.cached) v += st.ms, variation_steps.push_back(st.stage);
        variation_ms.push_back(v);
      }
      progress.finish();
      std::printf("photo %s (%dx%d, %.1f MP), output %s, %d threads, median of %d\n", bench_photo.c_str(),
                  source->image.cols, source->image.rows, source->image.total() / 1e6, bench_size.c_str(), threads,
                  bench_repeat);
      std::printf("  %-10s %9.1f ms\n", "decode", decode_ms);
      double total = decode_ms;
      for (const auto& step : r.steps) {
        auto v = ms[step.stage];
        std::sort(v.begin(), v.end());
        std::printf("  %-10s %9.1f ms\n", step.stage.c_str(), v[v.size() / 2]);
        total += v[v.size() / 2];
      }
      std::sort(variation_ms.begin(), variation_ms.end());
      std::string which;
      for (const auto& st : variation_steps) which += (which.empty() ? "" : " ") + st;
      std::printf("  %-10s %9.1f ms  (the first portrait, decode included)\n", "total", total);
      std::printf("  %-10s %9.1f ms  (a further variation: %s; the rest cached)\n", "variation",
                  variation_ms[variation_ms.size() / 2], which.c_str());
      std::printf("  peak RSS   %9ld MB\n", peak_rss_mb());
      return 0;
    }
  } catch (const Error& e) {
    std::cerr << "likeness: " << e.what() << "\n";
    return exit_code(e.code());
  } catch (const std::exception& e) {
    std::cerr << "likeness: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
