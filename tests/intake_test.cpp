// Reference intake on real photos: subject choice, flags, pose, baseline and
// the likeness gate.
#include "likeness/intake.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <set>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"
#include "likeness/studio.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;

namespace {

std::string save(const cv::Mat& bgr, const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  write_file_atomic(path, encode_image(bgr, ImageFormat::jpeg, 95));
  return path;
}

std::vector<std::string> photos_of(const std::string& person) {
  std::vector<std::string> out;
  for (const auto& id : identities())
    if (id.person == person) out.push_back(people(id.file));
  return out;
}

const PhotoCheck& find(const SetCheck& set, const std::string& name) {
  for (const auto& p : set.photos)
    if (fs::path(p.a.file).filename() == name) return p;
  throw std::runtime_error("no photo " + name + " in the set");
}

bool flagged(const PhotoCheck& p, const std::string& flag) {
  return std::find(p.flags.begin(), p.flags.end(), flag) != p.flags.end();
}

SetCheck check(const std::vector<std::string>& files) {
  JobContext ctx;
  return check_set(files, ctx);
}

}  // namespace

TEST(Intake, IntruderIsDifferentPersonZebraHasNoFace) {
  std::vector<std::string> files = photos_of("person01");
  files.push_back(people("person05_1.jpg"));
  files.push_back(portrait("zebra_stripes.jpg"));
  const SetCheck set = check(files);
  EXPECT_EQ(find(set, "person05_1.jpg").verdict, "reject");
  EXPECT_TRUE(flagged(find(set, "person05_1.jpg"), "different_person"));
  EXPECT_EQ(find(set, "zebra_stripes.jpg").verdict, "reject");
  EXPECT_TRUE(flagged(find(set, "zebra_stripes.jpg"), "no_face"));
  for (const auto& f : photos_of("person01")) {
    const PhotoCheck& p = find(set, fs::path(f).filename().string());
    EXPECT_TRUE(p.accepted()) << f << ": " << p.advice;
    EXPECT_GT(p.rank, 0);
  }
  EXPECT_EQ(set.usable(), 8);
  EXPECT_EQ(set.baseline.kind, "leave_one_out");
  EXPECT_EQ(set.baseline.values.size(), 8u);
  // Every reject says why in words.
  EXPECT_NE(find(set, "zebra_stripes.jpg").advice.find("No face"), std::string::npos);
}

TEST(Intake, GroupPhotoPicksTheFaceThatMatchesTheSet) {
  // couple.jpg: person01 on the left, a larger face on the right.
  std::vector<std::string> files = photos_of("person01");
  files.push_back(portrait("couple.jpg"));
  const SetCheck set = check(files);
  const PhotoCheck& c = find(set, "couple.jpg");
  ASSERT_TRUE(c.accepted()) << c.advice;
  ASSERT_GE(c.a.faces.size(), 2u);
  const cv::Rect2f box = c.subject_face()->face.box;
  EXPECT_LT(box.x + box.width / 2, c.a.width / 2.f) << "picked the man on the right";
  EXPECT_TRUE(flagged(c, "group_photo"));
  EXPECT_GE(c.subject_match, kSamePersonThreshold);
  EXPECT_EQ(set.to_json()["photos"].back()["others_ignored"], 1);

  // The man is in no people/ set: build his from crops of couple.jpg (the
  // right part, at two scales and mirrored); now the right face is picked.
  const cv::Mat img = decode_image(portrait("couple.jpg")).bgr;
  const cv::Rect right(img.cols / 2, 0, img.cols / 2, img.rows);
  cv::Mat a = img(right).clone(), b, m;
  cv::resize(a, b, cv::Size(), 0.8, 0.8, cv::INTER_AREA);
  cv::flip(a, m, 1);
  const std::string dir = temp_dir("couple");
  const SetCheck his =
      check({save(a, dir, "his_1.jpg"), save(b, dir, "his_2.jpg"), save(m, dir, "his_3.jpg"), portrait("couple.jpg")});
  const PhotoCheck& c2 = find(his, "couple.jpg");
  ASSERT_TRUE(c2.accepted()) << c2.advice;
  const cv::Rect2f box2 = c2.subject_face()->face.box;
  EXPECT_GT(box2.x + box2.width / 2, c2.a.width / 2.f) << "picked the woman on the left";
  EXPECT_NE(c2.subject, c.subject);
  // And a set of somebody else: neither face matches.
  const SetCheck other = check({people("person05_1.jpg"), people("person05_2.jpg"), portrait("couple.jpg")});
  EXPECT_TRUE(flagged(find(other, "couple.jpg"), "different_person"));
}

TEST(Intake, BlurredIsBlurryDarkenedIsUnderexposed) {
  const std::string dir = temp_dir("blur");
  const cv::Mat sharp = decode_image(people("person04_1.jpg")).bgr;
  cv::Mat blurred, dark;
  cv::GaussianBlur(sharp, blurred, cv::Size(), 3.0);
  sharp.convertTo(dark, -1, 0.3);
  std::vector<std::string> files = photos_of("person04");
  files.push_back(save(blurred, dir, "blurred.jpg"));
  files.push_back(save(dark, dir, "dark.jpg"));
  const SetCheck set = check(files);
  const PhotoCheck &s = find(set, "person04_1.jpg"), &b = find(set, "blurred.jpg"), &d = find(set, "dark.jpg");
  EXPECT_FALSE(flagged(s, "blurry"));
  EXPECT_FALSE(flagged(s, "underexposed"));
  EXPECT_TRUE(flagged(b, "blurry")) << b.subject_face()->m.sharpness;
  EXPECT_FALSE(flagged(b, "underexposed"));
  EXPECT_TRUE(flagged(d, "underexposed")) << d.subject_face()->m.brightness;
  EXPECT_FALSE(flagged(d, "blurry")) << "sharpness must not depend on exposure";
  EXPECT_LT(b.subject_face()->m.sharpness, 0.6f * s.subject_face()->m.sharpness);
  // Both still show the person: usable, ranked below the original.
  EXPECT_EQ(b.verdict, "usable");
  EXPECT_EQ(d.verdict, "usable");
  EXPECT_LT(s.rank, b.rank);
  EXPECT_LT(s.rank, d.rank);
}

TEST(Intake, SmallFaceIsTooSmall) {
  const PhotoAnalysis a = analyse_photo(people("person03_1.jpg"));
  ASSERT_FALSE(a.faces.empty());
  const float temple = a.faces[0].m.temple_px;
  ASSERT_GT(temple, 120.f);
  const cv::Mat full = decode_image(people("person03_1.jpg")).bgr;
  cv::Mat small;
  const double k = 60.0 / temple;
  cv::resize(full, small, cv::Size(), k, k, cv::INTER_AREA);
  const std::string dir = temp_dir("small");
  std::vector<std::string> files = photos_of("person03");
  files.push_back(save(small, dir, "small.jpg"));
  const SetCheck set = check(files);
  const PhotoCheck& p = find(set, "small.jpg");
  ASSERT_NE(p.subject_face(), nullptr) << p.advice;
  EXPECT_NEAR(p.subject_face()->m.temple_px, 60.f, 8.f);
  EXPECT_TRUE(flagged(p, "too_small"));
  EXPECT_NE(p.advice.find("px"), std::string::npos) << p.advice;
  EXPECT_FALSE(flagged(find(set, "person03_1.jpg"), "too_small"));
}

TEST(Intake, MirrorFlipsTheSignOfYaw) {
  const std::string dir = temp_dir("mirror");
  // Photos turned to either side and one nearly frontal.
  for (const char* name : {"person05_5.jpg", "person06_3.jpg", "person01_8.jpg"}) {
    const cv::Mat img = decode_image(people(name)).bgr;
    cv::Mat flipped;
    cv::flip(img, flipped, 1);
    const PhotoAnalysis a = analyse_photo(people(name));
    const PhotoAnalysis b = analyse_photo(save(flipped, dir, std::string("mirror_") + name));
    ASSERT_FALSE(a.faces.empty());
    ASSERT_FALSE(b.faces.empty());
    const float ya = a.faces[0].m.yaw, yb = b.faces[0].m.yaw;
    EXPECT_GT(std::abs(ya), 10.f) << name;
    EXPECT_LT(ya * yb, 0.f) << name << ": " << ya << " vs " << yb;
    EXPECT_NEAR(std::abs(ya), std::abs(yb), std::max(5.f, 0.25f * std::abs(ya))) << name;
    EXPECT_NEAR(a.faces[0].m.roll, -b.faces[0].m.roll, 5.f) << name;
  }
  // The sign means what it says: person05_5 looks towards the image's right.
  EXPECT_GT(analyse_photo(people("person05_5.jpg")).faces[0].m.yaw, 25.f);
  EXPECT_EQ(analyse_photo(people("person05_5.jpg")).faces[0].m.view(), "three_quarter_right");
}

TEST(Intake, SunglassesAreOccluded) {
  const PhotoAnalysis a = analyse_photo(people("person08_2.jpg"));
  ASSERT_FALSE(a.faces.empty());
  EXPECT_LT(a.faces[0].m.occlusion, 0.5f);
  cv::Mat img = decode_image(people("person08_2.jpg")).bgr.clone();
  const auto& lm = a.faces[0].face.landmarks;
  // Dark lenses over both eyes, a bridge between them.
  for (int o : {36, 42}) {
    std::vector<cv::Point> eye;
    for (int i = o; i < o + 6; ++i) eye.emplace_back(lm[i]);
    const cv::RotatedRect r = cv::minAreaRect(eye);
    cv::ellipse(img, cv::RotatedRect(r.center, cv::Size2f(r.size.width * 1.9f + 12, r.size.width * 1.2f + 12), r.angle),
                cv::Scalar(20, 20, 20), cv::FILLED, cv::LINE_AA);
  }
  cv::line(img, lm[39], lm[42], cv::Scalar(20, 20, 20), 4);
  const std::string dir = temp_dir("sunglasses");
  std::vector<std::string> files = photos_of("person08");
  files.push_back(save(img, dir, "sunglasses.jpg"));
  const SetCheck set = check(files);
  const PhotoCheck& p = find(set, "sunglasses.jpg");
  ASSERT_NE(p.measured_face(), nullptr) << p.advice;
  EXPECT_TRUE(flagged(p, "occluded")) << p.measured_face()->m.occlusion;
  EXPECT_EQ(p.measured_face()->m.occluded_region, "eyes");
  EXPECT_NE(p.advice.find("hidden"), std::string::npos) << p.advice;
  for (const auto& f : photos_of("person08")) EXPECT_FALSE(flagged(find(set, fs::path(f).filename()), "occluded")) << f;
}

TEST(Intake, OnePhotoFallsBackToTheCalibratedThreshold) {
  const SetCheck set = check({people("person02_1.jpg")});
  ASSERT_EQ(set.usable(), 1);
  EXPECT_EQ(set.baseline.kind, "calibrated_threshold");
  EXPECT_FLOAT_EQ(set.baseline.gate, kSamePersonThreshold);
  EXPECT_NE(set.baseline.note.find("calibrated"), std::string::npos);
  // The same person passes, someone else does not.
  const auto same = analyse_photo(people("person02_2.jpg")).faces[0].face.embedding;
  const auto other = analyse_photo(people("person03_1.jpg")).faces[0].face.embedding;
  EXPECT_TRUE(score_likeness(same, set.embeddings, set.baseline).passed);
  EXPECT_FALSE(score_likeness(other, set.embeddings, set.baseline).passed);
}

TEST(Intake, UnreadableAndEmptyInputsAreRejectsNotCrashes) {
  const std::string dir = temp_dir("bad");
  const std::string good = read_bytes(people("person07_1.jpg"));
  write_bytes(dir + "/truncated.jpg", good.substr(0, good.size() / 3));
  write_bytes(dir + "/text.jpg", "this is not a photo");
  write_bytes(dir + "/empty.png", "");
  std::vector<std::string> files = photos_of("person07");
  for (const char* f : {"truncated.jpg", "text.jpg", "empty.png"}) files.push_back(dir + "/" + f);
  const SetCheck set = check(files);
  for (const char* f : {"text.jpg", "empty.png"}) {
    const PhotoCheck& p = find(set, f);
    EXPECT_EQ(p.verdict, "reject") << f;
    EXPECT_TRUE(flagged(p, "unreadable")) << f;
    EXPECT_FALSE(p.a.error.empty());
  }
  // A truncated JPEG is refused or, if its top decodes, judged like any photo.
  const PhotoCheck& t = find(set, "truncated.jpg");
  EXPECT_FALSE(t.verdict.empty());
  EXPECT_EQ(set.usable(), int(photos_of("person07").size()) + (t.accepted() ? 1 : 0));
}

TEST(Intake, ContactSheetShowsEveryPhotoWithItsVerdict) {
  std::vector<std::string> files = {people("person09_1.jpg"), people("person09_2.jpg"), people("person09_3.jpg"),
                                    portrait("zebra_stripes.jpg")};
  const SetCheck set = check(files);
  const std::string path = temp_dir("sheet") + "/sheet.png";
  write_contact_sheet(set, path);
  const DecodedImage sheet = decode_image(path);
  // Four tiles in one row, each 240 px wide plus gutters.
  EXPECT_EQ(sheet.bgr.cols, 8 + 4 * (240 + 8));
  // The zebra's badge is red, the others' green.
  const cv::Vec3b zebra = sheet.bgr.at<cv::Vec3b>(8 + 6, 8 + 3 * 248 + 6);
  const cv::Vec3b first = sheet.bgr.at<cv::Vec3b>(8 + 6, 8 + 6);
  EXPECT_GT(zebra[2], 150);
  EXPECT_LT(zebra[1], 80);
  EXPECT_GT(first[1], 120);
  EXPECT_LT(first[2], 100);
  EXPECT_THROW(write_contact_sheet(set, temp_dir("sheet") + "/sheet.gif"), Error);
}

TEST(Intake, JsonHoldsEveryDocumentedField) {
  const SetCheck set = check({people("person11_1.jpg"), people("person11_2.jpg"), portrait("zebra_stripes.jpg")});
  const json j = set.to_json();
  ASSERT_EQ(j["photos"].size(), 3u);
  for (const auto& p : j["photos"])
    for (const char* k : {"file", "verdict", "flags", "advice"}) EXPECT_TRUE(p.contains(k)) << k;
  const json& m = j["photos"][0]["measures"];
  for (const char* k : {"temple_px", "sharpness", "brightness", "noise", "pose", "expression", "occlusion", "brisque"})
    EXPECT_TRUE(m.contains(k)) << k;
  EXPECT_TRUE(j.contains("baseline"));
  EXPECT_TRUE(j.contains("coverage"));
  // Every flag used is in the documented list, which has the required ones.
  std::set<std::string> documented;
  for (const auto& f : j["flag_list"]) documented.insert(f["id"]);
  for (const char* f :
       {"no_face", "different_person", "blurry", "underexposed", "overexposed", "too_small", "eyes_closed", "occluded"})
    EXPECT_TRUE(documented.count(f)) << f;
  for (const auto& p : j["photos"])
    for (const auto& f : p["flags"]) EXPECT_TRUE(documented.count(f.get<std::string>())) << f;
  EXPECT_FALSE(j["coverage"]["views"].empty());
}

// For every person with at least four photos: hold each out, build the set
// from the rest; the held-out photo must pass that person's gate, and at most
// 1% of the other people's photos may.
TEST(Intake, BaselineGateAdmitsThePersonAndRefusesOthers) {
  std::map<std::string, std::vector<std::vector<float>>> by_person;
  std::vector<std::pair<std::string, std::vector<float>>> all;
  for (const auto& id : identities()) {
    const PhotoAnalysis a = analyse_photo(people(id.file));
    ASSERT_FALSE(a.faces.empty()) << id.file;
    by_person[id.person].push_back(a.faces[0].face.embedding);
    all.emplace_back(id.person, a.faces[0].face.embedding);
  }
  int genuine = 0, genuine_pass = 0, impostor = 0, impostor_pass = 0;
  float worst_margin = 1, worst_impostor = -1, lowest_gate = 1;
  for (const auto& [person, embs] : by_person) {
    if (embs.size() < 4) continue;
    for (size_t h = 0; h < embs.size(); ++h) {
      std::vector<std::vector<float>> rest;
      for (size_t i = 0; i < embs.size(); ++i)
        if (i != h) rest.push_back(embs[i]);
      const Baseline b = make_baseline(rest);
      ASSERT_EQ(b.kind, "leave_one_out");
      EXPECT_GE(b.gate, kGateFloor);
      EXPECT_LE(b.gate, std::max(b.p5, kGateFloor));
      const LikenessScore s = score_likeness(embs[h], rest, b);
      ++genuine;
      genuine_pass += s.passed;
      worst_margin = std::min(worst_margin, s.raw - s.gate);
      lowest_gate = std::min(lowest_gate, b.gate);
      EXPECT_TRUE(s.passed) << person << " photo " << h << ": " << s.raw << " < gate " << s.gate;
      for (const auto& [other, e] : all) {
        if (other == person) continue;
        ++impostor;
        const LikenessScore o = score_likeness(e, rest, b);
        impostor_pass += o.passed;
        worst_impostor = std::max(worst_impostor, o.raw - o.gate);
      }
    }
  }
  const double genuine_rate = double(genuine_pass) / genuine, impostor_rate = double(impostor_pass) / impostor;
  std::printf(
      "gate: held-out own photos pass %d/%d (%.1f%%, closest %.4f above the gate); other people pass %d/%d (%.2f%%, "
      "closest %.4f below); lowest gate %.4f\n",
      genuine_pass, genuine, 100 * genuine_rate, worst_margin, impostor_pass, impostor, 100 * impostor_rate,
      -worst_impostor, lowest_gate);
  EXPECT_GE(genuine, 50);
  EXPECT_LE(impostor_rate, 0.01);
}

// Over all of people/: a photo's mirror image has the opposite yaw.
TEST(Intake, MirrorYawOverAllPeople) {
  const std::string dir = temp_dir("mirror-all");
  std::vector<float> diffs;
  int sign_checked = 0, sign_ok = 0;
  for (const auto& id : identities()) {
    cv::Mat flipped;
    cv::flip(decode_image(people(id.file)).bgr, flipped, 1);
    const PhotoAnalysis a = analyse_photo(people(id.file));
    const PhotoAnalysis b = analyse_photo(save(flipped, dir, id.file));
    ASSERT_FALSE(a.faces.empty());
    ASSERT_FALSE(b.faces.empty());
    const float ya = a.faces[0].m.yaw, yb = b.faces[0].m.yaw;
    diffs.push_back(std::abs(ya + yb));
    if (std::abs(ya) > 8) ++sign_checked, sign_ok += ya * yb < 0;
  }
  std::sort(diffs.begin(), diffs.end());
  const float mean = std::accumulate(diffs.begin(), diffs.end(), 0.f) / diffs.size();
  std::printf("mirror yaw: |yaw + yaw_mirrored| mean %.2f, median %.2f, max %.2f deg; sign flips %d/%d\n", mean,
              diffs[diffs.size() / 2], diffs.back(), sign_ok, sign_checked);
  EXPECT_EQ(sign_ok, sign_checked);
  EXPECT_LT(mean, 4.f);
}
