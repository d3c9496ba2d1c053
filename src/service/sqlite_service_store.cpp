// The service's rows in SQLite (<data>/service.db): WAL, synchronous=FULL,
// secure_delete, versioned migrations; one connection behind a lock.
#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "../store/sqlite.hpp"
#include "likeness/consent_store.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/service_store.hpp"
#include "secrets.hpp"
#include "service_error.hpp"

namespace likeness {

using sql::now_iso;
using sql::Stmt;

namespace {

namespace fs = std::filesystem;

// A stored file's bytes; a file deleted with its person is a 404.
std::string stored_bytes(const fs::path& path) {
  try {
    return read_file(path.string(), 200u << 20);
  } catch (const Error&) {
    throw ServiceError(404, "not_found", "the file is gone (deleted with its person?)");
  }
}

json parse_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json::parse(text, nullptr, false); }

constexpr const char* kJobColumns =
    "id, user, subject, state, spec, progress, error, idem_key, spec_sha, created_at, finished_at, runs";

JobRow job_from(const Stmt& q) {
  JobRow j;
  j.id = q.text(0);
  j.user = q.text(1);
  j.subject = q.text(2);
  j.state = q.text(3);
  j.spec = parse_or_null(q.text(4));
  j.progress = parse_or_null(q.text(5));
  j.error = parse_or_null(q.text(6));
  j.idem_key = q.text(7);
  j.spec_sha = q.text(8);
  j.created_at = q.text(9);
  j.finished_at = q.text(10);
  j.runs = int(q.integer(11));
  return j;
}

constexpr const char* kOutputColumns = "id, job, subject, rank, name, kind, file, sha256, meta";

OutputRow output_from(const Stmt& q) {
  OutputRow o;
  o.id = q.text(0);
  o.job = q.text(1);
  o.subject = q.text(2);
  o.rank = int(q.integer(3));
  o.name = q.text(4);
  o.kind = q.text(5);
  o.file = q.text(6);
  o.sha256 = q.text(7);
  o.meta = parse_or_null(q.text(8));
  return o;
}

constexpr const char* kPhotoColumns = "id, subject, name, file, sha256, width, height, created_at";

PhotoRow photo_from(const Stmt& q) {
  PhotoRow p;
  p.id = q.text(0);
  p.subject = q.text(1);
  p.name = q.text(2);
  p.file = q.text(3);
  p.sha256 = q.text(4);
  p.width = int(q.integer(5));
  p.height = int(q.integer(6));
  p.created_at = q.text(7);
  return p;
}

class SqliteServiceStore final : public EmbeddedServiceStore {
 public:
  SqliteServiceStore(const std::string& data, ConsentStore& files) : data_(data), files_(files) {
    const std::string path = (data_ / "service.db").string();
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(ErrorCode::internal, "cannot open " + path + ": " + msg);
    }
    ::chmod(path.c_str(), 0600);
    sqlite3_busy_timeout(db_, 10000);
    sql::exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;");
    sql::transaction(db_, [&] {
      Stmt v(db_, "PRAGMA user_version");
      v.step();
      const int version = int(v.integer(0));
      if (version < 1)
        sql::exec(db_,
                  "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, salt TEXT NOT NULL, "
                  "hash TEXT NOT NULL, created_at TEXT);"
                  "CREATE TABLE sessions (secret_sha TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL, "
                  "created_at TEXT);"
                  "CREATE TABLE tokens (secret_sha TEXT PRIMARY KEY, user TEXT NOT NULL, label TEXT, created_at TEXT);"
                  "CREATE TABLE subjects (id TEXT PRIMARY KEY, user TEXT NOT NULL, name TEXT, created_at TEXT);"
                  "CREATE TABLE photos (id TEXT PRIMARY KEY, subject TEXT NOT NULL, name TEXT, file TEXT NOT NULL, "
                  "sha256 TEXT, width INTEGER, height INTEGER, created_at TEXT);"
                  "CREATE INDEX photos_subject ON photos(subject);"
                  "CREATE TABLE jobs (id TEXT PRIMARY KEY, user TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT "
                  "NULL, spec TEXT NOT NULL, progress TEXT, error TEXT, idem_key TEXT, spec_sha TEXT, created_at "
                  "TEXT, finished_at TEXT, runs INTEGER NOT NULL DEFAULT 0);"
                  "CREATE UNIQUE INDEX jobs_idem ON jobs(user, idem_key) WHERE idem_key IS NOT NULL;"
                  "CREATE INDEX jobs_state ON jobs(state);"
                  "CREATE TABLE outputs (id TEXT PRIMARY KEY, job TEXT NOT NULL, subject TEXT NOT NULL, rank "
                  "INTEGER, name TEXT, kind TEXT, file TEXT NOT NULL, sha256 TEXT, meta TEXT);"
                  "CREATE INDEX outputs_job ON outputs(job);"
                  "PRAGMA user_version=1;");
    });
  }
  ~SqliteServiceStore() override { sqlite3_close(db_); }

  UserRow create_user(const std::string& name, const std::string& password) override {
    Lock lock(mu_);
    UserRow u{random_id("u_"), name};
    const PasswordHash h = hash_password(password);
    Stmt f(db_, "SELECT 1 FROM users WHERE name=?");
    f.bind(1, name);
    if (f.step()) throw ServiceError(409, "conflict", "the name '" + name + "' is taken");
    Stmt q(db_, "INSERT INTO users VALUES (?,?,?,?,?)");
    q.bind(1, u.id).bind(2, name).bind(3, h.salt).bind(4, h.hash).bind(5, now_iso());
    q.step();
    return u;
  }

  std::optional<UserRow> check_password(const std::string& name, const std::string& password) override {
    std::string id;
    PasswordHash stored;
    {
      Lock lock(mu_);
      Stmt q(db_, "SELECT id, salt, hash FROM users WHERE name=?");
      q.bind(1, name);
      if (q.step()) {
        id = q.text(0);
        stored = {q.text(1), q.text(2)};
      }
    }
    if (!password_matches(password, stored)) return std::nullopt;  // outside the lock: ~50 ms
    return UserRow{id, name};
  }

  std::string create_session(const std::string& user, std::string* csrf) override {
    Lock lock(mu_);
    const std::string secret = random_secret();
    *csrf = random_secret();
    Stmt q(db_, "INSERT INTO sessions VALUES (?,?,?,?)");
    q.bind(1, sha256_hex(secret)).bind(2, user).bind(3, *csrf).bind(4, now_iso());
    q.step();
    return secret;
  }

  std::optional<SessionRow> session(const std::string& cookie) override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT user, csrf FROM sessions WHERE secret_sha=?");
    q.bind(1, sha256_hex(cookie));
    if (!q.step()) return std::nullopt;
    return SessionRow{q.text(0), q.text(1)};
  }

  void end_session(const std::string& cookie) override {
    Lock lock(mu_);
    Stmt q(db_, "DELETE FROM sessions WHERE secret_sha=?");
    q.bind(1, sha256_hex(cookie));
    q.step();
  }

  std::string create_token(const std::string& user, const std::string& label) override {
    Lock lock(mu_);
    const std::string secret = "lk_" + random_secret();
    Stmt q(db_, "INSERT INTO tokens VALUES (?,?,?,?)");
    q.bind(1, sha256_hex(secret)).bind(2, user).bind(3, label).bind(4, now_iso());
    q.step();
    return secret;
  }

  std::optional<std::string> token_user(const std::string& token) override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT user FROM tokens WHERE secret_sha=?");
    q.bind(1, sha256_hex(token));
    if (!q.step()) return std::nullopt;
    return q.text(0);
  }

  std::optional<UserRow> user(const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT id, name FROM users WHERE id=?");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return UserRow{q.text(0), q.text(1)};
  }

  SubjectRow create_subject(const std::string& user, const std::string& name) override {
    Lock lock(mu_);
    SubjectRow s{random_id("s_"), user, name, now_iso()};
    Stmt q(db_, "INSERT INTO subjects VALUES (?,?,?,?)");
    q.bind(1, s.id).bind(2, user).bind(3, name).bind(4, s.created_at);
    q.step();
    return s;
  }

  std::optional<SubjectRow> subject(const std::string& user, const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT id, user, name, created_at FROM subjects WHERE id=? AND user=?");
    q.bind(1, id).bind(2, user);
    if (!q.step()) return std::nullopt;
    return SubjectRow{q.text(0), q.text(1), q.text(2), q.text(3)};
  }

  std::vector<SubjectRow> subjects(const std::string& user) override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT id, user, name, created_at FROM subjects WHERE user=? ORDER BY created_at, rowid");
    q.bind(1, user);
    std::vector<SubjectRow> out;
    while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.text(3)});
    return out;
  }

  std::vector<std::string> all_subject_ids() override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT id FROM subjects");
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
  }

  size_t delete_subject(const std::string& id) override {
    Lock lock(mu_);
    std::vector<std::string> files;
    sql::transaction(db_, [&] {
      for (const char* s : {"SELECT file FROM photos WHERE subject=?", "SELECT file FROM outputs WHERE subject=?"}) {
        Stmt q(db_, s);
        q.bind(1, id);
        while (q.step()) files.push_back(q.text(0));
      }
      for (const char* s : {"DELETE FROM photos WHERE subject=?", "DELETE FROM outputs WHERE subject=?",
                            "DELETE FROM jobs WHERE subject=?", "DELETE FROM subjects WHERE id=?"}) {
        Stmt q(db_, s);
        q.bind(1, id);
        q.step();
      }
    });
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    // The files after the rows: a crash between leaves files no row names,
    // which the consent store's forget (the subject's folder) removes.
    size_t removed = 0;
    std::set<fs::path> dirs;
    for (const auto& rel : files) {
      std::error_code ec;
      const fs::path p = data_ / rel;
      if (fs::remove(p, ec)) ++removed;
      dirs.insert(p.parent_path());
    }
    for (const auto& d : dirs) {
      std::error_code ec;
      if (d.parent_path().filename() == "outputs") fs::remove_all(d, ec);
    }
    return removed;
  }

  // Each photo as <subject's folder>/photos/<file>, written (atomically)
  // before its row; if the rows cannot be kept, neither are the files.
  void add_photos(std::vector<PhotoRow> rows, const std::vector<const std::string*>& bytes) override {
    if (rows.size() != bytes.size()) throw Error(ErrorCode::internal, "add_photos: a row without its bytes");
    std::vector<fs::path> written;
    try {
      for (size_t i = 0; i < rows.size(); ++i) {
        PhotoRow& p = rows[i];
        const fs::path path = fs::path(files_.subject_dir(p.subject)) / "photos" / fs::path(p.file).filename();
        p.file = fs::relative(path, data_).string();
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        write_file_atomic(path.string(), *bytes[i]);
        written.push_back(path);
      }
      Lock lock(mu_);
      sql::transaction(db_, [&] {
        for (const auto& p : rows) {
          Stmt q(db_, "INSERT INTO photos VALUES (?,?,?,?,?,?,?,?)");
          q.bind(1, p.id).bind(2, p.subject).bind(3, p.name).bind(4, p.file).bind(5, p.sha256);
          q.bind(6, p.width).bind(7, p.height).bind(8, p.created_at.empty() ? now_iso() : p.created_at);
          q.step();
        }
      });
    } catch (...) {
      for (const auto& f : written) {
        std::error_code ec;
        fs::remove(f, ec);
      }
      throw;
    }
  }

  std::string photo_bytes(const PhotoRow& p) override { return stored_bytes(data_ / p.file); }

  LocalPhotos local_photos(const std::string& subject) override {
    std::vector<PhotoRow> rows = photos(subject);
    std::vector<std::string> files;
    for (const PhotoRow& p : rows) files.push_back((data_ / p.file).string());
    return LocalPhotos(std::move(rows), std::move(files), "");
  }

  std::vector<PhotoRow> photos(const std::string& subject) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kPhotoColumns + " FROM photos WHERE subject=? ORDER BY created_at, rowid");
    q.bind(1, subject);
    std::vector<PhotoRow> out;
    while (q.step()) out.push_back(photo_from(q));
    return out;
  }

  std::optional<PhotoRow> photo(const std::string& user, const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kPhotoColumns +
                    " FROM photos WHERE id=? AND subject IN (SELECT id FROM subjects WHERE user=?)");
    q.bind(1, id).bind(2, user);
    if (!q.step()) return std::nullopt;
    return photo_from(q);
  }

  void delete_photo(const PhotoRow& p) override {
    {
      Lock lock(mu_);
      Stmt q(db_, "DELETE FROM photos WHERE id=?");
      q.bind(1, p.id);
      q.step();
    }
    std::error_code ec;
    fs::remove(data_ / p.file, ec);
  }

  JobRow submit(const JobRow& job, bool* created) override {
    Lock lock(mu_);
    JobRow out;
    sql::transaction(db_, [&] {
      if (!job.idem_key.empty()) {
        Stmt q(db_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE user=? AND idem_key=?");
        q.bind(1, job.user).bind(2, job.idem_key);
        if (q.step()) {
          out = job_from(q);
          if (out.spec_sha != job.spec_sha)
            throw ServiceError(409, "conflict",
                               "the Idempotency-Key '" + job.idem_key + "' was used for another request");
          *created = false;
          return;
        }
      }
      Stmt q(db_, std::string("INSERT INTO jobs (") + kJobColumns + ") VALUES (?,?,?,'queued',?,?,NULL,?,?,?,NULL,0)");
      q.bind(1, job.id).bind(2, job.user).bind(3, job.subject).bind(4, job.spec.dump());
      q.bind(5, json{{"fraction", 0}, {"stage", ""}, {"item", "waiting for a worker"}}.dump());
      if (job.idem_key.empty())
        q.bind_null(6);
      else
        q.bind(6, job.idem_key);
      q.bind(7, job.spec_sha).bind(8, now_iso());
      q.step();
      Stmt r(db_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?");
      r.bind(1, job.id);
      r.step();
      out = job_from(r);
      *created = true;
    });
    return out;
  }

  std::optional<JobRow> job(const std::string& user, const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=? AND user=?");
    q.bind(1, id).bind(2, user);
    if (!q.step()) return std::nullopt;
    return job_from(q);
  }

  std::optional<JobRow> job_by_id(const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return job_from(q);
  }

  std::vector<JobRow> jobs(const std::string& user, const std::string& subject) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kJobColumns +
                    " FROM jobs WHERE user=? AND (?2 = '' OR subject=?2) ORDER BY created_at DESC, rowid DESC");
    q.bind(1, user).bind(2, subject);
    std::vector<JobRow> out;
    while (q.step()) out.push_back(job_from(q));
    return out;
  }

  std::vector<JobRow> jobs_in_state(const std::string& state) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state=? ORDER BY created_at, rowid");
    q.bind(1, state);
    std::vector<JobRow> out;
    while (q.step()) out.push_back(job_from(q));
    return out;
  }

  int count_in_state(const std::string& state) override {
    Lock lock(mu_);
    Stmt q(db_, "SELECT count(*) FROM jobs WHERE state=?");
    q.bind(1, state);
    q.step();
    return int(q.integer(0));
  }

  bool transition(const std::string& id, const std::string& from, const std::string& to, const json& error) override {
    Lock lock(mu_);
    const bool final = to == "done" || to == "failed" || to == "cancelled";
    Stmt q(db_, "UPDATE jobs SET state=?3, error=?4, finished_at=?5 WHERE id=?1 AND state=?2");
    q.bind(1, id).bind(2, from).bind(3, to);
    if (error.is_null())
      q.bind_null(4);
    else
      q.bind(4, error.dump());
    if (final)
      q.bind(5, now_iso());
    else
      q.bind_null(5);
    q.step();
    return sqlite3_changes(db_) == 1;
  }

  void set_progress(const std::string& id, const json& progress) override {
    Lock lock(mu_);
    Stmt q(db_, "UPDATE jobs SET progress=? WHERE id=?");
    q.bind(1, progress.dump()).bind(2, id);
    q.step();
  }

  void count_run(const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, "UPDATE jobs SET runs = runs + 1 WHERE id=?");
    q.bind(1, id);
    q.step();
  }

  void finish(const std::string& id, const std::vector<OutputRow>& outputs) override {
    Lock lock(mu_);
    sql::transaction(db_, [&] {
      {
        Stmt d(db_, "DELETE FROM outputs WHERE job=?");  // a re-run's outputs replace the first run's
        d.bind(1, id);
        d.step();
      }
      for (const auto& o : outputs) {
        Stmt q(db_, std::string("INSERT INTO outputs (") + kOutputColumns + ") VALUES (?,?,?,?,?,?,?,?,?)");
        q.bind(1, o.id).bind(2, o.job).bind(3, o.subject).bind(4, o.rank).bind(5, o.name).bind(6, o.kind);
        q.bind(7, o.file).bind(8, o.sha256).bind(9, o.meta.dump());
        q.step();
      }
      Stmt u(db_, "UPDATE jobs SET state='done', error=NULL, finished_at=?2 WHERE id=?1 AND state='running'");
      u.bind(1, id).bind(2, now_iso());
      u.step();
      if (sqlite3_changes(db_) != 1) throw ServiceError(409, "conflict", "job " + id + " is no longer running");
    });
  }

  std::vector<OutputRow> outputs(const std::string& job) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kOutputColumns + " FROM outputs WHERE job=? ORDER BY rank, kind, name");
    q.bind(1, job);
    std::vector<OutputRow> out;
    while (q.step()) out.push_back(output_from(q));
    return out;
  }

  std::optional<OutputRow> output(const std::string& user, const std::string& id) override {
    Lock lock(mu_);
    Stmt q(db_, std::string("SELECT ") + kOutputColumns +
                    " FROM outputs WHERE id=? AND job IN (SELECT id FROM jobs WHERE user=?)");
    q.bind(1, id).bind(2, user);
    if (!q.step()) return std::nullopt;
    return output_from(q);
  }

  std::string output_bytes(const OutputRow& o) override { return stored_bytes(data_ / o.file); }

 private:
  using Lock = std::lock_guard<std::recursive_mutex>;
  fs::path data_;
  ConsentStore& files_;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mu_;
};

}  // namespace

std::unique_ptr<EmbeddedServiceStore> open_sqlite_service_store(const std::string& data_dir, ConsentStore& files) {
  return std::make_unique<SqliteServiceStore>(data_dir, files);
}

LocalPhotos::~LocalPhotos() {
  if (scratch_.empty()) return;
  std::error_code ec;
  fs::remove_all(scratch_, ec);
}

}  // namespace likeness
