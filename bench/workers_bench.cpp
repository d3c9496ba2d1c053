// Workers on PostgreSQL (make bench-workers): jobs per minute with one
// worker of two threads and with two workers of one thread on this machine,
// the queue's latency under that load, and how fast an idle worker picks up
// a new job (LISTEN/NOTIFY). Each run on a fresh database of a throw-away
// PostgreSQL server (tests/pg_fixture.cpp), jobs of person05's two photos
// at 512x640.
//
// Usage: workers_bench LIKENESS_BINARY FACES_DIR [JOBS]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "likeness/pg_queue.hpp"
#include "likeness/pg_store.hpp"
#include "likeness/studio.hpp"
#include "pg_fixture.hpp"
#include "store/pg/pg.hpp"

using namespace likeness;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

pid_t start_worker(const std::string& bin, const std::string& url, const std::string& name, int threads) {
  std::fflush(stdout);  // the child must not write our buffer again
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    const std::string t = std::to_string(threads);
    ::execl(bin.c_str(), bin.c_str(), "worker", "--db", url.c_str(), "--jobs", "1", "--threads-per-job", t.c_str(),
            "--name", name.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

json spec(int n) {
  ShootSpec s;
  s.prompt = "light grey backdrop, soft light";
  s.overrides = {{"frame", {{"width", 512}, {"height", 640}}}, {"grain", {{"seed", n + 1}}}};
  return s.to_json();
}

double num(pg::Connection& c, const std::string& sql) { return std::stod(c.exec(sql).text(0, 0)); }

void run(likeness::testing::PgServer& pg, const std::string& bin, const std::string& faces, int workers, int threads,
         int jobs) {
  const std::string url = pg.create_database("bench_" + std::to_string(workers) + "x" + std::to_string(threads));
  open_pg_consent_store(url)->grant("p05", "Person Five", "", {"portraits", "likeness"}, 30, {"personal"});
  PgJobQueue q(url);
  for (const char* f : {"person05_1.jpg", "person05_2.jpg"}) q.add_photo("u", "p05", f, slurp(faces + "/people/" + f));
  std::vector<pid_t> pids;
  for (int w = 0; w < workers; ++w) pids.push_back(start_worker(bin, url, "w" + std::to_string(w), threads));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // up and idle
  pg::Connection c(url);
  // Pick-up: one job submitted to idle workers, submit to lease.
  const std::string first = q.submit("u", "p05", spec(0)).id;
  while (c.exec("SELECT state FROM jobs WHERE id=$1", {first}).text(0, 0) != "done")
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double pickup =
      num(c, "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM jobs WHERE id='" + first + "'");
  // Throughput: `jobs` at once, first submit to last done.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= jobs; ++i) q.submit("u", "p05", spec(i));
  while (num(c, "SELECT count(*) FROM jobs WHERE state IN ('queued','running')") > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const pg::Result lat = c.exec(
      "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY w), percentile_cont(0.95) WITHIN GROUP (ORDER BY w), "
      "avg(run) FROM (SELECT extract(epoch FROM started_at - created_at) w, "
      "extract(epoch FROM finished_at - started_at) run FROM jobs WHERE id <> $1) x",
      {first});
  const int done = int(num(c, "SELECT count(*) FROM jobs WHERE state='done'"));
  for (pid_t p : pids) stop(p);
  std::printf(
      "%d worker(s) x %d thread(s): %d jobs in %.1f s = %.1f jobs/min (%d done); a job runs %.1f s on average; "
      "queue wait median %.1f s, p95 %.1f s; an idle worker picks a new job up in %.0f ms\n",
      workers, threads, jobs, secs, jobs * 60 / secs, done - 1, std::stod(lat.text(0, 2)), std::stod(lat.text(0, 0)),
      std::stod(lat.text(0, 1)), pickup);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LIKENESS_BINARY FACES_DIR [JOBS]\n", argv[0]);
    return 2;
  }
  const int jobs = argc > 3 ? std::atoi(argv[3]) : 12;
  likeness::testing::PgServer pg;
  std::printf("PostgreSQL 15 on loopback, %u cores, %d jobs of 1 portrait at 512x640 each\n",
              std::thread::hardware_concurrency(), jobs);
  run(pg, argv[1], argv[2], 1, 2, jobs);
  run(pg, argv[1], argv[2], 2, 1, jobs);
  return 0;
}
