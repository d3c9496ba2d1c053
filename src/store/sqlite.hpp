// SQLite helpers the stores share (private to src/store and src/service).
#pragma once
#include <sqlite3.h>

#include <ctime>
#include <string>

#include "likeness/error.hpp"

namespace likeness::sql {

inline std::string iso(std::time_t t) {
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
inline std::string now_iso() { return iso(std::time(nullptr)); }

// A prepared statement; errors are Error{internal} with SQLite's message.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw Error(ErrorCode::internal, std::string("store: ") + sqlite3_errmsg(db));
  }
  Stmt(sqlite3* db, const std::string& sql) : Stmt(db, sql.c_str()) {}
  ~Stmt() { sqlite3_finalize(s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, long long v) {
    sqlite3_bind_int64(s, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(s, i);
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
  long long integer(int col) const { return sqlite3_column_int64(s, col); }
};

// Runs SQL without results; Error{internal} on failure.
inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(ErrorCode::internal, "store: " + msg);
  }
}

// BEGIN IMMEDIATE ... COMMIT, ROLLBACK on a throw.
template <class F>
void transaction(sqlite3* db, F&& body) {
  exec(db, "BEGIN IMMEDIATE;");
  try {
    body();
    exec(db, "COMMIT;");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK;", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace likeness::sql
