// Team sets: one look for every person of people/ (13), each gated on their
// own likeness; the set's consistency measured on the portraits; a person
// without consent reported while the others are still shot; forgetting
// one member deletes the team's shared sheet and report.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "likeness/studio.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// DIR/<folder>/<photos>: each person of people/ in `folders` (person ->
// folder name, the subject id; every person as themselves when empty).
std::string team_folder(const std::string& tag, const std::map<std::string, std::string>& folders = {}) {
  const std::string dir = temp_dir(tag);
  for (const auto& id : identities()) {
    const auto it = folders.find(id.person);
    if (!folders.empty() && it == folders.end()) continue;
    const std::string name = folders.empty() ? id.person : it->second;
    fs::create_directories(dir + "/" + name);
    fs::create_symlink(people(id.file), dir + "/" + name + "/" + id.file);
  }
  return dir;
}

json step_params(const json& recipe, const std::string& stage) {
  for (const auto& st : recipe["steps"])
    if (st["stage"] == stage) return st["params"];
  return nullptr;
}
}  // namespace

TEST(Team, ThirteenPeopleOneLookEachOnTheirOwnLikeness) {
  const std::string team = team_folder("team"), out = temp_dir("team-out") + "/set";
  std::vector<std::string> persons;
  for (const auto& e : fs::directory_iterator(team)) persons.push_back(e.path().filename().string());
  ASSERT_EQ(persons.size(), 13u);
  for (const auto& p : persons) grant_consent(p);

  const CliResult r = run_cli(
      {"team", team, "--out", out, "--prompt", "light grey backdrop, soft light", "--size", "640x800", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::printf("%s", r.out.c_str());
  const json report = json::parse(read_bytes(out + "/team.json"));
  ASSERT_EQ(report["members"].size(), 13u);
  EXPECT_TRUE(report["failed"].empty());
  // Each person gated on their own likeness baseline.
  for (const auto& m : report["members"]) {
    EXPECT_GE(m["likeness"]["raw"].get<double>(), m["likeness"]["gate"].get<double>()) << m["person"];
    EXPECT_TRUE(m["likeness"]["passed"].get<bool>()) << m["person"];
  }
  // The targets, measured on the portraits: backdrop colour within 2
  // CIEDE2000 of each other, eye line within 3% of the height.
  const json& c = report["consistency"];
  EXPECT_LE(c["backdrop_delta_e00"]["largest"].get<double>(), 2.0) << c.dump(2);
  EXPECT_LE(c["eye_line"]["spread"].get<double>(), 0.03) << c.dump(2);
  for (const auto& m : report["members"]) EXPECT_NEAR(m["measures"]["eye_line"].get<double>(), 0.36, 0.02);
  // The same look in every recipe: backdrop, light and its side, crop,
  // grade — the team's, not a variation's.
  std::map<std::string, json> first;
  for (const auto& p : persons) {
    const json pr = json::parse(read_bytes(out + "/" + p + "/report.json"));
    ASSERT_EQ(pr["portraits"].size(), 1u);
    const json& recipe = pr["portraits"][0]["recipe"];
    for (const char* stage : {"backdrop", "relight", "frame", "grade"}) {
      const json params = step_params(recipe, stage);
      if (!first.count(stage)) first[stage] = params;
      EXPECT_EQ(params, first[stage]) << p << " " << stage;
    }
  }
  EXPECT_EQ(first["frame"]["hold"], true);
  EXPECT_NE(first["relight"]["side"], "auto");
  ASSERT_TRUE(fs::exists(out + "/team_sheet.jpg"));

  // The sheet and report show every member: forgetting one deletes them,
  // and that person's folder; the others' portraits stay.
  const CliResult f = run_cli({"forget", "person05"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_FALSE(fs::exists(out + "/team_sheet.jpg"));
  EXPECT_FALSE(fs::exists(out + "/team.json"));
  EXPECT_FALSE(fs::exists(out + "/person05/portrait_01.jpg"));
  EXPECT_TRUE(fs::exists(out + "/person04/portrait_01.jpg"));
}

TEST(Team, APersonWithoutConsentIsReportedTheOthersAreShot) {
  const std::string team = team_folder("team-consent", {{"person09", "team-yes"}, {"person10", "team-no"}}),
                    out = temp_dir("team-consent-out") + "/set";
  grant_consent("team-yes");
  const CliResult r = run_cli({"team", team, "--out", out, "--size", "512x640", "--quiet"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("team-no"), std::string::npos) << r.err;
  const json report = json::parse(read_bytes(out + "/team.json"));
  ASSERT_EQ(report["members"].size(), 1u);
  EXPECT_EQ(report["members"][0]["person"], "team-yes");
  ASSERT_EQ(report["failed"].size(), 1u);
  EXPECT_EQ(report["failed"][0]["person"], "team-no");
  EXPECT_EQ(report["failed"][0]["error"], "no_consent");
  EXPECT_FALSE(fs::exists(out + "/team-no"));

  // Not a folder of folders: a clear error, nothing written.
  const CliResult bad = run_cli({"team", people("person01_1.jpg"), "--out", out + "-2", "--quiet"});
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_FALSE(fs::exists(out + "-2"));
}
