// Converted models, by name. `make models` writes them with a manifest
// (source package@version, licence, input spec, SHA-256 of every file) to
// $LIKENESS_MODELS or ~/.cache/likeness/models. Every file's digest is checked
// before first use; a missing or corrupt model is an error naming the fix.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace likeness {

struct ModelFile {
  std::string file;
  std::string sha256;
};

struct ModelInfo {
  std::string name;
  std::string source;
  std::string licence;
  std::vector<ModelFile> files;
  nlohmann::json input;
};

class ModelStore {
 public:
  explicit ModelStore(std::string dir);
  // The process-wide store at the default location.
  static ModelStore& shared();
  static std::string default_dir();

  const std::string& dir() const { return dir_; }
  const std::vector<ModelInfo>& models() const { return models_; }
  const ModelInfo& info(const std::string& name) const;
  // Digest of the model's primary file, part of every cache key using it.
  const std::string& digest(const std::string& name) const;
  // Path of file `index` of the model, verified against its SHA-256.
  std::string verified_path(const std::string& name, size_t index = 0);

 private:
  std::string dir_;
  std::vector<ModelInfo> models_;
  std::mutex mu_;
  std::map<std::string, bool> verified_;
};

}  // namespace likeness
