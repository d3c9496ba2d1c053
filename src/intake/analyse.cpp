// Per-photo analysis: decode (shrink-on-load), detect, landmarks, embedding
// and measurements of every candidate face. Independent of the rest of the
// set, so it is cached by the photo's content hash and the models' digests.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "likeness/consent_store.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"
#include "likeness/model_store.hpp"
#include "likeness/numeric.hpp"
#include "measures.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

constexpr int kAnalysis = 1280;      // long side of the analysed photo
constexpr int kAnalysisVersion = 6;  // bump when any measurement changes

float round_to(float v, float step, bool round) { return round ? std::round(v / step) * step : v; }

}  // namespace

json FaceMeasures::to_json(bool rounded) const {
  auto r = [&](float v, float step) { return round_to(v, step, rounded); };
  return {{"temple_px", r(temple_px, 1)},
          {"eye_distance_px", r(eye_distance_px, 1)},
          {"sharpness", r(sharpness, 1e-4f)},
          {"brightness", r(brightness, 0.1f)},
          {"clipped", r(clipped, 1e-4f)},
          {"crushed", r(crushed, 1e-4f)},
          {"noise", r(noise, 0.01f)},
          {"pose", {{"yaw", r(yaw, 0.1f)}, {"pitch", r(pitch, 0.1f)}, {"roll", r(roll, 0.1f)}, {"view", view()}}},
          {"expression",
           {{"smile", r(smile, 1e-4f)},
            {"smiling", smiling()},
            {"eye_openness", r(eye_openness, 1e-4f)},
            {"eyes_open", eyes_open()}}},
          {"occlusion", {{"score", r(occlusion, 1e-4f)}, {"region", occluded_region}}},
          {"brisque", r(brisque, 0.1f)}};
}

FaceMeasures FaceMeasures::from_json(const json& j) {
  FaceMeasures m;
  m.temple_px = j.at("temple_px");
  m.eye_distance_px = j.at("eye_distance_px");
  m.sharpness = j.at("sharpness");
  m.brightness = j.at("brightness");
  m.clipped = j.at("clipped");
  m.crushed = j.at("crushed");
  m.noise = j.at("noise");
  m.yaw = j.at("pose").at("yaw");
  m.pitch = j.at("pose").at("pitch");
  m.roll = j.at("pose").at("roll");
  m.smile = j.at("expression").at("smile");
  m.eye_openness = j.at("expression").at("eye_openness");
  m.occlusion = j.at("occlusion").at("score");
  m.occluded_region = j.at("occlusion").at("region");
  m.brisque = j.at("brisque");
  return m;
}

namespace {

json analysis_json(const PhotoAnalysis& a) {
  json faces = json::array();
  for (const auto& f : a.faces) {
    json lm = json::array();
    for (const auto& p : f.face.landmarks) lm.push_back({p.x, p.y});
    faces.push_back({{"box", {f.face.box.x, f.face.box.y, f.face.box.width, f.face.box.height}},
                     {"score", f.face.score},
                     {"landmarks", lm},
                     {"embedding", f.face.embedding},
                     {"measures", f.m.to_json(false)}});
  }
  return {{"version", kAnalysisVersion}, {"sha256", a.sha256},           {"width", a.width},
          {"height", a.height},          {"faces_found", a.faces_found}, {"faces", faces}};
}

PhotoAnalysis analysis_from(const json& j) {
  PhotoAnalysis a;
  a.sha256 = j.at("sha256");
  a.width = j.at("width");
  a.height = j.at("height");
  a.faces_found = j.at("faces_found");
  for (const auto& f : j.at("faces")) {
    AnalysedFace af;
    const auto& b = f.at("box");
    af.face.box = cv::Rect2f(b[0], b[1], b[2], b[3]);
    af.face.score = f.at("score");
    for (const auto& p : f.at("landmarks")) af.face.landmarks.emplace_back(p[0].get<float>(), p[1].get<float>());
    af.face.embedding = f.at("embedding").get<std::vector<float>>();
    af.m = FaceMeasures::from_json(f.at("measures"));
    a.faces.push_back(std::move(af));
  }
  return a;
}

// An analysis's cache key: the photo's bytes, the analysis's version and
// the models that made it.
std::string cache_key(const std::string& sha) {
  ModelStore& store = ModelStore::shared();
  return Sha256()
      .field("intake")
      .field(std::to_string(kAnalysisVersion))
      .field(sha)
      .field(store.digest("face_detector"))
      .field(store.digest("face_landmarks68"))
      .field(store.digest("face_recognition"))
      .hex()
      .substr(0, 40);
}

// "" when analyses are transient (no subject with consent).
std::string cache_path(const std::string& dir, const std::string& sha) {
  if (dir.empty()) return "";
  return (fs::path(dir) / (cache_key(sha) + ".json")).string();
}

}  // namespace

std::string default_analysis_store() { return JobContext::default_store(); }

namespace {
void analyse_bytes(PhotoAnalysis& a, const std::string& bytes);
}

std::string FaceMeasures::view() const {
  const float a = std::abs(yaw);
  if (a < 15) return "frontal";
  const char* side = yaw > 0 ? "right" : "left";
  return std::string(a < 50 ? "three_quarter_" : "profile_") + side;
}

PhotoAnalysis analyse_photo(const std::string& file, bool use_cache, const std::string& store, AnalysisKeeper* keeper) {
  PhotoAnalysis a;
  a.file = file;
  std::string bytes;
  try {
    bytes = read_file(file, DecodeLimits{}.max_bytes);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::bad_input) throw;
    a.error = e.info().message;
    return a;
  }
  a.sha256 = sha256_hex(bytes);
  if (use_cache && keeper && store.empty()) {
    const std::string key = cache_key(a.sha256);
    if (const auto kept = keeper->get(key)) {
      try {
        PhotoAnalysis c = analysis_from(json::parse(*kept));
        if (c.sha256 == a.sha256) {
          c.file = file;
          return c;
        }
      } catch (const std::exception&) {
        // A damaged entry is recomputed and replaced.
      }
    }
    analyse_bytes(a, bytes);
    if (a.width > 0) keeper->put(key, analysis_json(a).dump());
    return a;
  }
  const std::string cached = use_cache ? cache_path(store, a.sha256) : std::string();
  if (!cached.empty()) {
    std::ifstream in(cached);
    if (in) {
      try {
        PhotoAnalysis c = analysis_from(json::parse(in));
        if (c.sha256 == a.sha256) {
          c.file = file;
          return c;
        }
      } catch (const std::exception&) {
        // A damaged cache entry is recomputed below and overwritten.
      }
    }
  }

  analyse_bytes(a, bytes);
  if (!cached.empty() && a.width > 0) {
    std::error_code ec;
    fs::create_directories(fs::path(cached).parent_path(), ec);
    if (!ec) {
      try {
        write_file_atomic(cached, analysis_json(a).dump());
      } catch (const Error&) {
        // The cache is an optimisation; a read-only cache dir is not an error.
      }
    }
  }
  return a;
}

PhotoAnalysis analyse_image_bytes(const std::string& bytes, const std::string& name) {
  PhotoAnalysis a;
  a.file = name;
  a.sha256 = sha256_hex(bytes);
  analyse_bytes(a, bytes);
  return a;
}

namespace {
// Decodes and analyses; a.error says why when the bytes are not an image
// (a.width stays 0).
void analyse_bytes(PhotoAnalysis& a, const std::string& bytes) {
  const std::string& file = a.file;
  DecodedImage d;
  try {
    DecodeLimits lim;
    lim.shrink_to = kAnalysis;
    d = decode_image_bytes(bytes, file, lim);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::bad_input) throw;
    a.error = e.info().message;
    return;  // not cached: the file may be replaced by a good one with the same name
  }
  const bool swapped = d.orientation >= 5 && d.orientation <= 8;
  a.width = swapped ? d.source_height : d.source_width;
  a.height = swapped ? d.source_width : d.source_height;
  cv::Mat work = d.bgr;
  const double shrink = std::min(1.0, double(kAnalysis) / std::max(work.cols, work.rows));
  if (shrink < 1) cv::resize(d.bgr, work, cv::Size(), shrink, shrink, cv::INTER_AREA);
  const double to_original = double(std::max(a.width, a.height)) / std::max(work.cols, work.rows);

  FaceAnalyzer& fa = FaceAnalyzer::shared();
  // One whole-photo pass finds faces down to ~32 px of the analysed photo;
  // only when it finds none is the photo searched tile by tile.
  DetectOptions opt;
  opt.min_face = std::max(40, int(std::round(std::max(work.cols, work.rows) * 28.0 / 512)));
  std::vector<Face> faces = fa.analyze(work, false, opt);
  if (faces.empty() && opt.min_face > 40) {
    opt.min_face = 40;
    faces = fa.analyze(work, false, opt);
  }
  // A face that fills the photo (a crop from forehead to chin) is too big
  // for the detector's anchors and has no context around it: search again
  // with the photo set into a frame of its own edge colours, and measure
  // there; geometry is shifted back below.
  cv::Point2f pad_offset(0, 0);
  if (faces.empty()) {
    const int pad = std::max(work.cols, work.rows) / 2;
    // The frame is made at thumbnail scale (blurring a full-size border
    // costs seconds) and enlarged; only the photo itself keeps its pixels.
    const double f = std::min(1.0, 256.0 / std::max(work.cols, work.rows));
    cv::Mat small;
    cv::resize(work, small, cv::Size(), f, f, cv::INTER_AREA);
    const int spad = std::max(1, int(std::lround(pad * f)));
    cv::copyMakeBorder(small, small, spad, spad, spad, spad, cv::BORDER_REPLICATE);
    cv::GaussianBlur(small, small, cv::Size(0, 0), 1.0 + spad / 16.0);
    cv::Mat padded;
    cv::resize(small, padded, cv::Size(work.cols + 2 * pad, work.rows + 2 * pad), 0, 0, cv::INTER_LINEAR);
    work.copyTo(padded(cv::Rect(pad, pad, work.cols, work.rows)));
    DetectOptions popt;
    popt.min_face = std::max(40, work.cols / 3);
    faces = fa.analyze(padded, false, popt);
    if (!faces.empty()) {
      work = padded;
      pad_offset = cv::Point2f(float(pad), float(pad));
    }
  }
  a.faces_found = int(faces.size());
  std::sort(faces.begin(), faces.end(), [](const Face& x, const Face& y) { return x.box.area() > y.box.area(); });
  if (faces.size() > size_t(kMaxCandidates)) faces.resize(kMaxCandidates);

  cv::Mat mirror;
  cv::flip(work, mirror, 1);
  for (Face& f : faces) {
    fa.complete(work, f);
    if (f.landmarks.size() != 68 || f.embedding.empty()) continue;
    // For measuring, the landmark net runs again on a box centred on the
    // first answer (the detector's box jitters between a photo and its
    // mirror image; the landmarks' centre does not), then on the mirrored
    // face in the mirrored box, mapped back point by point.
    const cv::Rect lb = cv::boundingRect(f.landmarks);
    const float side = std::max(f.box.width, f.box.height);
    const cv::Rect2f box(lb.x + lb.width / 2.f - side / 2, lb.y + lb.height / 2.f - side / 2, side, side);
    const auto fl = fa.landmarks_net().landmarks(work, box);
    const cv::Rect2f mbox(work.cols - box.x - box.width, box.y, box.width, box.height);
    const auto ml = fa.landmarks_net().landmarks(mirror, mbox);
    std::vector<cv::Point2f> back;
    if (ml.size() == 68) {
      back.resize(68);
      for (int i = 0; i < 68; ++i)
        back[i] = cv::Point2f(work.cols - 1 - ml[intake::kMirror68[i]].x, ml[intake::kMirror68[i]].y);
    }
    AnalysedFace af;
    Face measured = f;
    if (fl.size() == 68) measured.landmarks = fl;
    af.m = intake::measure_face(work, measured, back, to_original);
    if (back.size() == 68) {
      // Pose and expression from the mean of the two answers: the estimate
      // of a mirrored photo is then the mirror of this one.
      std::vector<cv::Point2f> sym(68);
      for (int i = 0; i < 68; ++i) sym[i] = 0.5f * (measured.landmarks[i] + back[i]);
      intake::measure_geometry(sym, work.size(), af.m);
    }
    af.face = f;
    // Store geometry in the photo's own pixels.
    const float k = float(to_original);
    af.face.box =
        cv::Rect2f((f.box.x - pad_offset.x) * k, (f.box.y - pad_offset.y) * k, f.box.width * k, f.box.height * k);
    for (auto& p : af.face.landmarks) p = (p - pad_offset) * k;
    a.faces.push_back(std::move(af));
  }
}
}  // namespace

TechnicalQuality technical_quality(const FaceMeasures& m) {
  const double sharp = ramp(m.sharpness, 0.5, 0.9);  // blurry below 0.72
  const double level = std::min(ramp(m.brightness, 30, 80), 1 - ramp(m.brightness, 190, 240));
  const double exposure = level * (1 - ramp(m.clipped + m.crushed, 0.0, 0.1));
  const double noise = 1 - ramp(m.noise, 2, 8);
  const double brisque = 1 - ramp(m.brisque, 20, 70);
  TechnicalQuality q;
  q.parts = {{"sharpness", sharp}, {"exposure", exposure}, {"noise", noise}, {"brisque", brisque}};
  q.score = (sharp + exposure + noise + brisque) / 4;
  return q;
}

}  // namespace likeness
