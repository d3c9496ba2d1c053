// Reference intake: what each of a person's photos is worth as a reference,
// which face in it is the person, the person's own likeness baseline, and the
// likeness score and gate every output must pass.
#pragma once
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "likeness/face.hpp"
#include "likeness/stage.hpp"

namespace likeness {

class AnalysisKeeper;

using json = nlohmann::json;

// Measurements of one face, all in the photo's own pixels where they are sizes.
struct FaceMeasures {
  float temple_px = 0;          // landmark 0 to 16 (temple to temple), original pixels
  float eye_distance_px = 0;    // eye centre to eye centre, original pixels
  float sharpness = 0;          // Laplacian over gradient on the face at <= 256 px temple width (blurry < 0.72)
  float brightness = 0;         // mean luma of the face, 0..255
  float clipped = 0;            // fraction of face pixels at >= 250
  float crushed = 0;            // fraction of face pixels at <= 12
  float noise = 0;              // noise sigma in grey levels (flat parts of the face)
  float yaw = 0;                // degrees; > 0: the face turns towards the image's right
  float pitch = 0;              // degrees; > 0: the face tilts up
  float roll = 0;               // degrees; > 0: the head leans clockwise in the image
  float smile = 0;              // 0..1
  float eye_openness = 0;       // eye aspect ratio (open ~0.25-0.35, closed < 0.15)
  float occlusion = 0;          // 0..1: disagreement of landmarks with their mirror image, darkness of the eyes
  std::string occluded_region;  // "eyes", "mouth", "nose", "jaw" or ""
  float brisque = 0;            // BRISQUE no-reference quality of the head region (0 best .. 100 worst)

  bool smiling() const { return smile >= 0.5f; }
  bool eyes_open() const { return eye_openness >= 0.15f; }
  std::string view() const;
  json to_json(bool rounded) const;  // rounded for reports, exact for the cache
  static FaceMeasures from_json(
      const json& j);  // "frontal", "three_quarter_left", "three_quarter_right", "profile_left", "profile_right"
};

struct AnalysedFace {
  Face face;  // box and landmarks in original pixels; embedding
  FaceMeasures m;
};

// Everything about one photo that does not depend on the rest of the set
// (cached on disk by the photo's content hash).
struct PhotoAnalysis {
  std::string file;
  std::string sha256;
  int width = 0, height = 0;        // upright, original pixels
  std::string error;                // why it could not be read, or ""
  std::vector<AnalysedFace> faces;  // largest first (at most kMaxCandidates carry measures)
  int faces_found = 0;              // every face the detector found
};

inline constexpr int kMaxCandidates = 6;

// Where analyses (they hold embeddings: biometric data) are kept is the
// job's (JobContext::analysis_store): a consented subject's folder in the
// studio's store, or "" for transient analysis that stores nothing. Its
// default is "", or $LIKENESS_ANALYSIS_CACHE (tests and benchmarks).
std::string default_analysis_store();

// Decodes (shrink-on-load), detects, and measures every candidate face.
// With use_cache, results are read from and kept in `store` (if not ""),
// or by `keeper` (if given).
PhotoAnalysis analyse_photo(const std::string& file, bool use_cache = true,
                            const std::string& store = default_analysis_store(), AnalysisKeeper* keeper = nullptr);

// The same analysis of an image in memory (a portrait just made), never
// cached; `name` for messages.
PhotoAnalysis analyse_image_bytes(const std::string& bytes, const std::string& name);

// Technical quality of a face from its measures: sharpness, exposure, noise
// and BRISQUE, each 0 (unusable) .. 1, and their mean.
struct TechnicalQuality {
  double score = 0;
  json parts = json::object();
};
TechnicalQuality technical_quality(const FaceMeasures& m);

// The portrait a photo is judged as a source for: the frame stage's output
// size and crop (its declared defaults unless a shoot asks for others).
// `span` is the frame's height in eye distances for the crop.
struct PortraitTarget {
  int width = 0, height = 0;
  std::string crop;
  double span = 0;
  double eye_line = 0.36;
  static PortraitTarget from_frame_params(const json& frame_params);  // missing keys: the stage's defaults
};

// Flags, in the order of their weight. Reject flags exclude the photo; the
// others make a photo "usable" instead of "good" and lower its rank.
struct FlagInfo {
  const char* id;
  bool reject;
  const char* meaning;
};
const std::vector<FlagInfo>& flag_list();

struct PhotoCheck {
  PhotoAnalysis a;
  int subject = -1;         // index into a.faces
  float subject_match = 0;  // median similarity of the subject to the other accepted photos' subjects
  std::vector<std::string> flags;
  std::string verdict;  // "good", "usable", "reject"
  std::string advice;
  double rank_score = 0;
  int rank = 0;  // 1 = best source for portraits; 0 when rejected

  bool accepted() const { return verdict != "reject"; }
  const AnalysedFace* subject_face() const { return subject >= 0 ? &a.faces[subject] : nullptr; }
  // The face the flags describe: the subject, or the only face of a photo
  // rejected as another person (its problems may explain the mismatch).
  const AnalysedFace* measured_face() const {
    return subject >= 0 ? &a.faces[subject] : a.faces.size() == 1 ? &a.faces[0] : nullptr;
  }
};

// How alike the person's own real photos are.
struct Baseline {
  std::string kind;           // "leave_one_out" or "calibrated_threshold"
  std::vector<float> values;  // leave-one-out median similarity of each accepted photo to the others
  float p5 = 0, median = 0, min = 0, max = 0;
  float margin = 0;  // stated allowance below p5
  float gate = 0;    // an output passes at likeness >= gate
  std::string note;
  json to_json() const;
};

inline constexpr float kBaselineMargin = 0.025f;  // below the person's own 5th percentile
inline constexpr float kGateFloor = 0.915f;       // never looser than this (other people's p99.9 on people/)

// Leave-one-out baseline of a set of subject embeddings; with fewer than two,
// the calibrated same-person threshold.
Baseline make_baseline(const std::vector<std::vector<float>>& embeddings);

struct LikenessScore {
  float raw = 0;            // median similarity to the set's photos
  float band_position = 0;  // fraction of the person's own leave-one-out values at or below raw
  float gate = 0;
  bool passed = false;
  json to_json() const;
};
// `exclude`: index of a set photo to leave out (the photo an output was made
// from, so the score compares like with the baseline).
LikenessScore score_likeness(const std::vector<float>& embedding, const std::vector<std::vector<float>>& set,
                             const Baseline& baseline, int exclude = -1);

struct SetCheck {
  std::vector<PhotoCheck> photos;
  Baseline baseline;
  std::vector<int> ranking;                    // indices into photos, best source first (accepted only)
  std::vector<std::vector<float>> embeddings;  // accepted subjects' embeddings
  std::vector<int> embedding_photo;            // photo index of each embedding
  json coverage;
  std::vector<std::string> advice;  // for the set as a whole
  int usable() const { return int(ranking.size()); }
  json to_json() const;
};

// Analyses every photo, one per worker thread (ctx.threads shared among
// them), kept in ctx.analysis_store, reporting progress as `stage`; a photo that cannot be read has its
// error, a cancellation or an internal failure throws.
std::vector<PhotoAnalysis> analyse_photos(const std::vector<std::string>& files, JobContext& ctx, bool use_cache = true,
                                          const std::string& stage = "check");
// Analyses every photo (in parallel on ctx.threads), decides the subject of
// each, flags, ranks, and computes the baseline.
// use_cache=false re-analyses every photo (benchmarks).
SetCheck check_set(const std::vector<std::string>& files, JobContext& ctx, bool use_cache = true,
                   const PortraitTarget& target = PortraitTarget::from_frame_params({}));
// The set-level decisions on already analysed photos.
SetCheck decide_set(std::vector<PhotoAnalysis> analyses,
                    const PortraitTarget& target = PortraitTarget::from_frame_params({}));

// Contact sheet: thumbnails with verdict badges and the reason for each reject.
void write_contact_sheet(const SetCheck& set, const std::string& path);

// Human summary for the terminal.
std::string describe_set(const SetCheck& set);

}  // namespace likeness
