// `likeness serve --db` on a real PostgreSQL server (pg_fixture.hpp) with
// `likeness worker` processes running its jobs, driven over HTTP: a shoot
// from upload to download with its event stream fed by LISTEN/NOTIFY,
// tenant isolation, forget leaving nothing in the database, kill -9 of the
// server losing nothing it acknowledged, and the database away (503) and
// back without anyone restarting anything.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "likeness/image_io.hpp"
#include "pg_fixture.hpp"
#include "service_client.hpp"
#include "store/pg/pg.hpp"
#include "testing.hpp"

namespace fs = std::filesystem;
using namespace likeness;
using namespace likeness::testing;

namespace {

long long count(pg::Connection& c, const std::string& sql, const std::vector<pg::Param>& params = {}) {
  return c.exec(sql, params).number(0, 0);
}

// The job's event stream until its end event (or `seconds`): the events' names in order.
// `opened` (if given) is set once the first event came; `raw` (if given)
// gets the whole stream, comments included.
std::vector<std::string> events_until_end(Session& s, int port, const std::string& job, int seconds, json* end,
                                          std::atomic<bool>* opened = nullptr, std::string* raw = nullptr) {
  std::string body;
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(seconds, 0);
  http.Get(("/api/jobs/" + job + "/events").c_str(), s.headers(false), [&](const char* data, size_t n) {
    body.append(data, n);
    if (opened && body.find("event: ") != std::string::npos) *opened = true;
    return body.find("event: end") == std::string::npos ||
           body.find("\n\n", body.find("event: end")) == std::string::npos;
  });
  if (raw) *raw = body;
  std::vector<std::string> names;
  for (size_t at = 0; (at = body.find("event: ", at)) != std::string::npos; at += 7) {
    const size_t eol = body.find('\n', at);
    names.push_back(body.substr(at + 7, eol - at - 7));
    if (names.back() == "end") {
      const size_t data = body.find("data: ", eol);
      *end = json::parse(body.substr(data + 6, body.find('\n', data) - data - 6));
    }
  }
  return names;
}

// Every row anywhere in the database that names `subject`.
long long rows_of(pg::Connection& c, const std::string& subject) {
  long long n = 0;
  for (const char* t : {"consent", "consent_photos", "photos", "jobs", "outputs"})
    n += count(c, std::string("SELECT count(*) FROM ") + t + " WHERE subject=$1", {subject});
  return n + count(c, "SELECT count(*) FROM subjects WHERE id=$1", {subject});
}

// Files in a worker's job folders (likeness-worker-*, not the test's log folder) under `tmp`.
size_t job_files(const std::string& tmp) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp)) {
    const std::string dir = e.path().parent_path().filename().string();
    if (e.is_regular_file() && dir.rfind("likeness-worker-", 0) == 0 && dir.rfind("likeness-worker-log-", 0) != 0) ++n;
  }
  return n;
}

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// ada signs up, her person (*subject) gets `photos` photos of person05, and
// a shoot of `count` portraits is accepted: the job's id ("" if refused).
std::string ada_starts_a_shoot(Session& a, int photos, int count, std::string* subject) {
  a.sign_up("ada");
  *subject = a.subject_with_photos("person05", photos);
  auto r = a.post("/api/jobs", shoot_body(*subject, count));
  EXPECT_EQ(r->status, 202) << r->body;
  return r->status == 202 ? body_of(r)["id"].get<std::string>() : "";
}

}  // namespace

// A shoot through the API on PostgreSQL: the server keeps the photos in the
// database, a worker process runs the job, the event stream reports its
// progress as the worker publishes it, the portrait downloads from the
// database; another user sees none of it; forget leaves no row anywhere.
TEST(ServePg, AShootRunByAWorkerIsPrivateToItsUserAndForgetLeavesNothing) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  const std::string data = temp_dir("serve-pg");
  Server server(data, {"--db", url});
  WorkerProcess worker(url, "w1", 10);

  Session a(server.port()), b(server.port());
  a.sign_up("ada");
  b.sign_up("bo");
  const std::string subject = a.subject_with_photos("person05", 2);
  auto r = a.get("/api/subjects/" + subject + "/photos");
  ASSERT_EQ(r->status, 200) << r->body;
  const json report = body_of(r);
  ASSERT_EQ(report["photos"].size(), 2u);
  EXPECT_GE(report["set"]["usable"].get<int>(), 1) << "the intake read the photos kept in the database";
  const std::string photo = report["photos"][0]["id"];
  r = a.get("/api/photos/" + photo + "/thumbnail");
  ASSERT_EQ(r->status, 200);
  EXPECT_GT(decode_image_bytes(r->body, "t.jpg").bgr.cols, 100);

  r = a.post("/api/jobs", shoot_body(subject));
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string job = body_of(r)["id"];
  json end;
  const std::vector<std::string> events = events_until_end(a, server.port(), job, 300, &end);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "end");
  EXPECT_GE(std::count(events.begin(), events.end(), "progress"), 2) << "progress came as the worker published it";
  ASSERT_EQ(end["state"], "done") << end.dump();
  ASSERT_EQ(end["outputs"].size(), 1u) << end.dump();
  const std::string output = end["outputs"][0]["id"];
  r = a.get("/api/outputs/" + output);
  ASSERT_EQ(r->status, 200);
  const DecodedImage portrait = decode_image_bytes(r->body, "p.jpg");
  EXPECT_EQ(portrait.bgr.cols, 384);
  EXPECT_EQ(portrait.bgr.rows, 480);
  for (const char* part : {"/edit-map", "/before", "/sidecar"})
    EXPECT_EQ(a.get("/api/outputs/" + output + part)->status, 200) << part;
  EXPECT_EQ(a.get("/api/jobs/" + job + "/contact-sheet")->status, 200);

  // Another user: nothing of ada's exists for bo.
  EXPECT_EQ(b.get("/api/subjects/" + subject)->status, 404);
  EXPECT_EQ(b.get("/api/subjects/" + subject + "/photos")->status, 404);
  EXPECT_EQ(b.get("/api/photos/" + photo + "/thumbnail")->status, 404);
  EXPECT_EQ(b.get("/api/jobs/" + job)->status, 404);
  EXPECT_EQ(b.get("/api/jobs/" + job + "/events")->status, 404);
  EXPECT_EQ(b.post("/api/jobs/" + job + "/cancel", json::object())->status, 404);
  EXPECT_EQ(b.get("/api/outputs/" + output)->status, 404);
  EXPECT_EQ(b.del("/api/subjects/" + subject)->status, 404);
  EXPECT_TRUE(body_of(b.get("/api/subjects"))["subjects"].empty());
  EXPECT_TRUE(body_of(b.get("/api/jobs"))["jobs"].empty());

  // Forget: no row of the person anywhere, and nothing of theirs on this machine.
  pg::Connection c(url);
  ASSERT_GT(rows_of(c, subject), 0);
  r = a.del("/api/subjects/" + subject);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(rows_of(c, subject), 0);
  EXPECT_EQ(count(c, "SELECT count(*) FROM outputs"), 0);
  EXPECT_EQ(a.get("/api/outputs/" + output)->status, 404);
  EXPECT_EQ(a.get("/api/jobs/" + job)->status, 404);
  size_t local = 0;
  for (const auto& e : fs::recursive_directory_iterator(data + "/tmp"))
    if (e.is_regular_file()) ++local;
  EXPECT_EQ(local, 0u) << "the intake's copies of the photos are gone";
}

// A forget while a worker on another machine runs the person's job: the
// answer comes at once, every row of the person is gone from the database,
// the worker finds its lease gone at its next heartbeat and stops writing
// nothing, and its private copy of the photos is removed with the job.
TEST(ServePg, ForgetWhileAWorkerRunsTheJobLeavesNothingAnywhere) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  const std::string data = temp_dir("serve-pg-forget");
  const std::string worker_tmp = temp_dir("serve-pg-forget-worker");
  ::setenv("TMPDIR", worker_tmp.c_str(), 1);  // where the worker keeps its copy of the photos
  Server server(data, {"--db", url});
  WorkerProcess worker(url, "w1", 10);
  ::unsetenv("TMPDIR");
  Session a(server.port());
  std::string subject;
  const std::string job = ada_starts_a_shoot(a, 2, 3, &subject);
  ASSERT_FALSE(job.empty());
  a.wait(
      job,
      [](const json& j) {
        const json p = j.value("progress", json::object());
        return j["state"] == "running" && p.contains("stage") && p["stage"].is_string() && p["stage"] != "";
      },
      120);
  EXPECT_GE(job_files(worker_tmp), 2u) << "the worker works from its own copy of the photos";

  const auto t0 = std::chrono::steady_clock::now();
  auto r = a.del("/api/subjects/" + subject);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "the forget does not wait for the job";
  pg::Connection c(url);
  EXPECT_EQ(rows_of(c, subject), 0);
  EXPECT_EQ(a.get("/api/jobs/" + job)->status, 404);
  // The worker notices (a heartbeat: lease/3 at most) and drops the job.
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = job_files(worker_tmp) == 0 && worker.log().find(job) != std::string::npos;
  }
  std::string left;
  for (const auto& e : fs::recursive_directory_iterator(worker_tmp)) left += e.path().string() + "\n";
  EXPECT_TRUE(gone) << "the worker still holds the person's photos:\n" << left << worker.log();
  EXPECT_EQ(rows_of(c, subject), 0) << "and it wrote nothing back";
  EXPECT_EQ(count(c, "SELECT count(*) FROM outputs"), 0);
}

// kill -9 of the server right after it acknowledged jobs: a new server finds
// every one, and a worker does each exactly once. A retried request with
// the same Idempotency-Key is the same job, not a second one.
TEST(ServePg, KillingTheServerLosesNothingItAcknowledged) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  const std::string data = temp_dir("serve-pg-kill");
  auto server = std::make_unique<Server>(data, std::vector<std::string>{"--db", url});
  Session a(server->port());
  a.sign_up("ada");
  const std::string subject = a.subject_with_photos("person05", 1);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 5; ++i) {
    json body = shoot_body(subject);
    body["params"]["grain"] = {{"seed", i}};
    auto r = a.post("/api/jobs", body, {{"Idempotency-Key", "shoot-" + std::to_string(i)}});
    ASSERT_EQ(r->status, 202) << r->body;
    acknowledged.push_back(body_of(r)["id"]);
  }
  server->stop(SIGKILL);
  server = std::make_unique<Server>(data, std::vector<std::string>{"--db", url});
  a.http = std::make_unique<httplib::Client>("127.0.0.1", server->port());
  a.http->set_read_timeout(300, 0);
  for (const std::string& id : acknowledged) EXPECT_EQ(a.get("/api/jobs/" + id)->status, 200) << id;
  // The killed server's scratch folder (where it copied photos out for the
  // intake) was removed by the new one: only the new one's is left.
  size_t scratch = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(data + "/tmp")) ++scratch;
  EXPECT_EQ(scratch, 1u);
  json again = shoot_body(subject);
  again["params"]["grain"] = {{"seed", 0}};
  auto r = a.post("/api/jobs", again, {{"Idempotency-Key", "shoot-0"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["id"], acknowledged[0]);

  WorkerProcess worker(url, "w1", 10);
  for (const std::string& id : acknowledged) {
    const json j = a.wait(id, final_state, 300);
    EXPECT_EQ(j["state"], "done") << j.dump();
    EXPECT_EQ(j["outputs"].size(), 1u);
  }
  pg::Connection c(url);
  EXPECT_EQ(count(c, "SELECT count(*) FROM jobs"), 5);
  EXPECT_EQ(count(c, "SELECT count(*) FROM jobs WHERE attempts <> 1"), 0) << "each done once";
  EXPECT_EQ(count(c, "SELECT count(*) FROM outputs WHERE kind='portrait'"), 5);
}

// A full queue (--queue 2, no worker yet) answers 429 with Retry-After to a
// new job, but a retried request with a key that came before still finds
// its job; nothing is queued past the limit.
TEST(ServePg, AFullQueueIs429ButARetriedKeyStillFindsItsJob) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  Server server(temp_dir("serve-pg-full"), {"--db", url, "--queue", "2"});
  Session a(server.port());
  a.sign_up("ada");
  const std::string subject = a.subject_with_photos("person05", 1);
  std::string first;
  for (int i = 0; i < 2; ++i) {
    auto r = a.post("/api/jobs", shoot_body(subject), {{"Idempotency-Key", "k" + std::to_string(i)}});
    ASSERT_EQ(r->status, 202) << r->body;
    if (i == 0) first = body_of(r)["id"];
  }
  auto r = a.post("/api/jobs", shoot_body(subject), {{"Idempotency-Key", "k2"}});
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(body_of(r)["error"]["code"], "queue_full");
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  EXPECT_EQ(a.post("/api/jobs", shoot_body(subject))->status, 429);
  r = a.post("/api/jobs", shoot_body(subject), {{"Idempotency-Key", "k0"}});
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["id"], first);
  pg::Connection c(url);
  EXPECT_EQ(count(c, "SELECT count(*) FROM jobs"), 2);
}

// The database stopped under a running server while a job runs and its
// event stream is open: the API answers 503 (code "unavailable", never a
// 500 or a hang), the stream stays open; once the database is back the
// server answers again by itself, the job finishes and the stream ends with
// it, and a new job runs to the end.
TEST(ServePg, TheDatabaseAwayIs503ThenItRecoversByItself) {
  PgServer pg;
  const std::string url = pg.create_database("studio");
  const std::string data = temp_dir("serve-pg-outage");
  Server server(data, {"--db", url});
  WorkerProcess worker(url, "w1", 20);
  Session a(server.port());
  std::string subject;
  const std::string running = ada_starts_a_shoot(a, 1, 6, &subject);  // long enough to outlast the outage
  ASSERT_FALSE(running.empty());
  a.wait(
      running, [](const json& j) { return j["state"] != "queued"; }, 120);
  json streamed;
  std::vector<std::string> stream_events;
  std::atomic<bool> opened{false};
  std::string raw;
  std::thread stream(
      [&] { stream_events = events_until_end(a, server.port(), running, 300, &streamed, &opened, &raw); });
  for (int i = 0; i < 100 && !opened; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(opened) << "the stream never opened";

  pg.stop();
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& path : std::vector<std::string>{"/api/subjects", "/api/jobs", "/api/subjects/" + subject}) {
    auto r = a.get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 503) << path << ": " << r->body;
    EXPECT_EQ(body_of(r)["error"]["code"], "unavailable") << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "5");
  }
  auto r = a.post("/api/jobs", shoot_body(subject));
  EXPECT_EQ(r->status, 503) << r->body;
  Session other(server.port());
  r = other.http->Post("/api/session", json{{"name", "ada"}, {"password", "correct horse"}}.dump(), "application/json");
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30)) << "answered promptly, not hung";
  std::this_thread::sleep_for(std::chrono::seconds(3));
  pg.start();

  int status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = a.get("/api/subjects")->status;
  }
  ASSERT_EQ(status, 200) << "the server did not recover by itself";
  stream.join();
  ASSERT_FALSE(stream_events.empty());
  EXPECT_EQ(stream_events.back(), "end") << "the stream stayed open across the outage";
  EXPECT_NE(raw.find(": the database is unavailable"), std::string::npos) << "the stream said so meanwhile:\n" << raw;
  EXPECT_EQ(streamed["state"], "done") << streamed.dump() << "\n" << worker.log();
  r = a.post("/api/jobs", shoot_body(subject));
  ASSERT_EQ(r->status, 202) << r->body;
  json end;
  events_until_end(a, server.port(), body_of(r)["id"], 300, &end);
  EXPECT_EQ(end["state"], "done") << end.dump() << "\n" << worker.log();
}

// serve --db with no database at the address exits 7 (unavailable) at once;
// --db with --workers is a usage error (2): workers run the jobs.
TEST(ServePg, NoDatabaseIsExitCode7AndWorkersWithDbIs2) {
  auto status_of = [](const std::string& args) {
    const int s = std::system((std::string(LIKENESS_CLI) + " serve --port 0 " + args + " > /dev/null 2>&1").c_str());
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  };
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of("--data " + temp_dir("serve-nodb") + " --db postgresql://likeness@127.0.0.1:1/none"), 7);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15)) << "no hang";
  EXPECT_EQ(status_of("--db postgresql://x@127.0.0.1:1/y --workers 2"), 2);
}
