#include "likeness/store.hpp"

#include <openssl/rand.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <mutex>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

std::string iso(std::time_t t) {
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
std::string now_iso() { return iso(std::time(nullptr)); }

void check_subject(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 64;
  for (char c : s) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok || s == "." || s == "..")
    throw Error(ErrorCode::usage, "a subject id is 1-64 letters, digits, '-', '_' or '.' (got '" + s + "')");
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw Error(ErrorCode::internal, std::string("store: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(ErrorCode::internal, std::string("store: ") + sqlite3_errmsg(sqlite3_db_handle(s)));
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(s, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
};

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
  return r;
}

constexpr const char* kColumns =
    "id, subject, given_by, on_behalf_of, basis, text_version, text_sha256, purposes, data_kinds, granted_at, "
    "retention_until, withdrawn_at";

}  // namespace

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
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS consent (id TEXT PRIMARY KEY, subject TEXT NOT NULL, given_by TEXT, "
      "on_behalf_of TEXT, basis TEXT, text_version TEXT, text_sha256 TEXT, purposes TEXT, data_kinds TEXT, "
      "granted_at TEXT, retention_until TEXT, withdrawn_at TEXT);"
      "CREATE TABLE IF NOT EXISTS photos (subject TEXT, sha256 TEXT, added_at TEXT, UNIQUE(subject, sha256));"
      "CREATE TABLE IF NOT EXISTS outputs (subject TEXT, path TEXT, sha256 TEXT, made_at TEXT);";
  char* err = nullptr;
  if (sqlite3_exec(db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(ErrorCode::internal, "store schema: " + msg);
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

ConsentRecord Store::grant(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                           const std::vector<std::string>& purposes, int retention_days, const std::string& basis) {
  check_subject(subject);
  if (by.empty()) throw Error(ErrorCode::usage, "--by: who gives consent is required");
  if (retention_days < 1 || retention_days > 3 * 365)
    throw Error(ErrorCode::usage, "--retention is 1 to 1095 days (BIPA: at most three years)");
  if (purposes.empty()) throw Error(ErrorCode::usage, "--purposes: at least one of portraits, likeness");
  for (const auto& p : purposes)
    if (p != "portraits" && p != "likeness")
      throw Error(ErrorCode::usage, "unknown purpose '" + p + "' (portraits, likeness)");
  ConsentRecord r;
  unsigned char b[8];
  RAND_bytes(b, sizeof b);
  r.id = "cr_" + to_hex(std::string_view(reinterpret_cast<const char*>(b), sizeof b));
  r.subject = subject;
  r.given_by = by;
  r.on_behalf_of = on_behalf_of;
  r.basis = basis;
  r.text_version = kConsentTextVersion;
  r.text_sha256 = sha256_hex(consent_text());
  r.purposes = purposes;
  r.data_kinds = {"photos", "embeddings", "portraits"};
  const std::time_t now = std::time(nullptr);
  r.granted_at = iso(now);
  r.retention_until = iso(now + std::time_t(retention_days) * 86400);
  Stmt q(static_cast<sqlite3*>(db_), "INSERT INTO consent VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)");
  q.bind(1, r.id).bind(2, r.subject).bind(3, r.given_by).bind(4, r.on_behalf_of).bind(5, r.basis);
  q.bind(6, r.text_version).bind(7, r.text_sha256).bind(8, json(r.purposes).dump()).bind(9, json(r.data_kinds).dump());
  q.bind(10, r.granted_at).bind(11, r.retention_until);
  q.step();
  return r;
}

ConsentRecord Store::latest(const std::string& subject) {
  check_subject(subject);
  Stmt q(static_cast<sqlite3*>(db_), (std::string("SELECT ") + kColumns +
                                      " FROM consent WHERE subject=? ORDER BY granted_at DESC, rowid DESC LIMIT 1")
                                         .c_str());
  q.bind(1, subject);
  return q.step() ? record_from(q) : ConsentRecord{};
}

bool Store::withdraw(const std::string& subject) {
  check_subject(subject);
  Stmt q(static_cast<sqlite3*>(db_), "UPDATE consent SET withdrawn_at=? WHERE subject=? AND withdrawn_at IS NULL");
  q.bind(1, now_iso()).bind(2, subject);
  q.step();
  return sqlite3_changes(static_cast<sqlite3*>(db_)) > 0;
}

ConsentRecord Store::require(const std::string& subject, const std::string& purpose) {
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
  Stmt q(static_cast<sqlite3*>(db_), "INSERT OR IGNORE INTO photos VALUES (?,?,?)");
  q.bind(1, subject).bind(2, sha256).bind(3, now_iso());
  q.step();
}

void Store::add_output(const std::string& subject, const std::string& path, const std::string& sha256) {
  Stmt q(static_cast<sqlite3*>(db_), "INSERT INTO outputs VALUES (?,?,?,?)");
  q.bind(1, subject).bind(2, fs::absolute(path).string()).bind(3, sha256).bind(4, now_iso());
  q.step();
}

std::string Store::subject_dir(const std::string& subject) {
  check_subject(subject);
  const fs::path d = fs::path(data_dir()) / "subjects" / subject;
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + d.string() + ": " + ec.message());
  return d.string();
}

json Store::list() {
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
  check_subject(subject);
  sqlite3* db = static_cast<sqlite3*>(db_);
  json removed = {
      {"subject", subject}, {"consent_records", 0}, {"photo_digests", 0}, {"files", 0}, {"outputs", json::array()}};
  {
    // What shoot wrote for the subject (portraits, sidecars, edit maps,
    // reports), if each is still what was written.
    Stmt q(db, "SELECT path, sha256 FROM outputs WHERE subject=?");
    q.bind(1, subject);
    while (q.step()) {
      const std::string path = q.text(0), sha = q.text(1);
      std::error_code ec;
      if (fs::exists(path, ec) && sha256_file(path) == sha && fs::remove(path, ec)) removed["outputs"].push_back(path);
    }
  }
  for (const auto& [table, key] : {std::pair<const char*, const char*>{"consent", "consent_records"},
                                   {"photos", "photo_digests"},
                                   {"outputs", nullptr}}) {
    Stmt q(db, (std::string("DELETE FROM ") + table + " WHERE subject=?").c_str());
    q.bind(1, subject);
    q.step();
    if (key) removed[key] = sqlite3_changes(db);
  }
  const fs::path dir = fs::path(data_dir()) / "subjects" / subject;
  std::error_code ec;
  size_t files = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir, ec)) files += f.is_regular_file();
  fs::remove_all(dir, ec);
  removed["files"] = files;
  return removed;
}

json Store::purge() {
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
