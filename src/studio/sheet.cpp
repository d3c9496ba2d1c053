// `likeness sheet PHOTO OUT`: one real photo through every light, wardrobe
// colour, polish level, grain and grade, each tile with a 100% crop of the
// skin under it — the page to look at before calling a look done. The
// analysis runs once; every tile changes one step of the purpose's default
// recipe, so the cache serves the rest.
#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/studio.hpp"

namespace likeness {

namespace {
struct Row {
  std::string title, stage, key;
  std::vector<json> values;
};

// The rows, from the stages' own declarations where they list choices.
std::vector<Row> sheet_rows() {
  auto choices = [](const char* stage, const char* key) {
    std::vector<json> v;
    for (const auto& p : find_stage(stage).params())
      if (p.key == key)
        for (const auto& c : p.choices) v.emplace_back(c);
    return v;
  };
  std::vector<Row> rows;
  std::vector<json> lights = choices("relight", "pattern");
  lights.erase(std::remove(lights.begin(), lights.end(), json("match")), lights.end());
  rows.push_back({"light", "relight", "pattern", lights});
  rows.push_back({"wardrobe", "wardrobe", "color", {"keep", "navy", "charcoal", "burgundy", "camel", "white"}});
  rows.push_back({"polish", "retouch", "polish", {0.0, 0.25, 0.5, 0.75, 1.0}});
  rows.push_back({"grain", "grain", "amount", {0.0, 0.25, 0.5, 1.0}});
  rows.push_back({"grade", "grade", "look", choices("grade", "look")});
  return rows;
}

std::string label(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return cv::format("%.2f", v.get<double>());
}
}  // namespace

SheetResult make_sheet(const std::string& photo, const std::string& purpose, cv::Size size, JobContext& ctx) {
  const std::string bytes = read_file(photo, DecodeLimits{}.max_bytes);
  auto src = std::make_shared<Frame>();
  src->image = decode_image_bytes(bytes, photo).bgr;
  const std::string key = Sha256().field("source").field(sha256_hex(bytes)).hex();
  Recipe base = build_recipe(plan_prompt("", purpose), 0);
  base.find("frame")->params["width"] = size.width;
  base.find("frame")->params["height"] = size.height;
  FrameCache cache(96);

  constexpr int kThumb = 240, kCrop = 240, kLabel = 26, kGap = 6;
  const int cell_w = kThumb, cell_h = kLabel + kThumb * size.height / size.width + kGap + kCrop;
  const std::vector<Row> rows = sheet_rows();
  size_t across = 0;
  for (const auto& r : rows) across = std::max(across, r.values.size());
  cv::Mat sheet(int(rows.size()) * (cell_h + 3 * kGap + kLabel), int(across) * (cell_w + kGap) + kGap, CV_8UC3,
                cv::Scalar::all(255));
  SheetResult out;
  int y = kGap;
  for (const Row& row : rows) {
    if (!base.find(row.stage)) continue;
    cv::putText(sheet, row.title + " (" + row.stage + " " + row.key + ")", {kGap, y + kLabel - 8},
                cv::FONT_HERSHEY_SIMPLEX, 0.7, cv::Scalar(40, 40, 40), 2, cv::LINE_AA);
    y += kLabel + kGap;
    int x = kGap;
    for (const json& v : row.values) {
      ctx.check_cancel();
      Recipe r = base;
      r.find(row.stage)->params[row.key] = v;
      if (row.stage == "relight" || row.stage == "grade") r.find(row.stage)->params["strength"] = 1.0;
      const RunResult run = run_recipe(src, key, r, ctx, &cache);
      const cv::Mat img = decode_image_bytes(run.frame->encoded, "tile").bgr;
      cv::Mat thumb;
      cv::resize(img, thumb, {kThumb, kThumb * img.rows / img.cols}, 0, 0, cv::INTER_AREA);
      // A 100% crop of the cheek and the nose (the face's mesh on the canvas).
      cv::Point c(img.cols / 2, img.rows * 2 / 5);
      if (const Face* f = run.frame->subject_face(); f && f->mesh.size() >= 468)
        c = cv::Point(int((f->mesh[1].x + f->mesh[205].x) / 2), int((f->mesh[1].y + f->mesh[205].y) / 2));
      cv::Rect crop(c.x - kCrop / 2, c.y - kCrop / 2, kCrop, kCrop);
      crop &= cv::Rect(0, 0, img.cols, img.rows);
      cv::putText(sheet, label(v), {x + 2, y + kLabel - 8}, cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(60, 60, 60), 1,
                  cv::LINE_AA);
      thumb.copyTo(sheet(cv::Rect(x, y + kLabel, thumb.cols, thumb.rows)));
      img(crop).copyTo(sheet(cv::Rect(x, y + kLabel + thumb.rows + kGap, crop.width, crop.height)));
      out.tiles.push_back({{"row", row.title},
                           {"stage", row.stage},
                           {row.key, v},
                           {"edits", run.frame->edits.empty() ? "" : run.frame->edits.back()}});
      x += cell_w + kGap;
    }
    y += cell_h + kGap;
  }
  out.image = sheet(cv::Rect(0, 0, sheet.cols, std::min(sheet.rows, y))).clone();
  return out;
}

}  // namespace likeness
