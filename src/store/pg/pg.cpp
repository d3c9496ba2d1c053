#include "store/pg/pg.hpp"

#include <sys/select.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <utility>

#include "likeness/error.hpp"

namespace likeness::pg {

namespace {

// The message of a failed call, without libpq's trailing newline.
std::string message_of(PGconn* c, PGresult* r = nullptr) {
  std::string m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// SQLSTATE classes that mean "the server is not there", not "the statement
// is wrong": connection exceptions (08), shutdown and start-up (57P01-3).
bool unreachable(const char* state) {
  return state && (std::strncmp(state, "08", 2) == 0 || std::strcmp(state, "57P01") == 0 ||
                   std::strcmp(state, "57P02") == 0 || std::strcmp(state, "57P03") == 0);
}

}  // namespace

std::string Result::text(int row, int col) const {
  if (PQgetisnull(r_.get(), row, col)) return {};
  return std::string(PQgetvalue(r_.get(), row, col), PQgetlength(r_.get(), row, col));
}

long long Result::number(int row, int col) const { return null(row, col) ? 0 : std::stoll(text(row, col)); }

std::string Result::bytes(int row, int col) const { return text(row, col); }

long long Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::stoll(n) : 0;
}

Connection::Connection(std::string url) : url_(std::move(url)) { open(); }

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

void Connection::open() {
  if (conn_) PQfinish(conn_);
  // Defaults the URL may override (it comes last): a bounded wait to
  // connect; TCP keepalives, so a vanished server is noticed in ~25 s even
  // while waiting for a reply; and a bound on data left unacknowledged, so
  // a statement sent into a cut network fails in 10 s rather than waiting
  // out TCP's retransmissions (~15 minutes).
  const char* keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "application_name",    "dbname",           nullptr};
  const char* values[] = {"5", "1", "10", "5", "3", "10000", "likeness", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    const std::string why = conn_ ? message_of(conn_) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw Error(ErrorCode::unavailable, "cannot reach the database: " + why);
  }
  // Quiet NOTICEs ("relation already exists, skipping") stay off stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

Result Connection::run(const std::string& sql, const std::vector<Param>& params, const std::vector<bool>* is_binary,
                       bool binary_result) {
  // A connection lost earlier is reopened here, before a statement is sent,
  // never by re-sending one whose fate is unknown.
  // An idle connection the server closed (a restart, a failover) looks
  // fine until read: reading what is waiting (its goodbye, or EOF) first
  // tells, so a statement is not sent down a dead socket
  // (twice: the first read may take the server's last message, the
  // second then meets the end of the stream.)
  for (int i = 0; i < 2 && conn_ && !in_transaction_ && PQstatus(conn_) == CONNECTION_OK; ++i) PQconsumeInput(conn_);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    if (in_transaction_) throw Error(ErrorCode::unavailable, "the database connection was lost mid-transaction");
    open();
  }
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i] ? params[i]->data() : nullptr;
    lengths[i] = params[i] ? int(params[i]->size()) : 0;
    formats[i] = is_binary && (*is_binary)[i] ? 1 : 0;
  }
  PGresult* r = PQexecParams(conn_, sql.c_str(), int(params.size()), nullptr, values.data(), lengths.data(),
                             formats.data(), binary_result ? 1 : 0);
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Result(r);
  const std::string why = message_of(conn_, r);
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const bool gone = PQstatus(conn_) != CONNECTION_OK || unreachable(state);
  const std::string code = state ? state : "";
  if (r) PQclear(r);
  if (gone) throw Error(ErrorCode::unavailable, "the database went away: " + why);
  throw Error(ErrorCode::internal, "database: " + why + (code.empty() ? "" : " (SQLSTATE " + code + ")"));
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params, bool binary_result) {
  return run(sql, params, nullptr, binary_result);
}

Result Connection::exec_bytes(const std::string& sql, const std::vector<Param>& params,
                              const std::vector<bool>& is_binary) {
  return run(sql, params, &is_binary, false);
}

void Connection::script(const std::string& sql) {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
    throw Error(ErrorCode::unavailable, "the database connection was lost");
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  const std::string why = message_of(conn_, r);
  if (r) PQclear(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
  if (PQstatus(conn_) != CONNECTION_OK) throw Error(ErrorCode::unavailable, "the database went away: " + why);
  throw Error(ErrorCode::internal, "database: " + why);
}

void Connection::listen(const std::string& channel) { exec("LISTEN " + channel); }

std::optional<std::string> Connection::wait_notify(int timeout_ms) {
  auto take = [&]() -> std::optional<std::string> {
    PGnotify* n = PQnotifies(conn_);
    if (!n) return std::nullopt;
    std::string payload = n->extra ? n->extra : "";
    PQfreemem(n);
    return payload;
  };
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
    throw Error(ErrorCode::unavailable, "the database connection was lost");
  if (auto n = take()) return n;
  const int fd = PQsocket(conn_);
  fd_set in;
  FD_ZERO(&in);
  FD_SET(fd, &in);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  if (::select(fd + 1, &in, nullptr, nullptr, &tv) < 0) return std::nullopt;  // a signal: the caller looks again
  if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK)
    throw Error(ErrorCode::unavailable, "the database went away: " + message_of(conn_));
  return take();
}

void Connection::transaction(const std::function<void()>& body) {
  exec("BEGIN");
  in_transaction_ = true;
  try {
    body();
    in_transaction_ = false;
    exec("COMMIT");
  } catch (...) {
    in_transaction_ = false;
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
      PGresult* r = PQexec(conn_, "ROLLBACK");
      if (r) PQclear(r);
    }
    throw;
  }
}

struct Pool::State {
  std::mutex mu;
  std::condition_variable freed;
  std::vector<std::unique_ptr<Connection>> idle;
  int open = 0;
};

Pool::Pool(std::string url, int size)
    : url_(std::move(url)), size_(std::max(1, size)), state_(std::make_unique<State>()) {}
Pool::~Pool() = default;

Pool::Lease Pool::borrow() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->freed.wait(lock, [&] { return !state_->idle.empty() || state_->open < size_; });
  if (!state_->idle.empty()) {
    std::unique_ptr<Connection> c = std::move(state_->idle.back());
    state_->idle.pop_back();
    return Lease(*this, std::move(c));
  }
  ++state_->open;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(url_));
  } catch (...) {
    lock.lock();
    --state_->open;
    state_->freed.notify_one();
    throw;
  }
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->idle.push_back(std::move(c));
  }
  state_->freed.notify_one();
}

}  // namespace likeness::pg
