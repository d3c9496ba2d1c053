// The service end to end: `likeness serve` started by the test on a free
// loopback port with its own data folder, driven over HTTP as a script or
// the page would, including every error path, a cancel, a forget while a
// job runs, and kill -9 of the server mid-job.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "likeness/c2pa.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "service_client.hpp"
#include "testing.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace likeness::testing;

namespace {

// A request written by hand: headers (and a body, if any) on a socket,
// the whole response back. For bodies the server refuses unread.
std::string raw_request(int port, const std::string& text) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  (void)!write(fd, text.data(), text.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  close(fd);
  return out;
}

// Every path under `dir` whose name or content mentions `needle`.
std::vector<std::string> mentions(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().string().find(needle) != std::string::npos) {
      hits.push_back(e.path().string());
      continue;
    }
    if (!e.is_regular_file() || e.path().extension() == ".db" || e.path().extension() == ".db-wal") continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    if (text.find(needle) != std::string::npos) hits.push_back(e.path().string());
  }
  return hits;
}

}  // namespace

TEST(Service, AuthenticationAndTenantIsolation) {
  const std::string data = temp_dir("svc-auth");
  Server server(data);
  httplib::Client anon("127.0.0.1", server.port());
  auto r = anon.Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  // Everything else needs a user: 401 with a stable code.
  r = anon.Get("/api/subjects");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "unauthenticated");
  // The page's headers: a CSP without inline script, no framing.
  r = anon.Get("/api/health");
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");

  Session ann(server.port());
  ann.sign_up("ann");
  // A change without the session's CSRF token: 403 csrf, nothing made.
  const std::string csrf = ann.csrf;
  ann.csrf = "";
  r = ann.post("/api/subjects", {{"name", "x"}});
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "csrf");
  ann.csrf = (csrf[0] == '0' ? "1" : "0") + csrf.substr(1);  // one digit changed (a token may start with 0)
  EXPECT_EQ(ann.post("/api/subjects", {{"name", "x"}})->status, 403);
  ann.csrf = csrf;
  EXPECT_EQ(json::parse(ann.get("/api/subjects")->body)["subjects"].size(), 0u);
  r = ann.post("/api/subjects", {{"name", "Ann"}});
  ASSERT_EQ(r->status, 201);
  const std::string ann_subject = json::parse(r->body)["id"];
  // The name is taken: 409; a wrong password: 401.
  r = anon.Post("/api/users", json{{"name", "ann"}, {"password", "another one"}}.dump(), "application/json");
  EXPECT_EQ(r->status, 409);
  r = anon.Post("/api/session", json{{"name", "ann"}, {"password", "wrong password"}}.dump(), "application/json");
  EXPECT_EQ(r->status, 401);
  r = anon.Post("/api/session", json{{"name", "ann"}, {"password", "correct horse"}}.dump(), "application/json");
  EXPECT_EQ(r->status, 200);

  // A bearer token works without a CSRF token.
  r = ann.post("/api/tokens", {{"label", "script"}});
  ASSERT_EQ(r->status, 201);
  Session script(server.port());
  script.bearer = json::parse(r->body)["token"];
  EXPECT_EQ(script.get("/api/subjects/" + ann_subject)->status, 200);
  script.bearer = "lk_not_a_token";
  EXPECT_EQ(script.get("/api/subjects/" + ann_subject)->status, 401);

  // Another user sees none of Ann's: her ids answer 404, as unknown ones do.
  Session bob(server.port());
  bob.sign_up("bob");
  for (const std::string& path : {"/api/subjects/" + ann_subject, "/api/subjects/" + ann_subject + "/consent",
                                  "/api/subjects/" + ann_subject + "/photos", std::string("/api/subjects/s_nothing")}) {
    r = bob.get(path);
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "not_found");
  }
  EXPECT_EQ(bob.del("/api/subjects/" + ann_subject)->status, 404);
  EXPECT_EQ(ann.get("/api/subjects/" + ann_subject)->status, 200);  // still there
  EXPECT_EQ(json::parse(bob.get("/api/subjects")->body)["subjects"].size(), 0u);

  // Signing out ends the session.
  EXPECT_EQ(ann.del("/api/session")->status, 204);
  EXPECT_EQ(ann.get("/api/subjects")->status, 401);

  // The OpenAPI document: job parameters from the stages' declarations.
  r = anon.Get("/api/openapi.json");
  ASSERT_EQ(r->status, 200);
  const json doc = json::parse(r->body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  const json& params = doc["components"]["schemas"]["ShootSpec"]["properties"]["params"]["properties"];
  EXPECT_TRUE(params.contains("backdrop"));
  EXPECT_TRUE(params["frame"]["properties"].contains("width"));
  EXPECT_TRUE(doc["paths"].contains("/api/jobs/{id}/events"));
}

TEST(Service, ConsentFirstThenPhotosWithTheirVerdictsAndTheErrorPaths) {
  const std::string data = temp_dir("svc-photos");
  Server server(data, {"--max-upload-mb", "8"});
  Session s(server.port());
  s.sign_up("carol");
  auto r = s.post("/api/subjects", {{"name", "Person 04"}});
  const std::string id = json::parse(r->body)["id"];
  const std::string photo = read_bytes(people("person04_1.jpg"));
  // No consent yet: nothing is processed or kept.
  r = s.upload("/api/subjects/" + id + "/photos", "photos", {{"person04_1.jpg", photo}});
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "no_consent");
  EXPECT_EQ(json::parse(s.get("/api/subjects/" + id)->body)["photos"], 0);
  EXPECT_EQ(s.get("/api/subjects/" + id + "/consent")->status, 404);
  // Consent with a bad field: 400 naming it.
  r = s.post("/api/subjects/" + id + "/consent", {{"given_by", "carol"}, {"uses", {"resale"}}});
  EXPECT_EQ(r->status, 400);
  r = s.post("/api/subjects/" + id + "/consent",
             {{"given_by", "carol"}, {"uses", {"personal", "commercial"}}, {"retention_days", 30}});
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_TRUE(json::parse(r->body)["valid"].get<bool>());

  // A file that is not an image, among good ones: 422 naming it, nothing kept.
  r = s.upload("/api/subjects/" + id + "/photos", "photos",
               {{"person04_1.jpg", photo}, {"notes.jpg", "this is not a JPEG at all"}});
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "bad_input");
  EXPECT_EQ(json::parse(r->body)["error"]["file"], "notes.jpg");
  EXPECT_EQ(json::parse(s.get("/api/subjects/" + id)->body)["photos"], 0);
  // Over the limits: 413, refused from the declared length before a byte
  // of the body is read (the photos' limit here is 8 MB; JSON's 1 MB).
  for (const auto& [path, type, length] :
       {std::tuple<std::string, std::string, size_t>{"/api/subjects/" + id + "/photos",
                                                     "multipart/form-data; boundary=x", 9u << 20},
        {"/api/plan", "application/json", 1100000}}) {
    const std::string reply = raw_request(
        server.port(), "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + s.cookie +
                           "\r\nX-CSRF-Token: " + s.csrf + "\r\nContent-Type: " + type +
                           "\r\nContent-Length: " + std::to_string(length) + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
    EXPECT_NE(reply.find("\"too_large\""), std::string::npos) << reply;
  }

  // Three photos and a photo of someone else: verdicts and advice per photo.
  r = s.upload("/api/subjects/" + id + "/photos", "photos",
               {{"person04_1.jpg", photo},
                {"person04_2.jpg", read_bytes(people("person04_2.jpg"))},
                {"person04_3.jpg", read_bytes(people("person04_3.jpg"))},
                {"someone.jpg", read_bytes(people("person09_1.jpg"))}});
  ASSERT_EQ(r->status, 201) << r->body;
  const json report = json::parse(r->body);
  ASSERT_EQ(report["photos"].size(), 4u);
  int good = 0;
  for (const auto& p : report["photos"]) {
    EXPECT_FALSE(p["advice"].get<std::string>().empty());
    if (p["name"] == "someone.jpg")
      EXPECT_EQ(p["verdict"], "reject") << p.dump();
    else
      good += p["verdict"] != "reject";
    EXPECT_GT(p["width"].get<int>(), 100);
  }
  EXPECT_EQ(good, 3);
  EXPECT_EQ(report["set"]["usable"], 3);
  EXPECT_TRUE(report["set"]["baseline"].is_object());
  // A thumbnail decodes; a photo can be deleted.
  r = s.get(report["photos"][0]["thumbnail"]);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_LE(likeness::decode_image_bytes(r->body, "thumb").bgr.cols, 320);
  std::string someone;
  for (const auto& p : report["photos"])
    if (p["name"] == "someone.jpg") someone = p["id"];
  EXPECT_EQ(s.del("/api/photos/" + someone)->status, 204);
  EXPECT_EQ(json::parse(s.get("/api/subjects/" + id + "/photos")->body)["photos"].size(), 3u);

  // The plan preview: what will be done, what will not and why.
  r = s.post("/api/plan", {{"prompt", "navy backdrop, wearing a hat, soft light"}, {"purpose", "corporate"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json plan = json::parse(r->body);
  EXPECT_FALSE(plan["summary"].empty());
  ASSERT_FALSE(plan["refused"].empty());
  EXPECT_FALSE(plan["refused"][0]["why"].get<std::string>().empty());
  EXPECT_EQ(s.post("/api/plan", {{"prompt", 3}})->status, 400);

  // A job with a bad parameter or a file parameter: 400 naming it.
  r = s.post("/api/jobs", {{"subject", id}, {"params", {{"grade", {{"strength", 7}}}}}});
  EXPECT_EQ(r->status, 400) << r->body;
  r = s.post("/api/jobs", {{"subject", id}, {"count", 0}});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "count");

  // Withdrawn consent: jobs refused.
  EXPECT_EQ(s.del("/api/subjects/" + id + "/consent")->status, 200);
  r = s.post("/api/jobs", shoot_body(id));
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "no_consent");
}

TEST(Service, AShootFromUploadToSignedDownloadThenDeleteEverything) {
  const std::string data = temp_dir("svc-flow");
  Server server(data);
  Session s(server.port());
  s.sign_up("dana");
  const std::string id = s.subject_with_photos("person04", 3);

  // The same Idempotency-Key: the same job; with another body: 409.
  auto r = s.post("/api/jobs", shoot_body(id, 2), {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string job = json::parse(r->body)["id"];
  r = s.post("/api/jobs", shoot_body(id, 2), {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["id"], job);
  r = s.post("/api/jobs", shoot_body(id, 3), {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "conflict");

  // The event stream: progress events with stages, then the end.
  std::vector<json> events;
  std::string buffer, last_event;
  httplib::Client sse("127.0.0.1", server.port());
  sse.set_read_timeout(300, 0);
  auto stream = sse.Get(("/api/jobs/" + job + "/events").c_str(), s.headers(false), [&](const char* data, size_t n) {
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string block = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      std::string event, payload;
      std::istringstream lines(block);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("event: ", 0) == 0) event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) payload = line.substr(6);
      }
      if (event.empty()) continue;
      last_event = event;
      events.push_back({{"event", event}, {"data", json::parse(payload)}});
    }
    return true;
  });
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(last_event, "end");
  std::set<std::string> stages;
  double fraction = 0;
  for (const auto& e : events)
    if (e["event"] == "progress") {
      stages.insert(e["data"].value("stage", ""));
      EXPECT_GE(e["data"]["fraction"].get<double>() + 1e-9, fraction) << "progress went back";
      fraction = e["data"]["fraction"];
    }
  EXPECT_TRUE(stages.count("check") && stages.count("segment") && stages.count("backdrop"))
      << json(std::vector<std::string>(stages.begin(), stages.end())).dump();
  const json done = events.back()["data"];
  ASSERT_EQ(done["state"], "done") << done.dump();
  ASSERT_EQ(done["outputs"].size(), 2u);
  EXPECT_EQ(done["runs"], 1);

  const json first = done["outputs"][0];
  EXPECT_EQ(first["rank"], 1);
  EXPECT_TRUE(first["likeness"]["passed"].get<bool>());
  EXPECT_FALSE(first["summary"].get<std::string>().empty());
  // The portrait as made: its manifest verifies (through the API too).
  r = s.get(first["image"]);
  ASSERT_EQ(r->status, 200);
  const std::string portrait = r->body;
  // Signed by the server's installation (its own CA, in its data folder).
  const std::string ca = read_bytes(data + "/keys/ca.pem");
  EXPECT_EQ(likeness::verify_c2pa(portrait, ca).state, likeness::Verification::valid);
  r = s.upload("/api/verify", "file", {{"portrait.jpg", portrait}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["state"], "valid");
  EXPECT_EQ(json::parse(r->body)["usage"]["model_release_status"].get<std::string>().empty(), false);
  r = s.upload("/api/verify", "file", {{"photo.jpg", read_bytes(people("person04_1.jpg"))}});
  EXPECT_EQ(json::parse(r->body)["state"], "no manifest");
  // Converted: PNG at a long edge of 300, signed again, verifies.
  r = s.get(first["image"].get<std::string>() + "?format=png&size=300&download=1");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  EXPECT_NE(r->get_header_value("Content-Disposition").find("portrait_01.png"), std::string::npos);
  const auto png = likeness::decode_image_bytes(r->body, "png");
  EXPECT_EQ(std::max(png.bgr.cols, png.bgr.rows), 300);
  const auto v = likeness::verify_c2pa(r->body, ca);
  EXPECT_EQ(v.state, likeness::Verification::valid);
  EXPECT_NE(v.manifest.dump().find("c2pa.resized"), std::string::npos);
  EXPECT_EQ(s.get(first["image"].get<std::string>() + "?format=gif")->status, 400);
  // The edit map, the before view and the sidecar.
  r = s.get(first["edit_map"]);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  r = s.get(first["before"]);
  ASSERT_EQ(r->status, 200);
  const auto before = likeness::decode_image_bytes(r->body, "before");
  EXPECT_EQ(before.bgr.size(), likeness::decode_image_bytes(portrait, "p").bgr.size());
  r = s.get(first["sidecar"]);
  EXPECT_EQ(json::parse(r->body)["rank"], 1);
  EXPECT_EQ(s.get(done["contact_sheet"])->status, 200);
  // Nothing the API gives out names a local path.
  EXPECT_EQ(s.get("/api/jobs/" + job)->body.find(data), std::string::npos);
  EXPECT_EQ(json::parse(s.get("/api/jobs?subject=" + id)->body)["jobs"].size(), 1u);

  // Rank headshots from anywhere: the person's own photo first, someone else "not you".
  r = s.upload("/api/subjects/" + id + "/rank", "candidates",
               {{"stranger.jpg", read_bytes(people("person09_2.jpg"))},
                {"mine.jpg", read_bytes(people("person04_4.jpg"))},
                {"portrait.jpg", portrait}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json ranked = json::parse(r->body)["candidates"];
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_NE(ranked[0]["name"], "stranger.jpg");
  EXPECT_EQ(ranked[2]["name"], "stranger.jpg");
  EXPECT_EQ(ranked[2]["verdict"], "not you");
  EXPECT_EQ(ranked[0]["thumbnail"].get<std::string>().rfind("data:image/jpeg;base64,", 0), 0u);

  // Delete everything about the person: every id answers 404 and nothing
  // in the data folder names them or holds their files.
  r = s.del("/api/subjects/" + id);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(s.get("/api/subjects/" + id)->status, 404);
  EXPECT_EQ(s.get("/api/jobs/" + job)->status, 404);
  EXPECT_EQ(s.get(first["image"])->status, 404);
  EXPECT_TRUE(mentions(data, id).empty()) << json(mentions(data, id)).dump();
  EXPECT_FALSE(fs::exists(fs::path(data) / "outputs" / job));
  const std::string sha = likeness::sha256_hex(read_bytes(people("person04_1.jpg")));
  EXPECT_TRUE(mentions(data, sha).empty()) << json(mentions(data, sha)).dump();
}

TEST(Service, AFullQueueAnswers429AndCancelStopsWithinAStageLeavingNothing) {
  const std::string data = temp_dir("svc-queue");
  Server server(data, {"--workers", "1", "--queue", "1"});
  Session s(server.port());
  s.sign_up("erin");
  const std::string id = s.subject_with_photos("person04", 2);
  auto r = s.post("/api/jobs", shoot_body(id, 6));
  ASSERT_EQ(r->status, 202);
  const std::string running = json::parse(r->body)["id"];
  s.wait(running, [](const json& j) { return j["state"] == "running"; });
  r = s.post("/api/jobs", shoot_body(id, 1));
  ASSERT_EQ(r->status, 202);
  const std::string queued = json::parse(r->body)["id"];
  r = s.post("/api/jobs", shoot_body(id, 2));
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "queue_full");
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());

  // Cancel the queued one: at once. Cancel the running one mid-render:
  // it stops within a stage and leaves no output.
  r = s.post("/api/jobs/" + queued + "/cancel", json::object());
  EXPECT_EQ(json::parse(r->body)["state"], "cancelled");
  s.wait(running, [](const json& j) { return j["progress"].value("fraction", 0.0) > 0.15 || final_state(j); });
  const auto t0 = std::chrono::steady_clock::now();
  s.post("/api/jobs/" + running + "/cancel", json::object());
  const json j = s.wait(running, final_state, 60);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(j["state"], "cancelled") << j.dump();
  EXPECT_EQ(j["error"]["code"], "cancelled");
  EXPECT_LT(waited, 8.0) << "the longest stage on this machine takes about 2 s";
  EXPECT_TRUE(j["outputs"].empty());
  EXPECT_FALSE(fs::exists(fs::path(data) / "outputs" / running));
  for (const auto& e : fs::recursive_directory_iterator(data))
    EXPECT_EQ(e.path().string().find(running), std::string::npos) << e.path();
}

TEST(Service, DeletingAPersonWhileTheirJobRunsLeavesNothingOfThem) {
  const std::string data = temp_dir("svc-forget");
  Server server(data);
  Session s(server.port());
  s.sign_up("fay");
  const std::string id = s.subject_with_photos("person05", 3);
  auto r = s.post("/api/jobs", shoot_body(id, 6));
  ASSERT_EQ(r->status, 202);
  const std::string job = json::parse(r->body)["id"];
  s.wait(job, [](const json& j) { return j["progress"].value("fraction", 0.0) > 0.2 || final_state(j); });
  ASSERT_EQ(s.job(job)["state"], "running") << "the job must still run when its person is deleted";
  r = s.del("/api/subjects/" + id);
  ASSERT_EQ(r->status, 200) << r->body;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a late write would show by now
  EXPECT_EQ(s.get("/api/jobs/" + job)->status, 404);
  EXPECT_TRUE(mentions(data, id).empty()) << json(mentions(data, id)).dump();
  EXPECT_FALSE(fs::exists(fs::path(data) / "outputs" / job));
  EXPECT_FALSE(fs::exists(fs::path(data) / "subjects" / id));
}

TEST(Service, TwoPeoplesShootsAtOnceKeepTheirDataApart) {
  const std::string data = temp_dir("svc-two");
  Server server(data, {"--workers", "2", "--threads-per-job", "1"});
  Session a(server.port()), b(server.port());
  a.sign_up("gus");
  b.sign_up("hal");
  const std::string pa = a.subject_with_photos("person10", 3);
  const std::string pb = b.subject_with_photos("person12", 2);
  const std::string ja = json::parse(a.post("/api/jobs", shoot_body(pa, 1))->body)["id"];
  const std::string jb = json::parse(b.post("/api/jobs", shoot_body(pb, 1))->body)["id"];
  // Both run at once (two workers).
  bool both = false;
  for (int i = 0; i < 600 && !both; ++i) {
    both = a.job(ja)["state"] == "running" && b.job(jb)["state"] == "running";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(both);
  const json da = a.wait(ja, final_state), db = b.wait(jb, final_state);
  ASSERT_EQ(da["state"], "done") << da.dump();
  ASSERT_EQ(db["state"], "done") << db.dump();
  // Each report's references are the person's own photos only, and each
  // analysis folder holds only its own photos' analyses.
  auto shas = [](const std::string& who, int n) {
    std::set<std::string> s;
    for (int i = 1; i <= n; ++i)
      s.insert(likeness::sha256_hex(read_bytes(people(who + "_" + std::to_string(i) + ".jpg"))));
    return s;
  };
  const auto own_a = shas("person10", 3), own_b = shas("person12", 2);
  for (const auto& [subject, own, other] : {std::tuple{pa, own_a, own_b}, std::tuple{pb, own_b, own_a}}) {
    const fs::path dir = fs::path(data) / "subjects" / subject / "analysis";
    ASSERT_TRUE(fs::is_directory(dir));
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      const json j = json::parse(read_bytes(e.path().string()));
      EXPECT_TRUE(own.count(j.value("sha256", ""))) << subject << " holds another's analysis " << e.path();
      EXPECT_FALSE(other.count(j.value("sha256", "")));
      ++files;
    }
    EXPECT_EQ(files, int(own.size()));
  }
  // Each portrait still looks like its own person.
  EXPECT_TRUE(da["outputs"][0]["likeness"]["passed"].get<bool>());
  EXPECT_TRUE(db["outputs"][0]["likeness"]["passed"].get<bool>());
  // And neither user can read the other's.
  EXPECT_EQ(a.get("/api/jobs/" + jb)->status, 404);
  EXPECT_EQ(b.get(da["outputs"][0]["image"])->status, 404);
}

TEST(Service, AJobRunningWhenTheServerIsKilledRunsAgainOnceAfterRestart) {
  const std::string data = temp_dir("svc-kill");
  std::string job, id, finished;
  {
    Server server(data, {"--workers", "1"});
    Session s(server.port());
    s.sign_up("ivy");
    id = s.subject_with_photos("person08", 2);
    // A job finished before the kill: its outputs must survive it.
    auto r = s.post("/api/jobs", shoot_body(id, 1));
    finished = json::parse(r->body)["id"];
    ASSERT_EQ(s.wait(finished, final_state)["state"], "done");
    r = s.post("/api/jobs", shoot_body(id, 2));
    job = json::parse(r->body)["id"];
    s.wait(job, [](const json& j) { return j["progress"].value("fraction", 0.0) > 0.3 || final_state(j); });
    ASSERT_EQ(s.job(job)["state"], "running");
    server.stop(SIGKILL);
  }
  Server again(data, {"--workers", "1"});
  Session s(again.port());
  auto r =
      s.http->Post("/api/session", json{{"name", "ivy"}, {"password", "correct horse"}}.dump(), "application/json");
  ASSERT_EQ(r->status, 200);
  s.cookie = r->get_header_value("Set-Cookie").substr(0, r->get_header_value("Set-Cookie").find(';'));
  s.csrf = json::parse(r->body)["csrf"];
  const json j = s.wait(job, final_state);
  EXPECT_EQ(j["state"], "done") << j.dump();
  EXPECT_EQ(j["runs"], 2);
  ASSERT_EQ(j["outputs"].size(), 2u);
  // Once: one set of files, each output downloadable.
  int portraits = 0;
  for (const auto& e : fs::directory_iterator(fs::path(data) / "outputs" / job))
    portraits += e.path().extension() == ".jpg" && e.path().string().find(".before") == std::string::npos &&
                 e.path().filename() != "contact_sheet.jpg";
  EXPECT_EQ(portraits, 2);
  for (const auto& o : j["outputs"]) EXPECT_EQ(s.get(o["image"])->status, 200);
  EXPECT_EQ(json::parse(s.get("/api/jobs?subject=" + id)->body)["jobs"].size(), 2u);
  // Nothing uploaded or finished is missing.
  EXPECT_EQ(json::parse(s.get("/api/subjects/" + id + "/photos")->body)["photos"].size(), 2u);
  const json earlier = s.job(finished);
  EXPECT_EQ(earlier["state"], "done");
  EXPECT_EQ(earlier["runs"], 1);
  ASSERT_EQ(earlier["outputs"].size(), 1u);
  EXPECT_EQ(s.get(earlier["outputs"][0]["image"])->status, 200);
  // Both databases are whole.
  for (const char* db : {"service.db", "studio.db"}) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open_v2((fs::path(data) / db).c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "ok") << db;
    sqlite3_finalize(q);
    sqlite3_close(h);
  }
}
