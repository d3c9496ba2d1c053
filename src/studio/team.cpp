// A team set: the same look for everyone, each person gated on their own
// likeness, and the consistency of the set measured on the portraits.
#include <algorithm>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/badge_sheet.hpp"
#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/numeric.hpp"
#include "likeness/store.hpp"
#include "likeness/studio.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {
// The team's look as flags: every parameter of the steps that make a set
// look like one, resolved from variation 0 of the plan. The key's side is
// pinned too (the subject's left unless asked), so nobody is lit from the
// other side of the room.
json team_look(const PromptPlan& plan, const json& overrides) {
  const Recipe look = build_recipe(plan, 0, overrides).resolved();
  json pinned = overrides;
  for (const char* stage : {"frame", "backdrop", "relight", "grade", "grain"})
    if (const Step* s = look.find(stage)) pinned[stage] = s->params;
  // Everyone on the same eye line: the frame holds it.
  pinned["frame"]["hold"] = true;
  if (pinned.contains("relight") && pinned["relight"].value("side", "auto") == "auto")
    pinned["relight"]["side"] = "left";
  return pinned;
}
}  // namespace

json shoot_team(const TeamOptions& opt, JobContext& ctx) {
  std::error_code ec;
  if (!fs::is_directory(opt.dir, ec))
    throw_bad_input(opt.dir, "not a folder (it holds one folder of photos per person)");
  std::vector<std::string> people;
  for (const auto& e : fs::directory_iterator(opt.dir, ec))
    if (e.is_directory() && e.path().filename().string()[0] != '.') people.push_back(e.path().filename().string());
  std::sort(people.begin(), people.end());
  if (people.empty())
    throw_bad_input(opt.dir, "holds no folders: give one folder of photos per person, named by their subject id");

  const PromptPlan plan = plan_prompt(opt.prompt, opt.purpose, opt.fields);
  const json look = team_look(plan, opt.overrides);
  json members = json::array(), failed = json::array();
  std::vector<std::string> shot;  // subject ids with a portrait
  struct Measured {
    std::string person;
    json m;
    cv::Mat preview;
    json likeness;
  };
  std::vector<Measured> measured;
  for (size_t i = 0; i < people.size(); ++i) {
    const std::string& person = people[i];
    ShootOptions so;
    so.refs_dir = (fs::path(opt.dir) / person).string();
    so.out_dir = (fs::path(opt.out_dir) / person).string();
    so.prompt = opt.prompt;
    so.fields = opt.fields;
    so.purpose = opt.purpose;
    so.use = opt.use;
    so.count = 1;
    so.overrides = look;
    so.sign_cert = opt.sign_cert;
    so.sign_key = opt.sign_key;
    so.subject = person;
    ctx.item = person + " (" + std::to_string(i + 1) + "/" + std::to_string(people.size()) + ")";
    try {
      const json report = shoot(so, ctx);
      const json& p = report["portraits"][0];
      if (!p.value("passed", false)) {
        failed.push_back({{"person", person},
                          {"error", "below_gate"},
                          {"exit_code", exit_code(ErrorCode::bad_input)},
                          {"why", p.value("refused", "")}});
        continue;
      }
      shot.push_back(person);
      Measured m{person, p["measures"], cv::Mat(), p["likeness"]};
      m.preview = fit_into(decode_image(p["file"].get<std::string>()).bgr, cv::Size(240, 300));
      measured.push_back(std::move(m));
      members.push_back({{"person", person},
                         {"file", p["file"]},
                         {"source", p["source"]},
                         {"likeness", p["likeness"]},
                         {"measures", p["measures"]}});
    } catch (const Error& e) {
      if (e.code() == ErrorCode::cancelled || e.code() == ErrorCode::internal) throw;
      const ErrorCode c = e.code();
      failed.push_back(
          {{"person", person}, {"error", code_name(c)}, {"exit_code", exit_code(c)}, {"why", e.info().message}});
    }
  }

  // Consistency, measured on the portraits.
  json consistency = json::object();
  {
    double de_max = 0;
    std::string de_pair;
    std::vector<double> eye, face, kelvin;
    for (size_t a = 0; a < measured.size(); ++a) {
      const json& ma = measured[a].m;
      if (ma.contains("eye_line")) {
        eye.push_back(ma["eye_line"]);
        face.push_back(ma["face_height"]);
        if (ma["skin_kelvin"].get<double>() > 0) kelvin.push_back(ma["skin_kelvin"]);
      }
      if (!ma.contains("backdrop")) continue;
      for (size_t b = a + 1; b < measured.size(); ++b) {
        const json& mb = measured[b].m;
        if (!mb.contains("backdrop")) continue;
        const auto la = ma["backdrop"]["lab"], lb = mb["backdrop"]["lab"];
        const double de = ciede2000(cv::Vec3d(la[0], la[1], la[2]), cv::Vec3d(lb[0], lb[1], lb[2]));
        if (de > de_max) de_max = de, de_pair = measured[a].person + " / " + measured[b].person;
      }
    }
    auto spread = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end());
    };
    auto range = [](const std::vector<double>& v) {
      return v.empty() ? json::array()
                       : json::array({*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())});
    };
    consistency = {{"backdrop_delta_e00",
                    {{"largest", round_to(de_max, 0.01)},
                     {"between", de_pair},
                     {"target", kTeamBackdropSpread},
                     {"met", de_max <= kTeamBackdropSpread}}},
                   {"eye_line",
                    {{"range", range(eye)},
                     {"spread", round_to(spread(eye), 0.0001)},
                     {"target", kTeamEyeLineSpread},
                     {"met", spread(eye) <= kTeamEyeLineSpread}}},
                   {"face_height", {{"range", range(face)}, {"spread", round_to(spread(face), 0.0001)}}},
                   {"skin_light_kelvin",
                    {{"range", range(kelvin)},
                     {"spread", std::lround(spread(kelvin))},
                     {"note", "the skin's brightest quarter: each person's own skin tone is part of it"}}}};
  }
  const json report = {{"team", opt.dir},    {"purpose", plan.purpose}, {"look", look},
                       {"members", members}, {"failed", failed},        {"consistency", consistency}};

  // The team on one sheet, in the order of the folders.
  std::vector<SheetTile> tiles;
  for (const auto& m : measured) {
    SheetTile t;
    t.image = m.preview;
    t.badge = cv::format("%s  %.3f", m.person.c_str(), m.likeness.value("raw", 0.0));
    t.badge_colour = kBadgeGood;
    t.title = m.person;
    t.lines = {{cv::format("eye line %.1f%%, face %.1f%%", 100 * m.m.value("eye_line", 0.0),
                           100 * m.m.value("face_height", 0.0)),
                cv::Scalar(60, 60, 60), 0.34},
               {"backdrop " + (m.m.contains("backdrop") ? m.m["backdrop"].value("hex", "") : std::string("-")),
                cv::Scalar(60, 60, 60), 0.34}};
    tiles.push_back(std::move(t));
  }
  if (!shot.empty()) {
    Store& store = Store::open();
    const std::string sheet = encode_image(badge_sheet(tiles, cv::Size(240, 300), 44, 5), ImageFormat::jpeg, 90);
    const std::string text = report.dump(2) + "\n";
    fs::create_directories(opt.out_dir, ec);
    for (const auto& [name, bytes] : {std::pair{"team_sheet.jpg", &sheet}, std::pair{"team.json", &text}}) {
      const std::string path = fs::weakly_canonical(fs::absolute(fs::path(opt.out_dir) / name)).string();
      // Recorded before it exists: forgetting any member finds it.
      store.record_shared_output(shot, path, sha256_hex(*bytes));
      write_file_atomic(path, *bytes);
    }
  }
  return report;
}

}  // namespace likeness
