// The studio's store of people's data (SQLite + files under the data dir):
// consent records, the reference photos' digests a record covers, face
// analyses (embeddings), set records and the portraits made. Nothing about a
// person is kept without a valid consent record; one call deletes it all.
#pragma once
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "likeness/consent_store.hpp"

namespace likeness {

// The embedded store (one machine): SQLite in <data dir>/studio.db, the
// subjects' analyses, set records and a journal of the jobs that write
// output folders. Thread-safe: a server's jobs share it.
class Store final : public ConsentStore {
 public:
  static Store& open();  // <data dir>/studio.db, created on first use

  ConsentRecord grant(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                      const std::vector<std::string>& purposes, int retention_days,
                      const std::vector<std::string>& uses, const std::string& basis = "consent") override;
  ConsentRecord latest(const std::string& subject) override;
  bool withdraw(const std::string& subject) override;
  void add_photo(const std::string& subject, const std::string& sha256) override;
  std::string subject_dir(const std::string& subject) override;  // <data dir>/subjects/<id>

  // Jobs that write outputs (see output_job.hpp): recorded before any file
  // exists, then staged (every file's final path and SHA-256), committed,
  // done. Outputs are the files a committed job made.
  struct JobRow {
    std::string id, subject, out_dir, staging, state;  // state: writing, committing, committed, done
    unsigned long long staging_dev = 0, staging_ino = 0;
  };
  void begin_job(const JobRow& job);
  void stage_job(const std::string& id, const std::vector<std::pair<std::string, std::string>>& path_sha,
                 unsigned long long dev, unsigned long long ino);
  // The staging folder is now the output folder: the previous jobs' output
  // rows for that folder go (their files left with the old folder).
  void commit_job(const std::string& id);
  void finish_job(const std::string& id);
  void drop_job(const std::string& id);  // the job and its output rows
  std::vector<JobRow> unfinished_jobs(const std::string& subject = "");
  // A file that shows several people (a team's contact sheet and report):
  // an output of each of them, so forgetting any one of them deletes it.
  void record_shared_output(const std::vector<std::string>& subjects, const std::string& path,
                            const std::string& sha256);
  // Output rows whose path lies in dir: path -> subject.
  std::vector<std::pair<std::string, std::string>> outputs_in(const std::string& dir);
  // Finishes or undoes every job whose process is gone (its lock is free);
  // with a subject, only that subject's. Returns what it did.
  json recover(const std::string& subject = "");

  json list() override;
  // Deletes the subject's records, photo digests, analyses, set records,
  // the portraits made (if unchanged) and whatever an unfinished job of the
  // subject left (its staging folder, whole); returns what was removed.
  json forget(const std::string& subject) override;
  json purge() override;

 private:
  explicit Store(const std::string& path);
  void exec(const char* sql);
  void transaction(const std::function<void()>& body);  // BEGIN IMMEDIATE ... COMMIT, ROLLBACK on a throw
  void* db_ = nullptr;                                  // sqlite3*
  // One connection for the process: every public call holds the lock, so
  // one thread's transaction never takes in another's statements.
  std::recursive_mutex mu_;
};

}  // namespace likeness
