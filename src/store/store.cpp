#include "likeness/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "sqlite.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

using sql::iso;
using sql::now_iso;
using sql::Stmt;

ConsentRecord record_from(const Stmt& q) {
  ConsentRecord r;
  r.id = q.text(0);
  r.subject = q.text(1);
  r.given_by = q.text(2);
  r.on_behalf_of = q.text(3);
  r.basis = q.text(4);
  r.text_version = q.text(5);
  r.text_sha256 = q.text(6);
  r.purposes = json::parse(q.text(7)).get<std::vector<std::string>>();
  r.data_kinds = json::parse(q.text(8)).get<std::vector<std::string>>();
  r.granted_at = q.text(9);
  r.retention_until = q.text(10);
  r.withdrawn_at = q.text(11);
  const std::string uses = q.text(12);
  r.uses = uses.empty() ? std::vector<std::string>{"personal"} : json::parse(uses).get<std::vector<std::string>>();
  return r;
}

constexpr const char* kColumns =
    "id, subject, given_by, on_behalf_of, basis, text_version, text_sha256, purposes, data_kinds, granted_at, "
    "retention_until, withdrawn_at, uses";

}  // namespace

void check_subject_id(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 64;
  for (char c : s) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok || s == "." || s == "..")
    throw Error(ErrorCode::usage, "a subject id is 1-64 letters, digits, '-', '_' or '.' (got '" + s + "')");
}

const std::string& consent_text() {
  static const std::string text =
      "I agree that likeness, running on this computer, may keep the photos of me I provide, compute face "
      "embeddings (biometric data) from them to check that portraits still look like me, and keep the portraits "
      "it makes, for the purposes listed and until the retention date recorded. Nothing leaves this computer. I "
      "can withdraw this consent at any time (likeness consent withdraw) and have everything deleted at once "
      "(likeness forget).";
  return text;
}

bool ConsentRecord::valid_now() const { return !id.empty() && withdrawn_at.empty() && now_iso() < retention_until; }

bool ConsentRecord::permits(const std::string& use) const {
  return std::find(uses.begin(), uses.end(), use) != uses.end();
}

json ConsentRecord::to_json() const {
  return {{"id", id},
          {"subject", subject},
          {"given_by", given_by},
          {"on_behalf_of", on_behalf_of},
          {"basis", basis},
          {"consent_text_version", text_version},
          {"consent_text_sha256", text_sha256},
          {"purposes", purposes},
          {"data_kinds", data_kinds},
          {"uses", uses},
          {"granted_at", granted_at},
          {"retention_until", retention_until},
          {"withdrawn_at", withdrawn_at.empty() ? json(nullptr) : json(withdrawn_at)},
          {"valid", valid_now()}};
}

Store::Store(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw Error(ErrorCode::internal, "cannot open the store " + path + ": " + msg);
  }
  ::chmod(path.c_str(), 0600);
  db_ = db;
  sqlite3_busy_timeout(db, 10000);
  // secure_delete: a forgotten person's rows are overwritten, not left in
  // free pages; synchronous=FULL: a recorded intent survives power loss.
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;");
  transaction([&] {
    Stmt v(db, "PRAGMA user_version");
    v.step();
    const int version = sqlite3_column_int(v.s, 0);
    // Versioned migrations, each run once, in one transaction.
    if (version < 1)
      exec(
          "CREATE TABLE IF NOT EXISTS consent (id TEXT PRIMARY KEY, subject TEXT NOT NULL, given_by TEXT, "
          "on_behalf_of TEXT, basis TEXT, text_version TEXT, text_sha256 TEXT, purposes TEXT, data_kinds TEXT, "
          "granted_at TEXT, retention_until TEXT, withdrawn_at TEXT);"
          "CREATE TABLE IF NOT EXISTS photos (subject TEXT, sha256 TEXT, added_at TEXT, UNIQUE(subject, sha256));"
          "CREATE TABLE IF NOT EXISTS outputs (subject TEXT, path TEXT, sha256 TEXT, made_at TEXT);");
    if (version < 2)
      exec(
          "ALTER TABLE outputs ADD COLUMN job TEXT;"
          "CREATE TABLE jobs (id TEXT PRIMARY KEY, subject TEXT NOT NULL, out_dir TEXT NOT NULL, staging TEXT NOT "
          "NULL, state TEXT NOT NULL, staging_dev INTEGER, staging_ino INTEGER, started_at TEXT);"
          "CREATE INDEX outputs_path ON outputs(path);"
          "PRAGMA user_version=2;");
    // The uses the person permits (a JSON list); NULL: personal only.
    if (version < 3) exec("ALTER TABLE consent ADD COLUMN uses TEXT; PRAGMA user_version=3;");
  });
}

void Store::transaction(const std::function<void()>& body) {
  exec("BEGIN IMMEDIATE;");
  try {
    body();
    exec("COMMIT;");
  } catch (...) {
    sqlite3_exec(static_cast<sqlite3*>(db_), "ROLLBACK;", nullptr, nullptr, nullptr);
    throw;
  }
}

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(static_cast<sqlite3*>(db_), sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(ErrorCode::internal, "store: " + msg);
  }
}

Store& Store::open() {
  static std::mutex mu;
  static std::unique_ptr<Store> store;
  std::lock_guard<std::mutex> lock(mu);
  if (!store) {
    const fs::path dir = data_dir();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(ErrorCode::internal, "cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    store.reset(new Store((dir / "studio.db").string()));
  }
  return *store;
}

ConsentRecord new_consent_record(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                                 const std::vector<std::string>& purposes, int retention_days,
                                 const std::vector<std::string>& uses, const std::string& basis) {
  check_subject_id(subject);
  if (by.empty()) throw Error(ErrorCode::usage, "--by: who gives consent is required");
  if (retention_days < 1 || retention_days > 3 * 365)
    throw Error(ErrorCode::usage, "--retention is 1 to 1095 days (BIPA: at most three years)");
  if (purposes.empty()) throw Error(ErrorCode::usage, "--purposes: at least one of portraits, likeness");
  for (const auto& p : purposes)
    if (p != "portraits" && p != "likeness")
      throw Error(ErrorCode::usage, "unknown purpose '" + p + "' (portraits, likeness)");
  if (uses.empty()) throw Error(ErrorCode::usage, "--uses: at least one of personal, commercial");
  for (const auto& u : uses)
    if (std::find(std::begin(kUses), std::end(kUses), u) == std::end(kUses))
      throw Error(ErrorCode::usage, "unknown use '" + u + "' (personal, commercial)");
  ConsentRecord r;
  r.id = random_id("cr_", 8);
  r.subject = subject;
  r.given_by = by;
  r.on_behalf_of = on_behalf_of;
  r.basis = basis;
  r.text_version = kConsentTextVersion;
  r.text_sha256 = sha256_hex(consent_text());
  r.purposes = purposes;
  r.data_kinds = {"photos", "embeddings", "portraits"};
  r.uses = uses;
  const std::time_t now = std::time(nullptr);
  r.granted_at = iso(now);
  r.retention_until = iso(now + std::time_t(retention_days) * 86400);
  return r;
}

ConsentRecord Store::grant(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                           const std::vector<std::string>& purposes, int retention_days,
                           const std::vector<std::string>& uses, const std::string& basis) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  const ConsentRecord r = new_consent_record(subject, by, on_behalf_of, purposes, retention_days, uses, basis);
  const std::string insert =
      "INSERT INTO consent (" + std::string(kColumns) + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,?)";
  Stmt q(static_cast<sqlite3*>(db_), insert.c_str());
  q.bind(1, r.id).bind(2, r.subject).bind(3, r.given_by).bind(4, r.on_behalf_of).bind(5, r.basis);
  q.bind(6, r.text_version).bind(7, r.text_sha256).bind(8, json(r.purposes).dump()).bind(9, json(r.data_kinds).dump());
  q.bind(10, r.granted_at).bind(11, r.retention_until).bind(12, json(r.uses).dump());
  q.step();
  return r;
}

ConsentRecord Store::latest(const std::string& subject) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  check_subject_id(subject);
  Stmt q(static_cast<sqlite3*>(db_), (std::string("SELECT ") + kColumns +
                                      " FROM consent WHERE subject=? ORDER BY granted_at DESC, rowid DESC LIMIT 1")
                                         .c_str());
  q.bind(1, subject);
  return q.step() ? record_from(q) : ConsentRecord{};
}

bool Store::withdraw(const std::string& subject) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  check_subject_id(subject);
  Stmt q(static_cast<sqlite3*>(db_), "UPDATE consent SET withdrawn_at=? WHERE subject=? AND withdrawn_at IS NULL");
  q.bind(1, now_iso()).bind(2, subject);
  q.step();
  return sqlite3_changes(static_cast<sqlite3*>(db_)) > 0;
}

// The same for every store: one read of the newest record.
ConsentRecord ConsentStore::require(const std::string& subject, const std::string& purpose) {
  const ConsentRecord r = latest(subject);
  const std::string how = " Record it first: likeness consent grant --subject " + subject +
                          " --by NAME --purposes portraits,likeness --retention DAYS";
  if (r.id.empty()) throw Error(ErrorCode::no_consent, "no consent record for subject '" + subject + "'." + how);
  if (!r.withdrawn_at.empty())
    throw Error(ErrorCode::no_consent,
                "subject '" + subject + "' withdrew consent on " + r.withdrawn_at + "." +
                    " To continue, consent must be given again:" + how.substr(how.find(':') + 1));
  if (!r.valid_now())
    throw Error(ErrorCode::no_consent,
                "the consent of subject '" + subject + "' expired on " + r.retention_until + "." + how);
  if (std::find(r.purposes.begin(), r.purposes.end(), purpose) == r.purposes.end())
    throw Error(ErrorCode::no_consent,
                "the consent of subject '" + subject + "' does not cover '" + purpose + "'." + how);
  return r;
}

void Store::add_photo(const std::string& subject, const std::string& sha256) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt q(static_cast<sqlite3*>(db_), "INSERT OR IGNORE INTO photos VALUES (?,?,?)");
  q.bind(1, subject).bind(2, sha256).bind(3, now_iso());
  q.step();
}

void Store::begin_job(const JobRow& j) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  check_subject_id(j.subject);
  Stmt q(static_cast<sqlite3*>(db_), "INSERT INTO jobs VALUES (?,?,?,?,'writing',NULL,NULL,?)");
  q.bind(1, j.id).bind(2, j.subject).bind(3, j.out_dir).bind(4, j.staging).bind(5, now_iso());
  q.step();
}

void Store::stage_job(const std::string& id, const std::vector<std::pair<std::string, std::string>>& path_sha,
                      unsigned long long dev, unsigned long long ino) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  sqlite3* db = static_cast<sqlite3*>(db_);
  transaction([&] {
    std::string subject;
    {
      Stmt q(db, "SELECT subject FROM jobs WHERE id=?");
      q.bind(1, id);
      if (!q.step())
        throw Error(ErrorCode::no_consent, "the job's subject was forgotten while it ran; nothing was kept");
      subject = q.text(0);
    }
    {
      // The last check before anything becomes visible, in the same
      // transaction as the rows: a subject whose consent ended meanwhile
      // gets nothing.
      const ConsentRecord r = latest(subject);
      if (r.id.empty() || !r.valid_now())
        throw Error(ErrorCode::no_consent,
                    "the consent of subject '" + subject + "' ended while the job ran; nothing was written");
    }
    {
      Stmt q(db, "DELETE FROM outputs WHERE job=?");
      q.bind(1, id);
      q.step();
    }
    for (const auto& [path, sha] : path_sha) {
      Stmt q(db, "INSERT INTO outputs (subject, path, sha256, made_at, job) VALUES (?,?,?,?,?)");
      q.bind(1, subject).bind(2, path).bind(3, sha).bind(4, now_iso()).bind(5, id);
      q.step();
    }
    Stmt q(db, "UPDATE jobs SET state='committing', staging_dev=?, staging_ino=? WHERE id=?");
    q.bind(1, std::to_string(dev)).bind(2, std::to_string(ino)).bind(3, id);
    q.step();
  });
}

void Store::commit_job(const std::string& id) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  sqlite3* db = static_cast<sqlite3*>(db_);
  transaction([&] {
    Stmt o(db, "SELECT out_dir FROM jobs WHERE id=?");
    o.bind(1, id);
    if (o.step()) {
      const std::string prefix = o.text(0) + "/";
      Stmt q(db, "DELETE FROM outputs WHERE substr(path, 1, length(?1)) = ?1 AND (job IS NULL OR job <> ?2)");
      q.bind(1, prefix).bind(2, id);
      q.step();
      Stmt u(db, "UPDATE jobs SET state='committed' WHERE id=?");
      u.bind(1, id);
      u.step();
    }
  });
}

void Store::finish_job(const std::string& id) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt q(static_cast<sqlite3*>(db_), "UPDATE jobs SET state='done' WHERE id=?");
  q.bind(1, id);
  q.step();
}

void Store::record_shared_output(const std::vector<std::string>& subjects, const std::string& path,
                                 const std::string& sha256) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  for (const auto& s : subjects) check_subject_id(s);
  transaction([&] {
    {
      Stmt q(static_cast<sqlite3*>(db_), "DELETE FROM outputs WHERE path=? AND job IS NULL");
      q.bind(1, path);
      q.step();
    }
    for (const auto& s : subjects) {
      Stmt q(static_cast<sqlite3*>(db_), "INSERT INTO outputs (subject, path, sha256, made_at) VALUES (?, ?, ?, ?)");
      q.bind(1, s).bind(2, path).bind(3, sha256).bind(4, now_iso());
      q.step();
    }
  });
}

void Store::drop_job(const std::string& id) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  transaction([&] {
    for (const char* sql : {"DELETE FROM outputs WHERE job=?", "DELETE FROM jobs WHERE id=?"}) {
      Stmt q(static_cast<sqlite3*>(db_), sql);
      q.bind(1, id);
      q.step();
    }
  });
}

std::vector<Store::JobRow> Store::unfinished_jobs(const std::string& subject) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt q(static_cast<sqlite3*>(db_),
         "SELECT id, subject, out_dir, staging, state, staging_dev, staging_ino FROM jobs WHERE state <> 'done' AND "
         "(?1 = '' OR subject = ?1) ORDER BY started_at");
  q.bind(1, subject);
  std::vector<JobRow> out;
  while (q.step()) {
    JobRow j{q.text(0), q.text(1), q.text(2), q.text(3), q.text(4), 0, 0};
    j.staging_dev = std::strtoull(q.text(5).c_str(), nullptr, 10);
    j.staging_ino = std::strtoull(q.text(6).c_str(), nullptr, 10);
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Store::outputs_in(const std::string& dir) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt q(static_cast<sqlite3*>(db_), "SELECT path, subject FROM outputs WHERE substr(path, 1, length(?1)) = ?1");
  q.bind(1, dir + "/");
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step()) out.emplace_back(q.text(0), q.text(1));
  return out;
}

std::string Store::subject_dir(const std::string& subject) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  check_subject_id(subject);
  const fs::path d = fs::path(data_dir()) / "subjects" / subject;
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + d.string() + ": " + ec.message());
  // Temp files of atomic writes (".name.XXXXXX") that a killed run left: an
  // hour old, no writer still owns them.
  const auto stale = fs::file_time_type::clock::now() - std::chrono::hours(1);
  std::vector<fs::path> old;
  for (const auto& e : fs::recursive_directory_iterator(d, ec)) {
    if (e.is_regular_file(ec) && is_atomic_temp_name(e.path().filename().string()) && e.last_write_time(ec) < stale)
      old.push_back(e.path());
  }
  for (const auto& p : old) fs::remove(p, ec);
  return d.string();
}

json Store::list() {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  json out = json::object();
  sqlite3* db = static_cast<sqlite3*>(db_);
  {
    Stmt q(db, (std::string("SELECT ") + kColumns + " FROM consent ORDER BY subject, granted_at").c_str());
    while (q.step()) {
      const ConsentRecord r = record_from(q);
      out[r.subject]["consent"].push_back(r.to_json());
    }
  }
  for (const char* table : {"photos", "outputs"}) {
    Stmt q(db, (std::string("SELECT subject, COUNT(*) FROM ") + table + " GROUP BY subject").c_str());
    while (q.step()) out[q.text(0)][table] = std::stoi(q.text(1));
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(data_dir()) / "subjects", ec)) {
    size_t files = 0;
    for (const auto& f : fs::recursive_directory_iterator(e.path(), ec)) files += f.is_regular_file();
    out[e.path().filename().string()]["files"] = files;
  }
  return out;
}

json Store::forget(const std::string& subject) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  check_subject_id(subject);
  sqlite3* db = static_cast<sqlite3*>(db_);
  json removed = {{"subject", subject},   {"consent_records", 0},     {"photo_digests", 0},
                  {"files", 0},           {"outputs", json::array()}, {"unfinished_jobs", json::array()},
                  {"kept", json::array()}};
  std::set<std::string> out_dirs;
  {
    // Jobs that did not finish (killed, or running now): their staging
    // folders hold nothing but the job's own files, whole or partial.
    Stmt q(db, "SELECT id, out_dir, staging, state FROM jobs WHERE subject=?");
    q.bind(1, subject);
    while (q.step()) {
      out_dirs.insert(q.text(1));
      std::error_code ec;
      fs::remove(fs::path(data_dir()) / "jobs" / (q.text(0) + ".lock"), ec);
      if (q.text(3) == "done") continue;
      const std::string staging = q.text(2);
      for (const std::string& dir : {staging, staging + ".old"})
        if (fs::exists(dir, ec)) {
          fs::remove_all(dir, ec);
          removed["unfinished_jobs"].push_back(dir);
        }
    }
  }
  {
    // What shoot wrote for the subject (portraits, sidecars, edit maps,
    // reports), if each is still what was written.
    Stmt q(db, "SELECT path, sha256 FROM outputs WHERE subject=?");
    q.bind(1, subject);
    while (q.step()) {
      const std::string path = q.text(0), sha = q.text(1);
      std::error_code ec;
      if (!fs::exists(path, ec)) continue;
      if (sha256_file(path) == sha && fs::remove(path, ec))
        removed["outputs"].push_back(path);
      else
        removed["kept"].push_back(path + " (changed since likeness wrote it)");
    }
  }
  for (const auto& dir : out_dirs) {
    std::error_code ec;
    if (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)) fs::remove(dir, ec);  // only if nothing else is there
  }
  transaction([&] {
    for (const auto& [table, key] : {std::pair<const char*, const char*>{"consent", "consent_records"},
                                     {"photos", "photo_digests"},
                                     {"outputs", nullptr},
                                     {"jobs", nullptr}}) {
      Stmt q(db, (std::string("DELETE FROM ") + table + " WHERE subject=?").c_str());
      q.bind(1, subject);
      q.step();
      if (key) removed[key] = sqlite3_changes(db);
    }
  });
  // The write-ahead log still holds the deleted pages until a checkpoint.
  sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  const fs::path dir = fs::path(data_dir()) / "subjects" / subject;
  std::error_code ec;
  size_t files = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir, ec)) files += f.is_regular_file();
  fs::remove_all(dir, ec);
  removed["files"] = files;
  return removed;
}

json Store::purge() {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  std::vector<std::string> due;
  {
    // A subject whose newest record is withdrawn or past its retention.
    Stmt q(static_cast<sqlite3*>(db_), "SELECT DISTINCT subject FROM consent");
    std::vector<std::string> subjects;
    while (q.step()) subjects.push_back(q.text(0));
    for (const auto& s : subjects)
      if (!latest(s).valid_now()) due.push_back(s);
  }
  json out = json::array();
  for (const auto& s : due) out.push_back(forget(s));
  return out;
}

}  // namespace likeness
