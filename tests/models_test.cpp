// Converted models against reference runs of the originals (face-api on the
// TF.js CPU backend, ISNet's fp16 ONNX on onnxruntime-node), made by
// `make models` on fixed test-card inputs, all run through the product's
// inference interface (ONNX Runtime). Tolerances: face-api nets 1e-4 absolute
// (the rebuilt fp32 graphs match to ~1e-6); ISNet 2e-3 absolute on a 0..1
// matte (the original computes in fp16).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/inference.hpp"
#include "likeness/model_store.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;

namespace {
const std::string kRef = ModelStore::default_dir() + "/reference/";

nlohmann::json reference() {
  std::ifstream in(kRef + "reference.json");
  return nlohmann::json::parse(in);
}

std::vector<float> floats(const std::string& file) {
  const std::string b = read_bytes(kRef + file);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

cv::Mat input_bgr(const nlohmann::json& e) {
  const std::string b = read_bytes(kRef + e["input"].get<std::string>());
  const int w = e["width"], h = e["height"];
  cv::Mat rgb(h, w, CV_8UC3, const_cast<char*>(b.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

float max_abs_diff(const float* a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Runs a converted net through the product's inference interface (ONNX
// Runtime) with the product's preprocessing constants.
cv::Mat run(const std::string& name, const cv::Mat& bgr, double scale, cv::Scalar mean, const std::string& out = "",
            int threads = 2) {
  const cv::Mat blob = cv::dnn::blobFromImage(bgr, scale, cv::Size(), mean, true);
  return network(name, threads).run({{"", blob}}, out.empty() ? std::vector<std::string>{} : std::vector{out})[0];
}
}  // namespace

TEST(Models, ManifestListsEveryModelWithSourceAndLicence) {
  ModelStore& s = ModelStore::shared();
  for (const char* name :
       {"face_detector", "face_landmarks68", "face_recognition", "isnet", "isnet_fp16", "isnet_640x1024", "facemesh",
        "selfie", "meet", "esrgan_slim_x2", "esrgan_medium_x4", "esrgan_thick_x4"}) {
    const ModelInfo& m = s.info(name);
    EXPECT_NE(m.source.find("npm @"), std::string::npos) << name;
    EXPECT_NE(m.source.find('@', 5), std::string::npos) << "source must name an exact version: " << m.source;
    EXPECT_FALSE(m.licence.empty());
    EXPECT_EQ(m.files[0].sha256.size(), 64u);
    EXPECT_TRUE(m.input.contains("shape"));
  }
}

TEST(Models, RecogniserMatchesFaceApi) {
  auto e = reference()["face_recognition"];
  cv::Mat o = run("face_recognition", input_bgr(e), 1.0 / 255, cv::Scalar(122.782, 117.001, 104.298));
  auto ref = floats(e["outputs"]["output"]["file"]);
  ASSERT_EQ(ref.size(), 128u);
  ASSERT_EQ(o.total(), 128u);
  EXPECT_LT(max_abs_diff(o.ptr<float>(), ref), 1e-4);
}

TEST(Models, LandmarksMatchFaceApi) {
  auto e = reference()["face_landmarks68"];
  cv::Mat o = run("face_landmarks68", input_bgr(e), 1.0 / 255, cv::Scalar(122.782, 117.001, 104.298));
  auto ref = floats(e["outputs"]["output"]["file"]);
  ASSERT_EQ(ref.size(), 136u);
  EXPECT_LT(max_abs_diff(o.ptr<float>(), ref), 1e-4);
}

TEST(Models, DetectorDecodesLikeFaceApi) {
  auto e = reference()["face_detector"];
  FaceDetector det(ModelStore::shared());
  auto raw = det.raw(input_bgr(e));
  auto boxes = floats(e["outputs"]["boxes"]["file"]);
  auto scores = floats(e["outputs"]["scores"]["file"]);
  ASSERT_EQ(raw.size(), scores.size());
  ASSERT_EQ(boxes.size(), 4 * scores.size());
  float db = 0, ds = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int k = 0; k < 4; ++k) db = std::max(db, std::abs(raw[i][k] - boxes[i * 4 + k]));
    ds = std::max(ds, std::abs(raw[i][4] - scores[i]));
  }
  EXPECT_LT(db, 1e-4);
  EXPECT_LT(ds, 1e-4);
}

// The fp32 conversion against the original fp16 graph run by
// onnxruntime-node; and the original itself, run unchanged by our runtime.
TEST(Models, IsnetMatchesTheOriginal) {
  auto e = reference()["isnet"];
  auto ref = floats(e["outputs"]["output"]["file"]);
  for (const char* name : {"isnet", "isnet_fp16"}) {
    cv::Mat o = run(name, input_bgr(e), 1.0 / 256, cv::Scalar(128, 128, 128), "output");
    ASSERT_EQ(o.total(), ref.size());
    double mean = 0;
    for (size_t i = 0; i < ref.size(); ++i) mean += std::abs(o.ptr<float>()[i] - ref[i]);
    mean /= ref.size();
    std::printf("%s: max abs diff %.2e, mean %.2e\n", name, max_abs_diff(o.ptr<float>(), ref), mean);
    EXPECT_LT(max_abs_diff(o.ptr<float>(), ref), 2e-3) << name;
    EXPECT_LT(mean, 1e-4) << name;
  }
}

// ISNet at 640x640 (its resize targets scaled) runs and agrees with 1024x1024
// on the test card's disc, scaled to the same size.
TEST(Models, Isnet640AgreesWith1024) {
  auto e = reference()["isnet"];
  const cv::Mat card = input_bgr(e);
  cv::Mat small;
  cv::resize(card, small, cv::Size(640, 640), 0, 0, cv::INTER_AREA);
  cv::Mat a = run("isnet_640", small, 1.0 / 256, cv::Scalar(128, 128, 128), "output");
  cv::Mat b = run("isnet", card, 1.0 / 256, cv::Scalar(128, 128, 128), "output");
  cv::Mat a2(640, 640, CV_32F, a.ptr<float>()), b2(1024, 1024, CV_32F, b.ptr<float>()), b640;
  cv::resize(b2, b640, a2.size(), 0, 0, cv::INTER_AREA);
  const double iou = cv::countNonZero((a2 > 0.5) & (b640 > 0.5)) / double(cv::countNonZero((a2 > 0.5) | (b640 > 0.5)));
  EXPECT_GT(iou, 0.9);
}

// ISNet at 640 wide by 1024 high (the person region's tall shape) agrees
// with the native 1024x1024 on real portraits, each given the same photo
// squeezed to its input.
TEST(Models, Isnet640x1024AgreesWith1024OnRealPortraits) {
  for (const char* photo :
       {"people/person02_1.jpg", "people/person09_2.jpg", "portraits/benedict_cumberbatch_2014.jpg"}) {
    const cv::Mat bgr = cv::imread(faces_dir() + "/" + photo);
    ASSERT_FALSE(bgr.empty()) << photo;
    cv::Mat tall, square;
    cv::resize(bgr, tall, cv::Size(640, 1024), 0, 0, cv::INTER_AREA);
    cv::resize(bgr, square, cv::Size(1024, 1024), 0, 0, cv::INTER_AREA);
    cv::Mat a = run("isnet_640x1024", tall, 1.0 / 256, cv::Scalar(128, 128, 128), "output");
    cv::Mat b = run("isnet", square, 1.0 / 256, cv::Scalar(128, 128, 128), "output");
    ASSERT_EQ(a.total(), 640u * 1024u);
    cv::Mat a2(1024, 640, CV_32F, a.ptr<float>()), b2(1024, 1024, CV_32F, b.ptr<float>()), b_tall;
    cv::resize(b2, b_tall, a2.size(), 0, 0, cv::INTER_AREA);
    const double iou =
        cv::countNonZero((a2 > 0.5) & (b_tall > 0.5)) / double(cv::countNonZero((a2 > 0.5) | (b_tall > 0.5)));
    EXPECT_GT(iou, 0.95) << photo;
    EXPECT_LT(cv::mean(cv::abs(a2 - b_tall))[0], 0.03) << photo;
  }
}

// A job's thread budget is its own: sessions with 1 and 2 threads are
// different sessions, and runs from concurrent threads give exactly the
// serial answer.
TEST(Models, ConcurrentRunsWithOwnBudgetsAgree) {
  auto e = reference()["face_recognition"];
  const cv::Mat card = input_bgr(e);
  const cv::Scalar mean(122.782, 117.001, 104.298);
  EXPECT_NE(&network("face_recognition", 1), &network("face_recognition", 2));
  EXPECT_EQ(&network("face_recognition", 1), &network("face_recognition", 1));
  const cv::Mat serial = run("face_recognition", card, 1.0 / 255, mean, "", 1);
  std::vector<cv::Mat> got(4);
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t)
    pool.emplace_back([&, t] {
      const ThreadBudget budget(1 + t % 2);
      got[t] = run("face_recognition", card, 1.0 / 255, mean, "", 0);
    });
  for (auto& t : pool) t.join();
  for (const cv::Mat& g : got) EXPECT_LT(cv::norm(g, serial, cv::NORM_INF), 1e-5);
}

// The Human graph models (face mesh, selfie and meet segmentation), run by
// our runtime on the reference inputs: NHWC RGB / 255, as Human feeds them.
TEST(Models, HumanGraphModelsMatchTheOriginals) {
  const auto refs = reference();
  for (const char* name : {"facemesh", "selfie", "meet"}) {
    const auto& e = refs.at(name);
    const std::string b = read_bytes(kRef + e["input"].get<std::string>());
    const int w = e["width"], h = e["height"];
    cv::Mat rgb(h, w, CV_8UC3, const_cast<char*>(b.data())), input;
    rgb.convertTo(input, CV_32FC3, 1.0 / 255);
    const int dims[] = {1, h, w};
    const cv::Mat nhwc(3, dims, CV_32FC3, input.data);  // channels are the last dimension
    const Network& net = network(name);
    const std::vector<cv::Mat> outs = net.run({{"", nhwc}});
    ASSERT_EQ(outs.size(), e["outputs"].size()) << name;
    for (size_t i = 0; i < outs.size(); ++i) {
      const std::string out_name = net.output_names()[i];
      const auto ref = floats(e["outputs"][out_name]["file"]);
      ASSERT_EQ(outs[i].total(), ref.size()) << name << "." << out_name;
      const auto [lo, hi] = std::minmax_element(ref.begin(), ref.end());
      const float tol = std::string(name) == "selfie" ? 1e-3f : std::max(1e-4f, 1e-4f * (*hi - *lo));
      const float diff = max_abs_diff(outs[i].ptr<float>(), ref);
      std::printf("%s.%s: max abs diff %.2e (tolerance %.1e)\n", name, out_name.c_str(), diff, tol);
      EXPECT_LE(diff, tol) << name << "." << out_name;
    }
  }
}

// The ESRGAN upscalers (UpscalerJS slim, medium, thick; x2 and x4), run by
// our runtime on the reference inputs: NHWC RGB 0..255, any size; the output
// is exactly scale x the input.
TEST(Models, EsrganMatchesTheOriginals) {
  const auto refs = reference();
  for (const char* name : {"esrgan_slim_x2", "esrgan_slim_x4", "esrgan_medium_x2", "esrgan_medium_x4",
                           "esrgan_thick_x2", "esrgan_thick_x4"}) {
    const auto& e = refs.at(name);
    const std::string b = read_bytes(kRef + e["input"].get<std::string>());
    const int w = e["width"], h = e["height"], scale = e["scale"];
    cv::Mat rgb(h, w, CV_8UC3, const_cast<char*>(b.data())), input;
    rgb.convertTo(input, CV_32FC3);
    const int dims[] = {1, h, w};
    const cv::Mat out = network(name).run(cv::Mat(3, dims, CV_32FC3, input.data))[0];
    ASSERT_EQ(out.dims, 4) << name;
    EXPECT_EQ(out.size[1], scale * h) << name;
    EXPECT_EQ(out.size[2], scale * w) << name;
    const auto ref = floats(e["outputs"]["output"]["file"]);
    ASSERT_EQ(out.total(), ref.size()) << name;
    const float diff = max_abs_diff(out.ptr<float>(), ref);
    std::printf("%s: %dx%d -> x%d, max abs diff %.2e on 0..255\n", name, w, h, scale, diff);
    EXPECT_LE(diff, 1e-2f) << name;
  }
}

TEST(Models, CorruptModelIsAClearError) {
  const std::string dir = temp_dir("models");
  const ModelInfo& m = ModelStore::shared().info("face_landmarks68");
  fs::copy_file(ModelStore::default_dir() + "/manifest.json", dir + "/manifest.json");
  std::string bytes = read_bytes(ModelStore::default_dir() + "/" + m.files[0].file);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_bytes(dir + "/" + m.files[0].file, bytes);
  ModelStore store(dir);
  try {
    network(store, "face_landmarks68", 1);
    FAIL() << "a corrupt model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::internal);
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("make models"), std::string::npos) << e.what();
  }
  // A model file that is gone says so too.
  try {
    network(store, "face_recognition", 1);
    FAIL() << "a missing model loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Models, NoManifestIsAClearError) {
  const std::string dir = temp_dir("nomodels");
  ModelStore store(dir);
  EXPECT_THROW(
      {
        try {
          network(store, "isnet", 1);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("make models"), std::string::npos);
          throw;
        }
      },
      Error);
  fs::remove_all(dir);
}
