// Set-level decisions: which face in each photo is the person, flags and
// verdicts, coverage, the leave-one-out baseline, the ranking of sources, and
// the likeness score and gate.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "likeness/error.hpp"
#include "likeness/inference.hpp"
#include "likeness/intake.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

// Thresholds, each calibrated on ../shared/faces (see tests/intake_test.cpp).
constexpr float kTooSmallPx = 120;    // temple to temple, a headshot needs more
constexpr float kUnusablePx = 40;     // below this the recogniser itself is unreliable
constexpr float kBlurry = 0.72f;      // sharpness (Laplacian / gradient) of the face at headshot scale
constexpr float kVeryBlurry = 0.40f;  // rejected outright
constexpr float kDark = 70, kBright = 215;
constexpr float kCrushed = 0.30f, kClipped = 0.15f;
constexpr float kNoisy = 5.0f;  // grey levels
constexpr float kOccluded = 0.5f;
constexpr float kExtremeYaw = 50, kExtremePitch = 30;
constexpr float kLowQuality = 65;    // BRISQUE of the head region
constexpr float kAmbiguous = 0.01f;  // two faces matching the set this closely: undecidable
// Room around the eyes, in eye distances, below which the photo's edges cut
// off hair (above), neck and shoulders (below) or the ears (sides). A
// headshot at the eye line needs about 1.8 / 3.2 / 2.0; a crop from
// forehead to chin has about 1.2 / 2.0 / 1.2.
constexpr float kRoomAbove = 1.5f, kRoomBelow = 2.4f, kRoomSide = 1.4f;
constexpr float kMaxEnlargement = 3.0f;  // more than this and the portrait looks soft

const char* kFlagAdvice(const std::string& flag) {
  static const std::pair<const char*, const char*> advice[] = {
      {"unreadable", "This file cannot be read as a photo; export it again as JPEG or PNG."},
      {"no_face", "No face was found; use a photo where your face is clearly visible."},
      {"different_person",
       "This looks like a different person from the rest of your photos, so it was left out; remove it if it is "
       "not you."},
      {"subject_unclear",
       "We could not tell which face is you; add a photo of just you, or more photos so the set shows who you are."},
      {"too_small", "Your face is too small in this photo for a headshot; use a closer or higher-resolution photo."},
      {"blurry", "Your face is blurred (motion or focus); use a sharper photo."},
      {"underexposed", "Your face is too dark; use a photo taken in brighter, even light."},
      {"overexposed", "Your face is washed out by bright light; use a photo without harsh sun or flash."},
      {"eyes_closed", "Your eyes are closed here; pick a shot with your eyes open."},
      {"occluded", "Part of your face is hidden (sunglasses, a hand, hair); use a photo showing your whole face."},
      {"extreme_pose", "Your head is turned or tilted far; it helps recognise you but makes a poor portrait source."},
      {"noisy", "The photo is grainy (low light); a photo in better light will look cleaner."},
      {"low_quality",
       "The photo shows compression or processing artefacts; use the original rather than a screenshot or download."},
      {"group_photo", "Other people are in this photo (they were ignored); a photo of just you makes a better source."},
      {"too_tight",
       "The photo is cropped tight around your face, so a portrait would have no hair, neck or shoulders; use the "
       "uncropped original or a photo taken from further away."},
      {"low_resolution",
       "This photo has too few pixels for the portrait size asked for, so it would look soft; use the original or "
       "a higher-resolution photo."},
  };
  for (const auto& [id, text] : advice)
    if (flag == id) return text;
  return "";
}

float median_of(std::vector<float> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

// Linear-interpolated percentile (q in 0..1) of a sample.
float percentile(std::vector<float> v, float q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const float pos = q * float(v.size() - 1);
  const size_t i = size_t(pos);
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (pos - float(i)) * (v[i + 1] - v[i]);
}

float round4(float v) { return std::round(v * 10000.f) / 10000.f; }

// Which face of each photo is the person: the identity present in the most
// photos, refined against the median similarity to the other photos' choices.
void decide_subjects(std::vector<PhotoCheck>& photos, std::vector<std::string>& set_advice) {
  struct Cand {
    int photo, face;
  };
  std::vector<Cand> cands;
  for (int p = 0; p < int(photos.size()); ++p)
    for (int f = 0; f < int(photos[p].a.faces.size()); ++f)
      if (!photos[p].a.faces[f].face.embedding.empty()) cands.push_back({p, f});
  auto emb = [&](int p, int f) -> const std::vector<float>& { return photos[p].a.faces[f].face.embedding; };

  std::vector<int> with_faces;
  for (int p = 0; p < int(photos.size()); ++p)
    if (!photos[p].a.faces.empty()) with_faces.push_back(p);
  if (with_faces.empty()) return;

  if (with_faces.size() == 1) {
    // One photo: its only face, or a clearly dominant one.
    PhotoCheck& pc = photos[with_faces[0]];
    const auto& fs = pc.a.faces;  // largest first
    if (fs.size() == 1 || fs[0].face.box.area() >= 2.f * fs[1].face.box.area())
      pc.subject = 0;
    else
      pc.flags.push_back("subject_unclear");
    return;
  }

  // Anchor: the face with a likely match in the most other photos.
  const float T = kSamePersonThreshold;
  int anchor = -1, best_support = -1;
  float best_sum = -1;
  for (int c = 0; c < int(cands.size()); ++c) {
    int support = 0;
    float sum = 0;
    for (int q : with_faces) {
      if (q == cands[c].photo) continue;
      float best = 0;
      for (int g = 0; g < int(photos[q].a.faces.size()); ++g)
        if (!photos[q].a.faces[g].face.embedding.empty())
          best = std::max(best, similarity(emb(cands[c].photo, cands[c].face), emb(q, g)));
      if (best >= T) ++support, sum += best;
    }
    if (support > best_support || (support == best_support && sum > best_sum))
      anchor = c, best_support = support, best_sum = sum;
  }
  if (anchor < 0) return;
  if (best_support == 0) {
    for (int p : with_faces) photos[p].flags.push_back("subject_unclear");
    set_advice.push_back(
        "No two photos show the same person, so we cannot tell who you are; add more photos of yourself.");
    return;
  }

  std::vector<int> subj(photos.size(), -1);
  for (int p : with_faces) {
    float best = 0;
    for (int f = 0; f < int(photos[p].a.faces.size()); ++f) {
      if (photos[p].a.faces[f].face.embedding.empty()) continue;
      const float s = (p == cands[anchor].photo) ? (f == cands[anchor].face ? 1.f : 0.f)
                                                 : similarity(emb(p, f), emb(cands[anchor].photo, cands[anchor].face));
      if (s >= T && s > best) best = s, subj[p] = f;
    }
  }
  std::vector<bool> unclear(photos.size(), false);
  for (int iter = 0; iter < 2; ++iter) {
    std::vector<int> next(photos.size(), -1);
    for (int p : with_faces) {
      float best = 0, second = 0;
      int best_f = -1;
      for (int f = 0; f < int(photos[p].a.faces.size()); ++f) {
        if (photos[p].a.faces[f].face.embedding.empty()) continue;
        std::vector<float> sims;
        for (int q : with_faces)
          if (q != p && subj[q] >= 0) sims.push_back(similarity(emb(p, f), emb(q, subj[q])));
        const float s = median_of(sims);
        if (s > best)
          second = best, best = s, best_f = f;
        else if (s > second)
          second = s;
      }
      unclear[p] = best >= T && second >= T && best - second < kAmbiguous;
      next[p] = best >= T && !unclear[p] ? best_f : -1;
      photos[p].subject_match = best;
    }
    subj = next;
  }
  for (int p : with_faces) {
    photos[p].subject = subj[p];
    if (subj[p] < 0) photos[p].flags.push_back(unclear[p] ? "subject_unclear" : "different_person");
  }
}

// How much room the photo leaves around the eyes, and how far the frame
// stage would enlarge the face for the target portrait.
struct Fit {
  float above = 0, below = 0, side = 0;  // in eye distances
  float enlargement = 0;
  float eye_distance = 0;
  // How much of the crop asked for the photo can hold: the frame may not
  // reach below the photo (the body would end in a hard line), so a photo
  // ending under the chin is framed tighter. 1: all of it.
  float framing = 1;
};
Fit fit_of(const PhotoCheck& pc, const AnalysedFace& f, const PortraitTarget& t) {
  Fit fit;
  if (f.face.landmarks.size() != 68 || pc.a.width <= 0) return fit;
  const cv::Point2f eyes = (f.face.left_eye() + f.face.right_eye()) * 0.5f;
  const float d = std::max(1.f, f.face.eye_distance());
  fit.eye_distance = d;
  fit.above = eyes.y / d;
  fit.below = (float(pc.a.height) - eyes.y) / d;
  fit.side = std::min(eyes.x, float(pc.a.width) - eyes.x) / d;
  // The frame stage's own rule.
  const double span = frame_fitted_span(t.span, cv::Size(pc.a.width, pc.a.height), cv::Size(t.width, t.height), d);
  fit.enlargement = float(t.height / (span * d));
  const double held = std::clamp(fit.below / std::max(0.05, 1 - t.eye_line), kTightestSpan, t.span);
  fit.framing = float(held / t.span);
  return fit;
}

void flag_photo(PhotoCheck& pc, const PortraitTarget& target) {
  if (!pc.a.error.empty()) {
    pc.flags.push_back("unreadable");
  } else if (pc.a.faces.empty()) {
    pc.flags.push_back("no_face");
  }
  if (const AnalysedFace* f = pc.measured_face()) {
    const FaceMeasures& m = f->m;
    if (m.temple_px < kTooSmallPx) pc.flags.push_back("too_small");
    const Fit fit = fit_of(pc, *f, target);
    if (fit.eye_distance > 0 && (fit.above < kRoomAbove || fit.below < kRoomBelow || fit.side < kRoomSide))
      pc.flags.push_back("too_tight");
    if (fit.enlargement > kMaxEnlargement) pc.flags.push_back("low_resolution");
    if (m.sharpness < kBlurry) pc.flags.push_back("blurry");
    if (m.brightness < kDark || m.crushed > kCrushed) pc.flags.push_back("underexposed");
    if (m.brightness > kBright || m.clipped > kClipped) pc.flags.push_back("overexposed");
    if (!m.eyes_open()) pc.flags.push_back("eyes_closed");
    if (m.occlusion >= kOccluded) pc.flags.push_back("occluded");
    if (std::abs(m.yaw) > kExtremeYaw || std::abs(m.pitch) > kExtremePitch) pc.flags.push_back("extreme_pose");
    if (m.noise > kNoisy) pc.flags.push_back("noisy");
    if (m.brisque > kLowQuality) pc.flags.push_back("low_quality");
    if (pc.a.faces_found > 1 && pc.subject >= 0) pc.flags.push_back("group_photo");
  }
  bool reject = false;
  for (const auto& f : pc.flags)
    for (const auto& info : flag_list())
      if (f == info.id && info.reject) reject = true;
  if (const AnalysedFace* f = pc.subject_face())
    if (f->m.temple_px < kUnusablePx || f->m.sharpness < kVeryBlurry) reject = true;
  pc.verdict = reject ? "reject" : pc.flags.empty() ? "good" : "usable";

  char buf[160];
  if (pc.flags.empty()) {
    const FaceMeasures& m = pc.subject_face()->m;
    std::snprintf(buf, sizeof buf, "Good reference: sharp, well lit, face %.0f px wide, %s.", m.temple_px,
                  m.view() == "frontal" ? "facing the camera" : "turned a little");
    pc.advice = buf;
  } else {
    pc.advice = kFlagAdvice(pc.flags.front());
    const bool hidden = std::find(pc.flags.begin(), pc.flags.end(), "occluded") != pc.flags.end();
    if (pc.flags.front() == "different_person" && hidden)
      pc.advice =
          "Part of this face is hidden (sunglasses, a hand, hair), and what shows does not match your other photos; "
          "use a photo showing your whole face.";
    if (pc.flags.front() == "unreadable") pc.advice = "This file cannot be read as a photo (" + pc.a.error + ").";
    const Fit fit = pc.measured_face() ? fit_of(pc, *pc.measured_face(), target) : Fit{};
    auto has = [&](const char* flag) { return std::find(pc.flags.begin(), pc.flags.end(), flag) != pc.flags.end(); };
    if (pc.flags.front() == "too_tight" || (pc.flags.front() == "too_small" && has("too_tight"))) {
      pc.advice = fit.above < kRoomAbove
                      ? "The photo ends at the top of your head: a portrait would have no hair on top."
                  : fit.below < kRoomBelow ? "The photo ends just below your chin: a head-and-shoulders portrait would "
                                             "have no neck or shoulders to show."
                                           : "The photo ends close beside your face: a portrait would cut off your "
                                             "ears and hair.";
      pc.advice += " Use the uncropped original or a photo taken from further away";
      if (has("low_resolution")) {
        std::snprintf(buf, sizeof buf, "; it is also too small for a %dx%d portrait (%.1fx enlargement)", target.width,
                      target.height, fit.enlargement);
        pc.advice += buf;
      }
      pc.advice += ".";
    } else if (pc.flags.front() == "low_resolution" || (pc.flags.front() == "too_small" && has("low_resolution"))) {
      std::snprintf(buf, sizeof buf,
                    "Your eyes are %.0f px apart here; a %dx%d %s portrait would enlarge the photo %.1fx and look "
                    "soft (at most %.0fx looks sharp: eyes at least %.0f px apart). Use the original or a "
                    "higher-resolution photo.",
                    fit.eye_distance, target.width, target.height, target.crop.c_str(), fit.enlargement,
                    double(kMaxEnlargement), std::ceil(fit.eye_distance * fit.enlargement / kMaxEnlargement));
      pc.advice = buf;
    } else if (pc.flags.front() == "too_small") {
      std::snprintf(buf, sizeof buf,
                    "Your face is only %.0f px wide here (a headshot needs at least %.0f); use a closer or "
                    "higher-resolution photo.",
                    pc.measured_face()->m.temple_px, kTooSmallPx);
      pc.advice = buf;
    }
  }
}

// Among equally good photos, the one that holds the crop asked for ranks
// first (half the score at the tightest frame).
double rank_score(const PhotoCheck& pc, const PortraitTarget& target) {
  const AnalysedFace* f = pc.measured_face();
  const double framing = f ? fit_of(pc, *f, target).framing : 1.0;
  const FaceMeasures& m = pc.subject_face()->m;
  auto clamp01 = [](double v) { return std::clamp(v, 0.0, 1.0); };
  const double size = clamp01(m.temple_px / 240.0);
  const double sharp = clamp01(m.sharpness / 0.5);
  const double yaw = std::abs(m.yaw), pitch = std::abs(m.pitch);
  const double pose = (yaw <= 20 ? 1.0 : yaw <= 45 ? 0.8 : 0.3) * (pitch <= 20 ? 1.0 : 0.7);
  const double light =
      clamp01(1.0 - std::max(0.0, 90.0 - m.brightness) / 60.0 - std::max(0.0, m.brightness - 200.0) / 40.0) *
      (1.0 - std::min(0.5, double(m.clipped + m.crushed)));
  const double eyes = m.eyes_open() ? 1.0 : 0.3;
  const double occl = 1.0 - 0.7 * m.occlusion;
  const double quality = std::clamp(1.0 - m.brisque / 100.0, 0.2, 1.0);
  const double group = pc.a.faces_found > 1 ? 0.8 : 1.0;
  return (0.3 + 0.7 * size) * (0.3 + 0.7 * sharp) * pose * (0.3 + 0.7 * light) * eyes * occl * (0.5 + 0.5 * quality) *
         group * (0.5 + 0.5 * framing);
}

json coverage_of(const std::vector<PhotoCheck>& photos, std::vector<std::string>& advice) {
  std::map<std::string, int> views = {
      {"frontal", 0}, {"three_quarter_left", 0}, {"three_quarter_right", 0}, {"profile_left", 0}, {"profile_right", 0}};
  int smiling = 0, neutral = 0, accepted = 0;
  for (const auto& p : photos) {
    if (!p.accepted()) continue;
    ++accepted;
    const FaceMeasures& m = p.subject_face()->m;
    views[m.view()]++;
    (m.smiling() ? smiling : neutral)++;
  }
  const int tq = views["three_quarter_left"] + views["three_quarter_right"];
  if (accepted > 0) {
    if (accepted < 3)
      advice.push_back("Add " + std::to_string(5 - accepted) +
                       " more photos of yourself: five or more make your likeness baseline reliable.");
    if (views["three_quarter_left"] == 0 && views["three_quarter_right"] == 0)
      advice.push_back("Add two three-quarter views (your face turned about 30 degrees, one to each side).");
    else if (views["three_quarter_left"] == 0)
      advice.push_back("Add a three-quarter view turned to the image's left.");
    else if (views["three_quarter_right"] == 0)
      advice.push_back("Add a three-quarter view turned to the image's right.");
    if (views["frontal"] == 0) advice.push_back("Add a photo facing the camera.");
    if (smiling == 0) advice.push_back("Add a photo where you smile.");
    if (neutral == 0) advice.push_back("Add a photo with a relaxed, neutral expression.");
  }
  return {{"views", views}, {"three_quarter", tq}, {"smiling", smiling}, {"neutral", neutral}, {"accepted", accepted}};
}

}  // namespace

const std::vector<FlagInfo>& flag_list() {
  static const std::vector<FlagInfo> flags = {
      {"unreadable", true, "the file is not a photo likeness can read"},
      {"no_face", true, "no face was found"},
      {"different_person", true, "the face is not the person the rest of the set shows"},
      {"subject_unclear", true, "which face is the person cannot be decided"},
      {"too_small", false, "face under 120 px from temple to temple (rejected under 40 px)"},
      {"blurry", false, "face sharpness under 0.72 at headshot scale (motion or defocus; rejected under 0.40)"},
      {"underexposed", false, "face mean luma under 70 or over 30% of it crushed to black"},
      {"overexposed", false, "face mean luma over 215 or over 15% of it clipped to white"},
      {"eyes_closed", false, "eye aspect ratio under 0.15"},
      {"occluded", false, "part of the face hidden (landmarks disagree with their mirror, or dark eyes)"},
      {"extreme_pose", false, "head turned over 50 degrees or tilted over 30 degrees"},
      {"noisy", false, "noise over 5 grey levels on the face"},
      {"low_quality", false, "BRISQUE of the head region over 65 (compression, processing)"},
      {"group_photo", false, "other people are in the photo (ignored)"},
      {"too_tight", false,
       "the photo's edge is under 1.5 eye distances above the eyes, 2.4 below or 1.4 beside them (no hair, neck or "
       "shoulders to frame)"},
      {"low_resolution", false,
       "the frame stage would enlarge the face more than 3x for the portrait size asked for (1024x1280 "
       "head-and-shoulders unless a shoot asks otherwise)"},
  };
  return flags;
}

Baseline make_baseline(const std::vector<std::vector<float>>& e) {
  Baseline b;
  if (e.size() < 2) {
    b.kind = "calibrated_threshold";
    b.p5 = b.median = b.min = b.max = kSamePersonThreshold;
    b.gate = kSamePersonThreshold;
    b.note =
        "one usable reference photo: no personal baseline, so the recogniser's same-person threshold "
        "calibrated on ../shared/faces/people (equal-error point) is the gate";
    return b;
  }
  for (size_t i = 0; i < e.size(); ++i) {
    std::vector<float> sims;
    for (size_t j = 0; j < e.size(); ++j)
      if (j != i) sims.push_back(similarity(e[i], e[j]));
    b.values.push_back(median_of(sims));
  }
  b.kind = "leave_one_out";
  b.p5 = percentile(b.values, 0.05f);
  b.median = median_of(b.values);
  b.min = *std::min_element(b.values.begin(), b.values.end());
  b.max = *std::max_element(b.values.begin(), b.values.end());
  b.margin = kBaselineMargin;
  b.gate = std::max(kGateFloor, b.p5 - b.margin);
  b.note = "median similarity of each of your " + std::to_string(e.size()) +
           " photos to the others; an output passes at the 5th percentile minus the margin (never below the floor)";
  return b;
}

json Baseline::to_json() const {
  json vals = json::array();
  for (float v : values) vals.push_back(round4(v));
  return {{"kind", kind},
          {"values", vals},
          {"p5", round4(p5)},
          {"median", round4(median)},
          {"min", round4(min)},
          {"max", round4(max)},
          {"margin", round4(margin)},
          {"floor", kind == "leave_one_out" ? round4(kGateFloor) : round4(gate)},
          {"gate", round4(gate)},
          {"note", note}};
}

LikenessScore score_likeness(const std::vector<float>& embedding, const std::vector<std::vector<float>>& set,
                             const Baseline& baseline, int exclude) {
  LikenessScore s;
  s.gate = baseline.gate;
  std::vector<float> sims;
  for (int i = 0; i < int(set.size()); ++i)
    if (i != exclude || set.size() == 1) sims.push_back(similarity(embedding, set[i]));
  if (embedding.empty() || sims.empty()) return s;
  s.raw = median_of(sims);
  if (!baseline.values.empty()) {
    int below = 0;
    for (float v : baseline.values) below += v <= s.raw;
    s.band_position = float(below) / float(baseline.values.size());
  } else {
    s.band_position = s.raw >= baseline.gate ? 1.f : 0.f;
  }
  s.passed = s.raw >= s.gate;
  return s;
}

json LikenessScore::to_json() const {
  return {{"raw", round4(raw)}, {"band_position", round4(band_position)}, {"gate", round4(gate)}, {"passed", passed}};
}

PortraitTarget PortraitTarget::from_frame_params(const json& frame_params) {
  PortraitTarget t;
  for (const ParamSpec& spec : frame_stage().params()) {
    const json v = frame_params.contains(spec.key) ? frame_params.at(spec.key) : spec.default_value;
    if (spec.key == "width") t.width = v.get<int>();
    if (spec.key == "height") t.height = v.get<int>();
    if (spec.key == "crop") t.crop = v.get<std::string>();
    if (spec.key == "eye_line") t.eye_line = v.get<double>();
  }
  t.span = frame_crop_span(t.crop);
  return t;
}

SetCheck decide_set(std::vector<PhotoAnalysis> analyses, const PortraitTarget& target) {
  SetCheck set;
  for (auto& a : analyses) {
    PhotoCheck pc;
    pc.a = std::move(a);
    set.photos.push_back(std::move(pc));
  }
  decide_subjects(set.photos, set.advice);
  for (auto& pc : set.photos) flag_photo(pc, target);
  for (int i = 0; i < int(set.photos.size()); ++i) {
    PhotoCheck& pc = set.photos[i];
    if (!pc.accepted()) continue;
    pc.rank_score = rank_score(pc, target);
    set.ranking.push_back(i);
    set.embeddings.push_back(pc.subject_face()->face.embedding);
    set.embedding_photo.push_back(i);
  }
  // Good before usable, then by score.
  std::stable_sort(set.ranking.begin(), set.ranking.end(), [&](int x, int y) {
    const bool gx = set.photos[x].verdict == "good", gy = set.photos[y].verdict == "good";
    if (gx != gy) return gx;
    return set.photos[x].rank_score > set.photos[y].rank_score;
  });
  for (int r = 0; r < int(set.ranking.size()); ++r) set.photos[set.ranking[r]].rank = r + 1;
  set.baseline = make_baseline(set.embeddings);
  set.coverage = coverage_of(set.photos, set.advice);
  if (set.ranking.empty()) set.advice.insert(set.advice.begin(), "No photo is usable: see the reason for each one.");
  return set;
}

std::vector<PhotoAnalysis> analyse_photos(const std::vector<std::string>& files, JobContext& ctx, bool use_cache,
                                          const std::string& stage) {
  std::vector<PhotoAnalysis> analyses(files.size());
  std::atomic<size_t> next{0}, done{0};
  std::mutex mu;
  std::exception_ptr failure;
  auto worker = [&] {
    for (;;) {
      const size_t i = next++;
      if (i >= files.size()) return;
      try {
        if (ctx.cancel && ctx.cancel->load()) throw Error(ErrorCode::cancelled, "cancelled");
        analyses[i] = analyse_photo(files[i], use_cache, ctx.analysis_store, ctx.analysis_keeper.get());
      } catch (const Error&) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        next = files.size();
        return;
      } catch (const std::exception& e) {
        // A fault in analysing one photo (a library's assertion on an input
        // nobody foresaw) is that photo's verdict, not the whole set's.
        analyses[i] = PhotoAnalysis{};
        analyses[i].file = files[i];
        analyses[i].error =
            std::string("likeness could not analyse it (internal error: ") + e.what() + "); please report this file";
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        next = files.size();
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      ctx.item = fs::path(files[i]).filename().string();
      ctx.report(stage, double(++done) / double(files.size()));
    }
  };
  // One photo per worker thread, the job's thread budget shared among them.
  const int n = std::max(1, std::min<int>(ctx.threads, int(files.size())));
  const int per_worker = std::max(1, ctx.threads / n);
  auto budgeted = [&] {
    const ThreadBudget budget(per_worker);
    worker();
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(budgeted);
  budgeted();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return analyses;
}

SetCheck check_set(const std::vector<std::string>& files, JobContext& ctx, bool use_cache,
                   const PortraitTarget& target) {
  return decide_set(analyse_photos(files, ctx, use_cache, "check"), target);
}

json SetCheck::to_json() const {
  json photos_json = json::array();
  for (const auto& p : photos) {
    json j = {{"file", p.a.file},
              {"verdict", p.verdict},
              {"flags", p.flags},
              {"advice", p.advice},
              {"rank", p.rank},
              {"resolution", {{"width", p.a.width}, {"height", p.a.height}}},
              {"faces_found", p.a.faces_found}};
    if (!p.a.error.empty()) j["error"] = p.a.error;
    if (const AnalysedFace* f = p.measured_face()) {
      const auto& b = f->face.box;
      j[p.subject >= 0 ? "subject" : "face"] = {
          {"box", {std::round(b.x), std::round(b.y), std::round(b.width), std::round(b.height)}},
          {"detector_score", round4(f->face.score)},
          {"match", round4(p.subject_match)}};
      if (p.subject >= 0) j["others_ignored"] = p.a.faces_found - 1;
      j["measures"] = f->m.to_json(true);
      if (p.accepted()) j["rank_score"] = round4(float(p.rank_score));
    }
    if (p.subject < 0 && p.subject_match > 0) j["best_match"] = round4(p.subject_match);
    photos_json.push_back(std::move(j));
  }
  json flags = json::array();
  for (const auto& f : flag_list()) flags.push_back({{"id", f.id}, {"reject", f.reject}, {"meaning", f.meaning}});
  json ranking_files = json::array();
  for (int i : ranking) ranking_files.push_back(photos[i].a.file);
  int good = 0, usable_n = 0, reject = 0;
  for (const auto& p : photos) (p.verdict == "good" ? good : p.verdict == "usable" ? usable_n : reject)++;
  return {{"photos", photos_json},
          {"summary", {{"photos", photos.size()}, {"good", good}, {"usable", usable_n}, {"reject", reject}}},
          {"ranking", ranking_files},
          {"baseline", baseline.to_json()},
          {"coverage", coverage},
          {"advice", advice},
          {"flag_list", flags}};
}

std::string describe_set(const SetCheck& set) {
  std::string out;
  char buf[512];
  int good = 0, usable_n = 0, reject = 0;
  for (const auto& p : set.photos) (p.verdict == "good" ? good : p.verdict == "usable" ? usable_n : reject)++;
  std::snprintf(buf, sizeof buf, "%zu photos: %d good, %d usable, %d rejected\n", set.photos.size(), good, usable_n,
                reject);
  out += buf;
  for (const auto& p : set.photos) {
    const std::string name = fs::path(p.a.file).filename().string();
    std::string facts;
    if (const AnalysedFace* f = p.measured_face()) {
      const FaceMeasures& m = f->m;
      std::snprintf(buf, sizeof buf, "face %.0f px, sharpness %.2f, yaw %+.0f°, %s, %s", m.temple_px, m.sharpness,
                    m.yaw, m.smiling() ? "smiling" : "neutral", m.eyes_open() ? "eyes open" : "eyes closed");
      facts = buf;
    }
    std::string flags;
    for (const auto& f : p.flags) flags += (flags.empty() ? "" : ",") + f;
    if (!flags.empty()) flags = (facts.empty() ? "[" : "  [") + flags + "]";
    const std::string rank = p.rank ? "#" + std::to_string(p.rank) : "";
    std::snprintf(buf, sizeof buf, "  %-6s %-3s %-24s %s%s\n", p.verdict.c_str(), rank.c_str(), name.c_str(),
                  facts.c_str(), flags.c_str());
    out += buf;
    out += "         " + p.advice + "\n";
  }
  const json& v = set.coverage["views"];
  std::snprintf(buf, sizeof buf,
                "coverage: %d frontal, %d three-quarter left, %d three-quarter right, %d profile; %d smiling, %d "
                "neutral\n",
                v["frontal"].get<int>(), v["three_quarter_left"].get<int>(), v["three_quarter_right"].get<int>(),
                v["profile_left"].get<int>() + v["profile_right"].get<int>(), set.coverage["smiling"].get<int>(),
                set.coverage["neutral"].get<int>());
  out += buf;
  const Baseline& b = set.baseline;
  if (b.kind == "leave_one_out")
    std::snprintf(buf, sizeof buf,
                  "baseline: your photos match each other at %.3f (median; 5th percentile %.3f, range %.3f-%.3f); "
                  "outputs need likeness >= %.3f\n",
                  b.median, b.p5, b.min, b.max, b.gate);
  else
    std::snprintf(buf, sizeof buf,
                  "baseline: none (one usable photo); outputs need likeness >= %.3f, the calibrated "
                  "same-person threshold\n",
                  b.gate);
  out += buf;
  for (const auto& a : set.advice) out += "advice: " + a + "\n";
  return out;
}

}  // namespace likeness
