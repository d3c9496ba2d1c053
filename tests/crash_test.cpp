// Nothing is lost and nothing of a person survives `forget`, whenever a shoot
// dies: kill -9 at random moments of the write phase and at the appearance of
// every temp, staged and output file. After each kill every visible file is
// complete, a portrait never shows without its sidecar, edit map and report,
// the store passes `PRAGMA integrity_check`, and after `forget` nothing of
// the subject remains under the output folder or the data directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "likeness/image_io.hpp"
#include "testing.hpp"

using namespace likeness;
using namespace likeness::testing;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = temp_dir("crash");
    data = root + "/data";
    parent = root + "/portraits";
    refs = root + "/refs";
    fs::create_directories(parent);
    fs::create_directories(refs);
    for (const char* f : {"person02_1.jpg", "person02_2.jpg", "person02_3.jpg"})
      fs::copy_file(people(f), refs + "/" + f);
    // A store of this test's own: its database and files are checked byte by byte.
    setenv("LIKENESS_DATA", data.c_str(), 1);
    unsetenv("LIKENESS_ANALYSIS_CACHE");
  }
  void TearDown() override { fs::remove_all(root); }

  std::vector<std::string> shoot_args(const std::string& out) const {
    return {LIKENESS_CLI,
            "shoot",
            "--refs",
            refs,
            "--out",
            out,
            "--subject",
            subject,
            "--count",
            "1",
            "--size",
            "320x400",
            "--segment-resolution",
            "640",
            "--quiet"};
  }

  // What a reader sees under the portraits' parent folder.
  void expect_consistent(const std::string& when) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(parent, ec)) {
      const std::string name = e.path().filename().string();
      if (name[0] == '.') continue;  // a job's hidden staging folder (or an old one leaving)
      ASSERT_EQ(name, "out") << when << ": unexpected " << name;
    }
    const std::string out = parent + "/out";
    if (!fs::exists(out)) return;
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.insert(e.path().filename().string());
    // All or nothing: the report, the contact sheet and every portrait with
    // its sidecar and edit map.
    ASSERT_TRUE(names.count("report.json")) << when << ": portraits without their report";
    EXPECT_TRUE(names.count("contact_sheet.jpg")) << when << ": portraits without their contact sheet";
    const json report = json::parse(read_bytes(out + "/report.json"));
    size_t expected = 2;
    for (const auto& p : report["portraits"]) {
      if (!p["passed"].get<bool>()) continue;
      const std::string base = fs::path(p["file"].get<std::string>()).stem().string();
      for (const std::string f : {base + ".jpg", base + ".json", base + ".edits.png"}) {
        EXPECT_TRUE(names.count(f)) << when << ": " << f << " missing";
        ++expected;
      }
    }
    EXPECT_EQ(names.size(), expected) << when;
    for (const auto& n : names) {
      const std::string path = out + "/" + n;
      if (n.ends_with(".json")) {
        EXPECT_FALSE(json::parse(read_bytes(path), nullptr, false).is_discarded()) << when << ": " << n;
      } else {
        const DecodedImage d = decode_image(path);  // throws on a partial file
        EXPECT_GT(d.bgr.total(), 0u) << when << ": " << n;
      }
    }
  }

  void expect_store_ok(const std::string& when) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((data + "/studio.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "ok") << when;
    sqlite3_finalize(q);
    sqlite3_close(db);
  }

  // After `forget`: nothing of the subject in the output folder's parent,
  // its data folder, the jobs' locks or the database (rows or bytes).
  void expect_forgotten(const std::string& when) {
    const CliResult f = run_cli({"forget", subject, "--json"});
    ASSERT_EQ(f.exit_code, 0) << when << ": " << f.err;
    std::vector<std::string> left;
    for (const auto& e : fs::recursive_directory_iterator(parent)) left.push_back(e.path().string());
    EXPECT_TRUE(left.empty()) << when << ": left " << left.front() << " (forget said " << f.out << ")";
    EXPECT_FALSE(fs::exists(data + "/subjects/" + subject)) << when;
    if (fs::exists(data + "/jobs")) EXPECT_TRUE(fs::is_empty(data + "/jobs")) << when;
    for (const char* db : {"/studio.db", "/studio.db-wal"}) {
      if (!fs::exists(data + db)) continue;
      EXPECT_EQ(read_bytes(data + db).find(subject), std::string::npos)
          << when << ": the subject's id is still in " << db;
    }
    expect_store_ok(when + ", after forget");
  }

  std::string root, data, parent, refs, subject = "crash-subject";
};

// Runs a shoot and kills it with SIGKILL at the k-th file-system event of its
// write phase (k < 0: never), or after `delay` (if set). Returns the number of
// write-phase events seen and whether the process was killed.
struct Trial {
  int events = 0;
  bool killed = false;
  double write_start = -1, end = 0;  // seconds from the start
  int exit_code = -1;
};

// kill_after: seconds from the start; kill_into_writes: seconds after the
// write phase's first event.
Trial run_shoot(const std::vector<std::string>& args, const std::string& parent, int kill_at_event,
                double kill_after = -1, double kill_into_writes = -1) {
  Trial t;
  const int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE;
  inotify_add_watch(in, parent.c_str(), mask);
  std::map<int, std::string> watched;
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  int status = 0;
  alignas(inotify_event) char buf[8192];
  for (;;) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    const bool late = kill_into_writes >= 0 && t.write_start >= 0 && seconds() >= t.write_start + kill_into_writes;
    if (((kill_after >= 0 && seconds() >= kill_after) || late) && !t.killed) {
      kill(pid, SIGKILL);
      t.killed = true;
    }
    pollfd p{in, POLLIN, 0};
    poll(&p, 1, 2);
    for (ssize_t n; (n = read(in, buf, sizeof buf)) > 0;) {
      for (char* c = buf; c < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(c);
        c += sizeof(inotify_event) + ev->len;
        const std::string name = ev->len ? ev->name : "";
        // The job's staging folder: watch inside it too.
        if ((ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR) && name.find(".likeness-job_") != std::string::npos) {
          const int wd = inotify_add_watch(in, (parent + "/" + name).c_str(), mask);
          watched[wd] = name;
        }
        if (t.write_start < 0) t.write_start = seconds();
        if (t.events++ == kill_at_event && !t.killed) {
          kill(pid, SIGKILL);
          t.killed = true;
        }
      }
    }
  }
  t.end = seconds();
  t.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  // Killed means it died of the signal, not that one was sent after it ended.
  t.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  close(in);
  return t;
}

}  // namespace

TEST_F(CrashTest, KillNineAnywhereInTheWritePhaseLosesNothingAndForgetFindsAll) {
  grant_consent(subject);
  // A whole run first: how many file events its write phase makes, and when.
  const Trial full = run_shoot(shoot_args(parent + "/out"), parent, -1);
  ASSERT_EQ(full.exit_code, 0);
  ASSERT_GT(full.events, 6);
  expect_consistent("after a whole run");
  expect_store_ok("after a whole run");
  expect_forgotten("after a whole run");
  std::printf("a whole shoot: %.2f s, write phase from %.2f s, %d file events\n", full.end, full.write_start,
              full.events);
  std::fflush(stdout);

  int trials = 0, killed = 0;
  std::mt19937 rng(20261130);
  // Kills timed on every file event of the write phase (each temp file's
  // creation, its rename into the staging folder, the folder's own
  // appearance and its rename into place), then kills at random moments
  // inside the write phase (three in four) and shortly before it, until at
  // least kMinKills processes have died of SIGKILL (a kill sent as a run
  // finishes may come too late; those trials are checked all the same).
  constexpr int kMinKills = 32, kMaxTrials = 80;
  struct Kill {
    int event = -1;
    double after = -1, into_writes = -1;
  };
  std::vector<Kill> plan;
  for (int e = 0; e < full.events; ++e) plan.push_back({e, -1, -1});
  const double writes = std::max(0.01, full.end - full.write_start);
  // The window for random kills shrinks to the shortest write phase seen
  // (warm runs write faster than the first).
  double window = writes;
  std::uniform_real_distribution<double> before(std::max(0.0, full.write_start - 1.0), full.write_start);
  int random_kills = 0;
  for (size_t i = 0; i < plan.size() || (killed < kMinKills && trials < kMaxTrials); ++i) {
    if (i >= plan.size())
      plan.push_back(random_kills++ % 4 == 3 ? Kill{-1, before(rng), -1}
                                             : Kill{-1, -1, std::uniform_real_distribution<double>(0, window)(rng)});
    const Kill k = plan[i];
    const std::string label = k.event >= 0 ? "kill at event " + std::to_string(k.event)
                              : k.after >= 0
                                  ? "kill after " + std::to_string(k.after).substr(0, 5) + " s"
                                  : "kill " + std::to_string(k.into_writes * 1000).substr(0, 5) + " ms into the writes";
    grant_consent(subject);
    const Trial t = run_shoot(shoot_args(parent + "/out"), parent, k.event, k.after, k.into_writes);
    ++trials;
    killed += t.killed;
    if (!t.killed && t.write_start >= 0) window = std::min(window, std::max(0.005, t.end - t.write_start));
    expect_consistent(label);
    expect_store_ok(label);
    if (i % 4 == 3) {
      // The next run finishes or undoes what the killed one left, and leaves
      // no staging folder behind.
      const Trial next = run_shoot(shoot_args(parent + "/out"), parent, -1);
      ASSERT_EQ(next.exit_code, 0) << label << ": the next run failed";
      expect_consistent(label + ", next run");
      for (const auto& e : fs::directory_iterator(parent))
        EXPECT_EQ(e.path().filename().string(), "out") << label << ": the next run left " << e.path();
    }
    expect_forgotten(label);
    if (HasFailure()) break;
  }
  std::printf("%d trials, %d killed by SIGKILL (write phase %.0f ms, shortest %.0f ms; %d file events)\n", trials,
              killed, writes * 1000, window * 1000, full.events);
  std::fflush(stdout);
  EXPECT_GE(killed, kMinKills);
}

// Re-shooting replaces the folder's portraits (no duplicate rows); a folder
// with other files, or another person's portraits, is refused untouched.
TEST_F(CrashTest, OutputFolderHoldsOneJobOfOnePerson) {
  grant_consent(subject);
  const std::string out = parent + "/out";
  for (int run = 0; run < 2; ++run) {
    const CliResult r = run_program(shoot_args(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const json store = json::parse(run_cli({"store", "--json"}).out);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(out)) files += e.is_regular_file();
  EXPECT_EQ(store[subject]["outputs"].get<size_t>(), files) << store.dump();
  EXPECT_EQ(files, 5u);  // portrait, sidecar, edit map, report, contact sheet

  grant_consent("someone-else");
  auto args = shoot_args(out);
  args[std::find(args.begin(), args.end(), subject) - args.begin()] = "someone-else";
  CliResult r = run_program(args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("another subject's portraits"), std::string::npos) << r.err;

  const std::string mine = parent + "/mine";
  fs::create_directories(mine);
  write_bytes(mine + "/holiday.jpg", read_bytes(people("person01_1.jpg")));
  r = run_program(shoot_args(mine));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("holiday.jpg"), std::string::npos) << r.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(mine), fs::directory_iterator{}), 1);
  fs::remove_all(mine);
  run_cli({"forget", "someone-else"});
  expect_forgotten("after two shoots");
}

// Temp files that a killed `check --subject` left in the subject's folder
// (atomic writes of analyses and set records) are swept by the next run
// once they are an hour old; a fresh one may still be a live writer's.
TEST_F(CrashTest, StaleTempFilesInTheSubjectFolderAreSweptByTheNextRun) {
  grant_consent(subject);
  const std::string dir = data + "/subjects/" + subject + "/analysis";
  fs::create_directories(dir);
  write_bytes(dir + "/.0123abcd.json.Ab12Cd", "{\"half\": ");
  write_bytes(dir + "/.4567efab.json.Zz99Yy", "{\"half\": ");
  fs::last_write_time(dir + "/.0123abcd.json.Ab12Cd", fs::file_time_type::clock::now() - std::chrono::hours(2));
  const CliResult r = run_cli({"check", refs, "--subject", subject, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/.0123abcd.json.Ab12Cd")) << "the stale temp file stayed";
  EXPECT_TRUE(fs::exists(dir + "/.4567efab.json.Zz99Yy")) << "a fresh temp file (a live writer's) was removed";
  expect_forgotten("after check");
}
