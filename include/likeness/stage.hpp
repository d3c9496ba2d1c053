// The stage interface. A stage is pure: its output depends only on the input
// frame, its resolved parameters and the models it names (by digest), so a
// step's key can stand for its result in the cache and in provenance.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "likeness/face.hpp"
#include "likeness/params.hpp"

namespace likeness {

// The image travelling through the pipeline and what stages learnt about it.
// Frames share pixel buffers (cv::Mat is reference-counted) and cached frames
// are shared between jobs: a stage never writes into a Mat it was given, it
// assigns new ones.
struct Frame {
  cv::Mat image;                               // CV_8UC3 BGR, sRGB
  cv::Mat alpha;                               // CV_32F person matte 0..1, or empty
  cv::Mat outside;                             // CV_8U, 255 where pixels are not from the photo, or empty
  std::vector<Face> faces;                     // in image coordinates
  int subject = -1;                            // index into faces
  std::string source_type = "digitalCapture";  // IPTC digital source type term
  std::vector<std::string> edits;              // plain-language summary, one per change
  std::string encoded;                         // set by the export stage
  std::string encoded_format;                  // "jpeg", "png", "webp"

  const Face* subject_face() const { return subject >= 0 && subject < int(faces.size()) ? &faces[subject] : nullptr; }
};

struct Progress {
  std::string item;   // e.g. the photo being processed
  std::string stage;  // stage id
  double fraction = 0;
};

// Per-job state: models are shared, this is not.
struct JobContext {
  int threads = 2;
  std::function<void(const Progress&)> on_progress;
  const std::atomic<bool>* cancel = nullptr;
  std::string item;

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
  // How the stage changes pixels, for the C2PA manifest: a C2PA action
  // ("c2pa.cropped", "c2pa.edited", ...) and the IPTC digital source type of
  // that change; "" when the stage changes no pixels (analysis, encoding).
  virtual std::string c2pa_action() const { return ""; }
  virtual std::string c2pa_source_type() const { return ""; }
  // `params` are resolved (defaults filled, validated).
  virtual Frame run(const Frame& in, const json& params, JobContext& ctx) const = 0;
};

// The registry: every stage, in pipeline order.
const std::vector<const Stage*>& all_stages();
const Stage& find_stage(const std::string& id);  // throws usage for an unknown id

}  // namespace likeness
