#include "likeness/rank.hpp"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "likeness/badge_sheet.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
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

std::string keep_ranking(const HeadshotRanking& r, const std::string& dir) {
  Sha256 h;
  h.field("ranking");
  for (const auto& p : r.refs.photos) h.field(p.a.sha256);
  for (const auto& c : r.headshots) h.field(c.file);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(dir) / (h.hex().substr(0, 32) + ".json")).string();
  write_file_atomic(path, r.to_json().dump(2) + "\n");
  return path;
}

void write_ranking_sheet(const HeadshotRanking& r, const std::string& path) {
  const ImageFormat format = format_from_path(path);
  constexpr int kSide = 220;
  std::vector<SheetTile> tiles;
  for (const int i : r.order) {
    const RankedHeadshot& h = r.headshots[i];
    SheetTile t;
    try {
      DecodeLimits lim;
      lim.shrink_to = kSide;
      t.image = decode_image(h.file, lim).bgr;
    } catch (const Error&) {
      // The caption says what is wrong with it.
    }
    t.badge = "#" + std::to_string(h.rank) + " " + h.verdict;
    t.badge_colour = h.verdict == "you" ? kBadgeGood : h.verdict == "doubtful" ? kBadgeDoubt : kBadgeBad;
    t.title = std::filesystem::path(h.file).filename().string();
    t.lines = {{h.verdict == "no face"
                    ? (h.error.empty() ? std::string("no face found") : h.error)
                    : cv::format("likeness %.3f (gate %.3f), quality %.2f", h.likeness.raw, h.likeness.gate, h.quality),
                t.badge_colour, 0.36}};
    tiles.push_back(std::move(t));
  }
  write_file_atomic(path, encode_image(badge_sheet(tiles, cv::Size(kSide, kSide), 54, 6), format, 90));
}

}  // namespace likeness
