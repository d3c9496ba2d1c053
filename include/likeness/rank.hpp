// Ranking anyone's headshots: a folder of portraits from any generator,
// photographer or this studio, scored against the person's own photos and
// baseline — likeness and its place in the person's band, a verdict (you,
// doubtful, not you), technical quality — and ranked, the person first.
#pragma once
#include <string>
#include <vector>

#include "likeness/intake.hpp"

namespace likeness {

// Below the gate by less than this: doubtful, not "not you" — about what a
// mirror image alone moves the recogniser's similarity (0.985-0.996).
inline constexpr float kDoubtfulBand = 0.015f;

struct RankedHeadshot {
  std::string file;
  std::string error;    // why it could not be read, or ""
  int faces_found = 0;  // in the image
  LikenessScore likeness;
  std::string verdict;  // "you", "doubtful", "not you", "no face"
  // Technical quality of the face, 0 (unusable) .. 1: sharpness, exposure,
  // noise, BRISQUE, each 0..1, and their mean.
  double quality = 0;
  json quality_parts = json::object();
  int rank = 0;  // 1 = best
  json to_json() const;
};

struct HeadshotRanking {
  SetCheck refs;                          // the person's own photos, their baseline
  std::vector<RankedHeadshot> headshots;  // in the order given
  std::vector<int> order;                 // indices into headshots, best first
  json to_json() const;
};

// Analyses the references (check) and every candidate; nothing is stored
// unless an analysis store is set. Error{bad_input} when no reference is
// usable.
HeadshotRanking rank_headshots(const std::vector<std::string>& refs, const std::vector<std::string>& candidates,
                               JobContext& ctx);
// Keeps the ranking (its JSON) in `dir` of a consented subject's store,
// named by the candidates' content; returns its path.
std::string keep_ranking(const HeadshotRanking& r, const std::string& dir);
// Contact sheet: thumbnails best first, each with its verdict badge, rank,
// likeness and quality.
void write_ranking_sheet(const HeadshotRanking& r, const std::string& path);

}  // namespace likeness
