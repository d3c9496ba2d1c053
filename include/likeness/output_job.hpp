// A job's outputs (portraits, sidecars, edit maps, the report) appear in the
// output folder together or not at all, and the store knows of every file
// before it can exist on disk:
//
//   begin   a lock held while the job runs, then the job's row in the store
//           naming its staging folder (a hidden sibling of the output folder);
//   put     each file written atomically into the staging folder;
//   commit  every file's final path and SHA-256 recorded in one transaction,
//           then the staging folder takes the output folder's place in one
//           rename (an atomic exchange when the folder exists: the previous
//           job's files leave with the old folder), then the old folder goes.
//
// A job killed at any point leaves nothing half-visible: the next job (or
// `forget`, or `purge`) finds its row, sees its lock is free, and finishes
// or undoes it. Output folders hold one job's files: a folder with files
// likeness did not write, or another subject's, is refused.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "likeness/output_sink.hpp"

namespace likeness {

using json = nlohmann::json;
class Store;

class OutputJob {
 public:
  // Finishes or undoes killed jobs, then checks that out_dir is new, empty or
  // holds only the subject's earlier outputs; returns its absolute path.
  // Throws Error{usage} otherwise.
  static std::string check_folder(Store& store, const std::string& subject, const std::string& out_dir);
  // Checks the folder again, then records the job and makes its staging
  // folder; Error{internal} if the folders cannot be made.
  OutputJob(Store& store, const std::string& subject, const std::string& out_dir);
  ~OutputJob();  // an uncommitted job is undone: its staging folder and rows go
  OutputJob(const OutputJob&) = delete;
  OutputJob& operator=(const OutputJob&) = delete;

  const std::string& id() const { return id_; }
  const std::string& out_dir() const { return out_dir_; }
  std::string final_path(const std::string& name) const;  // out_dir/name
  // Writes a file into the staging folder (atomically); name is a bare file name.
  void put(const std::string& name, std::string_view bytes);
  // Makes every file visible at once; returns their final paths.
  std::vector<std::string> commit();
  // Undoes an uncommitted job; returns a sentence saying what it left (normally nothing).
  std::string abandon();

 private:
  Store& store_;
  std::string id_, subject_, out_dir_, staging_;
  int lock_fd_ = -1;
  bool committed_ = false;
  std::vector<std::pair<std::string, std::string>> files_;  // name, sha256
};

// A job's files into a folder through an OutputJob: the folder is checked
// when the sink is made (before the work), the job begins at the first put.
class FolderSink : public OutputSink {
 public:
  FolderSink(Store& store, const std::string& subject, const std::string& out_dir);
  ~FolderSink() override;
  std::string locate(const std::string& name) const override;
  void put(const std::string& name, const std::string& bytes) override;
  void commit() override;
  std::string abandon() override;
  const std::string& out_dir() const { return out_dir_; }

 private:
  Store& store_;
  std::string subject_, out_dir_;
  std::unique_ptr<OutputJob> job_;
};

}  // namespace likeness
