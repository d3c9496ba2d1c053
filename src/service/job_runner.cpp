#include "job_runner.hpp"

#include <chrono>
#include <filesystem>

#include "job_parts.hpp"
#include "likeness/error.hpp"
#include "likeness/hash.hpp"
#include "likeness/inference.hpp"
#include "likeness/output_job.hpp"
#include "likeness/stage.hpp"
#include "likeness/store.hpp"
#include "likeness/studio.hpp"
#include "service_error.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

// The service's output folder sink: the files of a job go to
// <data>/outputs/<job> through an OutputJob (atomic, recorded for forget),
// and the report names them relative to that folder, never by a local path.
class JobFolderSink final : public FolderSink {
 public:
  using FolderSink::FolderSink;
  std::string locate(const std::string& name) const override { return name; }
};

json error_json(const std::string& code, const std::string& message) { return {{"code", code}, {"message", message}}; }

}  // namespace

JobRunner::JobRunner(EmbeddedServiceStore& db, ConsentStore& consent, Store& files, RunnerOptions opt)
    : db_(db), consent_(consent), files_(files), opt_(std::move(opt)) {}

JobRunner::~JobRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, flag] : running_) flag->store(true);
  }
  wake_.notify_all();
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

json JobRunner::recover_and_start() {
  json done = json::array();
  for (const JobRow& j : db_.jobs_in_state("running")) {
    // Interrupted by the process's death. Its files, if it wrote any,
    // are replaced by the re-run (the output folder is the job's own).
    if (j.runs >= 2) {
      db_.transition(j.id, "running", "failed",
                     error_json("internal", "interrupted twice by the server stopping; not tried again"));
      done.push_back({{"job", j.id}, {"now", "failed"}});
    } else {
      db_.transition(j.id, "running", "queued");
      done.push_back({{"job", j.id}, {"now", "queued"}});
    }
  }
  for (int i = 0; i < std::max(1, opt_.workers); ++i) threads_.emplace_back([this] { worker(); });
  return done;
}

JobRow JobRunner::submit(const JobRow& job, bool* created) {
  // The same key returns its job even when the queue is full.
  if (!job.idem_key.empty())
    for (const JobRow& j : db_.jobs(job.user, job.subject))
      if (j.idem_key == job.idem_key) return db_.submit(job, created);
  if (db_.count_in_state("queued") >= opt_.max_queued)
    throw ServiceError(
        429, "queue_full",
        "the studio is busy: " + std::to_string(opt_.max_queued) + " jobs are waiting. Try again in a minute");
  JobRow row = db_.submit(job, created);
  if (*created) {
    wake_.notify_one();
    notify();
  }
  return row;
}

void JobRunner::cancel(const std::string& user, const std::string& id) {
  const auto job = db_.job(user, id);
  if (!job) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = running_.find(id); it != running_.end()) it->second->store(true);
  }
  if (db_.transition(id, "queued", "cancelled", error_json("cancelled", "cancelled before it started"))) notify();
}

void JobRunner::stop_subject(const std::string& subject) {
  constexpr int timeout_ms = 60000;
  for (const JobRow& j : db_.jobs_in_state("queued"))
    if (j.subject == subject) db_.transition(j.id, "queued", "cancelled", error_json("cancelled", "subject deleted"));
  std::unique_lock<std::mutex> lock(mu_);
  for (auto& [id, s] : running_subject_)
    if (s == subject) running_[id]->store(true);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (auto& [id, s] : running_subject_)
      if (s == subject) return false;
    return true;
  });
}

void JobRunner::notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++changes_;
  }
  changed_.notify_all();
}

unsigned long long JobRunner::changes() {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

unsigned long long JobRunner::wait_change(unsigned long long seen, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return changes_ != seen || stopping_; });
  return changes_;
}

void JobRunner::worker() {
  while (true) {
    JobRow job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      lock.unlock();
      bool found = false;
      for (const JobRow& j : db_.jobs_in_state("queued"))
        if (db_.transition(j.id, "queued", "running")) {
          job = j;
          found = true;
          break;
        }
      lock.lock();
      if (!found) {
        wake_.wait_for(lock, std::chrono::seconds(2));
        continue;
      }
      running_[job.id] = std::make_shared<std::atomic<bool>>(false);
      running_subject_[job.id] = job.subject;
    }
    notify();
    run(job);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(job.id);
      running_subject_.erase(job.id);
      ++changes_;
    }
    changed_.notify_all();
  }
}

void JobRunner::run(const JobRow& job) {
  db_.count_run(job.id);
  std::shared_ptr<std::atomic<bool>> cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel = running_[job.id];
  }
  JobContext ctx;
  ctx.threads = std::max(1, opt_.threads_per_job);
  ctx.cancel = cancel.get();
  ctx.consent = &consent_;
  const ThreadBudget budget(ctx.threads);
  // Progress in the store (what GET /api/jobs/{id} and the event stream
  // read), at most every 100 ms or at a stage change.
  const LocalPhotos local = db_.local_photos(job.subject);
  std::vector<std::pair<std::string, std::string>> names;  // stored file name, uploaded name
  for (size_t i = 0; i < local.rows().size(); ++i)
    names.emplace_back(fs::path(local.files()[i]).filename().string(), local.rows()[i].name);
  ProgressMapper progress(names, [&](const json& p) {
    db_.set_progress(job.id, p);
    notify();
  });
  ctx.on_progress = [&](const Progress& p) { progress(p); };
  try {
    ShootSpec spec = ShootSpec::from_json(job.spec);
    spec.subject = job.subject;
    const std::vector<std::string>& files = local.files();
    if (files.empty()) throw Error(ErrorCode::bad_input, "the person has no photos yet: upload 1 to 20 first");
    const ShootPlan plan = plan_shoot(spec, files, ctx);
    ctx.check_cancel();
    progress.set_phase("render");
    const std::string out_rel = "outputs/" + job.id;
    JobFolderSink sink(files_, job.subject, (fs::path(opt_.data_dir) / out_rel).string());
    RenderOptions ro;
    ro.before = true;
    const ShootFiles made = render_shoot(plan, sink, ctx, ro);
    ctx.check_cancel();
    db_.set_progress(job.id, {{"fraction", 1 - kWriteShare}, {"stage", "write"}, {"item", "saving the portraits"}});
    notify();
    deliver(made, sink, job.subject, consent_);
    // The rows: one per file, the portrait's with what the page shows.
    std::vector<OutputRow> rows;
    std::map<std::string, std::string> sha;
    for (const auto& [name, bytes] : made.files) sha[name] = sha256_hex(bytes);
    for (const MadeOutput& m : made_outputs(made, names)) {
      OutputRow o;
      o.id = random_id("o_");
      o.job = job.id;
      o.subject = job.subject;
      o.rank = m.rank;
      o.name = m.name;
      o.kind = m.kind;
      o.file = out_rel + "/" + m.name;
      o.sha256 = sha[m.name];
      o.meta = m.meta;
      rows.push_back(std::move(o));
    }
    db_.set_progress(job.id, {{"fraction", 1}, {"stage", "done"}, {"item", ""}});
    db_.finish(job.id, rows);
  } catch (const Error& e) {
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
    }
    // Stopped by the server's own shutdown: queued again, to run after the restart.
    if (stopping && e.code() == ErrorCode::cancelled) {
      db_.transition(job.id, "running", "queued");
      return;
    }
    const std::string to = e.code() == ErrorCode::cancelled ? "cancelled" : "failed";
    db_.transition(job.id, "running", to, error_json(code_name(e.code()), e.what()));
  } catch (const ServiceError& e) {
    db_.transition(job.id, "running", "failed", error_json(e.code, e.what()));
  } catch (const std::exception& e) {
    db_.transition(job.id, "running", "failed", error_json("internal", e.what()));
  }
  notify();
}

}  // namespace likeness
