// What the service keeps beside consent (ConsentStore): users and their
// sign-ins, the subjects each user manages, uploaded photos, jobs and their
// outputs. Two backends stand behind these interfaces: the embedded SQLite
// one with files in the data folder (one machine), and PostgreSQL with the
// bytes beside the rows (pg_service.hpp: any number of machines).
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
  std::string id, subject, name, file, sha256, created_at;  // file: the store's own locator of the bytes
  int width = 0, height = 0;
};
struct JobRow {
  std::string id, user, subject, state;  // queued, running, done, failed (dead: attempts used up), cancelled
  json spec, progress, error;            // error: null or {code, message}
  std::string idem_key, spec_sha, created_at, finished_at;
  int runs = 0;  // how many times a worker started it
};
struct OutputRow {
  std::string id, job, subject, name, kind, file, sha256;  // kind: portrait, edit_map, before, sidecar, sheet, report;
                                                           // file: the store's own locator
  int rank = 0;
  json meta;
};

// A subject's photos as files on this machine, for what reads files (the
// intake, the rank, a shoot): the store's own files where it keeps them on
// this machine, or copies in a private folder removed with this object.
// files()[i] holds rows()[i].
class LocalPhotos {
 public:
  LocalPhotos() = default;
  LocalPhotos(std::vector<PhotoRow> rows, std::vector<std::string> files, std::string scratch)
      : rows_(std::move(rows)), files_(std::move(files)), scratch_(std::move(scratch)) {}
  ~LocalPhotos();
  LocalPhotos(LocalPhotos&& o) noexcept
      : rows_(std::move(o.rows_)), files_(std::move(o.files_)), scratch_(std::move(o.scratch_)) {
    o.scratch_.clear();
  }
  LocalPhotos& operator=(LocalPhotos&&) = delete;
  LocalPhotos(const LocalPhotos&) = delete;
  const std::vector<PhotoRow>& rows() const { return rows_; }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<PhotoRow> rows_;
  std::vector<std::string> files_;
  std::string scratch_;  // "" when the files are the store's own
};

// What the API reads and changes: accounts, the people each user manages,
// their photos with the bytes, and jobs with their outputs' bytes. Where
// the bytes live is the store's business (files in the data folder, or
// bytea beside the rows); the API never names a path.
class ServiceStore {
 public:
  virtual ~ServiceStore() = default;

  // Users and sign-ins. Secrets are kept as SHA-256 (tokens) or PBKDF2
  // (passwords), never in the clear.
  virtual UserRow create_user(const std::string& name, const std::string& password) = 0;  // ServiceError 409
  virtual std::optional<UserRow> check_password(const std::string& name, const std::string& password) = 0;
  virtual std::string create_session(const std::string& user, std::string* csrf) = 0;  // returns the cookie value
  virtual std::optional<SessionRow> session(const std::string& cookie) = 0;
  virtual void end_session(const std::string& cookie) = 0;
  virtual std::string create_token(const std::string& user, const std::string& label) = 0;
  virtual std::optional<std::string> token_user(const std::string& token) = 0;
  virtual std::optional<UserRow> user(const std::string& id) = 0;

  // Subjects: the people a user manages. nullopt for another user's.
  virtual SubjectRow create_subject(const std::string& user, const std::string& name) = 0;
  virtual std::optional<SubjectRow> subject(const std::string& user, const std::string& id) = 0;
  virtual std::vector<SubjectRow> subjects(const std::string& user) = 0;
  // Every row of the subject (photos, jobs, outputs, the subject) and every
  // byte they held; returns how many photos and outputs went.
  virtual size_t delete_subject(const std::string& id) = 0;
  virtual std::vector<std::string> all_subject_ids() = 0;

  // Photos. add_photos keeps every row with its bytes (bytes[i] is
  // rows[i]'s), all or none; the store sets each row's `file`.
  virtual void add_photos(std::vector<PhotoRow> rows, const std::vector<const std::string*>& bytes) = 0;
  virtual std::vector<PhotoRow> photos(const std::string& subject) = 0;
  virtual std::optional<PhotoRow> photo(const std::string& user, const std::string& id) = 0;
  virtual std::string photo_bytes(const PhotoRow& p) = 0;  // ServiceError 404 if gone
  virtual void delete_photo(const PhotoRow& p) = 0;        // the row and its bytes
  virtual LocalPhotos local_photos(const std::string& subject) = 0;

  // Jobs and outputs as the API reads them.
  virtual std::optional<JobRow> job(const std::string& user, const std::string& id) = 0;
  virtual std::vector<JobRow> jobs(const std::string& user, const std::string& subject) = 0;
  virtual std::vector<OutputRow> outputs(const std::string& job) = 0;
  virtual std::optional<OutputRow> output(const std::string& user, const std::string& id) = 0;
  virtual std::string output_bytes(const OutputRow& o) = 0;  // ServiceError 404 if gone
};

// The jobs' table as the embedded runner (one machine) moves them along.
class LocalJobTable {
 public:
  virtual ~LocalJobTable() = default;
  // A new job, or the user's job of that idempotency key (ServiceError 409
  // when its spec differs); *created says which.
  virtual JobRow submit(const JobRow& job, bool* created) = 0;
  virtual std::optional<JobRow> job_by_id(const std::string& id) = 0;
  virtual std::vector<JobRow> jobs_in_state(const std::string& state) = 0;  // oldest first
  virtual int count_in_state(const std::string& state) = 0;
  // Moves a job from one state to another (false if it was not in `from`).
  virtual bool transition(const std::string& id, const std::string& from, const std::string& to,
                          const json& error = nullptr) = 0;
  virtual void set_progress(const std::string& id, const json& progress) = 0;
  virtual void count_run(const std::string& id) = 0;
  // The job done and its outputs visible, in one transaction.
  virtual void finish(const std::string& id, const std::vector<OutputRow>& outputs) = 0;
};

class EmbeddedServiceStore : public ServiceStore, public LocalJobTable {};

class ConsentStore;

// The embedded default: rows in <data>/service.db (WAL, synchronous=FULL);
// photos kept as files in their subject's folder of `files` (so the
// consent store's forget removes them too), outputs in <data>/outputs/<job>.
std::unique_ptr<EmbeddedServiceStore> open_sqlite_service_store(const std::string& data_dir, ConsentStore& files);

}  // namespace likeness
