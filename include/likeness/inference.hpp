// One small inference interface, on ONNX Runtime, for every model.
//
// A Network is a loaded session: read-only and shared by every job (ONNX
// Runtime's Run is thread-safe and keeps each run's state apart). A job's
// thread budget is its own: sessions are kept per (model, threads), so two
// jobs with one thread each run side by side on two cores instead of
// queueing behind a lock. The budget of the calling thread is set with
// ThreadBudget (JobContext does it for stage runs); `threads` overrides it.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "likeness/threads.hpp"

namespace likeness {

class ModelStore;

class Network {
 public:
  // Loads `path` (already verified) with `threads` intra-op threads.
  Network(const std::string& name, const std::string& path, int threads);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& input_names() const { return inputs_; }
  const std::vector<std::string>& output_names() const { return outputs_; }

  // Runs the network. Inputs are float cv::Mats whose dims are the tensor's
  // shape (a 4-D blob from cv::dnn::blobFromImage, or any n-D Mat), given by
  // name or in the model's input order; fp16 inputs are converted. Returns
  // the requested outputs (all, in model order, when `outputs` is empty) as
  // continuous CV_32F Mats with the tensor's dims (a 1-D tensor of n values
  // comes back as a 1 x n Mat).
  std::vector<cv::Mat> run(const std::vector<std::pair<std::string, cv::Mat>>& inputs,
                           const std::vector<std::string>& outputs = {}) const;
  // One input, the model's first; all outputs.
  std::vector<cv::Mat> run(const cv::Mat& input) const { return run({{"", input}}); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string name_;
  std::vector<std::string> inputs_, outputs_;
};

// The shared network for a model of `store` at a thread budget (the calling
// thread's by default). Loaded on first use, kept for the process's life.
const Network& network(const std::string& model, int threads = 0);
const Network& network(ModelStore& store, const std::string& model, int threads = 0);

// The ONNX Runtime version in use ("1.29.0").
std::string inference_runtime_version();

}  // namespace likeness
