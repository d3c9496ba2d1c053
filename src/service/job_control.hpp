// What the API asks of whoever runs its jobs: the embedded runner (one
// machine, JobRunner) or the PostgreSQL queue that `likeness worker`
// processes take jobs from (PgJobControl). The API reads a job's state and
// outputs from its ServiceStore; this is how it starts, stops and watches.
#pragma once
#include <string>

#include "likeness/service_store.hpp"

namespace likeness {

class JobControl {
 public:
  virtual ~JobControl() = default;
  // A new job (or the same key's job: *created false); ServiceError 429
  // when the queue is full, 409 when the key came with another spec.
  virtual JobRow submit(const JobRow& job, bool* created) = 0;
  // A queued job is cancelled at once; a running one stops at its next
  // stage. Nothing happens to another user's job or one that ended.
  virtual void cancel(const std::string& user, const std::string& id) = 0;
  // Stops the subject's queued and running jobs before their person is
  // deleted or their consent withdrawn (waits for the embedded runner's).
  virtual void stop_subject(const std::string& subject) = 0;
  // Waits until any job's state or progress changes after `seen` (or the
  // timeout passes); returns the new change count.
  virtual unsigned long long wait_change(unsigned long long seen, int timeout_ms) = 0;
  virtual unsigned long long changes() = 0;
};

}  // namespace likeness
