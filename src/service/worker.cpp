// likeness worker: a stateless worker of the PostgreSQL queue. Everything a
// job needs comes from the database (its spec, the subject's photos and
// consent) and everything it makes goes back there in one transaction; the
// machine keeps nothing but a private temporary folder while a job runs.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "job_parts.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/image_io.hpp"
#include "likeness/output_sink.hpp"
#include "likeness/pg_queue.hpp"
#include "likeness/pg_store.hpp"
#include "likeness/service.hpp"
#include "likeness/studio.hpp"
#include "likeness/threads.hpp"
#include "store/pg/pg.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

// The files stay in the ShootFiles; the sink only names them.
class MemorySink final : public OutputSink {
 public:
  std::string locate(const std::string& name) const override { return name; }
  void put(const std::string&, const std::string&) override {}
  void commit() override {}
  std::string abandon() override { return ""; }
};

// A private folder for one job's photos, gone when the job is.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/likeness-worker-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw Error(ErrorCode::internal, "cannot make a temporary folder in " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string host_name() {
  char h[256] = {};
  ::gethostname(h, sizeof h - 1);
  return h;
}

// Waits for any job news on the database (NOTIFY likeness_jobs), so an idle
// worker takes a new job at once instead of at its next poll.
class Wakeups {
 public:
  explicit Wakeups(std::string url) : url_(std::move(url)), thread_([this] { listen(); }) {}
  ~Wakeups() {
    stop_ = true;
    thread_.join();
  }
  void wait(int ms) {
    std::unique_lock<std::mutex> lock(mu_);
    const unsigned long long seen = news_;
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return news_ != seen || stop_; });
  }

 private:
  void listen() {
    while (!stop_) {
      try {
        pg::Connection c(url_);
        c.listen("likeness_jobs");
        while (!stop_)
          if (c.wait_notify(500)) {
            std::lock_guard<std::mutex> lock(mu_);
            ++news_;
            cv_.notify_all();
          }
      } catch (const Error&) {
        std::this_thread::sleep_for(std::chrono::seconds(1));  // the database is away: try again
      }
    }
  }
  std::string url_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  unsigned long long news_ = 0;
  std::thread thread_;
};

class Worker {
 public:
  Worker(WorkerOptions opt, ConsentStore& consent) : opt_(std::move(opt)), consent_(consent) {}

  void slot(int index, const std::atomic<bool>& stopping, Wakeups& wake) {
    const std::string me = opt_.name + "/" + std::to_string(index);
    std::unique_ptr<PgJobQueue> q;
    while (!stopping) {
      try {
        if (!q) q = std::make_unique<PgJobQueue>(opt_.db);
        const std::optional<QueuedJob> job = q->lease(me, opt_.lease_seconds);
        if (!job) {
          wake.wait(2000);
          continue;
        }
        run(*q, *job, me, stopping);
      } catch (const Error& e) {
        // The database is away (or a bug): say so, wait, try again.
        std::cerr << me << ": " << e.what() << "\n";
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }

 private:
  void run(PgJobQueue& q, const QueuedJob& job, const std::string& me, const std::atomic<bool>& stopping) {
    std::atomic<bool> cancel{false}, lost{false}, finished{false};
    std::mutex mu;
    std::condition_variable beat_cv;
    json progress = {{"fraction", 0}, {"stage", "check"}, {"item", ""}};
    bool publish = false;  // a new stage: beat now, so the page's stream shows it
    // Heartbeats: the lease renewed, the progress published, a cancel or a
    // lost lease noticed. A worker that cannot reach the database for a
    // whole lease stops touching the job: by then another may have it.
    std::thread heart([&] {
      const auto every = std::chrono::milliseconds(int(std::clamp(opt_.lease_seconds / 3, 0.2, 5.0) * 1000));
      auto last_ok = std::chrono::steady_clock::now();
      std::unique_lock<std::mutex> lock(mu);
      while (!finished) {
        beat_cv.wait_for(lock, every, [&] { return finished.load() || publish; });
        if (finished) break;
        publish = false;
        const json now = progress;
        lock.unlock();
        try {
          const Beat b = q.heartbeat(job.id, me, opt_.lease_seconds, now);
          last_ok = std::chrono::steady_clock::now();
          if (b.lost) lost = true;
          if (b.cancel || b.lost || stopping) cancel = true;
        } catch (const Error&) {
          if (std::chrono::steady_clock::now() - last_ok > std::chrono::duration<double>(opt_.lease_seconds)) {
            lost = true;
            cancel = true;
          }
        }
        lock.lock();
        if (lost) break;
      }
    });
    auto stop_heart = [&] {
      {
        std::lock_guard<std::mutex> lock(mu);
        finished = true;
      }
      beat_cv.notify_all();
      if (heart.joinable()) heart.join();
    };

    try {
      TempDir dir;
      std::vector<std::string> files;
      std::vector<std::pair<std::string, std::string>> names;
      for (const StoredPhoto& p : q.photos(job.subject)) {
        const std::string ext = fs::path(p.name).extension().string();
        const std::string file = p.id + (ext.size() <= 6 ? ext : "");
        write_file_atomic((fs::path(dir.path()) / file).string(), p.bytes);
        files.push_back((fs::path(dir.path()) / file).string());
        names.emplace_back(file, p.name);
      }
      if (files.empty()) throw Error(ErrorCode::bad_input, "the person has no photos yet: upload 1 to 20 first");
      JobContext ctx;
      ctx.threads = opt_.threads_per_job;
      ctx.cancel = &cancel;
      ctx.consent = &consent_;
      ctx.analysis_store = "";  // nothing of the person stays on this machine
      const ThreadBudget budget(ctx.threads);
      ProgressMapper mapper(names, [&](const json& p) {
        {
          std::lock_guard<std::mutex> lock(mu);
          publish = publish || p.value("stage", "") != progress.value("stage", "");
          progress = p;
        }
        beat_cv.notify_all();
      });
      ctx.on_progress = [&](const Progress& p) { mapper(p); };
      ShootSpec spec = ShootSpec::from_json(job.spec);
      spec.subject = job.subject;
      const ShootPlan plan = plan_shoot(spec, files, ctx);
      ctx.check_cancel();
      mapper.set_phase("render");
      MemorySink sink;
      RenderOptions ro;
      ro.before = true;
      const ShootFiles made = render_shoot(plan, sink, ctx, ro);
      ctx.check_cancel();
      deliver(made, sink, job.subject, consent_);
      std::map<std::string, const std::string*> bytes;
      for (const auto& [name, b] : made.files) bytes[name] = &b;
      std::vector<JobOutput> outputs;
      for (const MadeOutput& m : made_outputs(made, names)) {
        json meta = m.meta;
        meta["rank"] = m.rank;
        if (bytes.count(m.name)) outputs.push_back({m.kind, m.name, *bytes[m.name], meta});
      }
      stop_heart();
      if (lost || !q.complete(job.id, me, outputs))
        std::cerr << me << ": " << job.id << " is no longer this worker's: nothing written\n";
    } catch (const Error& e) {
      stop_heart();
      const ErrorCode c = e.code();
      const json error = {{"code", code_name(c)}, {"message", e.what()}};
      try {
        if (lost || c == ErrorCode::unavailable) {
          // Not ours any more, or the database is away: the lease expires
          // and the job runs again elsewhere.
          std::cerr << me << ": " << job.id
                    << (lost ? ": the lease is lost (no database for a whole lease, or taken back): stopped, nothing "
                               "written\n"
                             : ": the database is away: stopped, nothing written; the job runs again once the lease "
                               "expires\n");
        } else if (c == ErrorCode::cancelled && stopping) {
          q.fail(job.id, me, {{"code", "worker_stopped"}, {"message", "the worker was stopped"}}, true);
        } else if (c == ErrorCode::cancelled) {
          q.cancelled(job.id, me);
        } else {
          q.fail(job.id, me, error, c == ErrorCode::internal);
        }
      } catch (const Error& again) {
        std::cerr << me << ": " << job.id << ": " << again.what() << "\n";
      }
    } catch (const std::exception& e) {
      stop_heart();
      try {
        q.fail(job.id, me, {{"code", "internal"}, {"message", e.what()}}, true);
      } catch (const Error&) {
      }
    }
  }

  WorkerOptions opt_;
  ConsentStore& consent_;
};

}  // namespace

int run_worker(const WorkerOptions& given) {
  WorkerOptions opt = given;
  if (opt.db.empty()) throw Error(ErrorCode::usage, "--db: the PostgreSQL database to work for is required");
  if (opt.jobs < 1) throw Error(ErrorCode::usage, "--jobs is at least 1");
  if (opt.lease_seconds < 1) throw Error(ErrorCode::usage, "--lease is at least 1 second");
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  if (opt.threads_per_job <= 0) opt.threads_per_job = std::max(1, cores / opt.jobs);
  if (opt.name.empty()) opt.name = host_name() + ":" + std::to_string(::getpid());
  set_image_io_threads(opt.threads_per_job);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const std::unique_ptr<ConsentStore> consent = open_pg_consent_store(opt.db);  // migrates, or unavailable
  std::atomic<bool> stopping{false};
  Wakeups wake(opt.db);
  Worker worker(opt, *consent);
  std::vector<std::thread> slots;
  for (int i = 0; i < opt.jobs; ++i) slots.emplace_back([&, i] { worker.slot(i, stopping, wake); });
  // The purge on a schedule: hourly, whoever withdrew or whose retention
  // ended is forgotten; one worker at a time does it (purge_pg_once).
  std::thread purger([&] {
    for (long s = 1; !stopping; ++s) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (s % 3600 != 60) continue;  // a minute after the start, then hourly
      try {
        if (const auto out = purge_pg_once(opt.db); out && !out->empty())
          std::cout << "purged: " << out->dump() << std::endl;
      } catch (const Error& e) {
        std::cerr << "purge: " << e.what() << "\n";
      }
    }
  });
  std::cout << "worker " << opt.name << " ready: " << opt.jobs << " job(s) at once, " << opt.threads_per_job
            << " thread(s) each" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  stopping = true;
  for (auto& t : slots) t.join();
  purger.join();
  return 0;
}

}  // namespace likeness
