#include "pg_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace likeness::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free loopback port");
  const int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

PgServer::PgServer() {
  if (!fs::exists(std::string(kBin) + "/initdb"))
    throw std::runtime_error("PostgreSQL 15 is not installed (tools/install-deps.sh installs postgresql-15)");
  char tmpl[] = "/tmp/likeness-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot make a temporary folder");
  dir_ = tmpl;
  // initdb refuses to run as root: the cluster belongs to nobody then.
  as_nobody_ = ::geteuid() == 0;
  if (as_nobody_ && std::system(("chown nobody:nogroup " + dir_).c_str()) != 0)
    throw std::runtime_error("cannot hand " + dir_ + " to nobody");
  run(std::string(kBin) + "/initdb -D " + dir_ + "/data -U likeness -A trust --no-sync -E UTF8 --locale=C.UTF-8 > " +
      dir_ + "/initdb.log 2>&1");
  port_ = free_port();
  start();
  // The database tests use unless they make their own.
  create_database("likeness");
}

PgServer::~PgServer() {
  signal_and_wait(SIGQUIT);  // immediate shutdown
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PgServer::run(const std::string& command) const {
  const std::string full = as_nobody_ ? "runuser -u nobody -- sh -c '" + command + "'" : command;
  if (std::system(full.c_str()) != 0) {
    throw std::runtime_error("failed: " + command + "\n" + slurp(dir_ + "/initdb.log") + slurp(dir_ + "/server.log"));
  }
}

void PgServer::start() {
  // The postmaster is this process's child (not pg_ctl's daemon), so a
  // stop or a kill is reaped here and a restart never meets a zombie's
  // lock file. Its socket in the cluster's folder (never
  // /var/run/postgresql), TCP on loopback only.
  for (int attempt = 0; attempt < 20; ++attempt) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      const std::string log = dir_ + "/server.log";
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (as_nobody_ && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(126);
      const std::string bin = std::string(kBin) + "/postgres", data = dir_ + "/data", port = std::to_string(port_);
      const std::string listen = "listen_addresses=" + listen_;
      ::execl(bin.c_str(), "postgres", "-D", data.c_str(), "-p", port.c_str(), "-k", dir_.c_str(), "-c", listen.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pid_ = pid;
    const std::string ready = std::string(kBin) + "/pg_isready -q -h 127.0.0.1 -p " + std::to_string(port_);
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // it gave up (an old backend still leaving): try again
        break;
      }
      if (std::system(ready.c_str()) == 0) return;
      ::usleep(100000);
    }
    if (pid_ > 0) break;
    ::usleep(500000);
  }
  throw std::runtime_error("PostgreSQL did not start:\n" + slurp(dir_ + "/server.log"));
}

void PgServer::signal_and_wait(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void PgServer::stop() { signal_and_wait(SIGINT); }  // fast shutdown

void PgServer::kill() {
  signal_and_wait(SIGKILL);
  ::usleep(200000);  // its backends notice the postmaster's death and leave
}

void PgServer::listen_also(const std::string& address, const std::string& network) {
  std::ofstream(dir_ + "/data/pg_hba.conf", std::ios::app) << "host all all " << network << " trust\n";
  listen_ += "," + address;
  stop();
  start();
}

std::string PgServer::url_via(const std::string& address, const std::string& db) const {
  return "postgresql://likeness@" + address + ":" + std::to_string(port_) + "/" + db;
}

std::string PgServer::url(const std::string& db) const {
  return "postgresql://likeness@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgServer::create_database(const std::string& name) {
  run(std::string(kBin) + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) + " -U likeness " + name);
  return url(name);
}

}  // namespace likeness::testing
