// Content Credentials on real portraits, judged by an independent validator
// (@contentauth/c2pa-wasm: c2pa-rs as WASM, in Node) and by `likeness verify`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/store.hpp"
#include "likeness/studio.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Validated {
  std::string state;
  std::vector<std::string> failures, codes, actions;
};

// node tools/c2pa/validate.mjs [--trust CA] FILE
Validated validate(const std::string& file, const std::string& ca = "") {
  const char* np = std::getenv("LIKENESS_C2PA_NODE_PATH");
  const std::string node_path = np && *np ? np : cache_dir() + "/npm-c2pa/node_modules";
  std::vector<std::string> argv = {"env", "NODE_PATH=" + node_path, "node",
                                   std::string(LIKENESS_SOURCE_DIR) + "/tools/c2pa/validate.mjs"};
  if (!ca.empty()) argv.insert(argv.end(), {"--trust", ca});
  argv.push_back(file);
  const CliResult r = run_program(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n(run `make validator`)";
  const json j = json::parse(r.out);
  Validated v;
  v.state = j.value("state", "");
  if (j.contains("failures")) v.failures = j["failures"].get<std::vector<std::string>>();
  if (j.contains("codes")) v.codes = j["codes"].get<std::vector<std::string>>();
  if (j.contains("actions")) v.actions = j["actions"].get<std::vector<std::string>>();
  return v;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string shoot_one(const std::string& format) {
  const std::string refs = temp_dir("prov-refs"), out = temp_dir("prov-out");
  for (const auto& id : identities())
    if (id.person == "person02") fs::copy_file(people(id.file), refs + "/" + id.file);
  grant_consent("prov-" + format);
  const CliResult r = run_cli({"shoot", "--refs", refs, "--out", out, "--subject", "prov-" + format, "--size",
                               "320x400", "--segment-resolution", "640", "--export-format", format, "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  fs::remove_all(refs);
  return out + "/portrait_01." + (format == "png" ? "png" : "jpg");
}

std::string export_ca() {
  const std::string ca = temp_dir("ca") + "/ca.pem";
  EXPECT_EQ(run_cli({"keys", "export-ca", ca}).exit_code, 0);
  return ca;
}

// Flips one bit `back` bytes before the end (image data, after the manifest).
std::string tampered_pixels(const std::string& file) {
  std::string b = read_bytes(file);
  b[b.size() - 300] ^= 1;
  const std::string t = fs::path(file).replace_filename("tampered" + fs::path(file).extension().string()).string();
  write_bytes(t, b);
  return t;
}

// Changes one character of the claim's instanceID.
std::string tampered_claim(const std::string& file) {
  std::string b = read_bytes(file);
  const size_t claim = b.find("c2pa.claim.v2");
  const size_t iid = b.find("xmp:iid:", claim);
  EXPECT_NE(iid, std::string::npos);
  b[iid + 10] = b[iid + 10] == 'a' ? 'b' : 'a';
  const std::string t = fs::path(file).replace_filename("claim" + fs::path(file).extension().string()).string();
  write_bytes(t, b);
  return t;
}

// The validator and `likeness verify` both call the file invalid, naming `code`.
void expect_invalid(const std::string& file, const std::string& ca, const std::string& code) {
  const Validated v = validate(file, ca);
  EXPECT_EQ(v.state, "Invalid") << file;
  EXPECT_TRUE(has(v.failures, code)) << file;
  const CliResult r = run_cli({"verify", file});
  EXPECT_EQ(r.exit_code, 4) << file;
  EXPECT_NE(r.out.find(code), std::string::npos) << r.out;
}

void check_format(const std::string& format) {
  const std::string file = shoot_one(format);
  const std::string ca = export_ca();

  const Validated untrusted = validate(file);
  EXPECT_EQ(untrusted.state, "Valid") << format;
  EXPECT_TRUE(untrusted.failures.empty());
  const Validated trusted = validate(file, ca);
  EXPECT_EQ(trusted.state, "Trusted") << format;
  EXPECT_TRUE(has(trusted.codes, "assertion.dataHash.match"));
  EXPECT_TRUE(has(trusted.codes, "claimSignature.validated"));
  ASSERT_FALSE(trusted.actions.empty());
  EXPECT_EQ(trusted.actions.front(), "c2pa.opened");
  EXPECT_TRUE(has(trusted.actions, "c2pa.edited"));

  CliResult ok = run_cli({"verify", file, "--json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  const json v = json::parse(ok.out);
  EXPECT_EQ(v["state"], "valid");
  EXPECT_TRUE(v["trusted"].get<bool>());
  EXPECT_EQ(v["digital_source_type"],
            "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia");
  ASSERT_EQ(v["manifest"]["actions"].size(), trusted.actions.size());
  for (size_t i = 0; i < trusted.actions.size(); ++i)
    EXPECT_EQ(v["manifest"]["actions"][i]["action"], trusted.actions[i]);
  // The backdrop and grade actions name their stage, parameters and source
  // type.
  auto action_of = [&](const std::string& stage) {
    for (const json& a : v["manifest"]["actions"])
      if (a.contains("parameters") && a["parameters"].value("stage", "") == stage) return a;
    return json();
  };
  const json edited = action_of("backdrop");
  EXPECT_EQ(edited["action"], "c2pa.edited");
  EXPECT_TRUE(edited["parameters"]["params"].contains("color"));
  EXPECT_EQ(edited["digitalSourceType"],
            "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia");
  const json graded = action_of("grade");
  EXPECT_EQ(graded["action"], "c2pa.color_adjustments");
  EXPECT_EQ(graded["parameters"]["params"]["look"], "natural");
  EXPECT_EQ(graded["digitalSourceType"], "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced");

  // One pixel byte changed: both say the data hash no longer matches.
  expect_invalid(tampered_pixels(file), ca, "assertion.dataHash.mismatch");
  // The claim altered: the signature no longer matches.
  expect_invalid(tampered_claim(file), ca, "claimSignature.mismatch");

  // exiftool (independent) shows the IPTC digital source type.
  const CliResult exif = run_program({"exiftool", "-s3", "-XMP-iptcExt:DigitalSourceType", file});
  EXPECT_NE(exif.out.find("compositeWithTrainedAlgorithmicMedia"), std::string::npos) << exif.out << exif.err;

  // No names or biometric data in the file: the reference photo's name and
  // the word "embedding" appear nowhere in it.
  const std::string bytes = read_bytes(file);
  EXPECT_EQ(bytes.find("person02"), std::string::npos);
  EXPECT_EQ(bytes.find("embedding"), std::string::npos);
  EXPECT_EQ(bytes.find("prov-" + format), std::string::npos) << "the subject id is not in the file";
  EXPECT_TRUE(v["manifest"]["assertions"]["org.likeness.consent"]["record"].get<std::string>().rfind("cr_", 0) == 0);
  fs::remove_all(fs::path(file).parent_path());
}

}  // namespace

TEST(Provenance, JpegManifestValidatesAndTamperingIsCaught) { check_format("jpeg"); }
TEST(Provenance, PngManifestValidatesAndTamperingIsCaught) { check_format("png"); }

TEST(Provenance, VerifyExitCodes) {
  // A camera photo: no manifest.
  EXPECT_EQ(run_cli({"verify", people("person01_1.jpg")}).exit_code, 3);
  // Unreadable file: bad input.
  EXPECT_EQ(run_cli({"verify", "/nonexistent.jpg"}).exit_code, 3);
  // Signed by a CA the verifier was not told to trust: invalid (untrusted).
  const std::string file = shoot_one("jpeg");
  const std::string other = temp_dir("otherca") + "/other.pem";
  // Any other CA will do: the signer's own leaf is not a CA.
  const CliResult leaf = run_program({"sh", "-c", "cat \"$LIKENESS_DATA/keys/signer.pem\""});
  write_bytes(other, leaf.out);
  CliResult r = run_cli({"verify", file, "--trust", other});
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_NE(r.out.find("signingCredential.untrusted"), std::string::npos) << r.out;
  fs::remove_all(fs::path(file).parent_path());
}

TEST(Consent, ShootNeedsConsentAndForgetRemovesEverything) {
  const std::string refs = temp_dir("consent-refs"), out = temp_dir("consent-out");
  for (const auto& id : identities())
    if (id.person == "person11" || id.person == "person12") fs::copy_file(people(id.file), refs + "/" + id.file);
  fs::remove(refs + "/person12_1.jpg");
  fs::remove(refs + "/person12_2.jpg");
  const std::vector<std::string> shoot = {"shoot",     "--refs",       refs,     "--out",   out,
                                          "--subject", "consent-test", "--size", "320x400", "--segment-resolution",
                                          "640",       "--quiet"};
  // A run that died half-way leaves its record in the test store: start clean.
  run_cli({"forget", "consent-test", "--quiet"});
  // No record: exit 5 and a message saying how to record consent.
  CliResult none = run_cli(shoot);
  EXPECT_EQ(none.exit_code, 5);
  EXPECT_NE(none.err.find("likeness consent grant"), std::string::npos) << none.err;
  EXPECT_EQ(run_cli({"shoot", "--refs", refs, "--out", out, "--quiet"}).exit_code, 5) << "no --subject";
  EXPECT_FALSE(fs::exists(out + "/portrait_01.jpg"));

  grant_consent("consent-test");
  CliResult show = run_cli({"consent", "show", "--subject", "consent-test", "--json"});
  ASSERT_EQ(show.exit_code, 0);
  const json rec = json::parse(show.out);
  EXPECT_TRUE(rec["valid"].get<bool>());
  EXPECT_EQ(rec["consent_text_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rec["data_kinds"], json({"photos", "embeddings", "portraits"}));

  CliResult ok = run_cli(shoot);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(fs::exists(out + "/portrait_01.jpg"));
  // The edit map: backdrop corners synthesised (blue), not graded (red 0:
  // the natural grade touches the person only); the face not synthesised,
  // its skin retouched (the retouch stage runs at its default polish), its
  // tone touched a little by the grade.
  const DecodedImage map = decode_image(out + "/portrait_01.edits.png");
  ASSERT_EQ(map.bgr.size(), cv::Size(320, 400));
  for (const cv::Point p : {cv::Point(3, 3), cv::Point(316, 3)}) {
    EXPECT_GE(map.bgr.at<cv::Vec3b>(p)[0], 250) << p;
    EXPECT_EQ(map.bgr.at<cv::Vec3b>(p)[2], 0) << p;
  }
  const cv::Vec3b face = map.bgr.at<cv::Vec3b>(cv::Point(160, 150));
  EXPECT_EQ(face[0], 0) << "the face is the photo's own, not synthesised";
  EXPECT_GT(face[1], 0) << "retouched";
  EXPECT_LE(face[2], 40) << "a touch of contrast, no more";
  const json report = json::parse(read_bytes(out + "/report.json"));
  EXPECT_NE(report["portraits"][0]["summary"].get<std::string>().find("background replaced"), std::string::npos);
  json listed = json::parse(run_cli({"store", "--json"}).out);
  ASSERT_TRUE(listed.contains("consent-test"));
  EXPECT_EQ(listed["consent-test"]["photos"], 2);
  EXPECT_GT(listed["consent-test"]["files"].get<int>(), 0);

  EXPECT_EQ(run_cli({"consent", "withdraw", "--subject", "consent-test"}).exit_code, 0);
  CliResult after = run_cli(shoot);
  EXPECT_EQ(after.exit_code, 5);
  EXPECT_NE(after.err.find("withdrew"), std::string::npos) << after.err;

  CliResult forget = run_cli({"forget", "consent-test", "--json"});
  ASSERT_EQ(forget.exit_code, 0);
  const json removed = json::parse(forget.out);
  EXPECT_EQ(removed["photo_digests"], 2);
  // The portrait, its sidecar, its edit map, report.json and the contact sheet.
  EXPECT_EQ(removed["outputs"].size(), 5u) << removed.dump(2);
  listed = json::parse(run_cli({"store", "--json"}).out);
  EXPECT_FALSE(listed.contains("consent-test")) << listed.dump(2);
  EXPECT_FALSE(fs::exists(out + "/portrait_01.jpg"));
  EXPECT_FALSE(fs::exists(std::string(std::getenv("LIKENESS_DATA")) + "/subjects/consent-test"));
  fs::remove_all(refs);
  fs::remove_all(out);
}

TEST(Consent, PurgeDeletesWithdrawnSubjectsOnly) {
  // A store of its own, so other tests' subjects are not purged meanwhile.
  setenv("LIKENESS_DATA", temp_dir("purge-store").c_str(), 1);
  grant_consent("purge-keep");
  grant_consent("purge-gone");
  ASSERT_EQ(run_cli({"consent", "withdraw", "--subject", "purge-gone"}).exit_code, 0);
  const json purged = json::parse(run_cli({"purge", "--json"}).out);
  bool gone = false;
  for (const auto& p : purged) gone = gone || p["subject"] == "purge-gone";
  EXPECT_TRUE(gone);
  const json listed = json::parse(run_cli({"store", "--json"}).out);
  EXPECT_FALSE(listed.contains("purge-gone"));
  EXPECT_TRUE(listed.contains("purge-keep"));
  // Bad input to consent is a usage error.
  EXPECT_EQ(
      run_cli({"consent", "grant", "--subject", "../x", "--by", "a", "--purposes", "portraits", "--retention", "3"})
          .exit_code,
      2);
  EXPECT_EQ(
      run_cli({"consent", "grant", "--subject", "x", "--by", "a", "--purposes", "portraits", "--retention", "5000"})
          .exit_code,
      2);
}

// A portrait's use is part of the consent: the uses a person permits travel
// with every portrait (XMP xmpRights:UsageTerms, IPTC PLUS model release,
// the signed manifest), and a shoot for a use the consent does not cover
// is refused (exit 5).
TEST(Consent, UsageRightsBindTheShootAndTravelWithThePortrait) {
  const std::string refs = temp_dir("use-refs"), out = temp_dir("use-out");
  for (const auto& id : identities())
    if (id.person == "person02") fs::copy_file(people(id.file), refs + "/" + id.file);
  auto shoot = [&](const std::string& subject, std::vector<std::string> extra) {
    std::vector<std::string> args = {"shoot",     "--refs",    refs,        "--out",   out,
                                     "--subject", subject,     "--size",    "320x400", "--segment-resolution",
                                     "640",       "--purpose", "ecommerce", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  auto exif = [](const std::string& tag, const std::string& file) {
    return run_program({"exiftool", "-s3", "-n", tag, file}).out;
  };
  // Personal use only (the default of consent grant).
  grant_consent("use-personal");
  const CliResult refused = shoot("use-personal", {});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_NE(refused.err.find("permits personal use only"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--uses personal,commercial"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(out + "/portrait_01.jpg"));
  const CliResult personal = shoot("use-personal", {"--use", "personal"});
  ASSERT_EQ(personal.exit_code, 0) << personal.err;
  std::string file = out + "/portrait_01.jpg";
  EXPECT_EQ(exif("-XMP-plus:ModelReleaseStatus", file), "MR-LMR\n");  // the PLUS URI, as exiftool reads it
  const std::string terms = exif("-XMP-xmpRights:UsageTerms", file);
  EXPECT_NE(terms.find("Permitted uses: personal."), std::string::npos) << terms;
  EXPECT_EQ(terms.find("commercial"), std::string::npos) << terms;
  EXPECT_EQ(exif("-XMP-plus:ModelReleaseID", file).rfind("cr_", 0), 0u);
  EXPECT_EQ(validate(file).state, "Valid");  // the rights are in place before the signature
  json v = json::parse(run_cli({"verify", file, "--json"}).out);
  EXPECT_EQ(v["usage"]["signed_uses"], json::array({"personal"}));
  EXPECT_EQ(v["usage"]["signed_model_release"], "MR-LMR");
  EXPECT_EQ(v["usage"]["signed_consent_record"], exif("-XMP-plus:ModelReleaseID", file).substr(0, 19));
  // Commercial use recorded: the same shoot goes through, unlimited release.
  fs::remove_all(out);
  const CliResult g = run_cli({"consent", "grant", "--subject", "use-both", "--by", "test", "--purposes",
                               "portraits,likeness", "--retention", "30", "--uses", "personal,commercial"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const CliResult both = shoot("use-both", {});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(exif("-XMP-plus:ModelReleaseStatus", file), "MR-UMR\n");
  EXPECT_NE(exif("-XMP-xmpRights:UsageTerms", file).find("personal, commercial"), std::string::npos);
  EXPECT_EQ(validate(file).state, "Valid");
  v = json::parse(run_cli({"verify", file, "--json"}).out);
  EXPECT_EQ(v["usage"]["signed_uses"], json::array({"personal", "commercial"}));
  const json report = json::parse(read_bytes(out + "/report.json"));
  EXPECT_EQ(report["portraits"][0]["usage"]["use"], "commercial");
  // A use nobody defined is a usage error.
  EXPECT_EQ(run_cli({"consent", "grant", "--subject", "use-bad", "--by", "test", "--purposes", "portraits",
                     "--retention", "30", "--uses", "resale"})
                .exit_code,
            2);
  fs::remove_all(refs);
  fs::remove_all(out);
}

// Where a job keeps its analyses is the job's own: two checks for two
// subjects at once each keep their photos' analyses in their own folder,
// none in the other's (the store was one process-wide string before).
TEST(Consent, TwoSubjectsCheckedAtOnceKeepTheirAnalysesApart) {
  grant_consent("apart-a");
  grant_consent("apart-b");
  std::vector<std::string> a, b;
  std::set<std::string> sha_a, sha_b;
  for (const auto& id : identities()) {
    if (id.person == "person10") a.push_back(people(id.file)), sha_a.insert(sha256_file(people(id.file)));
    if (id.person == "person12") b.push_back(people(id.file)), sha_b.insert(sha256_file(people(id.file)));
  }
  std::exception_ptr fail[2];
  auto run = [&](int k, const std::vector<std::string>& files, const std::string& subject) {
    try {
      JobContext ctx;
      ctx.threads = 1;
      check_references(files, ctx, subject);
    } catch (...) {
      fail[k] = std::current_exception();
    }
  };
  std::thread ta(run, 0, a, "apart-a"), tb(run, 1, b, "apart-b");
  ta.join();
  tb.join();
  for (auto& f : fail)
    if (f) std::rethrow_exception(f);
  for (const auto& [subject, own, other] :
       {std::tuple{"apart-a", &sha_a, &sha_b}, std::tuple{"apart-b", &sha_b, &sha_a}}) {
    const std::string dir = Store::open().subject_dir(subject) + "/analysis";
    std::set<std::string> kept;
    for (const auto& e : fs::directory_iterator(dir)) kept.insert(json::parse(read_bytes(e.path()))["sha256"]);
    EXPECT_EQ(kept, *own) << subject << ": its analyses are its photos'";
    for (const auto& s : kept) EXPECT_FALSE(other->count(s)) << subject << " holds the other subject's analysis";
  }
  run_cli({"forget", "apart-a"});
  run_cli({"forget", "apart-b"});
}
