// The service's rows on PostgreSQL (likeness serve --db): the same tables
// the workers' queue uses (jobs, outputs, photos; bytes beside their rows)
// plus users, sign-ins and subjects (schema version 4). Many handler
// threads share a small pool of connections.
#include <sys/stat.h>

#include <filesystem>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "pg_service.hpp"
#include "secrets.hpp"
#include "service_error.hpp"
#include "store/pg/pg.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

std::string iso(const std::string& column) {
  return "coalesce(to_char(" + column + " AT TIME ZONE 'UTC', '" + pg::kIsoFormat + "'), '')";
}

const std::string kJobColumns =
    "id, owner, subject, state, spec::text, progress::text, coalesce(error::text, ''), "
    "coalesce(idempotency_key, ''), attempts, " +
    iso("created_at") + ", " + iso("finished_at");

JobRow job_from(const pg::Result& r, int i) {
  JobRow j;
  j.id = r.text(i, 0);
  j.user = r.text(i, 1);
  j.subject = r.text(i, 2);
  j.state = r.text(i, 3);
  j.spec = json::parse(r.text(i, 4));
  j.progress = json::parse(r.text(i, 5));
  j.error = r.text(i, 6).empty() ? json(nullptr) : json::parse(r.text(i, 6));
  j.idem_key = r.text(i, 7);
  j.runs = int(r.number(i, 8));
  j.created_at = r.text(i, 9);
  j.finished_at = r.text(i, 10);
  // A dead job (its attempts used up) is, to its owner, a failed one; the
  // reason says which worker stopped answering.
  if (j.state == "dead") j.state = "failed";
  return j;
}

// Outputs are numbered by the database; the API shows them as o<number>.
const std::string kOutputColumns =
    "'o' || id, job, subject, coalesce((meta->>'rank')::int, 0), name, kind, sha256, "
    "meta::text";

OutputRow output_from(const pg::Result& r, int i) {
  OutputRow o;
  o.id = r.text(i, 0);
  o.job = r.text(i, 1);
  o.subject = r.text(i, 2);
  o.rank = int(r.number(i, 3));
  o.name = r.text(i, 4);
  o.kind = r.text(i, 5);
  o.sha256 = r.text(i, 6);
  o.meta = json::parse(r.text(i, 7));
  o.meta.erase("rank");
  o.file = o.id;
  return o;
}

// "o123" -> "123"; "" for anything else (no row has it).
std::string output_number(const std::string& id) {
  if (id.size() < 2 || id[0] != 'o' || id.size() > 20) return "";
  for (size_t i = 1; i < id.size(); ++i)
    if (id[i] < '0' || id[i] > '9') return "";
  return id.substr(1);
}

// Every column as text, so the same list serves a query whose result is
// binary (the one that also reads the bytes).
const std::string kPhotoColumns = "id, subject, name, sha256, width::text, height::text, " + iso("created_at");

PhotoRow photo_from(const pg::Result& r, int i) {
  PhotoRow p;
  p.id = r.text(i, 0);
  p.subject = r.text(i, 1);
  p.name = r.text(i, 2);
  p.sha256 = r.text(i, 3);
  p.width = int(r.number(i, 4));
  p.height = int(r.number(i, 5));
  p.created_at = r.text(i, 6);
  p.file = p.id;
  return p;
}

class PgServiceStore final : public ServiceStore {
 public:
  PgServiceStore(const std::string& url, std::string scratch, int connections)
      : pool_(url, connections), scratch_(std::move(scratch)) {
    auto c = pool_.borrow();
    pg::migrate(*c);
  }

  UserRow create_user(const std::string& name, const std::string& password) override {
    const PasswordHash h = hash_password(password);
    UserRow u{random_id("u_"), name};
    auto c = pool_.borrow();
    const pg::Result r = c->exec(
        "INSERT INTO users (id, name, salt, hash) VALUES ($1,$2,$3,$4) ON CONFLICT (name) DO NOTHING RETURNING id",
        {u.id, name, h.salt, h.hash});
    if (r.rows() == 0) throw ServiceError(409, "conflict", "the name '" + name + "' is taken");
    return u;
  }

  std::optional<UserRow> check_password(const std::string& name, const std::string& password) override {
    std::string id;
    PasswordHash stored;
    {
      auto c = pool_.borrow();
      const pg::Result r = c->exec("SELECT id, salt, hash FROM users WHERE name=$1", {name});
      if (r.rows()) {
        id = r.text(0, 0);
        stored = {r.text(0, 1), r.text(0, 2)};
      }
    }
    if (!password_matches(password, stored)) return std::nullopt;  // the connection is free meanwhile
    return UserRow{id, name};
  }

  std::string create_session(const std::string& user, std::string* csrf) override {
    const std::string secret = random_secret();
    *csrf = random_secret();
    pool_.borrow()->exec("INSERT INTO sessions (secret_sha, user_id, csrf) VALUES ($1,$2,$3)",
                         {sha256_hex(secret), user, *csrf});
    return secret;
  }

  std::optional<SessionRow> session(const std::string& cookie) override {
    const pg::Result r =
        pool_.borrow()->exec("SELECT user_id, csrf FROM sessions WHERE secret_sha=$1", {sha256_hex(cookie)});
    if (!r.rows()) return std::nullopt;
    return SessionRow{r.text(0, 0), r.text(0, 1)};
  }

  void end_session(const std::string& cookie) override {
    pool_.borrow()->exec("DELETE FROM sessions WHERE secret_sha=$1", {sha256_hex(cookie)});
  }

  std::string create_token(const std::string& user, const std::string& label) override {
    const std::string secret = "lk_" + random_secret();
    pool_.borrow()->exec("INSERT INTO tokens (secret_sha, user_id, label) VALUES ($1,$2,$3)",
                         {sha256_hex(secret), user, label});
    return secret;
  }

  std::optional<std::string> token_user(const std::string& token) override {
    const pg::Result r = pool_.borrow()->exec("SELECT user_id FROM tokens WHERE secret_sha=$1", {sha256_hex(token)});
    if (!r.rows()) return std::nullopt;
    return r.text(0, 0);
  }

  std::optional<UserRow> user(const std::string& id) override {
    const pg::Result r = pool_.borrow()->exec("SELECT id, name FROM users WHERE id=$1", {id});
    if (!r.rows()) return std::nullopt;
    return UserRow{r.text(0, 0), r.text(0, 1)};
  }

  SubjectRow create_subject(const std::string& user, const std::string& name) override {
    SubjectRow s{random_id("s_"), user, name, ""};
    s.created_at = pool_.borrow()
                       ->exec("INSERT INTO subjects (id, owner, name) VALUES ($1,$2,$3) RETURNING " + iso("created_at"),
                              {s.id, user, name})
                       .text(0, 0);
    return s;
  }

  std::optional<SubjectRow> subject(const std::string& user, const std::string& id) override {
    const pg::Result r = pool_.borrow()->exec(
        "SELECT id, owner, name, " + iso("created_at") + " FROM subjects WHERE id=$1 AND owner=$2", {id, user});
    if (!r.rows()) return std::nullopt;
    return SubjectRow{r.text(0, 0), r.text(0, 1), r.text(0, 2), r.text(0, 3)};
  }

  std::vector<SubjectRow> subjects(const std::string& user) override {
    const pg::Result r = pool_.borrow()->exec(
        "SELECT id, owner, name, " + iso("created_at") + " FROM subjects WHERE owner=$1 ORDER BY seq", {user});
    std::vector<SubjectRow> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3)});
    return out;
  }

  size_t delete_subject(const std::string& id) override {
    auto c = pool_.borrow();
    size_t removed = 0;
    c->transaction([&] {
      removed += size_t(c->exec("DELETE FROM outputs WHERE subject=$1", {id}).affected());
      removed += size_t(c->exec("DELETE FROM photos WHERE subject=$1", {id}).affected());
      const pg::Result jobs = c->exec("DELETE FROM jobs WHERE subject=$1 RETURNING id", {id});
      for (int i = 0; i < jobs.rows(); ++i) c->exec("SELECT pg_notify('likeness_jobs', $1)", {jobs.text(i, 0)});
      c->exec("DELETE FROM subjects WHERE id=$1", {id});
    });
    return removed;
  }

  std::vector<std::string> all_subject_ids() override {
    const pg::Result r = pool_.borrow()->exec("SELECT id FROM subjects");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }

  // Rows and bytes in one transaction: all of the request's photos or none.
  void add_photos(std::vector<PhotoRow> rows, const std::vector<const std::string*>& bytes) override {
    if (rows.size() != bytes.size()) throw Error(ErrorCode::internal, "add_photos: a row without its bytes");
    auto c = pool_.borrow();
    c->transaction([&] {
      for (size_t i = 0; i < rows.size(); ++i) {
        const PhotoRow& p = rows[i];
        const pg::Result r = c->exec_bytes(
            "INSERT INTO photos (id, owner, subject, name, sha256, bytes, width, height) "
            "SELECT $1, owner, id, $3, $4, $5, $6, $7 FROM subjects WHERE id=$2",
            {p.id, p.subject, p.name, p.sha256, *bytes[i], std::to_string(p.width), std::to_string(p.height)},
            {false, false, false, false, true, false, false});
        if (r.affected() != 1) throw ServiceError(404, "not_found", "no such person");
      }
    });
  }

  std::vector<PhotoRow> photos(const std::string& subject) override {
    const pg::Result r =
        pool_.borrow()->exec("SELECT " + kPhotoColumns + " FROM photos WHERE subject=$1 ORDER BY seq", {subject});
    std::vector<PhotoRow> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(photo_from(r, i));
    return out;
  }

  std::optional<PhotoRow> photo(const std::string& user, const std::string& id) override {
    const pg::Result r =
        pool_.borrow()->exec("SELECT " + kPhotoColumns + " FROM photos WHERE id=$1 AND owner=$2", {id, user});
    if (!r.rows()) return std::nullopt;
    return photo_from(r, 0);
  }

  std::string photo_bytes(const PhotoRow& p) override {
    const pg::Result r = pool_.borrow()->exec("SELECT bytes FROM photos WHERE id=$1", {p.id}, true);
    if (!r.rows()) throw ServiceError(404, "not_found", "the photo is gone (deleted with its person?)");
    return r.bytes(0, 0);
  }

  void delete_photo(const PhotoRow& p) override { pool_.borrow()->exec("DELETE FROM photos WHERE id=$1", {p.id}); }

  // The bytes written, one file a photo, into a folder of this process's
  // own (0700), removed when the caller is done with them.
  LocalPhotos local_photos(const std::string& subject) override {
    const pg::Result r = pool_.borrow()->exec(
        "SELECT " + kPhotoColumns + ", bytes FROM photos WHERE subject=$1 ORDER BY seq", {subject}, true);
    const fs::path dir = fs::path(scratch_) / random_id("photos_");
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
    std::vector<PhotoRow> kept;
    std::vector<std::string> files;
    try {
      for (int i = 0; i < r.rows(); ++i) {
        PhotoRow p = photo_from(r, i);
        std::string ext = lower_extension(p.name);
        if (ext.empty() || ext.size() > 5) ext = "img";
        files.push_back((dir / (p.id + "." + ext)).string());
        write_file_atomic(files.back(), r.bytes(i, 7));
        kept.push_back(std::move(p));
      }
    } catch (...) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      throw;
    }
    return LocalPhotos(std::move(kept), std::move(files), dir.string());
  }

  std::optional<JobRow> job(const std::string& user, const std::string& id) override {
    const pg::Result r =
        pool_.borrow()->exec("SELECT " + kJobColumns + " FROM jobs WHERE id=$1 AND owner=$2", {id, user});
    if (!r.rows()) return std::nullopt;
    return job_from(r, 0);
  }

  std::vector<JobRow> jobs(const std::string& user, const std::string& subject) override {
    const pg::Result r = pool_.borrow()->exec(
        "SELECT " + kJobColumns + " FROM jobs WHERE owner=$1 AND ($2 = '' OR subject=$2) ORDER BY seq DESC",
        {user, subject});
    std::vector<JobRow> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(job_from(r, i));
    return out;
  }

  std::vector<OutputRow> outputs(const std::string& job) override {
    const pg::Result r =
        pool_.borrow()->exec("SELECT " + kOutputColumns + " FROM outputs WHERE job=$1 ORDER BY 4, kind, name", {job});
    std::vector<OutputRow> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(output_from(r, i));
    return out;
  }

  std::optional<OutputRow> output(const std::string& user, const std::string& id) override {
    const std::string n = output_number(id);
    if (n.empty()) return std::nullopt;
    const pg::Result r = pool_.borrow()->exec("SELECT " + kOutputColumns +
                                                  " FROM outputs WHERE id=$1::bigint AND job IN "
                                                  "(SELECT id FROM jobs WHERE owner=$2)",
                                              {n, user});
    if (!r.rows()) return std::nullopt;
    return output_from(r, 0);
  }

  std::string output_bytes(const OutputRow& o) override {
    const std::string n = output_number(o.id);
    if (!n.empty()) {
      const pg::Result r = pool_.borrow()->exec("SELECT bytes FROM outputs WHERE id=$1::bigint", {n}, true);
      if (r.rows()) return r.bytes(0, 0);
    }
    throw ServiceError(404, "not_found", "the file is gone (deleted with its person?)");
  }

 private:
  pg::Pool pool_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<ServiceStore> open_pg_service_store(const std::string& url, const std::string& scratch,
                                                    int connections) {
  return std::make_unique<PgServiceStore>(url, scratch, connections);
}

}  // namespace likeness
