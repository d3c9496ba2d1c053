// Where a job's files go. Implementations: FolderSink (output_job.hpp), a
// folder for the CLI; the service's store sink (src/service/).
#pragma once
#include <string>

namespace likeness {

// Where a shoot's files go: a folder (the CLI) or the service's store.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // How the report names a file the sink will hold (an absolute path for a
  // folder, a relative name for the service).
  virtual std::string locate(const std::string& name) const = 0;
  virtual void put(const std::string& name, const std::string& bytes) = 0;
  virtual void commit() = 0;  // every file visible at once, or none
  // Undoes an uncommitted sink; a sentence saying what was left (normally "").
  virtual std::string abandon() = 0;
};

}  // namespace likeness
