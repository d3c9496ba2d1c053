// Ranking anyone's headshots against the person's own photos: among the
// person's held-out photos (and edited versions of them: mirrored, saved
// at JPEG quality 40, heavily smoothed) and other people's photos, the
// person's come first and other people are "not you".
#include "likeness/rank.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/studio.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;

namespace {
void write_jpeg(const cv::Mat& bgr, const std::string& path, int quality = 92) {
  write_bytes(path, encode_image(bgr, ImageFormat::jpeg, quality));
}
}  // namespace

TEST(Rank, ThePersonFirstOthersNotThem) {
  const std::string refs = temp_dir("rank-refs"), cand = temp_dir("rank-cand");
  for (const char* f : {"person04_1.jpg", "person04_2.jpg", "person04_3.jpg"}) fs::copy_file(people(f), refs + "/" + f);
  const std::vector<std::string> mine = {"person04_4.jpg", "person04_5.jpg", "person04_6.jpg"};
  const std::vector<std::string> others = {"person01_1.jpg", "person02_1.jpg", "person05_1.jpg", "person06_2.jpg",
                                           "person08_1.jpg", "person09_1.jpg", "person13_1.jpg"};
  for (const auto& f : mine) fs::copy_file(people(f), cand + "/" + f);
  for (const auto& f : others) fs::copy_file(people(f), cand + "/" + f);
  // Edited versions of the held-out photos.
  const cv::Mat a = decode_image(people("person04_4.jpg")).bgr, b = decode_image(people("person04_5.jpg")).bgr,
                c = decode_image(people("person04_6.jpg")).bgr;
  cv::Mat mirrored, smoothed;
  cv::flip(a, mirrored, 1);
  write_jpeg(mirrored, cand + "/edit_mirrored.jpg");
  write_jpeg(b, cand + "/edit_q40.jpg", 40);
  cv::GaussianBlur(c, smoothed, cv::Size(), 4);
  write_jpeg(smoothed, cand + "/edit_smoothed.jpg");

  JobContext ctx;
  const HeadshotRanking r = rank_headshots(list_images(refs), list_images(cand), ctx);
  ASSERT_EQ(r.headshots.size(), mine.size() + others.size() + 3);
  auto is_mine = [&](const RankedHeadshot& h) {
    const std::string n = fs::path(h.file).filename().string();
    return n.rfind("person04", 0) == 0 || n.rfind("edit_", 0) == 0;
  };
  int worst_mine = 0, best_other = 1 << 20;
  for (const RankedHeadshot& h : r.headshots) {
    std::printf("#%-2d %-8s %-20s likeness %.4f (gate %.3f), quality %.2f\n", h.rank, h.verdict.c_str(),
                fs::path(h.file).filename().string().c_str(), h.likeness.raw, h.likeness.gate, h.quality);
    if (is_mine(h)) {
      EXPECT_EQ(h.verdict, "you") << h.file;
      worst_mine = std::max(worst_mine, h.rank);
    } else {
      EXPECT_EQ(h.verdict, "not you") << h.file;
      best_other = std::min(best_other, h.rank);
    }
  }
  EXPECT_LT(worst_mine, best_other) << "the person's photos come first";
  // Quality is measured on the image: the smoothed copy scores lower than
  // its original.
  auto find = [&](const char* n) {
    for (const auto& h : r.headshots)
      if (fs::path(h.file).filename() == n) return h;
    return RankedHeadshot{};
  };
  EXPECT_LT(find("edit_smoothed.jpg").quality_parts["sharpness"].get<double>(),
            find("person04_6.jpg").quality_parts["sharpness"].get<double>());
  // JSON, best first, and the contact sheet.
  const json j = r.to_json();
  ASSERT_EQ(j["ranking"].size(), r.headshots.size());
  EXPECT_EQ(j["ranking"][0]["rank"], 1);
  EXPECT_TRUE(j["ranking"][0].contains("likeness"));
  const std::string sheet = cand + "/../rank-sheet.png";
  write_ranking_sheet(r, sheet);
  EXPECT_FALSE(decode_image(sheet).bgr.empty());
  std::fflush(stdout);  // before the CLI runs in a child process
  // The CLI: JSON on stdout; a folder without photos is bad input (exit 3).
  const CliResult cli = run_cli({"rank", "--refs", refs, "--candidates", cand, "--json", "--quiet"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(json::parse(cli.out)["ranking"].size(), r.headshots.size());
  const std::string empty = temp_dir("rank-empty");
  EXPECT_EQ(run_cli({"rank", "--refs", refs, "--candidates", empty, "--quiet"}).exit_code, 3);
  fs::remove(sheet);
  fs::remove_all(refs);
  fs::remove_all(cand);
  fs::remove_all(empty);
}

// Nothing is kept without --subject; with it, the person's consent is
// needed (exit 5 without), the ranking is kept in their store, and forget
// deletes it.
TEST(Rank, WithASubjectTheRankingIsKeptAndForgetDeletesIt) {
  const std::string refs = temp_dir("rank-keep-refs"), cand = temp_dir("rank-keep-cand");
  for (const char* f : {"person09_1.jpg", "person09_2.jpg", "person09_3.jpg"}) fs::copy_file(people(f), refs + "/" + f);
  for (const char* f : {"person09_4.jpg", "person10_1.jpg"}) fs::copy_file(people(f), cand + "/" + f);
  CliResult r = run_cli({"rank", "--refs", refs, "--candidates", cand, "--subject", "rank-keeper", "--json"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("consent"), std::string::npos) << r.err;

  grant_consent("rank-keeper");
  r = run_cli({"rank", "--refs", refs, "--candidates", cand, "--subject", "rank-keeper", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("kept"));
  const std::string kept = j["kept"];
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_EQ(nlohmann::json::parse(read_bytes(kept))["ranking"], j["ranking"]);
  EXPECT_EQ(j["ranking"][0]["verdict"], "you");
  EXPECT_EQ(j["ranking"][1]["verdict"], "not you");

  r = run_cli({"forget", "rank-keeper"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(kept)) << "forget left the ranking behind";
}
