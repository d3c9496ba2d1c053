// `likeness serve`: the HTTP API (docs/api.md) and the web page (web/) from
// one process, with a bounded pool of job workers. Loopback by default.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace likeness {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;          // 0: a free port (printed)
  std::string data_dir;     // "" the default data folder ($LIKENESS_DATA, ...)
  std::string web_dir;      // "" the page built into the installation
  std::string db;           // "" the embedded store; postgresql://... the shared one (jobs run by workers)
  int workers = 0;          // jobs at once; 0: one per two cores, at least 1
  int threads_per_job = 0;  // 0: the cores divided among the workers
  int max_queued = 16;
  size_t max_upload = 200u * 1024 * 1024;  // one request's photos, bytes
  size_t max_photo = 40u * 1024 * 1024;    // one photo, bytes
};

// A worker of a studio on several machines (likeness worker): takes jobs
// from the PostgreSQL queue at `db`, renders them with the photos kept
// there, and commits each job's outputs there in one transaction.
struct WorkerOptions {
  std::string db;             // postgresql://user@host:port/db
  int jobs = 1;               // jobs at once
  int threads_per_job = 0;    // 0: the cores divided among the jobs
  double lease_seconds = 30;  // a job's lease; renewed every third of it
  std::string name;           // "" host:pid
};

// Runs until SIGINT or SIGTERM (running jobs are given back to the queue);
// returns the process's exit code. Prints "worker NAME ready" once it takes
// jobs.
int run_worker(const WorkerOptions& opt);

// Runs until SIGINT or SIGTERM; returns the process's exit code. Prints
// "listening on http://HOST:PORT" on standard output once it accepts.
int serve(const ServeOptions& opt);

// The OpenAPI 3 document of the API, its job parameters generated from the
// stages' declarations.
nlohmann::json openapi_document();

}  // namespace likeness
