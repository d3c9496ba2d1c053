// `likeness serve`: the routes of docs/api.md on cpp-httplib, the page's
// files with security headers, authentication (session cookie + CSRF
// token, or bearer token), and the edges' error mapping.
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <thread>

#include "job_runner.hpp"
#include "likeness/badge_sheet.hpp"
#include "likeness/c2pa.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/image_io.hpp"
#include "likeness/pg_store.hpp"
#include "likeness/purpose.hpp"
#include "likeness/rank.hpp"
#include "likeness/service.hpp"
#include "likeness/service_store.hpp"
#include "likeness/store.hpp"
#include "likeness/studio.hpp"
#include "likeness/xmp.hpp"
#include "pg_service.hpp"
#include "service_error.hpp"

#ifndef LIKENESS_WEB_DIR
#define LIKENESS_WEB_DIR "web"
#endif

namespace likeness {

namespace fs = std::filesystem;
using httplib::Request;
using httplib::Response;

namespace {

// This process's own folder for files it reads only for a moment (a
// subject's photos copied out of the database for the intake, candidates
// being ranked): <data>/tmp/serve-<pid>, 0700. Folders that processes no
// longer running left behind (a crash, kill -9) are removed at start.
std::string scratch_dir() {
  static const std::string dir = [] {
    const fs::path tmp = fs::path(data_dir()) / "tmp";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tmp, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("serve-", 0) != 0) continue;
      const int pid = std::atoi(name.c_str() + 6);
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
    }
    const fs::path mine = tmp / ("serve-" + std::to_string(::getpid()));
    fs::remove_all(mine, ec);  // a previous process of the same pid
    fs::create_directories(mine, ec);
    ::chmod(mine.c_str(), 0700);
    return mine.string();
  }();
  return dir;
}

constexpr size_t kMaxJsonBody = 1u << 20;
constexpr const char* kCookie = "likeness_session";

// The security headers of every response: no inline script or style, no
// framing, no sniffing, nothing sent to other sites.
void security_headers(Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
                 "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cross-Origin-Opener-Policy", "same-origin");
  res.set_header("Cross-Origin-Resource-Policy", "same-origin");
  res.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
}

void send_json(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(Response& res, int status, const std::string& code, const std::string& message,
                const json& extra = json::object()) {
  json e = {{"code", code}, {"message", message}};
  e.update(extra);
  send_json(res, status, {{"error", e}});
}

int status_of(ErrorCode c) {
  switch (c) {
    case ErrorCode::usage:
      return 400;
    case ErrorCode::bad_input:
    case ErrorCode::invalid:
      return 422;
    case ErrorCode::no_consent:
      return 403;
    case ErrorCode::cancelled:
      return 409;
    case ErrorCode::unavailable:
      return 503;
    case ErrorCode::internal:
      break;
  }
  return 500;
}

std::string status_code_name(int status) {
  switch (status) {
    case 400:
      return "usage";
    case 401:
      return "unauthenticated";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "too_large";
    case 415:
      return "unsupported_media_type";
    case 429:
      return "queue_full";
  }
  return status >= 500 ? "internal" : "usage";
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string cookie_value(const Request& req, const std::string& name) {
  const std::string header = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    while (!part.empty() && part[0] == ' ') part.erase(0, 1);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

json parse_body(const Request& req) {
  if (req.body.size() > kMaxJsonBody) throw ServiceError(413, "too_large", "the request body is over 1 MB");
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw ServiceError(400, "usage", "the body is not a JSON object");
  return j;
}

std::string text_field(const json& j, const char* key, size_t max = 2000) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) throw ServiceError(400, "usage", std::string("'") + key + "' must be text");
  std::string s = j[key].get<std::string>();
  if (s.size() > max) throw ServiceError(400, "usage", std::string("'") + key + "' is too long");
  return s;
}

std::string mime_of(const std::string& name) {
  const std::string ext = lower_extension(name);
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

// A part of a multipart upload, read as it arrives.
struct Part {
  std::string field, name, bytes;
};

}  // namespace

class Api {
 public:
  Api(ServiceStore& db, ConsentStore& consent, JobControl& jobs, const ServeOptions& opt)
      : db_(db), consent_(consent), jobs_(jobs), opt_(opt) {}

  void install(httplib::Server& svr);

 private:
  struct Auth {
    std::string user;
  };
  using Handler = std::function<void(const Request&, Response&, const Auth&)>;
  using UploadHandler = std::function<void(const Request&, Response&, const Auth&, const std::vector<Part>&)>;

  Auth authenticate(const Request& req) {
    const std::string authz = req.get_header_value("Authorization");
    if (authz.rfind("Bearer ", 0) == 0) {
      if (auto u = db_.token_user(authz.substr(7))) return {*u};
      throw ServiceError(401, "unauthenticated", "the bearer token is not valid");
    }
    const std::string cookie = cookie_value(req, kCookie);
    if (cookie.empty()) throw ServiceError(401, "unauthenticated", "sign in first");
    const auto s = db_.session(cookie);
    if (!s) throw ServiceError(401, "unauthenticated", "the session has ended: sign in again");
    const bool changes = req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS";
    if (changes && !same_secret(req.get_header_value("X-CSRF-Token"), s->csrf))
      throw ServiceError(403, "csrf", "the request lacks this session's X-CSRF-Token");
    return {s->user};
  }

  // Runs a handler with the edges' error mapping.
  template <class F>
  void guarded(Response& res, F&& body) {
    try {
      body();
    } catch (const ServiceError& e) {
      send_error(res, e.status, e.code, e.what());
      if (e.status == 429) res.set_header("Retry-After", "30");
    } catch (const Error& e) {
      json extra = json::object();
      if (!e.info().file.empty()) extra["file"] = fs::path(e.info().file).filename().string();
      if (!e.info().stage.empty()) extra["stage"] = e.info().stage;
      if (!e.info().param.empty()) extra["param"] = e.info().param;
      // Messages name files by their base name: the data folder is not the client's.
      std::string msg = e.what();
      const std::string data = data_dir();
      for (size_t p; (p = msg.find(data)) != std::string::npos;) msg.replace(p, data.size(), "");
      send_error(res, status_of(e.code()), code_name(e.code()), msg, extra);
      if (e.code() == ErrorCode::unavailable) res.set_header("Retry-After", "5");
    } catch (const json::exception& e) {
      send_error(res, 400, "usage", std::string("malformed JSON: ") + e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, "internal", e.what());
    }
  }

  void get(httplib::Server& svr, const std::string& pattern, Handler h, bool auth = true) {
    svr.Get(pattern, [this, h, auth](const Request& req, Response& res) {
      guarded(res, [&] { h(req, res, auth ? authenticate(req) : Auth{}); });
    });
  }
  void post(httplib::Server& svr, const std::string& pattern, Handler h, bool auth = true) {
    svr.Post(pattern, [this, h, auth](const Request& req, Response& res) {
      guarded(res, [&] { h(req, res, auth ? authenticate(req) : Auth{}); });
    });
  }
  void del(httplib::Server& svr, const std::string& pattern, Handler h) {
    svr.Delete(pattern,
               [this, h](const Request& req, Response& res) { guarded(res, [&] { h(req, res, authenticate(req)); }); });
  }
  // A multipart upload: authenticated before a byte of the body is read,
  // parts counted as they arrive (413 past the limits).
  void upload(httplib::Server& svr, const std::string& pattern, const std::string& field, size_t max_parts,
              UploadHandler h) {
    svr.Post(pattern,
             [this, h, field, max_parts](const Request& req, Response& res, const httplib::ContentReader& reader) {
               guarded(res, [&] {
                 const Auth auth = authenticate(req);
                 if (!req.is_multipart_form_data())
                   throw ServiceError(415, "unsupported_media_type", "send the files as multipart/form-data");
                 std::vector<Part> parts;
                 size_t total = 0;
                 std::string over;
                 const bool ok = reader(
                     [&](const httplib::MultipartFormData& f) {
                       if (f.name != field) {
                         over = "unexpected part '" + f.name + "' (send the files as '" + field + "')";
                         return false;
                       }
                       if (parts.size() >= max_parts) {
                         over = "at most " + std::to_string(max_parts) + " files per request";
                         return false;
                       }
                       parts.push_back({f.name, fs::path(f.filename).filename().string(), ""});
                       if (parts.back().name.empty()) parts.back().name = "photo" + std::to_string(parts.size());
                       return true;
                     },
                     [&](const char* data, size_t n) {
                       total += n;
                       if (parts.empty()) return false;
                       if (parts.back().bytes.size() + n > opt_.max_photo) {
                         over = parts.back().name + " is over " + std::to_string(opt_.max_photo >> 20) + " MB";
                         return false;
                       }
                       if (total > opt_.max_upload) {
                         over = "the upload is over " + std::to_string(opt_.max_upload >> 20) + " MB";
                         return false;
                       }
                       parts.back().bytes.append(data, n);
                       return true;
                     });
                 if (!over.empty()) {
                   const bool size = over.find(" MB") != std::string::npos;
                   throw ServiceError(size ? 413 : 400, size ? "too_large" : "usage", over);
                 }
                 if (!ok) throw ServiceError(400, "usage", "the upload ended early");
                 if (parts.empty()) throw ServiceError(400, "usage", "no files in part '" + field + "'");
                 h(req, res, auth, parts);
               });
             });
  }

  SubjectRow own_subject(const Auth& a, const std::string& id) {
    auto s = db_.subject(a.user, id);
    if (!s) throw ServiceError(404, "not_found", "no such person");
    return *s;
  }

  json subject_json(const SubjectRow& s) {
    const ConsentRecord c = consent_.latest(s.id);
    return {{"id", s.id},
            {"name", s.name},
            {"created_at", s.created_at},
            {"consent", c.id.empty() ? json(nullptr) : consent_json(c)},
            {"photos", db_.photos(s.id).size()}};
  }

  static json consent_json(const ConsentRecord& c) {
    json j = c.to_json();
    j["text_version"] = c.text_version;
    j["text_sha256"] = c.text_sha256;
    return j;
  }

  // The intake report of a subject's photos: each photo's verdict and
  // advice, and the set's coverage hints and baseline. The analyses are
  // kept where the consent store keeps them (the subject's folder, or the
  // shared database), covered by the consent.
  json photos_report(const std::string& subject) {
    const LocalPhotos local = db_.local_photos(subject);
    const std::vector<PhotoRow>& rows = local.rows();
    const std::vector<std::string>& files = local.files();
    json photos = json::array();
    json set_json = {{"usable", 0},
                     {"coverage", json::object()},
                     {"hints", json::array()},
                     {"advice", json::array()},
                     {"baseline", nullptr}};
    if (rows.empty()) return {{"photos", photos}, {"set", set_json}};
    JobContext ctx;
    ctx.threads = 2;
    ctx.consent = &consent_;
    const SetCheck set = check_references(files, ctx, subject, "likeness");
    for (size_t i = 0; i < rows.size(); ++i) {
      const PhotoRow& r = rows[i];
      json p = {{"id", r.id},
                {"name", r.name},
                {"width", r.width},
                {"height", r.height},
                {"thumbnail", "/api/photos/" + r.id + "/thumbnail"}};
      const auto it =
          std::find_if(set.photos.begin(), set.photos.end(), [&](const PhotoCheck& c) { return c.a.file == files[i]; });
      if (it != set.photos.end()) {
        p["verdict"] = it->verdict;
        p["flags"] = it->flags;
        p["advice"] = it->advice;
        p["rank"] = it->rank;
        if (const AnalysedFace* f = it->measured_face()) p["view"] = f->m.view();
      }
      photos.push_back(p);
    }
    const json check = set.to_json();
    set_json["usable"] = set.usable();
    set_json["coverage"] = check.value("coverage", json::object());
    set_json["hints"] = set.advice;
    set_json["advice"] = set.advice;
    set_json["baseline"] = set.usable() > 0 ? check["baseline"] : json(nullptr);
    return {{"photos", photos}, {"set", set_json}};
  }

  json job_json(const JobRow& j, bool with_outputs = true) {
    json out = {{"id", j.id},
                {"subject", j.subject},
                {"state", j.state},
                {"created_at", j.created_at},
                {"finished_at", j.finished_at.empty() ? json(nullptr) : json(j.finished_at)},
                {"progress", j.progress.is_null() ? json{{"fraction", 0}, {"stage", ""}, {"item", ""}} : j.progress},
                {"error", j.error},
                {"runs", j.runs},
                {"spec", j.spec},
                {"outputs", json::array()}};
    if (with_outputs && j.state == "done") {
      for (const OutputRow& o : db_.outputs(j.id)) {
        if (o.kind != "portrait") continue;
        json e = {{"id", o.id}, {"job", o.job}, {"rank", o.rank}, {"name", o.name}};
        e.update(o.meta);
        const std::string base = "/api/outputs/" + o.id;
        e["image"] = base;
        e["edit_map"] = base + "/edit-map";
        e["before"] = base + "/before";
        e["sidecar"] = base + "/sidecar";
        e["download"] = {{"jpeg", base + "?format=jpeg&download=1"}, {"png", base + "?format=png&download=1"}};
        out["outputs"].push_back(e);
      }
      out["contact_sheet"] = "/api/jobs/" + j.id + "/contact-sheet";
    }
    return out;
  }

  void send_file(Response& res, const OutputRow& o) { res.set_content(db_.output_bytes(o), mime_of(o.name)); }

  OutputRow sibling(const OutputRow& portrait, const std::string& kind) {
    for (const OutputRow& o : db_.outputs(portrait.job))
      if (o.rank == portrait.rank && o.kind == kind) return o;
    throw ServiceError(404, "not_found", "no " + kind + " for this portrait");
  }

  // A portrait converted (format, long edge) and signed again: the
  // portrait is the new manifest's parent, the conversion its action.
  std::string converted(const OutputRow& o, const std::string& bytes, const std::string& format, int size) {
    const DecodedImage d = decode_image_bytes(bytes, o.name);
    cv::Mat img = d.bgr;
    std::vector<C2paAction> actions;
    if (size > 0 && std::max(img.cols, img.rows) > size) {
      const double s = double(size) / std::max(img.cols, img.rows);
      cv::resize(img, img, cv::Size(std::max(1, int(img.cols * s + 0.5)), std::max(1, int(img.rows * s + 0.5))), 0, 0,
                 cv::INTER_AREA);
      actions.push_back({"c2pa.resized",
                         "reduced to " + std::to_string(img.cols) + "x" + std::to_string(img.rows),
                         {{"long_edge", size}},
                         ""});
    }
    const ImageFormat f = format == "png" ? ImageFormat::png : ImageFormat::jpeg;
    if ((f == ImageFormat::png) != (lower_extension(o.name) == "png"))
      actions.push_back({"c2pa.transcoded", "saved as " + format, {{"format", format}}, ""});
    if (actions.empty()) return bytes;
    const json usage = o.meta.value("usage", json::object());
    UsageRights rights;
    rights.uses = usage.value("permitted", std::vector<std::string>{"personal"});
    rights.consent_id = consent_.latest(o.subject).id;
    ManifestInput mi;
    mi.source_sha256 = sha256_hex(bytes);
    mi.source_format = mime_of(o.name);
    mi.title = fs::path(o.name).replace_extension(format == "png" ? ".png" : ".jpg").string();
    mi.consent_id = rights.consent_id;
    mi.uses = rights.uses;
    mi.model_release = rights.release_status();
    mi.actions = actions;
    return sign_c2pa(embed_usage_rights(encode_image(img, f, 92), rights), mi, Signer::installation());
  }

  json delete_subject(const std::string& id) {
    jobs_.stop_subject(id);
    json removed = consent_.forget(id);
    removed["service_files"] = db_.delete_subject(id);
    return removed;
  }

  // An event stream that cannot go on: one `error` event, then the end.
  static bool end_with_error(httplib::DataSink& sink, const std::string& why) {
    const std::string msg = "event: error\ndata: " + json{{"code", "internal"}, {"message", why}}.dump() + "\n\n";
    sink.write(msg.data(), msg.size());
    sink.done();
    return true;
  }

  ServiceStore& db_;
  ConsentStore& consent_;
  JobControl& jobs_;
  const ServeOptions& opt_;
};

void Api::install(httplib::Server& svr) {
  get(
      svr, "/api/health",
      [this](const Request&, Response& res, const Auth&) {
        send_json(
            res, 200,
            {{"status", "ok"}, {"version", LIKENESS_VERSION}, {"store", opt_.db.empty() ? "embedded" : "shared"}});
      },
      false);
  get(
      svr, "/api/openapi.json",
      [](const Request&, Response& res, const Auth&) { send_json(res, 200, openapi_document()); }, false);

  // Users and sign-in.
  post(
      svr, "/api/users",
      [this](const Request& req, Response& res, const Auth&) {
        const json b = parse_body(req);
        const std::string name = text_field(b, "name", 64), password = text_field(b, "password", 256);
        if (name.empty()) throw ServiceError(400, "usage", "a name is 1 to 64 characters");
        if (password.size() < 8) throw ServiceError(400, "usage", "a password has at least 8 characters");
        const UserRow u = db_.create_user(name, password);
        std::string csrf;
        const std::string secret = db_.create_session(u.id, &csrf);
        res.set_header("Set-Cookie", std::string(kCookie) + "=" + secret + "; HttpOnly; SameSite=Strict; Path=/");
        send_json(res, 201, {{"user", {{"id", u.id}, {"name", u.name}}}, {"csrf", csrf}});
      },
      false);
  post(
      svr, "/api/session",
      [this](const Request& req, Response& res, const Auth&) {
        const json b = parse_body(req);
        const auto u = db_.check_password(text_field(b, "name", 64), text_field(b, "password", 256));
        if (!u) throw ServiceError(401, "unauthenticated", "that name and password do not match");
        std::string csrf;
        const std::string secret = db_.create_session(u->id, &csrf);
        res.set_header("Set-Cookie", std::string(kCookie) + "=" + secret + "; HttpOnly; SameSite=Strict; Path=/");
        send_json(res, 200, {{"user", {{"id", u->id}, {"name", u->name}}}, {"csrf", csrf}});
      },
      false);
  get(
      svr, "/api/session",
      [this](const Request& req, Response& res, const Auth&) {
        const std::string cookie = cookie_value(req, kCookie);
        const auto s = cookie.empty() ? std::nullopt : db_.session(cookie);
        if (!s) throw ServiceError(401, "unauthenticated", "sign in first");
        const auto u = db_.user(s->user);
        send_json(res, 200, {{"user", {{"id", u->id}, {"name", u->name}}}, {"csrf", s->csrf}});
      },
      false);
  del(svr, "/api/session", [this](const Request& req, Response& res, const Auth&) {
    db_.end_session(cookie_value(req, kCookie));
    res.set_header("Set-Cookie", std::string(kCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    res.status = 204;
  });
  post(svr, "/api/tokens", [this](const Request& req, Response& res, const Auth& a) {
    const json b = parse_body(req);
    send_json(res, 201, {{"token", db_.create_token(a.user, text_field(b, "label", 200))}});
  });

  // Reference data.
  get(svr, "/api/purposes", [](const Request&, Response& res, const Auth&) {
    json list = json::array();
    for (const Purpose& p : purposes()) {
      std::string title = p.name;
      if (!title.empty()) title[0] = char(std::toupper(static_cast<unsigned char>(title[0])));
      list.push_back({{"name", p.name}, {"title", title}, {"description", p.summary}, {"why", p.why}, {"use", p.use}});
    }
    send_json(res, 200, {{"purposes", list}});
  });
  get(svr, "/api/consent-text", [](const Request&, Response& res, const Auth&) {
    send_json(res, 200,
              {{"version", kConsentTextVersion}, {"text", consent_text()}, {"sha256", sha256_hex(consent_text())}});
  });
  post(svr, "/api/plan", [](const Request& req, Response& res, const Auth&) {
    const json b = parse_body(req);
    std::string purpose = text_field(b, "purpose", 64);
    if (purpose.empty()) purpose = "corporate";
    const PromptFields fields{text_field(b, "attire"), text_field(b, "setting"), text_field(b, "lighting"),
                              text_field(b, "composition")};
    const PromptPlan plan = plan_prompt(text_field(b, "prompt"), purpose, fields);
    json out = plan_json(plan, purpose);
    out["summary"] = plan.applied;
    send_json(res, 200, out);
  });

  // Subjects and consent.
  post(svr, "/api/subjects", [this](const Request& req, Response& res, const Auth& a) {
    const json b = parse_body(req);
    const std::string name = text_field(b, "name", 100);
    if (name.empty()) throw ServiceError(400, "usage", "give the person a name (1 to 100 characters)");
    send_json(res, 201, subject_json(db_.create_subject(a.user, name)));
  });
  get(svr, "/api/subjects", [this](const Request&, Response& res, const Auth& a) {
    json list = json::array();
    for (const auto& s : db_.subjects(a.user)) list.push_back(subject_json(s));
    send_json(res, 200, {{"subjects", list}});
  });
  get(svr, R"(/api/subjects/([A-Za-z0-9_]+))", [this](const Request& req, Response& res, const Auth& a) {
    send_json(res, 200, subject_json(own_subject(a, req.matches[1])));
  });
  del(svr, R"(/api/subjects/([A-Za-z0-9_]+))", [this](const Request& req, Response& res, const Auth& a) {
    const SubjectRow s = own_subject(a, req.matches[1]);
    send_json(res, 200, {{"deleted", delete_subject(s.id)}});
  });
  post(svr, R"(/api/subjects/([A-Za-z0-9_]+)/consent)", [this](const Request& req, Response& res, const Auth& a) {
    const SubjectRow s = own_subject(a, req.matches[1]);
    const json b = parse_body(req);
    auto list = [&](const char* key, std::vector<std::string> dflt) {
      if (!b.contains(key)) return dflt;
      if (!b[key].is_array()) throw ServiceError(400, "usage", std::string("'") + key + "' is a list");
      std::vector<std::string> v;
      for (const auto& x : b[key]) {
        if (!x.is_string()) throw ServiceError(400, "usage", std::string("'") + key + "' is a list of text");
        v.push_back(x.get<std::string>());
      }
      return v;
    };
    int days = 30;
    if (b.contains("retention_days")) {
      if (!b["retention_days"].is_number_integer()) throw ServiceError(400, "usage", "'retention_days' is a number");
      days = b["retention_days"].get<int>();
    }
    const ConsentRecord r =
        consent_.grant(s.id, text_field(b, "given_by", 200), "", list("purposes", {"portraits", "likeness"}), days,
                       list("uses", {"personal"}));
    send_json(res, 201, consent_json(r));
  });
  get(svr, R"(/api/subjects/([A-Za-z0-9_]+)/consent)", [this](const Request& req, Response& res, const Auth& a) {
    const SubjectRow s = own_subject(a, req.matches[1]);
    const ConsentRecord r = consent_.latest(s.id);
    if (r.id.empty()) throw ServiceError(404, "not_found", "no consent recorded for this person");
    send_json(res, 200, consent_json(r));
  });
  del(svr, R"(/api/subjects/([A-Za-z0-9_]+)/consent)", [this](const Request& req, Response& res, const Auth& a) {
    const SubjectRow s = own_subject(a, req.matches[1]);
    jobs_.stop_subject(s.id);
    if (!consent_.withdraw(s.id)) throw ServiceError(404, "not_found", "no active consent to withdraw");
    send_json(res, 200, consent_json(consent_.latest(s.id)));
  });

  // Photos.
  upload(svr, R"(/api/subjects/([A-Za-z0-9_]+)/photos)", "photos", 20,
         [this](const Request& req, Response& res, const Auth& a, const std::vector<Part>& parts) {
           const SubjectRow s = own_subject(a, req.matches[1]);
           consent_.require(s.id, "likeness");  // nothing is processed or kept before consent
           if (db_.photos(s.id).size() + parts.size() > 20)
             throw ServiceError(400, "usage", "likeness takes 1 to 20 photos of one person");
           // Every file decodes before any is kept: a bad one and the request keeps nothing.
           std::vector<PhotoRow> rows;
           std::vector<const std::string*> bytes;
           for (const Part& p : parts) {
             DecodeLimits limits;
             limits.max_bytes = opt_.max_photo;
             limits.shrink_to = 64;  // the check reads the header and pixels; the size is what matters here
             const DecodedImage d = decode_image_bytes(p.bytes, p.name, limits);
             PhotoRow r;
             r.id = random_id("p_");
             r.subject = s.id;
             r.name = p.name;
             std::string ext = lower_extension(p.name);
             if (ext.empty() || ext.size() > 5) ext = d.format == "jpeg" ? "jpg" : d.format;
             r.file = r.id + "." + ext;  // the name to keep it under; the store says where
             r.sha256 = sha256_hex(p.bytes);
             const bool turned = d.orientation >= 5 && d.orientation <= 8;
             r.width = turned ? d.source_height : d.source_width;
             r.height = turned ? d.source_width : d.source_height;
             rows.push_back(r);
             bytes.push_back(&p.bytes);
           }
           db_.add_photos(std::move(rows), bytes);
           send_json(res, 201, photos_report(s.id));
         });
  get(svr, R"(/api/subjects/([A-Za-z0-9_]+)/photos)", [this](const Request& req, Response& res, const Auth& a) {
    const SubjectRow s = own_subject(a, req.matches[1]);
    if (db_.photos(s.id).empty()) return send_json(res, 200, photos_report(s.id));
    consent_.require(s.id, "likeness");
    send_json(res, 200, photos_report(s.id));
  });
  get(svr, R"(/api/photos/([A-Za-z0-9_]+)/thumbnail)", [this](const Request& req, Response& res, const Auth& a) {
    const auto p = db_.photo(a.user, req.matches[1]);
    if (!p) throw ServiceError(404, "not_found", "no such photo");
    DecodeLimits limits;
    limits.shrink_to = 640;
    const DecodedImage d = decode_image_bytes(db_.photo_bytes(*p), p->name, limits);
    res.set_content(encode_image(fit_into(d.bgr, cv::Size(320, 320)), ImageFormat::jpeg, 85), "image/jpeg");
  });
  del(svr, R"(/api/photos/([A-Za-z0-9_]+))", [this](const Request& req, Response& res, const Auth& a) {
    const auto p = db_.photo(a.user, req.matches[1]);
    if (!p) throw ServiceError(404, "not_found", "no such photo");
    db_.delete_photo(*p);
    res.status = 204;
  });

  // Jobs.
  post(svr, "/api/jobs", [this](const Request& req, Response& res, const Auth& a) {
    json b = parse_body(req);
    const std::string subject = text_field(b, "subject", 64);
    const SubjectRow s = own_subject(a, subject);
    ShootSpec spec = ShootSpec::from_json(b);
    spec.subject = s.id;
    consent_.require(s.id, "portraits");
    if (db_.photos(s.id).empty()) throw ServiceError(400, "usage", "upload the person's photos first");
    JobRow row;
    row.id = random_id("j_");
    row.user = a.user;
    row.subject = s.id;
    row.spec = spec.to_json();
    row.spec_sha = sha256_hex(row.spec.dump());
    row.idem_key = req.get_header_value("Idempotency-Key");
    if (row.idem_key.size() > 200) throw ServiceError(400, "usage", "the Idempotency-Key is over 200 characters");
    bool created = false;
    const JobRow j = jobs_.submit(row, &created);
    const auto stored = db_.job(a.user, j.id);  // as every later read will show it
    send_json(res, created ? 202 : 200, job_json(stored ? *stored : j));
  });
  get(svr, "/api/jobs", [this](const Request& req, Response& res, const Auth& a) {
    const std::string subject = req.get_param_value("subject");
    if (!subject.empty()) own_subject(a, subject);
    json list = json::array();
    for (const JobRow& j : db_.jobs(a.user, subject)) list.push_back(job_json(j, false));
    send_json(res, 200, {{"jobs", list}});
  });
  get(svr, R"(/api/jobs/([A-Za-z0-9_]+))", [this](const Request& req, Response& res, const Auth& a) {
    const auto j = db_.job(a.user, req.matches[1]);
    if (!j) throw ServiceError(404, "not_found", "no such job");
    send_json(res, 200, job_json(*j));
  });
  post(svr, R"(/api/jobs/([A-Za-z0-9_]+)/cancel)", [this](const Request& req, Response& res, const Auth& a) {
    const auto j = db_.job(a.user, req.matches[1]);
    if (!j) throw ServiceError(404, "not_found", "no such job");
    jobs_.cancel(a.user, j->id);
    send_json(res, 200, job_json(*db_.job(a.user, j->id)));
  });
  get(svr, R"(/api/jobs/([A-Za-z0-9_]+)/contact-sheet)", [this](const Request& req, Response& res, const Auth& a) {
    const auto j = db_.job(a.user, req.matches[1]);
    if (!j) throw ServiceError(404, "not_found", "no such job");
    for (const OutputRow& o : db_.outputs(j->id))
      if (o.kind == "sheet") return send_file(res, o);
    throw ServiceError(404, "not_found", "the job has no contact sheet (yet)");
  });
  get(svr, R"(/api/jobs/([A-Za-z0-9_]+)/events)", [this](const Request& req, Response& res, const Auth& a) {
    const auto j = db_.job(a.user, req.matches[1]);
    if (!j) throw ServiceError(404, "not_found", "no such job");
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    const std::string user = a.user, id = j->id;
    auto seen = std::make_shared<unsigned long long>(jobs_.changes());
    auto last = std::make_shared<std::string>();
    res.set_chunked_content_provider(
        "text/event-stream", [this, user, id, seen, last](size_t, httplib::DataSink& sink) {
          std::optional<JobRow> now;
          try {
            now = db_.job(user, id);
          } catch (const Error& e) {
            // The shared database away: the stream stays open and says
            // so; it goes on when the database is back.
            if (e.code() != ErrorCode::unavailable) return end_with_error(sink, e.what());
            const std::string wait = ": the database is unavailable; waiting for it\n\n";
            if (!sink.write(wait.data(), wait.size())) return false;
            *seen = jobs_.wait_change(*seen, 2000);
            return true;
          } catch (const std::exception& e) {
            return end_with_error(sink, e.what());  // never out of the provider: that would end the process
          }
          if (!now) {  // deleted with its person
            const std::string msg = "event: end\ndata: {\"state\":\"deleted\"}\n\n";
            sink.write(msg.data(), msg.size());
            sink.done();
            return true;
          }
          const bool final = now->state == "done" || now->state == "failed" || now->state == "cancelled";
          json p = now->progress.is_null() ? json::object() : now->progress;
          p["state"] = now->state;
          const std::string payload = p.dump();
          if (payload != *last) {
            const std::string msg = "event: progress\ndata: " + payload + "\n\n";
            if (!sink.write(msg.data(), msg.size())) return false;
            *last = payload;
          }
          if (final) {
            const std::string msg = "event: end\ndata: " + job_json(*now).dump() + "\n\n";
            sink.write(msg.data(), msg.size());
            sink.done();
            return true;
          }
          const unsigned long long before = *seen;
          *seen = jobs_.wait_change(before, 15000);
          if (*seen == before) {
            const std::string keep = ": still working\n\n";
            if (!sink.write(keep.data(), keep.size())) return false;
          }
          return true;
        });
  });

  // Outputs.
  get(svr, R"(/api/outputs/([A-Za-z0-9_]+))", [this](const Request& req, Response& res, const Auth& a) {
    const auto o = db_.output(a.user, req.matches[1]);
    if (!o) throw ServiceError(404, "not_found", "no such portrait");
    const std::string format = req.get_param_value("format");
    const std::string size_text = req.get_param_value("size");
    if (!format.empty() && format != "jpeg" && format != "png")
      throw ServiceError(400, "usage", "format is jpeg or png");
    int size = 0;
    if (!size_text.empty()) {
      try {
        size = std::stoi(size_text);
      } catch (const std::exception&) {
        size = -1;
      }
      if (size < 64 || size > 8192) throw ServiceError(400, "usage", "size is a long edge of 64 to 8192 pixels");
    }
    send_file(res, *o);
    std::string name = o->name;
    if (o->kind == "portrait" && (!format.empty() || size > 0)) {
      const std::string want = format.empty() ? (lower_extension(o->name) == "png" ? "png" : "jpeg") : format;
      res.set_content(converted(*o, res.body, want, size), want == "png" ? "image/png" : "image/jpeg");
      name = fs::path(o->name).replace_extension(want == "png" ? ".png" : ".jpg").string();
    }
    if (req.has_param("download")) res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
  });
  for (const auto& [path, kind] :
       {std::pair<std::string, std::string>{"edit-map", "edit_map"}, {"before", "before"}, {"sidecar", "sidecar"}}) {
    const std::string k = kind;
    get(svr, R"(/api/outputs/([A-Za-z0-9_]+)/)" + path, [this, k](const Request& req, Response& res, const Auth& a) {
      const auto o = db_.output(a.user, req.matches[1]);
      if (!o || o->kind != "portrait") throw ServiceError(404, "not_found", "no such portrait");
      send_file(res, sibling(*o, k));
    });
  }

  // Rank and verify: nothing of the uploaded files is kept.
  upload(svr, R"(/api/subjects/([A-Za-z0-9_]+)/rank)", "candidates", 120,
         [this](const Request& req, Response& res, const Auth& a, const std::vector<Part>& parts) {
           const SubjectRow s = own_subject(a, req.matches[1]);
           consent_.require(s.id, "likeness");
           const LocalPhotos local = db_.local_photos(s.id);
           const std::vector<std::string>& refs = local.files();
           if (refs.empty()) throw ServiceError(400, "usage", "upload the person's own photos first");
           const fs::path tmp = fs::path(scratch_dir()) / random_id("rank_");
           struct Cleanup {
             fs::path dir;
             ~Cleanup() {
               std::error_code ec;
               fs::remove_all(dir, ec);
             }
           } cleanup{tmp};
           std::vector<std::string> files;
           std::vector<std::string> names;
           for (size_t i = 0; i < parts.size(); ++i) {
             std::string ext = lower_extension(parts[i].name);
             if (ext.empty() || ext.size() > 5) ext = "img";
             const std::string f = (tmp / (std::to_string(i) + "." + ext)).string();
             fs::create_directories(tmp);
             write_file_atomic(f, parts[i].bytes);
             files.push_back(f);
             names.push_back(parts[i].name);
           }
           JobContext ctx;
           ctx.threads = 2;
           ctx.analysis_store = "";  // transient: the candidates may be anyone
           const HeadshotRanking r = rank_headshots(refs, files, ctx);
           json list = json::array();
           for (const int i : r.order) {
             const RankedHeadshot& h = r.headshots[i];
             json e = h.to_json();
             const size_t k = size_t(std::find(files.begin(), files.end(), h.file) - files.begin());
             e["name"] = k < names.size() ? names[k] : "";
             e.erase("file");
             if (h.error.empty()) try {
                 DecodeLimits limits;
                 limits.shrink_to = 320;
                 const DecodedImage d = decode_image_bytes(parts[k].bytes, names[k], limits);
                 e["thumbnail"] = "data:image/jpeg;base64," +
                                  base64(encode_image(fit_into(d.bgr, cv::Size(240, 240)), ImageFormat::jpeg, 80));
               } catch (const Error&) {
               }
             list.push_back(e);
           }
           send_json(res, 200, {{"baseline", r.to_json()["baseline"]}, {"candidates", list}});
         });
  svr.Post("/api/verify", [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
    guarded(res, [&] {
      authenticate(req);
      std::string bytes;
      bool any = false;
      const bool ok = reader(
          [&](const httplib::MultipartFormData& f) {
            if (f.name != "file" || any) return false;
            any = true;
            return true;
          },
          [&](const char* data, size_t n) {
            if (bytes.size() + n > opt_.max_photo) return false;
            bytes.append(data, n);
            return true;
          });
      if (bytes.size() >= opt_.max_photo) throw ServiceError(413, "too_large", "the file is too large to verify");
      if (!ok || !any) throw ServiceError(400, "usage", "send one file as the multipart part 'file'");
      send_json(res, 200, verification_report(bytes, verify_c2pa(bytes)));
    });
  });
}

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// The HTTP side, whichever stores stand behind it: serves until SIGINT or
// SIGTERM. `purge` runs hourly.
int run_http(const ServeOptions& opt, ServiceStore& db, ConsentStore& consent, JobControl& jobs,
             const std::function<void()>& purge, sigset_t signals, const json& recovered) {
  httplib::Server svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(32); };
  svr.set_payload_max_length(opt.max_upload + (1u << 20));
  svr.set_read_timeout(60, 0);
  svr.set_write_timeout(60, 0);
  // Bodies over the route's limit are refused before a byte is read.
  svr.set_pre_routing_handler([&opt](const Request& req, Response& res) {
    const bool upload = req.path.find("/photos") != std::string::npos || req.path.find("/rank") != std::string::npos ||
                        req.path == "/api/verify";
    const size_t limit = upload ? opt.max_upload : kMaxJsonBody;
    const std::string len = req.get_header_value("Content-Length");
    if (!len.empty()) {
      size_t n = 0;
      try {
        n = std::stoull(len);
      } catch (const std::exception&) {
        send_error(res, 400, "usage", "Content-Length is not a number");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (n > limit) {
        send_error(res, 413, "too_large", "the request is over " + std::to_string(limit >> 20) + " MB",
                   {{"limit", limit}});
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_post_routing_handler([](const Request& req, Response& res) {
    security_headers(res);
    if (req.path.rfind("/api/", 0) == 0 && !res.has_header("Cache-Control"))
      res.set_header("Cache-Control", "no-store");
  });
  svr.set_error_handler([](const Request&, Response& res) {
    if (res.body.empty())
      send_error(res, res.status, status_code_name(res.status), "HTTP " + std::to_string(res.status));
  });
  svr.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "internal", what);
  });
  Api api(db, consent, jobs, opt);
  api.install(svr);
  if (fs::is_directory(opt.web_dir)) svr.set_mount_point("/", opt.web_dir);
  svr.set_file_extension_and_mimetype_mapping("mjs", "text/javascript");
  svr.set_file_extension_and_mimetype_mapping("svg", "image/svg+xml");

  const int port =
      opt.port == 0 ? svr.bind_to_any_port(opt.host) : (svr.bind_to_port(opt.host, opt.port) ? opt.port : -1);
  if (port < 0) {
    std::cerr << "error: cannot listen on " << opt.host << ":" << opt.port << " (in use?)\n";
    return 1;
  }
  // The purge on a schedule: hourly, people whose consent ended are forgotten.
  std::atomic<bool> stopped{false};
  std::thread purger([&] {
    for (long seconds = 1; !stopped; ++seconds) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (seconds % 3600 != 0) continue;
      try {
        purge();
      } catch (const std::exception& e) {
        std::cerr << "purge: " << e.what() << "\n";
      }
    }
  });
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    svr.stop();
  });
  std::cout << "listening on http://" << opt.host << ":" << port << std::endl;
  if (!recovered.empty()) std::cerr << "recovered after a restart: " << recovered.dump() << "\n";
  svr.listen_after_bind();
  // Stopped (a signal): wake the stopper if it still waits, then the rest.
  stopped = true;
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  purger.join();
  return 0;
}

}  // namespace

int serve(const ServeOptions& given) {
  ServeOptions opt = given;
  if (!opt.data_dir.empty()) {
    std::error_code ec;
    fs::create_directories(opt.data_dir, ec);
    ::setenv("LIKENESS_DATA", fs::absolute(opt.data_dir).c_str(), 1);
  }
  const std::string data = data_dir();
  if (opt.web_dir.empty()) opt.web_dir = LIKENESS_WEB_DIR;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  if (opt.workers <= 0) opt.workers = std::max(1, cores / 2);
  if (opt.threads_per_job <= 0) opt.threads_per_job = std::max(1, cores / opt.workers);
  set_image_io_threads(opt.threads_per_job);  // each job's decodes and encodes (a per-pipeline cap)
  scratch_dir();                              // made, and what dead processes left there removed

  // A client that goes away mid-response is an error on that write, not
  // the end of the process.
  ::signal(SIGPIPE, SIG_IGN);
  // Signals go to the thread that waits for them, not to the workers.
  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (!opt.db.empty()) {
    // Several machines: everything in the shared database; the jobs are
    // run by `likeness worker` processes, wherever they are.
    std::unique_ptr<ConsentStore> consent = open_pg_consent_store(opt.db);
    std::unique_ptr<ServiceStore> db = open_pg_service_store(opt.db, scratch_dir());
    PgJobControl jobs(opt.db, opt.max_queued);
    return run_http(
        opt, *db, *consent, jobs, [&] { purge_pg_once(opt.db); }, signals, json::array());
  }

  // One machine: the embedded store holds consent and the output folders'
  // journal. Everything below reaches consent through the interface.
  Store& store = Store::open();
  store.recover();
  ConsentStore& consent = store;
  consent.purge();
  std::unique_ptr<EmbeddedServiceStore> db = open_sqlite_service_store(data, store);
  // Rows of people the purge forgot (withdrawn or expired consent) go too.
  auto sweep = [&] {
    for (const auto& id : db->all_subject_ids())
      if (consent.latest(id).id.empty() && !db->photos(id).empty()) db->delete_subject(id);
  };
  sweep();
  RunnerOptions ro{data, opt.workers, opt.threads_per_job, opt.max_queued};
  JobRunner runner(*db, consent, store, ro);
  const json recovered = runner.recover_and_start();
  return run_http(
      opt, *db, consent, runner,
      [&] {
        consent.purge();
        sweep();
      },
      signals, recovered);
}

}  // namespace likeness
