// What the service keeps beside the studio's Store (consent records, photo
// digests, analyses, output files): users and their sign-ins, the subjects
// each user manages, uploaded photos, jobs and their outputs. Behind an
// interface so a PostgreSQL backend can stand where SQLite does; every file
// it names is a path relative to the data folder, never a client's.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "likeness/hash.hpp"  // random_id

namespace likeness {

using json = nlohmann::json;

struct UserRow {
  std::string id, name;
};
struct SessionRow {
  std::string user, csrf;
};
struct SubjectRow {
  std::string id, user, name, created_at;
};
struct PhotoRow {
  std::string id, subject, name, file, sha256, created_at;  // file: relative to the data folder
  int width = 0, height = 0;
};
struct JobRow {
  std::string id, user, subject, state;  // queued, running, done, failed, cancelled
  json spec, progress, error;            // error: null or {code, message}
  std::string idem_key, spec_sha, created_at, finished_at;
  int runs = 0;  // how many times a worker started it
};
struct OutputRow {
  std::string id, job, subject, name, kind, file, sha256;  // kind: portrait, edit_map, before, sidecar, sheet, report
  int rank = 0;
  json meta;
};

class ServiceStore {
 public:
  virtual ~ServiceStore() = default;

  // Users and sign-ins. Secrets are kept as SHA-256 (tokens) or PBKDF2
  // (passwords), never in the clear.
  virtual UserRow create_user(const std::string& name, const std::string& password) = 0;  // Error{conflict}
  virtual std::optional<UserRow> check_password(const std::string& name, const std::string& password) = 0;
  virtual std::string create_session(const std::string& user, std::string* csrf) = 0;  // returns the cookie value
  virtual std::optional<SessionRow> session(const std::string& cookie) = 0;
  virtual void end_session(const std::string& cookie) = 0;
  virtual std::string create_token(const std::string& user, const std::string& label) = 0;
  virtual std::optional<std::string> token_user(const std::string& token) = 0;
  virtual std::optional<UserRow> user(const std::string& id) = 0;

  // Subjects: the people a user manages. `owned` is nullopt for another user's.
  virtual SubjectRow create_subject(const std::string& user, const std::string& name) = 0;
  virtual std::optional<SubjectRow> subject(const std::string& user, const std::string& id) = 0;
  virtual std::vector<SubjectRow> subjects(const std::string& user) = 0;
  // Every row of the subject (photos, jobs, outputs, the subject); returns
  // the relative files its photos and outputs named.
  virtual std::vector<std::string> delete_subject(const std::string& id) = 0;
  virtual std::vector<std::string> all_subject_ids() = 0;

  virtual void add_photos(const std::vector<PhotoRow>& rows) = 0;  // one transaction
  virtual std::vector<PhotoRow> photos(const std::string& subject) = 0;
  virtual std::optional<PhotoRow> photo(const std::string& user, const std::string& id) = 0;
  virtual void delete_photo(const std::string& id) = 0;

  // Jobs. submit: a new job, or the user's job of that idempotency key
  // (Error{conflict} when its spec differs); *created says which.
  virtual JobRow submit(const JobRow& job, bool* created) = 0;
  virtual std::optional<JobRow> job(const std::string& user, const std::string& id) = 0;
  virtual std::optional<JobRow> job_by_id(const std::string& id) = 0;
  virtual std::vector<JobRow> jobs(const std::string& user, const std::string& subject) = 0;
  virtual std::vector<JobRow> jobs_in_state(const std::string& state) = 0;  // oldest first
  virtual int count_in_state(const std::string& state) = 0;
  // Moves a job from one state to another (false if it was not in `from`).
  virtual bool transition(const std::string& id, const std::string& from, const std::string& to,
                          const json& error = nullptr) = 0;
  virtual void set_progress(const std::string& id, const json& progress) = 0;
  virtual void count_run(const std::string& id) = 0;
  // The job done and its outputs visible, in one transaction.
  virtual void finish(const std::string& id, const std::vector<OutputRow>& outputs) = 0;
  virtual std::vector<OutputRow> outputs(const std::string& job) = 0;
  virtual std::optional<OutputRow> output(const std::string& user, const std::string& id) = 0;
};

// The embedded default: <data>/service.db (WAL, synchronous=FULL).
std::unique_ptr<ServiceStore> open_sqlite_service_store(const std::string& path);

}  // namespace likeness
