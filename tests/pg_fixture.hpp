// A throw-away PostgreSQL server for a test: Debian's postgresql-15
// initdb/pg_ctl as an unprivileged user (nobody, when the tests run as
// root) in a temporary folder, on a free loopback port, its socket in that
// folder. No system service is touched; the destructor stops it and
// removes everything.
#pragma once
#include <string>

namespace likeness::testing {

class PgServer {
 public:
  PgServer();  // initdb and start; throws std::runtime_error with the log if either fails
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // A new, empty database on this server and its URL.
  std::string create_database(const std::string& name);
  std::string url(const std::string& db) const;
  int port() const { return port_; }
  void stop();   // fast shutdown: clients are disconnected
  void start();  // the same cluster, the same port
  void kill();   // SIGKILL of the postmaster (a crash)
  // Also listen on `address` (an address of this machine, e.g. a veth
  // link's end) and let `network` (CIDR) in; restarts the server.
  void listen_also(const std::string& address, const std::string& network);
  // The URL of `db` through `address` rather than loopback.
  std::string url_via(const std::string& address, const std::string& db) const;

 private:
  void run(const std::string& command) const;  // as the cluster's user; throws on failure
  void signal_and_wait(int sig);
  int pid_ = -1;
  std::string dir_;
  int port_ = 0;
  bool as_nobody_ = false;
  std::string listen_ = "127.0.0.1";
};

}  // namespace likeness::testing
