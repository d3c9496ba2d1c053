// `likeness worker` processes on a real PostgreSQL server (pg_fixture.hpp):
// every job done exactly once by one worker, a worker killed mid-job, the
// database stopped for 10 s mid-run — nothing lost, nothing done twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "likeness/error.hpp"
#include "likeness/pg_queue.hpp"
#include "likeness/pg_store.hpp"
#include "likeness/studio.hpp"
#include "pg_fixture.hpp"
#include "service_client.hpp"
#include "store/pg/pg.hpp"
#include "testing.hpp"

using namespace likeness;
using likeness::testing::PgServer;
using likeness::testing::WorkerProcess;

namespace {

json small_spec(int n) {
  ShootSpec s;
  s.prompt = "light grey backdrop, soft light";
  s.count = 1;
  s.overrides = {{"frame", {{"width", 256}, {"height", 320}}}, {"grain", {{"seed", n}}}};
  return s.to_json();
}

// A subject with consent and two photos in the database; n jobs of theirs.
std::vector<std::string> seed(const std::string& url, int n) {
  open_pg_consent_store(url)->grant("p05", "Person Five", "", {"portraits", "likeness"}, 30, {"personal"});
  PgJobQueue q(url);
  for (const char* f : {"person05_1.jpg", "person05_2.jpg"})
    q.add_photo("u1", "p05", f, likeness::testing::read_bytes(likeness::testing::people(f)));
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(q.submit("u1", "p05", small_spec(i)).id);
  return ids;
}

int count(pg::Connection& c, const std::string& sql) { return int(c.exec(sql).number(0, 0)); }

// Waits until no job is queued or running (or the limit passes).
bool settle(pg::Connection& c, int seconds) {
  for (int i = 0; i < seconds * 4; ++i) {
    try {
      if (count(c, "SELECT count(*) FROM jobs WHERE state IN ('queued','running')") == 0) return true;
    } catch (const Error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

// Every job done, each once: one portrait per job, made by one worker, and
// every output's bytes match their digest.
void expect_each_done_once(pg::Connection& c, int jobs) {
  EXPECT_EQ(count(c, "SELECT count(*) FROM jobs WHERE state='done'"), jobs)
      << c.exec(
              "SELECT string_agg(id || ' ' || state || ' ' || coalesce(error::text, ''), '; ') FROM jobs "
              "WHERE state <> 'done'")
             .text(0, 0);
  EXPECT_EQ(count(c, "SELECT count(*) FROM outputs WHERE kind='portrait'"), jobs);
  EXPECT_EQ(count(c,
                  "SELECT count(*) FROM (SELECT job FROM outputs GROUP BY job HAVING count(DISTINCT made_by) > 1 "
                  "OR count(*) FILTER (WHERE kind='portrait') <> 1) d"),
            0);
  EXPECT_EQ(c.exec("SELECT bool_and(sha256 = encode(sha256(bytes), 'hex')) FROM outputs").text(0, 0), "t");
}

// A "host" of its own: a network namespace joined to this machine by a
// veth link, 10.231.N.1 on this side and 10.231.N.2 on its side; nothing
// else reaches it. cut() takes the link down (a network partition),
// mend() brings it back. Removed with the object.
class NetnsHost {
 public:
  explicit NetnsHost(int n) : ns_("lk" + std::to_string(::getpid()) + "h" + std::to_string(n)) {
    const std::string net = "10.231." + std::to_string((::getpid() % 50) * 5 + n);
    here_ = net + ".1";
    there_ = net + ".2";
    link_ = "lk" + std::to_string(::getpid() % 100000) + "v" + std::to_string(n);
    ok_ = sh("ip netns add " + ns_) && sh("ip link add " + link_ + " type veth peer name eth0 netns " + ns_) &&
          sh("ip addr add " + here_ + "/30 dev " + link_) && sh("ip link set " + link_ + " up") &&
          sh(in_ns("ip addr add " + there_ + "/30 dev eth0")) && sh(in_ns("ip link set eth0 up")) &&
          sh(in_ns("ip link set lo up"));
  }
  ~NetnsHost() { sh("ip netns del " + ns_ + " 2>/dev/null"); }  // its end of the link goes with it, and so ours
  bool ok() const { return ok_; }
  const std::string& ns() const { return ns_; }
  const std::string& address_here() const { return here_; }  // where the host reaches this machine
  std::string network() const { return here_.substr(0, here_.rfind('.')) + ".0/30"; }
  void cut() { sh("ip link set " + link_ + " down"); }
  void mend() { sh("ip link set " + link_ + " up"); }

 private:
  static bool sh(const std::string& c) { return std::system((c + " > /dev/null 2>&1").c_str()) == 0; }
  std::string in_ns(const std::string& c) const { return "ip netns exec " + ns_ + " " + c; }
  std::string ns_, here_, there_, link_;
  bool ok_ = false;
};

}  // namespace

// A worker without a database to work for says so, with the exit codes
// scripts rely on: 7 unreachable, 2 usage.
TEST(Workers, NoDatabaseIsExitCode7AndAMissingFlagIs2) {
  auto status_of = [](const std::string& args) {
    const int s = std::system((std::string(LIKENESS_CLI) + " worker " + args + " > /dev/null 2>&1").c_str());
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  };
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of("--db postgresql://likeness@127.0.0.1:1/none"), 7);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10)) << "no hang";
  EXPECT_EQ(status_of(""), 2);
  EXPECT_EQ(status_of("--db postgresql://x@127.0.0.1:1/y --jobs 0"), 2);
}

// Three workers, forty jobs; one worker killed with SIGKILL while it holds a
// job: that job is leased again once its lease expires and finishes once.
TEST(Workers, ThreeWorkersFortyJobsAndOneKilledMidJob) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  const std::vector<std::string> ids = seed(url, 40);
  pg::Connection c(url);
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* n : {"w1", "w2", "w3"}) workers.push_back(std::make_unique<WorkerProcess>(url, n, 4));
  // Kill w1 in the middle of a job of its own, after a few jobs are done.
  std::string killed_job;
  for (int i = 0; i < 2400 && killed_job.empty(); ++i) {
    if (count(c, "SELECT count(*) FROM jobs WHERE state='done'") >= 3) {
      const pg::Result r =
          c.exec("SELECT id FROM jobs WHERE state='running' AND lease_owner LIKE 'w1/%' AND progress ? 'stage'");
      if (r.rows() == 1) {
        killed_job = r.text(0, 0);
        workers[0]->stop(SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(killed_job.empty()) << "w1 never held a job: " << workers[0]->log();
  ASSERT_TRUE(settle(c, 600)) << "jobs still waiting after 10 minutes";
  expect_each_done_once(c, 40);
  const pg::Result k = c.exec(
      "SELECT state, attempts, (SELECT min(made_by) FROM outputs WHERE job=$1) FROM jobs "
      "WHERE id=$1",
      {killed_job});
  EXPECT_EQ(k.text(0, 0), "done");
  EXPECT_EQ(k.number(0, 1), 2) << "leased again once, after the lease expired";
  EXPECT_NE(k.text(0, 2).rfind("w1/", 0), 0u) << "finished by a live worker";
  EXPECT_EQ(count(c, "SELECT count(*) FROM jobs WHERE attempts > 1"), 1) << "only the killed worker's job ran again";
  EXPECT_GT(count(c, "SELECT count(DISTINCT made_by) FROM outputs"), 1);
}

// PostgreSQL stopped for 10 s in the middle of a run and started again: the
// workers carry on by themselves; no job lost, none done twice.
TEST(Workers, TheDatabaseGoneForTenSecondsLosesAndDoublesNothing) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  seed(url, 8);
  pg::Connection c(url);
  WorkerProcess a(url, "a", 4), b(url, "b", 4);
  for (int i = 0; i < 2400; ++i) {
    if (count(c, "SELECT count(*) FROM jobs WHERE state='done'") >= 2 &&
        count(c, "SELECT count(*) FROM jobs WHERE state='running'") >= 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pg.stop();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  pg.start();
  ASSERT_TRUE(settle(c, 600));
  expect_each_done_once(c, 8);
  EXPECT_EQ(count(c, "SELECT count(*) FROM jobs WHERE state='dead'"), 0);
  // One portrait as a worker made it, to look at.
  const pg::Result p = c.exec("SELECT bytes FROM outputs WHERE kind='portrait' ORDER BY id LIMIT 1", {}, true);
  ASSERT_EQ(p.rows(), 1);
  const std::string path = likeness::testing::temp_dir("worker-portrait") + "/portrait.jpg";
  likeness::testing::write_bytes(path, p.bytes(0, 0));
  std::printf("a worker's portrait: %s\n", path.c_str());
}

// Two workers on two "hosts" (network namespaces, each reaching the
// database only over its own veth link). A's link is cut while A holds a
// job: A stops touching it (its statements fail within seconds, it gives
// the job up after its lease), the lease expires and B finishes the job,
// once. When the link is mended, A takes jobs again by itself.
TEST(Workers, OnTheirOwnHostsAPartitionedWorkersJobIsFinishedOnceByAnother) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  PgServer pg;
  NetnsHost host_a(1), host_b(2);
  if (!host_a.ok() || !host_b.ok()) GTEST_SKIP() << "this machine cannot make network namespaces (ip netns)";
  pg.listen_also(host_a.address_here(), host_a.network());
  pg.listen_also(host_b.address_here(), host_b.network());
  const std::string url = pg.create_database("studio");
  seed(url, 6);
  pg::Connection c(url);
  // Each worker's only way to the database is its own link.
  auto a = std::make_unique<WorkerProcess>(pg.url_via(host_a.address_here(), "studio"), "a", 6, host_a.ns());
  auto b = std::make_unique<WorkerProcess>(pg.url_via(host_b.address_here(), "studio"), "b", 6, host_b.ns());
  std::string cut_job;
  for (int i = 0; i < 2400 && cut_job.empty(); ++i) {
    const pg::Result r =
        c.exec("SELECT id FROM jobs WHERE state='running' AND lease_owner LIKE 'a/%' AND progress ? 'stage'");
    if (r.rows() == 1) {
      cut_job = r.text(0, 0);
      host_a.cut();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(cut_job.empty()) << "a never held a job: " << a->log();
  ASSERT_TRUE(settle(c, 600)) << a->log() << b->log();
  expect_each_done_once(c, 6);
  const pg::Result k = c.exec(
      "SELECT state, attempts, (SELECT min(made_by) FROM outputs WHERE job=$1) FROM jobs WHERE id=$1", {cut_job});
  EXPECT_EQ(k.text(0, 0), "done");
  EXPECT_EQ(k.number(0, 1), 2) << "leased again once, after the lease expired";
  EXPECT_EQ(k.text(0, 2).rfind("b/", 0), 0u) << "finished by the worker that could reach the database";

  // Mended: with b gone, a (the same process) takes the next jobs.
  b.reset();
  host_a.mend();
  PgJobQueue q(url);
  std::vector<std::string> later;
  for (int i = 0; i < 2; ++i) later.push_back(q.submit("u1", "p05", small_spec(100 + i)).id);
  ASSERT_TRUE(settle(c, 300)) << a->log();
  for (const std::string& id : later) {
    const pg::Result r =
        c.exec("SELECT state, (SELECT min(made_by) FROM outputs WHERE job=$1) FROM jobs WHERE id=$1", {id});
    EXPECT_EQ(r.text(0, 0), "done");
    EXPECT_EQ(r.text(0, 1).rfind("a/", 0), 0u) << "made by " << r.text(0, 1) << "\n" << a->log();
  }
}
