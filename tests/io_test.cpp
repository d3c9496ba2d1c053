// Decoding and encoding: formats, colour management, orientation, limits and
// every bad-input path (a clear error naming the file, never a crash).
#include <gtest/gtest.h>
#include <unistd.h>
#include <vips/vips.h>

#include <exiv2/exiv2.hpp>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/color.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"
#include "likeness/resample.hpp"
#include "likeness/xmp.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;

namespace {
ErrorInfo decode_error(const std::string& path) {
  try {
    decode_image(path);
  } catch (const Error& e) {
    return e.info();
  }
  return {};
}

double mean_abs(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  const cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3;
}

cv::Mat colour_card() {
  cv::Mat m(120, 160, CV_8UC3);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x * 255 / 159), uchar(y * 2), uchar(200 - x));
  return m;
}
}  // namespace

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { dir = temp_dir("io"); }
  void TearDown() override { fs::remove_all(dir); }
  std::string dir;
};

TEST_F(BadInput, ZeroByteFile) {
  write_bytes(dir + "/empty.jpg", "");
  ErrorInfo e = decode_error(dir + "/empty.jpg");
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_EQ(e.file, dir + "/empty.jpg");
  EXPECT_NE(e.message.find("empty"), std::string::npos) << e.message;
}

TEST_F(BadInput, TruncatedJpeg) {
  const std::string full = read_bytes(people("person01_1.jpg"));
  write_bytes(dir + "/cut.jpg", full.substr(0, full.size() / 2));
  ErrorInfo e = decode_error(dir + "/cut.jpg");
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_EQ(e.file, dir + "/cut.jpg");
  EXPECT_FALSE(e.message.empty());
}

TEST_F(BadInput, TextFileNamedJpg) {
  write_bytes(dir + "/notes.jpg", "These are my notes, not a photo.\n");
  ErrorInfo e = decode_error(dir + "/notes.jpg");
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_NE(e.message.find("not an image"), std::string::npos) << e.message;
}

TEST_F(BadInput, HugePngHeaderIsRefusedBeforeDecoding) {
  write_bytes(dir + "/huge.png", png_claiming(30000, 30000));
  ErrorInfo e = decode_error(dir + "/huge.png");
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_NE(e.message.find("30000x30000"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("100 MP"), std::string::npos) << e.message;
}

TEST_F(BadInput, OversizedFileIsRefusedUnread) {
  const std::string path = dir + "/big.jpg";
  write_bytes(path, read_bytes(people("person01_1.jpg")));
  ASSERT_EQ(truncate(path.c_str(), 51 * 1024 * 1024), 0);  // sparse: nothing is written
  ErrorInfo e = decode_error(path);
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_NE(e.message.find("50 MB"), std::string::npos) << e.message;
}

TEST_F(BadInput, MissingFile) {
  ErrorInfo e = decode_error(dir + "/nothing-here.jpg");
  EXPECT_EQ(e.code, ErrorCode::bad_input);
  EXPECT_NE(e.message.find("no such file"), std::string::npos);
}

TEST(Decode, GreySixteenBitAndAlphaBecomeEightBitSrgb) {
  const std::string dir = temp_dir("fmt");
  cv::Mat grey(50, 60, CV_8UC1, cv::Scalar(90));
  cv::imwrite(dir + "/grey.png", grey);
  cv::Mat deep(50, 60, CV_16UC3, cv::Scalar(65535, 32768, 0));
  cv::imwrite(dir + "/deep.png", deep);
  cv::Mat rgba(50, 60, CV_8UC4, cv::Scalar(0, 0, 255, 0));  // fully transparent red
  rgba(cv::Rect(0, 0, 30, 50)).setTo(cv::Scalar(0, 0, 255, 255));
  cv::imwrite(dir + "/alpha.png", rgba);

  DecodedImage g = decode_image(dir + "/grey.png");
  ASSERT_EQ(g.bgr.type(), CV_8UC3);
  EXPECT_EQ(g.bgr.at<cv::Vec3b>(10, 10), cv::Vec3b(90, 90, 90));
  DecodedImage d = decode_image(dir + "/deep.png");
  EXPECT_NEAR(d.bgr.at<cv::Vec3b>(10, 10)[0], 255, 1);
  EXPECT_NEAR(d.bgr.at<cv::Vec3b>(10, 10)[1], 128, 1);
  EXPECT_NEAR(d.bgr.at<cv::Vec3b>(10, 10)[2], 0, 1);
  DecodedImage a = decode_image(dir + "/alpha.png");
  EXPECT_TRUE(a.had_alpha);
  EXPECT_EQ(a.bgr.at<cv::Vec3b>(10, 10), cv::Vec3b(0, 0, 255));      // opaque red stays
  EXPECT_EQ(a.bgr.at<cv::Vec3b>(10, 50), cv::Vec3b(255, 255, 255));  // transparent -> white
  fs::remove_all(dir);
}

TEST(Decode, CmykAndDisplayP3AreConvertedToSrgb) {
  init_image_io();
  const cv::Mat card = colour_card();
  const std::string srgb = encode_image(card, ImageFormat::png, 0);
  VipsImage* in = vips_image_new_from_buffer(srgb.data(), srgb.size(), "", nullptr);
  ASSERT_NE(in, nullptr);
  for (const char* target : {"cmyk", "p3"}) {
    VipsImage* out = nullptr;
    ASSERT_EQ(vips_icc_transform(in, &out, target, "embedded", TRUE, nullptr), 0) << vips_error_buffer();
    void* buf = nullptr;
    size_t len = 0;
    ASSERT_EQ(vips_jpegsave_buffer(out, &buf, &len, "Q", 95, nullptr), 0) << vips_error_buffer();
    const std::string bytes(static_cast<char*>(buf), len);
    g_free(buf);
    g_object_unref(out);
    DecodedImage d = decode_image_bytes(bytes, target);
    EXPECT_TRUE(d.converted_icc) << target;
    // P3 holds all of sRGB; CMYK clips the saturated corners of the card.
    EXPECT_LT(mean_abs(d.bgr, card), std::string(target) == "p3" ? 3.0 : 16.0)
        << target << " did not come back to sRGB";
  }
  g_object_unref(in);
}

TEST(Decode, ExifOrientationIsApplied) {
  // An 80x40 image, left half white; saved with orientation 6 (rotate 90 CW).
  cv::Mat m(40, 80, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(0, 0, 40, 40)).setTo(cv::Scalar(255, 255, 255));
  const std::string jpg = encode_image(m, ImageFormat::jpeg, 95);
  auto image = Exiv2::ImageFactory::open(reinterpret_cast<const Exiv2::byte*>(jpg.data()), long(jpg.size()));
  image->readMetadata();
  image->exifData()["Exif.Image.Orientation"] = uint16_t(6);
  image->writeMetadata();
  auto& io = image->io();
  io.seek(0, Exiv2::BasicIo::beg);
  Exiv2::DataBuf buf = io.read(long(io.size()));
  DecodedImage d = decode_image_bytes(std::string(reinterpret_cast<char*>(buf.pData_), size_t(buf.size_)), "rot.jpg");
  EXPECT_EQ(d.orientation, 6);
  ASSERT_EQ(d.bgr.cols, 40);
  ASSERT_EQ(d.bgr.rows, 80);
  // Rotated 90 degrees clockwise: the white left half is now the top half.
  EXPECT_GT(d.bgr.at<cv::Vec3b>(10, 20)[0], 200);
  EXPECT_LT(d.bgr.at<cv::Vec3b>(70, 20)[0], 50);
}

TEST(Encode, EveryFormatCarriesSrgbAndRoundTrips) {
  const cv::Mat card = colour_card();
  for (ImageFormat f : {ImageFormat::jpeg, ImageFormat::png, ImageFormat::webp}) {
    const std::string bytes = encode_image(card, f, 95);
    VipsImage* im = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", nullptr);
    ASSERT_NE(im, nullptr);
    EXPECT_TRUE(vips_image_get_typeof(im, VIPS_META_ICC_NAME)) << format_extension(f) << " has no ICC profile";
    g_object_unref(im);
    EXPECT_LT(mean_abs(decode_image_bytes(bytes, "x").bgr, card), f == ImageFormat::png ? 0.01 : 3.0);
  }
}

TEST(Encode, XmpDigitalSourceTypeRoundTrips) {
  for (ImageFormat f : {ImageFormat::jpeg, ImageFormat::png, ImageFormat::webp}) {
    const std::string bytes = embed_xmp(encode_image(colour_card(), f, 90),
                                        {"compositeWithTrainedAlgorithmicMedia", "likeness test", "backdrop replaced"});
    auto xmp = read_xmp(bytes);
    EXPECT_EQ(xmp["Xmp.iptcExt.DigitalSourceType"],
              "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia")
        << format_extension(f);
    EXPECT_EQ(xmp["Xmp.xmp.CreatorTool"], "likeness test");
    EXPECT_NO_THROW(decode_image_bytes(bytes, "with-xmp"));
  }
}

TEST(Files, AtomicWriteLeavesNoPartialFile) {
  const std::string dir = temp_dir("atomic");
  write_file_atomic(dir + "/a.txt", "first");
  write_file_atomic(dir + "/a.txt", "second");
  EXPECT_EQ(read_bytes(dir + "/a.txt"), "second");
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  EXPECT_EQ(n, 1u) << "a temporary file was left behind";
  EXPECT_THROW(write_file_atomic(dir + "/missing/sub/b.txt", "x"), Error);
  EXPECT_FALSE(fs::exists(dir + "/missing"));
  fs::remove_all(dir);
}

// warp_reduced takes a small rotated crop out of a 12 MP photo as reducing
// the whole photo by area averaging and then warping would (the slow way it
// replaces), and samples without averaging when the crop is not reduced.
TEST(Resample, WarpReducedAgreesWithReducingTheWholePhotoFirst) {
  const cv::Mat photo = decode_image(faces_dir() + "/fullsize/person03_5_full.jpg").bgr;
  ASSERT_GT(photo.total(), 10'000'000u);
  const cv::Size out(192, 192);
  for (const double scale : {0.09, 0.2, 0.45, 1.0}) {
    // A square of 192 / scale source px around the photo's centre, turned 10 degrees.
    const cv::Point2f c(photo.cols * 0.5f, photo.rows * 0.4f);
    cv::Matx23d m = cv::getRotationMatrix2D(c, 10, scale);
    m(0, 2) += out.width / 2.0 - c.x, m(1, 2) += out.height / 2.0 - c.y;
    const cv::Mat fast = warp_reduced(photo, m, out, 2.0);
    cv::Mat slow;
    const double f = std::min(1.0, 2 * scale);
    if (f < 1) {
      cv::Mat small;
      cv::resize(photo, small, cv::Size(), f, f, cv::INTER_AREA);
      const double fx = double(small.cols) / photo.cols, fy = double(small.rows) / photo.rows;
      const double ox = 0.5 / fx - 0.5, oy = 0.5 / fy - 0.5;
      const cv::Matx23d mr(m(0, 0) / fx, m(0, 1) / fy, m(0, 2) + m(0, 0) * ox + m(0, 1) * oy, m(1, 0) / fx,
                           m(1, 1) / fy, m(1, 2) + m(1, 0) * ox + m(1, 1) * oy);
      cv::warpAffine(small, slow, mr, out, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    } else {
      cv::warpAffine(photo, slow, m, out, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    }
    // The two average over boxes at other phases (sharp edges differ by
    // tens of levels here and there); geometry is the same: no shift
    // between them (phase correlation of their grey), no difference on
    // average.
    cv::Mat d, gf, gs;
    cv::absdiff(fast, slow, d);
    cv::cvtColor(fast, gf, cv::COLOR_BGR2GRAY);
    cv::cvtColor(slow, gs, cv::COLOR_BGR2GRAY);
    gf.convertTo(gf, CV_64F);
    gs.convertTo(gs, CV_64F);
    const cv::Point2d shift = cv::phaseCorrelate(gs, gf);
    const double mean = cv::mean(d.reshape(1))[0];
    std::printf("scale %.2f: mean |diff| %.3f, max %.0f (8-bit), shift %.3f, %.3f px\n", scale, mean,
                cv::norm(d, cv::NORM_INF), shift.x, shift.y);
    EXPECT_LT(mean, 2.0) << scale;
    EXPECT_LT(std::hypot(shift.x, shift.y), 0.25) << scale;
    if (scale == 1.0) {
      EXPECT_EQ(cv::norm(d, cv::NORM_INF), 0) << "not reduced: the same warp";
    }
  }
}

// reduce_area reduces a 12 MP photo as cv::resize's area averaging does,
// and reports the exact scale it used per axis.
TEST(Resample, ReduceAreaAgreesWithResizeAndReportsItsScale) {
  const cv::Mat photo = decode_image(faces_dir() + "/fullsize/person03_5_full.jpg").bgr;
  for (const double scale : {0.294, 0.5, 0.8}) {
    double sx = 0, sy = 0;
    const cv::Mat fast = reduce_area(photo, scale, &sx, &sy);
    // The part of the photo the scales say was used, reduced the slow way.
    const cv::Size used(int(std::lround(fast.cols / sx)), int(std::lround(fast.rows / sy)));
    ASSERT_LE(used.width, photo.cols);
    ASSERT_LE(used.height, photo.rows);
    EXPECT_GT(used.width, photo.cols - 1 / scale) << "under a block of the photo is left out";
    EXPECT_GT(used.height, photo.rows - 1 / scale);
    cv::Mat slow;
    cv::resize(photo(cv::Rect(cv::Point(), used)), slow, fast.size(), 0, 0, cv::INTER_AREA);
    // Same geometry: a shift of a third of a pixel would show at every
    // edge even after a blur; the two differ only in how they average.
    cv::Mat d, bf, bs, db;
    cv::absdiff(fast, slow, d);
    cv::GaussianBlur(fast, bf, cv::Size(), 2.0);
    cv::GaussianBlur(slow, bs, cv::Size(), 2.0);
    cv::absdiff(bf, bs, db);
    const double mean = cv::mean(d.reshape(1))[0], blurred = cv::mean(db.reshape(1))[0];
    std::printf("scale %.3f: %dx%d, sx %.5f sy %.5f, mean |diff| %.3f, blurred %.3f\n", scale, fast.cols, fast.rows, sx,
                sy, mean, blurred);
    EXPECT_NEAR(sx, scale, 0.002);
    EXPECT_NEAR(sy, scale, 0.002);
    EXPECT_LT(mean, 1.0);
    EXPECT_LT(blurred, 0.2);
  }
}

// srgb8_to_lab: CIELAB (D65) of 8-bit sRGB. The primaries, black and white
// at their published values (to 0.05); a real photo within half a unit of
// OpenCV's float conversion (which reads the sRGB curve from a spline
// table, not the formula).
TEST(Color, Srgb8ToLabIsCielab) {
  cv::Mat swatch(1, 5, CV_8UC3);
  swatch.at<cv::Vec3b>(0) = {0, 0, 0}, swatch.at<cv::Vec3b>(1) = {255, 255, 255};
  swatch.at<cv::Vec3b>(2) = {0, 0, 255}, swatch.at<cv::Vec3b>(3) = {0, 255, 0}, swatch.at<cv::Vec3b>(4) = {255, 0, 0};
  const cv::Vec3f expected[5] = {
      {0, 0, 0}, {100, 0, 0}, {53.24f, 80.09f, 67.20f}, {87.73f, -86.18f, 83.18f}, {32.30f, 79.19f, -107.86f}};
  const cv::Mat lab = srgb8_to_lab(swatch);
  for (int i = 0; i < 5; ++i) {
    const cv::Vec3f got = lab.at<cv::Vec3f>(i);
    EXPECT_LT(cv::norm(got - expected[i]), 0.05) << i << ": " << got << " against " << expected[i];
  }
  const cv::Mat photo = decode_image(people("person04_1.jpg")).bgr;
  cv::Mat f, ref;
  photo.convertTo(f, CV_32F, 1.0 / 255);
  cv::cvtColor(f, ref, cv::COLOR_BGR2Lab);
  const double worst = cv::norm(srgb8_to_lab(photo), ref, cv::NORM_INF);
  std::printf("largest difference from OpenCV's float conversion on a photo: %.3f\n", worst);
  EXPECT_LT(worst, 0.5);
}
