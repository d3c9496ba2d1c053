// `likeness serve --db`: the API's stores on PostgreSQL. The rows and bytes
// live in the database every server and worker reaches; this process runs
// no job itself (`likeness worker` processes do) and watches the queue's
// changes with LISTEN for its event streams.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "job_control.hpp"
#include "likeness/pg_queue.hpp"
#include "likeness/service_store.hpp"

namespace likeness {

// Accounts, subjects, photos, jobs and outputs in the database at `url`
// (schema migrated first). `scratch`: a local folder where a subject's
// photos are written while the intake reads them. Error{unavailable} while
// the database cannot be reached; each call tries again.
std::unique_ptr<ServiceStore> open_pg_service_store(const std::string& url, const std::string& scratch,
                                                    int connections = 8);

class PgJobControl final : public JobControl {
 public:
  PgJobControl(const std::string& url, int max_queued);
  ~PgJobControl() override;

  JobRow submit(const JobRow& job, bool* created) override;
  void cancel(const std::string& user, const std::string& id) override;
  // Queued jobs cancelled, running ones flagged; no wait: the forget that
  // follows deletes their rows, so their workers' leases are gone at their
  // next heartbeat and nothing they make can be committed.
  void stop_subject(const std::string& subject) override;
  unsigned long long wait_change(unsigned long long seen, int timeout_ms) override;
  unsigned long long changes() override;

 private:
  void listen_loop();
  void bump();

  std::string url_;
  int max_queued_;
  PgJobQueue queue_;
  std::mutex mu_;
  std::condition_variable changed_;
  unsigned long long changes_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace likeness
