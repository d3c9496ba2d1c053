// PostgreSQL through libpq: a connection, parameterised statements, a
// transaction, and the versioned migrations of the shared schema. Every
// failure to reach the server is Error{unavailable}; a statement the
// server refuses is Error{internal} with its message.
#pragma once
#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace likeness::pg {

using Param = std::optional<std::string>;  // nullopt is SQL NULL

class Result {
 public:
  explicit Result(PGresult* r) : r_(r, PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
  std::string text(int row, int col) const;  // "" for NULL
  long long number(int row, int col) const;
  std::string bytes(int row, int col) const;  // a bytea column asked for in binary
  long long affected() const;                 // rows an INSERT/UPDATE/DELETE touched

 private:
  std::shared_ptr<PGresult> r_;
};

class Connection {
 public:
  // `url`: postgresql://user@host:port/db (libpq's connection string).
  explicit Connection(std::string url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement with $1.. parameters (text); `binary_result` asks for
  // binary columns (bytea read without escaping). A lost connection is
  // reopened once before the statement is given up as unavailable.
  Result exec(const std::string& sql, const std::vector<Param>& params = {}, bool binary_result = false);
  // Parameters as raw bytes (bytea written without escaping).
  Result exec_bytes(const std::string& sql, const std::vector<Param>& params, const std::vector<bool>& is_binary);
  // Several statements, no parameters (a migration).
  void script(const std::string& sql);
  // BEGIN ... COMMIT around body; ROLLBACK if it throws. Not reopened
  // mid-transaction: a lost connection fails the whole transaction.
  void transaction(const std::function<void()>& body);
  const std::string& url() const { return url_; }

  // LISTEN on `channel` (an identifier of ours, not a client's).
  void listen(const std::string& channel);
  // The payload of the next NOTIFY on a channel listened to, waiting up to
  // timeout_ms; nullopt if none came. Error{unavailable} if the connection
  // is lost (a new one must LISTEN again: notifications sent meanwhile are
  // gone, so whoever waits reads the state again).
  std::optional<std::string> wait_notify(int timeout_ms);

 private:
  void open();
  Result run(const std::string& sql, const std::vector<Param>& params, const std::vector<bool>* is_binary,
             bool binary_result);
  std::string url_;
  PGconn* conn_ = nullptr;
  bool in_transaction_ = false;
};

// A few connections shared by many threads (a server's handlers). A
// borrower gets an idle one, or a new one while fewer than `size` are
// open, or waits. A connection that fails to open is not counted; the
// next borrower tries again (Error{unavailable} until the server is back).
class Pool {
 public:
  Pool(std::string url, int size);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    ~Lease() {
      if (c_) pool_->give_back(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };
  Lease borrow();
  const std::string& url() const { return url_; }

 private:
  void give_back(std::unique_ptr<Connection> c);
  struct State;
  std::string url_;
  int size_;
  std::unique_ptr<State> state_;
};

// Brings the database's schema to the newest version, each migration once,
// in its own transaction under an advisory lock (processes starting at
// once take turns). Returns the versions it applied.
std::vector<int> migrate(Connection& c);
int schema_version(Connection& c);  // 0 for an empty database

// ISO 8601 UTC text of a timestamptz column, as the embedded store writes it.
inline constexpr const char* kIsoFormat = "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"";

}  // namespace likeness::pg
