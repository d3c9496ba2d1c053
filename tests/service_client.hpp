// The service as a test drives it: a `likeness serve` process of its own
// (stdout's first line names its port) and a signed-in client with its
// cookie and CSRF token, as a script or the page would use the API.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "testing.hpp"

namespace likeness::testing {

using json = nlohmann::json;

// A server that answers before reading the whole body (413) closes the
// connection under the client's write: an error, not the end of the test.
inline const bool kNoSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// A server process of its own: stdout's first line names the port.
class Server {
 public:
  explicit Server(const std::string& data, std::vector<std::string> extra = {}) : data_(data) { start(extra); }
  ~Server() { stop(); }

  void start(std::vector<std::string> extra) {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    std::vector<std::string> args = {LIKENESS_CLI, "serve", "--port", "0", "--data", data_};
    for (auto& e : extra) args.push_back(e);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const auto at = line.rfind(':');
    ASSERT_NE(at, std::string::npos) << "serve printed: " << line;
    port_ = std::stoi(line.substr(at + 1));
  }

  void stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }

 private:
  std::string data_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A signed-in browser-like client: cookie and CSRF token.
struct Session {
  std::unique_ptr<httplib::Client> http;
  std::string cookie, csrf, bearer;

  explicit Session(int port) : http(std::make_unique<httplib::Client>("127.0.0.1", port)) {
    http->set_read_timeout(300, 0);
  }

  httplib::Headers headers(bool with_csrf = true) const {
    httplib::Headers h;
    if (!cookie.empty()) h.emplace("Cookie", cookie);
    if (with_csrf && !csrf.empty()) h.emplace("X-CSRF-Token", csrf);
    if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
    return h;
  }

  void sign_up(const std::string& name) {
    auto r = http->Post("/api/users", json{{"name", name}, {"password", "correct horse"}}.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    const std::string set = r->get_header_value("Set-Cookie");
    cookie = set.substr(0, set.find(';'));
    csrf = json::parse(r->body)["csrf"];
  }

  httplib::Result post(const std::string& path, const json& body, httplib::Headers extra = {}) {
    auto h = headers();
    for (auto& e : extra) h.insert(e);
    return http->Post(path.c_str(), h, body.dump(), "application/json");
  }
  httplib::Result get(const std::string& path) { return http->Get(path.c_str(), headers(false)); }
  httplib::Result del(const std::string& path) { return http->Delete(path.c_str(), headers()); }

  httplib::Result upload(const std::string& path, const std::string& field,
                         const std::vector<std::pair<std::string, std::string>>& files) {
    httplib::MultipartFormDataItems items;
    for (const auto& [name, bytes] : files) items.push_back({field, bytes, name, "application/octet-stream"});
    return http->Post(path.c_str(), headers(), items);
  }

  // A person with consent and photos of person `who` (files _1.._n).
  std::string subject_with_photos(const std::string& who, int n, const std::vector<std::string>& uses = {"personal"}) {
    auto r = post("/api/subjects", {{"name", who}});
    EXPECT_EQ(r->status, 201) << r->body;
    const std::string id = json::parse(r->body)["id"];
    r = post("/api/subjects/" + id + "/consent",
             {{"given_by", who}, {"purposes", {"portraits", "likeness"}}, {"uses", uses}, {"retention_days", 30}});
    EXPECT_EQ(r->status, 201) << r->body;
    std::vector<std::pair<std::string, std::string>> files;
    for (int i = 1; i <= n; ++i) {
      const std::string f = who + "_" + std::to_string(i) + ".jpg";
      files.emplace_back(f, read_bytes(people(f)));
    }
    r = upload("/api/subjects/" + id + "/photos", "photos", files);
    EXPECT_EQ(r->status, 201) << r->body;
    return id;
  }

  json job(const std::string& id) { return json::parse(get("/api/jobs/" + id)->body); }

  json wait(const std::string& id, const std::function<bool(const json&)>& until, int seconds = 300) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    json j;
    while (std::chrono::steady_clock::now() < end) {
      j = job(id);
      if (until(j)) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "timed out; job: " << j.dump();
    return j;
  }
};

inline const json kSmall = {{"frame", {{"width", 384}, {"height", 480}}}};

inline json shoot_body(const std::string& subject, int count = 1) {
  return {{"subject", subject}, {"prompt", "light grey backdrop, soft light"}, {"count", count}, {"params", kSmall}};
}

inline bool final_state(const json& j) {
  const std::string s = j["state"];
  return s == "done" || s == "failed" || s == "cancelled";
}

// One `likeness worker` process; SIGTERM and reaped when it goes.
class WorkerProcess {
 public:
  // `netns`: run it in that network namespace (ip netns exec), as if on
  // another host.
  WorkerProcess(const std::string& url, const std::string& name, double lease, const std::string& netns = "")
      : name_(name) {
    log_ = likeness::testing::temp_dir("worker-log") + "/" + name + ".log";
    std::vector<std::string> args;
    if (!netns.empty()) args = {"/usr/sbin/ip", "netns", "exec", netns};
    for (const std::string& a :
         {std::string(LIKENESS_CLI), std::string("worker"), std::string("--db"), url, std::string("--jobs"),
          std::string("1"), std::string("--threads-per-job"), std::string("1"), std::string("--lease"),
          std::to_string(lease), std::string("--name"), name})
      args.push_back(a);
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen(log_.c_str(), "w", stdout);
      std::freopen(log_.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // Ready when it says so (its consent store migrated and its slots up).
    for (int i = 0; i < 600 && log().find("ready") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~WorkerProcess() { stop(SIGTERM); }
  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::string log() const {
    std::ifstream f(log_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_, log_;
  pid_t pid_ = -1;
};

}  // namespace likeness::testing
