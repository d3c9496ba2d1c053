#include "likeness/model_store.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const std::string& msg) {
  throw Error(ErrorCode::internal, msg + " — run `make models` to install or rebuild the models");
}
}  // namespace

std::string ModelStore::default_dir() {
  if (const char* d = std::getenv("LIKENESS_MODELS"); d && *d) return d;
  return cache_dir() + "/models";
}

ModelStore& ModelStore::shared() {
  static ModelStore store(default_dir());
  return store;
}

ModelStore::ModelStore(std::string dir) : dir_(std::move(dir)) {
  const std::string manifest = dir_ + "/manifest.json";
  std::ifstream in(manifest);
  if (!in) return;  // reported on first use, so `likeness --help` works without models
  nlohmann::json j;
  try {
    in >> j;
    for (const auto& m : j.at("models")) {
      ModelInfo info;
      info.name = m.at("name");
      info.source = m.at("source");
      info.licence = m.at("licence");
      info.input = m.value("input", nlohmann::json::object());
      for (const auto& f : m.at("files")) info.files.push_back({f.at("file"), f.at("sha256")});
      models_.push_back(std::move(info));
    }
  } catch (const std::exception& e) {
    models_.clear();
    fail("model manifest " + manifest + " is unreadable (" + e.what() + ")");
  }
}

const ModelInfo& ModelStore::info(const std::string& name) const {
  if (models_.empty()) fail("no models installed in " + dir_);
  for (const auto& m : models_)
    if (m.name == name) return m;
  fail("model '" + name + "' is not in " + dir_ + "/manifest.json");
}

const std::string& ModelStore::digest(const std::string& name) const { return info(name).files.at(0).sha256; }

std::string ModelStore::verified_path(const std::string& name, size_t index) {
  const ModelInfo& m = info(name);
  if (index >= m.files.size()) fail("model '" + name + "' has no file #" + std::to_string(index));
  const ModelFile& f = m.files[index];
  const std::string path = dir_ + "/" + f.file;
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_[path]) return path;
  if (!fs::exists(path)) fail("model file " + path + " is missing");
  const std::string actual = sha256_file(path);
  if (actual != f.sha256)
    fail("model file " + path + " is corrupt: SHA-256 " + actual.substr(0, 16) + "… does not match the manifest's " +
         f.sha256.substr(0, 16) + "…");
  verified_[path] = true;
  return path;
}

}  // namespace likeness
