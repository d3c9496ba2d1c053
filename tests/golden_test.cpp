// Golden images: tests/golden/NNNN-name/ holds a recipe (recipe.json: the
// input from ../shared/faces and the full, versioned recipe) and the output
// it made (expected.png). A change that alters a stage's look fails here
// loudly, and is accepted on purpose: LIKENESS_GOLDEN_UPDATE=1 rewrites the
// expected images and spells out every parameter of the recipes (look at
// them before committing), a stage's new version means regenerating its
// goldens.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"
#include "likeness/recipe.hpp"
#include "likeness/stage.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> golden_dirs() {
  std::vector<std::string> d;
  for (const auto& e : fs::directory_iterator(fs::path(LIKENESS_SOURCE_DIR) / "tests" / "golden"))
    if (e.is_directory()) d.push_back(e.path().filename().string());
  std::sort(d.begin(), d.end());
  return d;
}
}  // namespace

class Golden : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Recipes, Golden, ::testing::ValuesIn(golden_dirs()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

TEST_P(Golden, TheRecipeStillMakesTheSameImage) {
  const fs::path dir = fs::path(LIKENESS_SOURCE_DIR) / "tests" / "golden" / GetParam();
  std::ifstream in(dir / "recipe.json");
  ASSERT_TRUE(in) << dir;
  const json spec = json::parse(in);
  const Recipe recipe = Recipe::from_json(spec["recipe"]);
  Recipe resolved;
  try {
    resolved = recipe.resolved();
  } catch (const Error& e) {
    FAIL() << GetParam() << ": " << e.what()
           << " — a stage changed version: look at the new output and regenerate with LIKENESS_GOLDEN_UPDATE=1";
  }
  auto src = std::make_shared<Frame>();
  src->image = decode_image(faces_dir() + "/" + spec["input"].get<std::string>()).bgr;
  JobContext ctx;
  const RunResult r = run_recipe(src, "golden:" + GetParam(), resolved, ctx, nullptr);
  ASSERT_FALSE(r.frame->encoded.empty()) << "the recipe must end with export";
  const cv::Mat got = decode_image_bytes(r.frame->encoded, "output").bgr;
  const fs::path expected_path = dir / "expected.png";
  const char* update = std::getenv("LIKENESS_GOLDEN_UPDATE");
  if (update && std::string(update) == "1") {
    write_file_atomic(expected_path.string(), encode_image(got, ImageFormat::png, 0));
    // The recipe as it ran, every parameter spelled out: a new golden may
    // name only what it is about.
    json full = spec;
    full["recipe"] = resolved.to_json();
    write_file_atomic((dir / "recipe.json").string(), full.dump(1) + "\n");
    GTEST_SKIP() << "rewrote " << expected_path;
  }
  ASSERT_TRUE(fs::exists(expected_path)) << "no expected.png: make it with LIKENESS_GOLDEN_UPDATE=1";
  const cv::Mat want = decode_image(expected_path.string()).bgr;
  ASSERT_EQ(got.size(), want.size());
  // Models may round differently on another CPU (AVX2 or AVX-512): a few
  // levels at matte edges are allowed, a changed look is not.
  const double psnr = cv::PSNR(got, want);
  cv::Mat diff;
  cv::absdiff(got, want, diff);
  const cv::Scalar mean = cv::mean(diff);
  std::printf("%s: PSNR %.1f dB, mean |diff| %.2f %.2f %.2f\n", GetParam().c_str(), psnr, mean[0], mean[1], mean[2]);
  EXPECT_GE(psnr, 40) << GetParam();
  for (int c = 0; c < 3; ++c) EXPECT_LE(mean[c], 1.0) << GetParam() << " channel " << c;
}
