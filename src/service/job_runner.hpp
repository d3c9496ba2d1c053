// The service's jobs: a bounded queue in the service store and a pool of
// workers, each running one shoot at a time with its own thread budget.
// A job's state lives in the store, so a restart finds it: a job that was
// running when the process died runs again, once.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "job_control.hpp"
#include "likeness/service_store.hpp"
#include "likeness/store.hpp"

namespace likeness {

struct RunnerOptions {
  std::string data_dir;
  int workers = 2;          // jobs at once
  int threads_per_job = 1;  // each job's inference and OpenCV budget
  int max_queued = 16;      // a fuller queue answers 429
};

class JobRunner final : public JobControl {
 public:
  // Consent is checked in `consent`, the files' journal kept in `files`
  // (the embedded store: the output folders are on this machine).
  JobRunner(EmbeddedServiceStore& db, ConsentStore& consent, Store& files, RunnerOptions opt);
  ~JobRunner();  // stops the workers; running jobs are cancelled and left to re-run after a restart

  // Jobs that were running when the process died: queued again once (a
  // second interruption fails them), then the workers start.
  json recover_and_start();

  JobRow submit(const JobRow& job, bool* created) override;
  // Raises the job's cancel flag (a running job stops at its next stage);
  // a queued job is cancelled at once.
  void cancel(const std::string& user, const std::string& id) override;
  // Cancels the subject's running jobs and waits (up to a minute) until
  // none runs, so deleting the subject follows the last write.
  void stop_subject(const std::string& subject) override;
  unsigned long long wait_change(unsigned long long seen, int timeout_ms) override;
  unsigned long long changes() override;
  int queue_limit() const { return opt_.max_queued; }

 private:
  void worker();
  void run(const JobRow& job);
  void notify();

  EmbeddedServiceStore& db_;
  ConsentStore& consent_;
  Store& files_;
  RunnerOptions opt_;
  std::mutex mu_;
  std::condition_variable wake_, changed_;
  unsigned long long changes_ = 0;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> running_;  // job id -> cancel flag
  std::map<std::string, std::string> running_subject_;                 // job id -> subject
  std::vector<std::thread> threads_;
};

}  // namespace likeness
