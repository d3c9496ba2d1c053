#include "likeness/inference.hpp"

#include <onnxruntime_cxx_api.h>

#include <map>
#include <mutex>

#include "likeness/error.hpp"
#include "likeness/model_store.hpp"

namespace likeness {

namespace {

Ort::Env& env() {
  // Warnings only: ONNX Runtime's informational lines are not ours to print.
  static Ort::Env e(ORT_LOGGING_LEVEL_ERROR, "likeness");
  return e;
}

[[noreturn]] void fail(const std::string& model, const std::string& what) {
  throw Error(ErrorCode::internal, "ONNX Runtime, model '" + model + "': " + what);
}

std::vector<int64_t> shape_of(const cv::Mat& m) {
  std::vector<int64_t> s;
  for (int i = 0; i < m.dims; ++i) s.push_back(m.size[i]);
  return s;
}
}  // namespace

struct Network::Impl {
  Ort::Session session{nullptr};
  std::vector<ONNXTensorElementDataType> input_types;
};

Network::Network(const std::string& name, const std::string& path, int threads)
    : impl_(std::make_unique<Impl>()), name_(name) {
  try {
    Ort::SessionOptions opt;
    opt.SetIntraOpNumThreads(std::max(1, threads));
    opt.SetInterOpNumThreads(1);
    opt.SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
    opt.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    // Worker threads sleep between runs instead of spinning: a studio runs
    // several jobs, and a spinning pool steals the other job's core.
    opt.AddConfigEntry("session.intra_op.allow_spinning", "0");
    // No memory arena: an arena keeps its high-water mark (ISNet's ~640 MB
    // of activations) for the rest of the process, under every later stage
    // and job. Without one, a run's memory goes back when it ends. Measured
    // on the 12 MP bench: peak RSS 1.52-1.54 GB with a shared arena, 1.15-1.17
    // GB without; the segment stage ~10% slower in a warm process (its
    // activations are fresh pages each run), the same in a fresh one (the
    // arena is cold there too).
    opt.DisableCpuMemArena();
    impl_->session = Ort::Session(env(), path.c_str(), opt);
    Ort::AllocatorWithDefaultOptions alloc;
    for (size_t i = 0; i < impl_->session.GetInputCount(); ++i) {
      inputs_.push_back(impl_->session.GetInputNameAllocated(i, alloc).get());
      impl_->input_types.push_back(impl_->session.GetInputTypeInfo(i).GetTensorTypeAndShapeInfo().GetElementType());
    }
    for (size_t i = 0; i < impl_->session.GetOutputCount(); ++i)
      outputs_.push_back(impl_->session.GetOutputNameAllocated(i, alloc).get());
  } catch (const Ort::Exception& e) {
    fail(name, std::string("cannot load ") + path + ": " + e.what() + " — run `make models`");
  }
}

Network::~Network() = default;

std::vector<cv::Mat> Network::run(const std::vector<std::pair<std::string, cv::Mat>>& inputs,
                                  const std::vector<std::string>& outputs) const {
  if (inputs.size() != inputs_.size())
    fail(name_, "takes " + std::to_string(inputs_.size()) + " inputs, got " + std::to_string(inputs.size()));
  const Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> values;
  std::vector<const char*> in_names;
  std::vector<cv::Mat> keep;                        // continuous float copies where needed
  std::vector<std::vector<Ort::Float16_t>> halves;  // fp16 inputs
  halves.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& [given, mat] = inputs[i];
    size_t idx = i;
    if (!given.empty()) {
      auto it = std::find(inputs_.begin(), inputs_.end(), given);
      if (it == inputs_.end()) fail(name_, "has no input '" + given + "'");
      idx = size_t(it - inputs_.begin());
    }
    in_names.push_back(inputs_[idx].c_str());
    cv::Mat m = mat;
    if (m.depth() != CV_32F) m.convertTo(m, CV_32F);
    if (!m.isContinuous()) m = m.clone();
    keep.push_back(m);
    const std::vector<int64_t> shape = shape_of(m);
    // Mat's channels count as the tensor's last dimension.
    std::vector<int64_t> tshape = shape;
    if (m.channels() > 1) tshape.push_back(m.channels());
    const size_t n = m.total() * m.channels();
    if (impl_->input_types[idx] == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16) {
      auto& h = halves.emplace_back(n);
      const float* p = m.ptr<float>();
      for (size_t k = 0; k < n; ++k) h[k] = Ort::Float16_t(p[k]);
      values.push_back(Ort::Value::CreateTensor<Ort::Float16_t>(mem, h.data(), n, tshape.data(), tshape.size()));
    } else {
      values.push_back(
          Ort::Value::CreateTensor<float>(mem, const_cast<float*>(m.ptr<float>()), n, tshape.data(), tshape.size()));
    }
  }
  std::vector<const char*> out_names;
  for (const auto& o : outputs.empty() ? outputs_ : outputs) {
    if (std::find(outputs_.begin(), outputs_.end(), o) == outputs_.end()) fail(name_, "has no output '" + o + "'");
    out_names.push_back(o.c_str());
  }
  std::vector<Ort::Value> res;
  try {
    res = impl_->session.Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(), out_names.data(),
                             out_names.size());
  } catch (const Ort::Exception& e) {
    fail(name_, e.what());
  }
  std::vector<cv::Mat> mats;
  for (auto& v : res) {
    const auto info = v.GetTensorTypeAndShapeInfo();
    std::vector<int64_t> s = info.GetShape();
    std::vector<int> dims;
    for (int64_t d : s) dims.push_back(int(d));
    if (dims.empty()) dims.push_back(1);
    if (dims.size() == 1) dims.insert(dims.begin(), 1);
    cv::Mat m(int(dims.size()), dims.data(), CV_32F);
    const size_t n = info.GetElementCount();
    if (info.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16) {
      const Ort::Float16_t* p = v.GetTensorData<Ort::Float16_t>();
      float* q = m.ptr<float>();
      for (size_t k = 0; k < n; ++k) q[k] = p[k].ToFloat();
    } else if (info.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      std::memcpy(m.ptr<float>(), v.GetTensorData<float>(), n * sizeof(float));
    } else {
      fail(name_, "output of an unsupported element type");
    }
    mats.push_back(m);
  }
  return mats;
}

const Network& network(ModelStore& store, const std::string& model, int threads) {
  if (threads <= 0) threads = ThreadBudget::current();
  // One load per (model, threads): jobs that ask at once wait for the first
  // load (ISNet takes a second and ~300 MB while it loads) instead of each
  // loading a copy; other models load side by side.
  struct Slot {
    std::mutex mu;
    std::unique_ptr<Network> net;
  };
  static std::mutex mu;
  static std::map<std::tuple<const ModelStore*, std::string, int>, std::shared_ptr<Slot>> nets;
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto& s = nets[std::make_tuple(&store, model, threads)];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
  }
  std::lock_guard<std::mutex> lock(slot->mu);
  if (!slot->net)
    slot->net = std::make_unique<Network>(model, store.verified_path(model), threads);  // a throw: the next asks again
  return *slot->net;
}

const Network& network(const std::string& model, int threads) { return network(ModelStore::shared(), model, threads); }

std::string inference_runtime_version() { return Ort::GetVersionString(); }

}  // namespace likeness
