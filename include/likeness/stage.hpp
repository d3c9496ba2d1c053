// The stage interface. A stage is pure: its output depends only on the input
// frame, its resolved parameters and the models it names (by digest), so a
// step's key can stand for its result in the cache and in provenance.
#pragma once
#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "likeness/face.hpp"
#include "likeness/params.hpp"

namespace likeness {

// A layer the source analysis computed at its own resolution (a matte, a
// mask), with the affine map from source pixel coordinates to the layer's
// pixels. The render step resamples every layer with the plan, like the image.
struct Layer {
  cv::Mat data;                               // CV_32F (or CV_8U) 2-D
  cv::Matx23d from_source{1, 0, 0, 0, 1, 0};  // source (x, y) -> layer (x, y)
  bool empty() const { return data.empty(); }
  // The map from this layer's pixels to another grid's, given that grid's
  // map from the source (for cv::warpAffine).
  cv::Matx23d to(const cv::Matx23d& target_from_source) const;
};

// The light a backdrop implies (direction and colour), for the composite and
// for later relighting. Camera space: x right, y up, z toward the camera.
struct SceneLight {
  bool set = false;
  cv::Vec3f direction{0, 0, 1};         // unit vector from the subject toward the key light
  cv::Vec3f color{1, 1, 1};             // key light colour, linear BGR, relative (max channel 1)
  cv::Vec3f ambient{0.2f, 0.2f, 0.2f};  // fill/bounce light colour, linear BGR (the backdrop's mean)
  float softness = 0.5f;                // 0 a hard point source .. 1 fully diffuse (overcast)
};

// The frame as a plan: where the portrait's canvas lies on the source. The
// map is a similarity (uniform scale, translation): output = scale * source +
// offset. Nothing is resampled until the render step applies it.
struct FramePlan {
  cv::Size canvas;   // output size
  double scale = 0;  // output px per source px
  cv::Point2d offset;
  bool valid() const { return scale > 0 && canvas.area() > 0; }
  cv::Point2f to_output(cv::Point2f p) const { return {float(p.x * scale + offset.x), float(p.y * scale + offset.y)}; }
  cv::Matx23d output_from_source() const { return {scale, 0, offset.x, 0, scale, offset.y}; }
  // The canvas in source coordinates.
  cv::Rect2d source_rect() const {
    return {-offset.x / scale, -offset.y / scale, canvas.width / scale, canvas.height / scale};
  }
};

// The image travelling through the pipeline and what stages learnt about it.
// Frames share pixel buffers (cv::Mat is reference-counted) and cached frames
// are shared between jobs: a stage never writes into a Mat it was given, it
// assigns new ones.
//
// Until the render step the frame is the source photo (8-bit sRGB) with
// layers at their own resolution; from render on it is the portrait's canvas
// in float linear light, converted to 8-bit sRGB once, by export.
struct Frame {
  cv::Mat image;            // CV_8UC3 BGR sRGB (source), or CV_32FC3 BGR linear light (rendered)
  bool rendered = false;    // image is the output canvas, linear light
  cv::Rect2f subject_hint;  // the subject intake chose (source px), or empty: detect and pick
  Layer person;             // coarse person matte at the source (segment stage)
  // Named semantic masks ("hair", "face_skin", ...), 0..1: at the source with
  // their own maps until render, then on the canvas (from_source = the plan).
  std::map<std::string, Layer> layers;
  FramePlan plan;      // set by the frame stage
  cv::Mat alpha;       // CV_32F person matte 0..1 on the canvas, or empty
  cv::Mat foreground;  // CV_32FC3 linear: the person's own colour where alpha < 1, or empty
  cv::Mat outside;     // CV_8U, 255 where the canvas lies beyond the photo, or empty
  cv::Mat relit;       // CV_32F 0..1 on the canvas: how much light or colour changed (edit map red), or empty
  cv::Mat retouched;   // CV_32F 0..1 on the canvas: how much skin or noise was retouched (edit map green), or empty
  std::vector<Face> faces;                     // in image coordinates
  SceneLight light;                            // the light the backdrop implies (backdrop stage)
  int subject = -1;                            // index into faces
  std::string source_type = "digitalCapture";  // IPTC digital source type term
  std::vector<std::string> edits;              // plain-language summary, one per change
  std::string encoded;                         // set by the export stage
  std::string encoded_format;                  // "jpeg", "png", "webp"

  const Face* subject_face() const { return subject >= 0 && subject < int(faces.size()) ? &faces[subject] : nullptr; }
};

struct Progress {
  std::string item;     // e.g. the photo being processed
  std::string stage;    // stage id
  double fraction = 0;  // of the stage
  double job = -1;      // of the whole job's current phase (a shoot's render), or -1 when unknown
};

// Per-job state: models are shared, this is not.
// Results a job's steps share beyond the step cache (an ESRGAN enlargement
// of the same head for another crop): the last few, keyed by a digest of
// what made them. Per job, owned by it; never written to once kept.
class ResultMemo {
 public:
  explicit ResultMemo(size_t keep = 4) : keep_(keep) {}
  bool find(const std::string& key, cv::Mat& out);
  void put(const std::string& key, const cv::Mat& value);
  int hits() const { return hits_; }

 private:
  size_t keep_;
  std::mutex mu_;
  std::list<std::pair<std::string, cv::Mat>> recent_;  // newest first
  int hits_ = 0;
};

class ConsentStore;
class AnalysisKeeper;

struct JobContext {
  int threads = 2;
  std::function<void(const Progress&)> on_progress;
  const std::atomic<bool>* cancel = nullptr;
  std::string item;
  ResultMemo* memo = nullptr;  // the job's, or none (every result computed)
  // Where the job keeps photo analyses (a consented subject's folder), or
  // "": transient. Per job, never process-wide.
  std::string analysis_store = default_store();
  static std::string default_store();  // $LIKENESS_ANALYSIS_CACHE (tests, benchmarks) or ""
  // Or, with no folder: where a shared store keeps a consented subject's
  // analyses (ConsentStore::analysis_keeper).
  std::shared_ptr<AnalysisKeeper> analysis_keeper;
  // The store that holds the subject's consent (a service's), or none: the
  // embedded one, Store::open().
  ConsentStore* consent = nullptr;

  void report(const std::string& stage, double fraction) const {
    if (on_progress) on_progress(Progress{item, stage, fraction});
  }
  void check_cancel() const;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string id() const = 0;
  virtual int version() const = 0;
  virtual std::string summary() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;
  // Every model the stage may use (for listings).
  virtual std::vector<std::string> models() const { return {}; }
  // The models a step with these resolved parameters runs: their digests
  // enter the step key, so changing an unused model keeps the cache valid.
  virtual std::vector<std::string> models_for(const json& /*params*/) const { return models(); }
  // Files a step with these parameters reads (a user's picture): their
  // content's digest enters the step key, so editing the file in place
  // invalidates the cache. Throws Error{bad_input} for a file it cannot use.
  virtual std::vector<std::string> inputs_for(const json& /*params*/) const { return {}; }
  // How the stage changes pixels, for the C2PA manifest: a C2PA action
  // ("c2pa.cropped", "c2pa.edited", ...) and the IPTC digital source type of
  // that change; "" when the stage changes no pixels (analysis, encoding).
  virtual std::string c2pa_action() const { return ""; }
  virtual std::string c2pa_source_type() const { return ""; }
  // Whether a step with these resolved parameters changes pixels (a look of
  // "none" does not): only those are C2PA actions.
  virtual bool changes_pixels(const json& /*params*/) const { return !c2pa_action().empty(); }
  // Stages a step with these resolved parameters needs earlier in the
  // recipe (relight's "match" needs the backdrop's declared light), with
  // why: a recipe without them is refused before any work is done.
  struct Need {
    std::string stage, param, why;
  };
  virtual std::vector<Need> needs_before(const json& /*params*/) const { return {}; }
  // `params` are resolved (defaults filled, validated).
  virtual Frame run(const Frame& in, const json& params, JobContext& ctx) const = 0;
};

// The registry: every stage, in pipeline order.
const std::vector<const Stage*>& all_stages();
const Stage& find_stage(const std::string& id);  // throws usage for an unknown id

}  // namespace likeness
