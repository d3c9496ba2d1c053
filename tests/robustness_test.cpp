// Real phone photos and damaged files: every EXIF orientation decodes
// upright, degenerate / truncated / corrupt files are refused with the file's
// name and the true reason (never "no face", never an internal error, never
// accepted by chance), and faces that fill the photo are found and judged
// for what they are.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "likeness/error.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string fullsize(const std::string& f) { return faces_dir() + "/fullsize/" + f; }

void sh(const std::vector<std::string>& argv) {
  const CliResult r = run_program(argv);
  ASSERT_EQ(r.exit_code, 0) << argv[0] << ": " << r.err;
}

ErrorInfo decode_error_bytes(const std::string& bytes, const std::string& name) {
  try {
    decode_image_bytes(bytes, name);
  } catch (const Error& e) {
    return e.info();
  }
  return {};
}

std::string encode_png(const cv::Mat& m) {
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

// `check FILE... --json`: the verdict JSON of every photo, by file name.
std::map<std::string, json> check_verdicts(const std::vector<std::string>& files, int* exit_code = nullptr,
                                           std::string* err = nullptr) {
  std::vector<std::string> args = {"check"};
  for (const auto& f : files) args.push_back(f);
  args.push_back("--json");
  args.push_back("--quiet");
  const CliResult r = run_cli(args);
  if (exit_code) *exit_code = r.exit_code;
  if (err) *err = r.err;
  std::map<std::string, json> out;
  const json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& p : j["photos"]) out[fs::path(p["file"].get<std::string>()).filename().string()] = p;
  return out;
}

}  // namespace

// Most phone photos are stored sideways with an EXIF orientation. Eight
// full-size JPEGs made from one 12.6 MP photo by lossless transforms
// (jpegtran -perfect), each tagged with the orientation that undoes its
// transform, must all decode to the same upright picture.
TEST(PhoneOrientation, EveryOrientationAtFullSizeDecodesUprightAndIdentical) {
  const std::string dir = temp_dir("orient");
  const std::string src = fullsize("person03_5_full.jpg");
  const cv::Size full = decode_image(src).bgr.size();
  const int w = full.width / 16 * 16, h = full.height / 16 * 16;
  const std::string base = dir + "/o1.jpg";
  sh({"jpegtran", "-copy", "none", "-crop", std::to_string(w) + "x" + std::to_string(h) + "+0+0", "-outfile", base,
      src});
  // Stored pixels for tag o: the inverse of o's display transform.
  const std::vector<std::vector<std::string>> inverse = {{},
                                                         {"-flip", "horizontal"},
                                                         {"-rotate", "180"},
                                                         {"-flip", "vertical"},
                                                         {"-transpose"},
                                                         {"-rotate", "270"},
                                                         {"-transverse"},
                                                         {"-rotate", "90"}};
  const DecodedImage upright = decode_image(base);
  ASSERT_EQ(upright.bgr.size(), cv::Size(w, h));
  for (int o = 1; o <= 8; ++o) {
    const std::string file = dir + "/o" + std::to_string(o) + ".jpg";
    if (o > 1) {
      std::vector<std::string> argv = {"jpegtran", "-perfect", "-copy", "none"};
      for (const auto& a : inverse[o - 1]) argv.push_back(a);
      argv.insert(argv.end(), {"-outfile", file, base});
      sh(argv);
    }
    sh({"exiftool", "-q", "-overwrite_original", "-n", "-Orientation=" + std::to_string(o), file});
    const DecodedImage d = decode_image(file);
    EXPECT_EQ(d.orientation, o);
    ASSERT_EQ(d.bgr.size(), upright.bgr.size()) << "orientation " << o;
    cv::Mat diff;
    cv::absdiff(d.bgr, upright.bgr, diff);
    double max_diff = 0;
    cv::minMaxLoc(diff.reshape(1), nullptr, &max_diff);
    // Lossless transforms: the same DCT blocks, rearranged; only the
    // decoder's chroma upsampling rounds a little differently along rows
    // than along columns.
    const double mean = cv::mean(diff.reshape(1))[0];
    EXPECT_LE(max_diff, 4) << "orientation " << o;
    EXPECT_LT(mean, 0.05) << "orientation " << o;
    std::printf("orientation %d: %dx%d, max |diff| %.0f, mean %.4f\n", o, d.bgr.cols, d.bgr.rows, max_diff, mean);
    std::fflush(stdout);
    // Shrink-on-load (what `check` uses) agrees on the orientation too.
    DecodeLimits lim;
    lim.shrink_to = 1280;
    const DecodedImage small = decode_image(file, lim), small_upright = decode_image(base, lim);
    ASSERT_EQ(small.bgr.size(), small_upright.bgr.size()) << "orientation " << o;
    cv::absdiff(small.bgr, small_upright.bgr, diff);
    EXPECT_LT(cv::mean(diff.reshape(1))[0], 0.5) << "orientation " << o << " after shrink-on-load";
  }
  // `check` accepts every one of them as a photo of the same face.
  std::vector<std::string> files;
  for (int o = 1; o <= 8; ++o) files.push_back(dir + "/o" + std::to_string(o) + ".jpg");
  int code = 0;
  const auto verdicts = check_verdicts(files, &code);
  EXPECT_EQ(code, 0);
  ASSERT_EQ(verdicts.size(), 8u);
  for (const auto& [name, v] : verdicts) EXPECT_NE(v["verdict"], "reject") << name << ": " << v.dump();
  fs::remove_all(dir);
}

class Degenerate : public ::testing::Test {
 protected:
  void SetUp() override { dir = temp_dir("degenerate"); }
  void TearDown() override { fs::remove_all(dir); }
  // The CLI refuses the file alone with exit 3, naming it and the reason.
  void expect_refused(const std::string& file, const std::string& reason_part) {
    const CliResult r = run_cli({"check", file, "--quiet"});
    EXPECT_EQ(r.exit_code, 3) << file << "\n" << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(fs::path(file).filename().string()), std::string::npos) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(reason_part), std::string::npos) << "expected '" << reason_part << "' in:\n"
                                                                    << r.out << r.err;
    EXPECT_EQ(r.err.find("VIPS-WARNING"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_EQ((r.out + r.err).find("no face"), std::string::npos) << "a damaged file is not 'no face':\n"
                                                                  << r.out << r.err;
    const ErrorInfo e = decode_error_bytes(read_bytes(file), file);
    EXPECT_EQ(e.code, ErrorCode::bad_input);
    EXPECT_EQ(e.file, file);
    EXPECT_FALSE(e.message.empty());
  }
  std::string dir;
};

TEST_F(Degenerate, ThinImagesAreRefusedAtTheHeader) {
  const struct {
    const char* name;
    int w, h;
    const char* reason;
  } thin[] = {{"1x3000.png", 1, 3000, "1x3000 px is too small to hold a face"},
              {"3000x1.png", 3000, 1, "at least 32 px on each side"},
              {"65535x1.png", 65535, 1, "65535x1 px"},
              {"strip-2000x40.png", 2000, 40, "is a strip, not a photo"}};
  for (const auto& t : thin) {
    write_bytes(dir + "/" + t.name, encode_png(cv::Mat(t.h, t.w, CV_8UC3, cv::Scalar(90, 120, 200))));
    expect_refused(dir + "/" + t.name, t.reason);
  }
  write_bytes(dir + "/claims-1000000x1.png", png_claiming(1000000, 1));
  expect_refused(dir + "/claims-1000000x1.png", "1000000x1 px");
}

TEST_F(Degenerate, PixelLimitMessageIsNotAContradiction) {
  write_bytes(dir + "/big.png", png_claiming(10001, 10000));
  expect_refused(dir + "/big.png", "10001x10000 px is 100,010,000 pixels, over the limit of 100,000,000 (100 MP)");
}

// Damaged files: each refused for what it is.
TEST_F(Degenerate, DamagedFilesGiveTheTrueReason) {
  const std::string photo = read_bytes(people("person01_1.jpg"));
  // A JPEG cut in half: libjpeg's "premature end" warning is an error here.
  write_bytes(dir + "/half.jpg", photo.substr(0, photo.size() / 2));
  expect_refused(dir + "/half.jpg", "truncated");
  // A progressive JPEG cut short.
  sh({"vips", "jpegsave", people("person01_1.jpg"), dir + "/prog.jpg", "--interlace"});
  const std::string prog = read_bytes(dir + "/prog.jpg");
  write_bytes(dir + "/prog-cut.jpg", prog.substr(0, prog.size() * 2 / 3));
  expect_refused(dir + "/prog-cut.jpg", "prog-cut.jpg");
  // Scan data overwritten in the middle: "Corrupt JPEG data" is not ignored.
  std::string corrupt = photo;
  for (size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 400; ++i) corrupt[i] = char(0xff);
  write_bytes(dir + "/corrupt.jpg", corrupt);
  expect_refused(dir + "/corrupt.jpg", "corrupt.jpg");
  // A JPEG whose header claims 9999x10000 but holds a 512 px photo's data.
  std::string claims = photo;
  const size_t sof = claims.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  claims[sof + 5] = char(0x27), claims[sof + 6] = char(0x10);  // height 10000
  claims[sof + 7] = char(0x27), claims[sof + 8] = char(0x0f);  // width 9999
  write_bytes(dir + "/claims.jpg", claims);
  expect_refused(dir + "/claims.jpg", "claims.jpg");
  // A PNG whose zlib stream is invalid (CRC fixed, so only zlib can tell).
  const std::string png = encode_png(decode_image(people("person01_1.jpg")).bgr);
  std::string bad_zlib = png;
  const size_t idat = bad_zlib.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  bad_zlib[idat + 4] = char(0x00);  // CMF byte: not deflate
  bad_zlib[idat + 5] = char(0x00);
  write_bytes(dir + "/zlib.png", bad_zlib);
  expect_refused(dir + "/zlib.png", "zlib.png");
  // A truncated HEIC.
  sh({"heif-enc", "-q", "60", "-o", dir + "/photo.heic", people("person01_1.jpg")});
  const DecodedImage heic = decode_image(dir + "/photo.heic");
  EXPECT_EQ(heic.format, "heif");
  const std::string h = read_bytes(dir + "/photo.heic");
  write_bytes(dir + "/cut.heic", h.substr(0, h.size() / 2));
  const ErrorInfo e = decode_error_bytes(read_bytes(dir + "/cut.heic"), "cut.heic");
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_GT(std::count_if(e.message.begin(), e.message.end(), ::isalpha), 12) << "no words in: " << e.message;
  EXPECT_EQ(e.message.find(":  ("), std::string::npos) << e.message;
  expect_refused(dir + "/cut.heic", "cut.heic");
}

// A truncated PNG is refused every time, also when decodes run in parallel
// with other work: 50 CLI runs, four at a time, beside full-size decodes.
TEST_F(Degenerate, TruncatedPngIsAlwaysRefusedUnderLoad) {
  const std::string png = encode_png(decode_image(people("person02_1.jpg")).bgr);
  write_bytes(dir + "/cut.png", png.substr(0, png.size() * 3 / 4));
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop) decode_image(fullsize("person09_3_full.jpg"));
  });
  std::atomic<int> accepted{0}, refused{0}, other{0};
  std::vector<std::thread> runners;
  for (int t = 0; t < 4; ++t)
    runners.emplace_back([&] {
      for (int i = 0; i < 13 && accepted + refused + other < 50; ++i) {
        // Refused as unreadable, not analysed as a whole photo without a face.
        const CliResult r = run_cli({"check", dir + "/cut.png", "--json", "--quiet"});
        const json j = json::parse(r.out, nullptr, false);
        const bool unreadable =
            !j.is_discarded() && j["photos"].size() == 1 && j["photos"][0]["flags"] == json::array({"unreadable"});
        (r.exit_code == 3 && unreadable ? refused : r.exit_code == 0 ? accepted : other)++;
      }
    });
  // In-process too: 200 decodes on four threads.
  std::vector<std::future<int>> in_process;
  for (int t = 0; t < 4; ++t)
    in_process.push_back(std::async(std::launch::async, [&] {
      int ok = 0;
      for (int i = 0; i < 50; ++i)
        ok += decode_error_bytes(png.substr(0, png.size() * 3 / 4), "cut.png").code == ErrorCode::bad_input;
      return ok;
    }));
  for (auto& r : runners) r.join();
  int in_process_refused = 0;
  for (auto& f : in_process) in_process_refused += f.get();
  stop = true;
  load.join();
  EXPECT_EQ(accepted, 0);
  EXPECT_EQ(other, 0);
  EXPECT_GE(refused, 50);
  EXPECT_EQ(in_process_refused, 200);
}

// In a folder, a damaged file is that photo's `unreadable` verdict; the
// others are judged as usual.
TEST_F(Degenerate, CheckJudgesTheOthersBesideABadFile) {
  for (const char* f : {"person01_1.jpg", "person01_2.jpg", "person01_3.jpg"}) fs::copy_file(people(f), dir + "/" + f);
  write_bytes(dir + "/thin.png", encode_png(cv::Mat(3000, 1, CV_8UC3, cv::Scalar(90, 120, 200))));
  const std::string photo = read_bytes(people("person01_4.jpg"));
  write_bytes(dir + "/cut.jpg", photo.substr(0, photo.size() / 3));
  int code = -1;
  std::string err;
  const auto v = check_verdicts({dir}, &code, &err);
  EXPECT_EQ(code, 0) << err;
  ASSERT_EQ(v.size(), 5u);
  for (const char* bad : {"thin.png", "cut.jpg"}) {
    EXPECT_EQ(v.at(bad)["verdict"], "reject");
    EXPECT_EQ(v.at(bad)["flags"][0], "unreadable") << v.at(bad).dump();
  }
  for (const char* good : {"person01_1.jpg", "person01_2.jpg", "person01_3.jpg"})
    EXPECT_NE(v.at(good)["verdict"], "reject") << v.at(good).dump();
  EXPECT_EQ(err.find("VIPS-WARNING"), std::string::npos) << err;
}

// A face that fills the photo is found (also in grey), and the check says
// what is wrong with it as a source: too tight, too few pixels.
TEST(FaceFillsFrame, TightCropsAreFoundAndJudgedForWhatTheyAre) {
  const std::string dir = temp_dir("tight");
  const DecodedImage d = decode_image(people("person02_1.jpg"));
  const PhotoAnalysis a = analyse_photo(people("person02_1.jpg"), false);
  ASSERT_FALSE(a.faces.empty());
  // Forehead to chin, temple to temple: the landmarks' box.
  const cv::Rect lm = cv::boundingRect(a.faces[0].face.landmarks) & cv::Rect(0, 0, d.bgr.cols, d.bgr.rows);
  cv::Mat crop;
  cv::resize(d.bgr(lm), crop, cv::Size(150, int(150.0 * lm.height / lm.width)), 0, 0, cv::INTER_AREA);
  cv::Mat grey;
  cv::cvtColor(crop, grey, cv::COLOR_BGR2GRAY);
  write_bytes(dir + "/colour.png", encode_png(crop));
  write_bytes(dir + "/grey.png", encode_png(grey));
  for (const char* f : {"colour.png", "grey.png"}) {
    const PhotoAnalysis t = analyse_photo(dir + "/" + f, false);
    ASSERT_EQ(t.faces.size(), 1u) << f << ": the face that fills the photo was not found";
    // Its geometry is in the photo's own pixels.
    const cv::Rect2f box = t.faces[0].face.box;
    EXPECT_LT(std::abs(box.x + box.width / 2 - 75), 30) << f;
  }
  int code = -1;
  const auto v = check_verdicts({dir + "/colour.png", dir + "/grey.png"}, &code);
  EXPECT_EQ(code, 0);
  for (const char* f : {"colour.png", "grey.png"}) {
    const json& p = v.at(f);
    EXPECT_EQ(p["verdict"], "usable") << p.dump();
    const auto flags = p["flags"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(flags.begin(), flags.end(), "too_tight"), flags.end()) << p.dump();
    EXPECT_NE(std::find(flags.begin(), flags.end(), "low_resolution"), flags.end()) << p.dump();
    const std::string advice = p["advice"];
    EXPECT_NE(advice.find("no hair"), std::string::npos) << advice;
    EXPECT_NE(advice.find("1024x1280"), std::string::npos) << advice;
    EXPECT_EQ(advice.find("Good reference"), std::string::npos) << advice;
  }
  // The original photo of the same person is neither.
  const auto orig = check_verdicts({people("person02_1.jpg")});
  const auto flags = orig.begin()->second["flags"].get<std::vector<std::string>>();
  EXPECT_EQ(std::find(flags.begin(), flags.end(), "too_tight"), flags.end());
  fs::remove_all(dir);
}
