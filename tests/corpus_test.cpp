// Bad-input corpora (../shared/ROBUSTNESS.md): the real CLI, `likeness check
// FILE --json --quiet`, on every image file of the Debian packages that
// tools/corpora.sh fetched into $LIKENESS_CORPORA (`make corpora`; `make test`
// sets the variable). Per file: no signal, exit 0 or 3 (never 1 or 2), at most
// 10 s wall clock (killed after that: a hang), peak RSS at most 1.5 GB, and a
// refusal (exit 3) names the file with a reason; a file its package marks as
// broken (marked_broken) is refused as unreadable. Per corpus a summary (files,
// exit codes, slowest, largest) goes to stdout, and every file's outcome to
// build/corpus-summary.json.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "testing.hpp"

using namespace likeness::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr double kTimeLimitS = 10.0;         // per file, wall clock
constexpr long kMaxRssKb = 1536L * 1024;     // 1.5 GB (ru_maxrss is in KiB on Linux)
constexpr int kParallel = 2;                 // the machine has 2 cores
constexpr size_t kMaxFailureMessages = 400;  // the summary JSON has every file anyway
constexpr const char* kExecFailed = "corpus_test: cannot run the CLI: ";

struct Sample {
  std::string corpus;  // the Debian package the file came from
  std::string path;    // absolute
};

struct Outcome {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool hang = false;  // killed by us after kTimeLimitS
  bool spawn_failed = false;
  double seconds = 0;      // wall clock
  double cpu_seconds = 0;  // user + system
  long rss_kb = 0;
  std::string out, err;
};

// Every regular file under DIR/<package>/ is a corpus file: tools/corpora.sh
// keeps only the image test files of each package (and its own dot-files).
std::vector<Sample> corpus_files(const fs::path& root) {
  std::vector<Sample> files;
  for (const auto& pkg : fs::directory_iterator(root)) {
    const std::string name = pkg.path().filename().string();
    if (!pkg.is_directory() || name == "debs" || name.starts_with(".")) continue;
    for (auto it = fs::recursive_directory_iterator(pkg.path()); it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_symlink() || !it->is_regular_file()) continue;
      if (it->path().filename().string().starts_with(".")) continue;
      files.push_back({name, fs::absolute(it->path()).string()});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const Sample& a, const Sample& b) { return std::tie(a.corpus, a.path) < std::tie(b.corpus, b.path); });
  return files;
}

struct Running {
  pid_t pid = -1;
  size_t index = 0;
  std::chrono::steady_clock::time_point start;
  std::string out, err;
  bool killed = false;
};

Running spawn_check(const std::string& file, size_t index, const std::string& tmp) {
  Running r;
  r.index = index;
  r.out = tmp + "/" + std::to_string(index) + ".out";
  r.err = tmp + "/" + std::to_string(index) + ".err";
  std::vector<std::string> args = {LIKENESS_CLI, "check", file, "--json", "--quiet"};
  r.start = std::chrono::steady_clock::now();
  r.pid = fork();
  if (r.pid == 0) {
    setpgid(0, 0);  // a hang is killed with everything it started
    const int out = open(r.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(r.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    const std::string why = std::string(kExecFailed) + std::strerror(errno) + "\n";
    if (write(2, why.data(), why.size()) < 0) _exit(127);
    _exit(127);
  }
  if (r.pid > 0) setpgid(r.pid, r.pid);  // as the child does: whichever runs first
  return r;
}

// Runs `check` on every file, kParallel at a time.
std::vector<Outcome> run_all(const std::vector<Sample>& files) {
  std::vector<Outcome> outcomes(files.size());
  const std::string tmp = temp_dir("corpus");
  std::vector<Running> running;
  size_t next = 0;
  while (next < files.size() || !running.empty()) {
    while (next < files.size() && int(running.size()) < kParallel) {
      running.push_back(spawn_check(files[next].path, next, tmp));
      if (running.back().pid < 0) {
        outcomes[next].spawn_failed = true;
        running.pop_back();
      }
      ++next;
    }
    bool reaped = false;
    for (auto it = running.begin(); it != running.end();) {
      const auto now = std::chrono::steady_clock::now();
      const double s = std::chrono::duration<double>(now - it->start).count();
      if (s > kTimeLimitS && !it->killed) {
        kill(-it->pid, SIGKILL);
        kill(it->pid, SIGKILL);
        it->killed = true;
      }
      int status = 0;
      struct rusage ru {};
      const pid_t w = wait4(it->pid, &status, WNOHANG, &ru);
      if (w == 0 || (w < 0 && errno == EINTR)) {
        ++it;
        continue;
      }
      if (w < 0) throw std::runtime_error("wait4 failed for " + files[it->index].path + ": " + std::strerror(errno));
      Outcome& o = outcomes[it->index];
      o.seconds = s;
      o.rss_kb = ru.ru_maxrss;
      o.cpu_seconds =
          double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
      o.hang = it->killed;
      o.out = read_bytes(it->out);
      o.err = read_bytes(it->err);
      if (WIFEXITED(status)) {
        o.exit_code = WEXITSTATUS(status);
        o.spawn_failed = o.exit_code == 127 && o.err.starts_with(kExecFailed);
      } else if (WIFSIGNALED(status)) {
        o.signal = WTERMSIG(status);
      }
      fs::remove(it->out);
      fs::remove(it->err);
      it = running.erase(it);
      reaped = true;
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fs::remove_all(tmp);
  return outcomes;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string first_line(const std::string& s) {
  const std::string t = trim(s);
  const size_t nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl) + " …";
}

// The photo's entry of `check --json`'s output, or null.
json photo_entry(const std::string& out, const std::string& path) {
  const json j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("photos") || !j["photos"].is_array()) return nullptr;
  for (const auto& p : j["photos"])
    if (p.is_object() && p.value("file", "") == path) return p;
  return nullptr;
}

// Why a refusal (exit 3) does not name the file with a reason; "" when it
// does. With --json the photo's entry must be there with the verdict reject,
// at least one flag, a non-empty advice, and for `unreadable` the decoder's
// error; without JSON (the whole command refused) stderr must name the file
// and say something besides.
std::string refusal_problem(const Sample& s, const Outcome& o) {
  const json p = photo_entry(o.out, s.path);
  if (!p.is_null()) {
    if (p.value("verdict", "") != "reject") return "exit 3 but the verdict is '" + p.value("verdict", "") + "'";
    if (!p.contains("flags") || !p["flags"].is_array() || p["flags"].empty()) return "rejected without a flag";
    if (!p.contains("advice") || !p["advice"].is_string() || trim(p["advice"].get<std::string>()).empty())
      return "rejected without a reason (empty advice)";
    const auto& flags = p["flags"];
    if (std::find(flags.begin(), flags.end(), "unreadable") != flags.end() &&
        (!p.contains("error") || !p["error"].is_string() || trim(p["error"].get<std::string>()).empty()))
      return "unreadable without the decoder's error";
    return "";
  }
  if (!trim(o.out).empty()) return "exit 3 with output that is not check's JSON for this file";
  const std::string name = fs::path(s.path).filename().string();
  if (o.err.find(name) == std::string::npos) return "exit 3 but stderr does not name the file";
  std::string rest = o.err;
  for (const std::string& drop : {s.path, name, std::string("likeness:")})
    for (size_t at; (at = rest.find(drop)) != std::string::npos;) rest.erase(at, drop.size());
  if (std::count_if(rest.begin(), rest.end(), [](unsigned char c) { return std::isalpha(c); }) < 3)
    return "exit 3 naming the file without a reason";
  return "";
}

// Files their own package marks as broken: gdk-pixbuf's test requires every
// loader to fail on test-images/fail/, premature-end.jpg is cut short, and
// Go's png reader must fail on these four invalid-*.png (invalid-palette.png
// it decodes, so it is not here). They must be refused as `unreadable`, not
// analysed as if whole ("no face found").
// Not here, though their names suggest it: gdk-pixbuf's premature-end.png is
// whole (IEND present; its zlib stream inflates to exactly 256 rows of
// 256 RGBA: the test cuts it short itself while feeding it), and Go's
// video-001.progressive.truncated.jpeg is a progressive JPEG with fewer
// scans that ends in EOI (djpeg decodes it without a warning): both are
// honest images without a face.
bool marked_broken(const Sample& s) {
  const std::string name = fs::path(s.path).filename().string();
  if (s.corpus == "gdk-pixbuf-tests")
    return s.path.find("/test-images/fail/") != std::string::npos || name == "premature-end.jpg";
  if (s.corpus == "golang-1.19-src")
    return name == "invalid-crc32.png" || name == "invalid-noend.png" || name == "invalid-trunc.png" ||
           name == "invalid-zlib.png";
  return false;
}

// Every problem with one file's outcome (empty: it held).
std::vector<std::string> problems(const Sample& s, const Outcome& o) {
  std::vector<std::string> why;
  if (o.spawn_failed) return {o.err.empty() ? std::string("fork failed") : trim(o.err)};
  if (o.hang) {
    char b[128];
    std::snprintf(b, sizeof b, "hang: still running after %.0f s (%.1f s of CPU by then), killed", kTimeLimitS,
                  o.cpu_seconds);
    why.push_back(b);
  } else if (o.signal) {
    why.push_back("killed by signal " + std::to_string(o.signal) + " (" + strsignal(o.signal) + ")");
  } else if (o.exit_code != 0 && o.exit_code != 3) {
    why.push_back("exit " + std::to_string(o.exit_code) + ": " + first_line(o.err));
  }
  if (o.rss_kb > kMaxRssKb) why.push_back("peak RSS " + std::to_string(o.rss_kb / 1024) + " MB > 1536 MB");
  if (!o.hang && !o.signal && o.exit_code == 3) {
    const std::string p = refusal_problem(s, o);
    if (!p.empty()) why.push_back(p + (trim(o.err).empty() ? "" : " (stderr: " + first_line(o.err) + ")"));
  }
  if (marked_broken(s) && !o.hang && !o.signal && (o.exit_code == 0 || o.exit_code == 3)) {
    const json p = photo_entry(o.out, s.path);
    const json flags = p.is_null() ? json::array() : p.value("flags", json::array());
    if (std::find(flags.begin(), flags.end(), "unreadable") == flags.end())
      why.push_back("a broken file (truncated or corrupt, per its package) was decoded and analysed (flags " +
                    flags.dump() + ", exit " + std::to_string(o.exit_code) + ") instead of refused as unreadable");
  }
  if (!o.hang && !o.signal && o.exit_code == 0) {
    const json p = photo_entry(o.out, s.path);
    if (p.is_null() || (p.value("verdict", "") != "good" && p.value("verdict", "") != "usable"))
      why.push_back("exit 0 without a good or usable verdict for the file in the JSON");
  }
  return why;
}

struct CorpusStats {
  int files = 0, failed = 0;
  std::map<std::string, int> outcomes;  // "0", "3", "1", "signal 11", "hang"
  double max_s = 0, max_cpu = 0, cpu = 0;
  std::string slowest;
  long max_rss_kb = 0;
  std::string largest;
};

std::string outcome_key(const Outcome& o) {
  if (o.spawn_failed) return "not run";
  if (o.hang) return "hang";
  if (o.signal) return "signal " + std::to_string(o.signal);
  return std::to_string(o.exit_code);
}

}  // namespace

TEST(Corpus, CheckHoldsOnEveryImageFileOfTheBadInputCorpora) {
  const char* env = std::getenv("LIKENESS_CORPORA");
  if (!env || !*env || !fs::is_directory(env))
    GTEST_SKIP() << "LIKENESS_CORPORA is " << (env && *env ? std::string("'") + env + "', not a folder" : "not set")
                 << ": run `make corpora` (`make test` fetches the corpora and sets it) or "
                    "`tools/corpora.sh DIR` and LIKENESS_CORPORA=DIR";
  const fs::path root = env;
  const std::vector<Sample> files = corpus_files(root);
  ASSERT_FALSE(files.empty()) << "no corpus files under " << root << ": run tools/corpora.sh " << root;

  // The load average tells whether the time limit was measured on a busy machine.
  double load_before = 0, load_after = 0;
  getloadavg(&load_before, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Outcome> outcomes = run_all(files);
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  getloadavg(&load_after, 1);
  double total_cpu = 0;
  for (const auto& o : outcomes) total_cpu += o.cpu_seconds;

  std::map<std::string, CorpusStats> stats;
  json per_file = json::array();
  size_t failures = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const Sample& s = files[i];
    const Outcome& o = outcomes[i];
    CorpusStats& c = stats[s.corpus];
    const std::vector<std::string> why = problems(s, o);
    ++c.files;
    ++c.outcomes[outcome_key(o)];
    c.cpu += o.cpu_seconds;
    c.max_cpu = std::max(c.max_cpu, o.cpu_seconds);
    if (o.seconds > c.max_s) {
      c.max_s = o.seconds;
      c.slowest = s.path;
    }
    if (o.rss_kb > c.max_rss_kb) {
      c.max_rss_kb = o.rss_kb;
      c.largest = s.path;
    }
    json f = {{"corpus", s.corpus},
              {"file", s.path},
              {"outcome", outcome_key(o)},
              {"exit_code", o.exit_code},
              {"signal", o.signal},
              {"hang", o.hang},
              {"seconds", std::round(o.seconds * 1000) / 1000},
              {"cpu_seconds", std::round(o.cpu_seconds * 1000) / 1000},
              {"rss_mb", o.rss_kb / 1024},
              {"problems", why}};
    if (const json p = photo_entry(o.out, s.path); !p.is_null()) {
      f["verdict"] = p.value("verdict", "");
      f["flags"] = p.value("flags", json::array());
      f["advice"] = p.value("advice", "");
      if (p.contains("error")) f["error"] = p["error"];
    }
    if (!trim(o.err).empty()) f["stderr"] = trim(o.err);
    per_file.push_back(std::move(f));
    if (why.empty()) continue;
    ++c.failed;
    if (++failures <= kMaxFailureMessages) {
      std::string msg;
      for (const auto& w : why) msg += (msg.empty() ? "" : "; ") + w;
      ADD_FAILURE() << s.path << ": " << msg;
    }
  }

  // The summary: per corpus, files and exit codes, slowest and largest run.
  std::set<std::string> keys;
  for (const auto& [name, c] : stats)
    for (const auto& [k, n] : c.outcomes) keys.insert(k);
  std::printf(
      "\nbad-input corpora under %s: %zu files, %.0f s wall clock with %d at a time, %.0f s CPU in all; load "
      "average %.1f before, %.1f after\n",
      root.c_str(), files.size(), total_s, kParallel, total_cpu, load_before, load_after);
  std::printf("%-42s %6s", "corpus", "files");
  for (const auto& k : keys) std::printf(" %8s", (k.size() <= 2 ? "exit " + k : k).c_str());
  std::printf(" %7s %7s %7s %7s %7s\n", "failed", "max s", "max cpu", "cpu s", "max MB");
  json corpora = json::object();
  for (const auto& [name, c] : stats) {
    std::printf("%-42s %6d", name.c_str(), c.files);
    for (const auto& k : keys) std::printf(" %8d", c.outcomes.count(k) ? c.outcomes.at(k) : 0);
    std::printf(" %7d %7.2f %7.2f %7.0f %7ld\n", c.failed, c.max_s, c.max_cpu, c.cpu, c.max_rss_kb / 1024);
    corpora[name] = {{"files", c.files},
                     {"outcomes", c.outcomes},
                     {"failed", c.failed},
                     {"max_seconds", std::round(c.max_s * 1000) / 1000},
                     {"max_cpu_seconds", std::round(c.max_cpu * 1000) / 1000},
                     {"cpu_seconds", std::round(c.cpu)},
                     {"slowest", c.slowest},
                     {"max_rss_mb", c.max_rss_kb / 1024},
                     {"largest", c.largest}};
  }
  std::fflush(stdout);
  const json summary = {{"root", root.string()},
                        {"files", files.size()},
                        {"failed", failures},
                        {"seconds", std::round(total_s * 10) / 10},
                        {"cpu_seconds", std::round(total_cpu * 10) / 10},
                        {"load_average", {load_before, load_after}},
                        {"parallel", kParallel},
                        {"limits", {{"seconds", kTimeLimitS}, {"rss_mb", kMaxRssKb / 1024}, {"exit_codes", {0, 3}}}},
                        {"corpora", corpora},
                        {"per_file", per_file}};
  const fs::path out = fs::path(LIKENESS_CLI).parent_path() / "corpus-summary.json";
  std::ofstream(out) << summary.dump(2) << "\n";
  std::printf("summary with every file's outcome: %s\n", out.c_str());
  if (failures > kMaxFailureMessages)
    ADD_FAILURE() << failures - kMaxFailureMessages << " more files failed; every one is in " << out;
}
