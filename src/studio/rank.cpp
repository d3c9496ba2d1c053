#include "likeness/rank.hpp"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"

namespace likeness {

namespace {
int verdict_order(const std::string& v) { return v == "you" ? 0 : v == "doubtful" ? 1 : v == "not you" ? 2 : 3; }
}  // namespace

json RankedHeadshot::to_json() const {
  json j = {{"file", file}, {"verdict", verdict}, {"rank", rank}, {"faces_found", faces_found}};
  if (!error.empty()) j["error"] = error;
  if (verdict != "no face") {
    j["likeness"] = likeness.to_json();
    j["quality"] = std::round(quality * 1000) / 1000;
    json parts = json::object();
    for (const auto& [k, v] : quality_parts.items()) parts[k] = std::round(v.get<double>() * 1000) / 1000;
    j["quality_parts"] = parts;
  }
  return j;
}

json HeadshotRanking::to_json() const {
  json list = json::array();
  for (const int i : order) list.push_back(headshots[i].to_json());
  json check = refs.to_json();
  return {{"baseline", check["baseline"]},
          {"references", check["photos"]},
          {"doubtful_band", kDoubtfulBand},
          {"ranking", list}};
}

HeadshotRanking rank_headshots(const std::vector<std::string>& refs, const std::vector<std::string>& candidates,
                               JobContext& ctx) {
  HeadshotRanking r;
  r.refs = check_set(refs, ctx);
  if (r.refs.embeddings.empty()) {
    std::string why;
    for (const auto& p : r.refs.photos) why += "\n  " + p.a.file + ": " + p.advice;
    throw Error(ErrorCode::bad_input, "no usable reference photo of the person:" + why);
  }
  // Candidates analysed side by side, as the references are.
  const std::vector<PhotoAnalysis> analysed = analyse_photos(candidates, ctx, true, "rank");
  r.headshots.resize(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    RankedHeadshot& h = r.headshots[i];
    const PhotoAnalysis& a = analysed[i];
    h.file = candidates[i];
    h.verdict = "no face";
    h.error = a.error;
    h.faces_found = a.faces_found;
    // The face most like the person (a group shot's other faces are not
    // held against it).
    int best = -1;
    for (int f = 0; f < int(a.faces.size()); ++f) {
      if (a.faces[f].face.embedding.empty()) continue;
      const LikenessScore s = score_likeness(a.faces[f].face.embedding, r.refs.embeddings, r.refs.baseline);
      if (best < 0 || s.raw > h.likeness.raw) best = f, h.likeness = s;
    }
    if (best < 0) continue;
    h.verdict = h.likeness.passed ? "you" : h.likeness.raw >= h.likeness.gate - kDoubtfulBand ? "doubtful" : "not you";
    const TechnicalQuality q = technical_quality(a.faces[best].m);
    h.quality_parts = q.parts;
    h.quality = q.score;
  }
  // Best first: you, doubtful, not you, no face; within each, likeness with
  // a small part for quality (a sharp, well exposed "you" before a blurred
  // one of the same likeness).
  r.order.resize(r.headshots.size());
  for (size_t i = 0; i < r.order.size(); ++i) r.order[i] = int(i);
  std::stable_sort(r.order.begin(), r.order.end(), [&](int a, int b) {
    const RankedHeadshot &x = r.headshots[a], &y = r.headshots[b];
    if (verdict_order(x.verdict) != verdict_order(y.verdict))
      return verdict_order(x.verdict) < verdict_order(y.verdict);
    return x.likeness.raw + 0.01 * x.quality > y.likeness.raw + 0.01 * y.quality;
  });
  for (size_t k = 0; k < r.order.size(); ++k) r.headshots[r.order[k]].rank = int(k) + 1;
  return r;
}

void write_ranking_sheet(const HeadshotRanking& r, const std::string& path) {
  const ImageFormat format = format_from_path(path);
  constexpr int kSide = 220, kCaption = 54, kGap = 8;
  const int n = std::max<int>(1, int(r.order.size())), cols = std::min(6, n), rows = (n + cols - 1) / cols;
  cv::Mat sheet(kGap + rows * (kSide + kCaption + kGap), kGap + cols * (kSide + kGap), CV_8UC3, cv::Scalar::all(255));
  for (int k = 0; k < int(r.order.size()); ++k) {
    const RankedHeadshot& h = r.headshots[r.order[k]];
    const cv::Point at(kGap + (k % cols) * (kSide + kGap), kGap + (k / cols) * (kSide + kCaption + kGap));
    cv::Mat cell = sheet(cv::Rect(at, cv::Size(kSide, kSide + kCaption)));
    cell.setTo(cv::Scalar::all(240));
    try {
      DecodeLimits lim;
      lim.shrink_to = kSide;
      const cv::Mat img = decode_image(h.file, lim).bgr;
      const double s = double(kSide) / std::max(img.cols, img.rows);
      cv::Mat small;
      cv::resize(img, small, cv::Size(std::max(1, int(img.cols * s)), std::max(1, int(img.rows * s))), 0, 0,
                 cv::INTER_AREA);
      small.copyTo(cell(cv::Rect((kSide - small.cols) / 2, (kSide - small.rows) / 2, small.cols, small.rows)));
    } catch (const Error&) {
      // The caption says what is wrong with it.
    }
    const cv::Scalar colour = h.verdict == "you"        ? cv::Scalar(60, 160, 40)
                              : h.verdict == "doubtful" ? cv::Scalar(0, 150, 230)
                                                        : cv::Scalar(40, 40, 200);
    const std::string badge = "#" + std::to_string(h.rank) + " " + h.verdict;
    int base = 0;
    const cv::Size ts = cv::getTextSize(badge, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
    cv::rectangle(cell, cv::Rect(4, 4, ts.width + 10, ts.height + 10), colour, cv::FILLED);
    cv::putText(cell, badge, cv::Point(9, 9 + ts.height), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar::all(255), 1,
                cv::LINE_AA);
    const std::string name = std::filesystem::path(h.file).filename().string().substr(0, 32);
    cv::putText(cell, name, cv::Point(4, kSide + 16), cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar::all(30), 1,
                cv::LINE_AA);
    const std::string line =
        h.verdict == "no face"
            ? (h.error.empty() ? std::string("no face found") : h.error.substr(0, 40))
            : cv::format("likeness %.3f (gate %.3f), quality %.2f", h.likeness.raw, h.likeness.gate, h.quality);
    cv::putText(cell, line, cv::Point(4, kSide + 36), cv::FONT_HERSHEY_SIMPLEX, 0.36, colour, 1, cv::LINE_AA);
  }
  write_file_atomic(path, encode_image(sheet, format, 90));
}

}  // namespace likeness
