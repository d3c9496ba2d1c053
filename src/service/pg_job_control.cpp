#include <chrono>
#include <iostream>

#include "likeness/error.hpp"
#include "pg_service.hpp"
#include "service_error.hpp"
#include "store/pg/pg.hpp"

namespace likeness {

PgJobControl::PgJobControl(const std::string& url, int max_queued) : url_(url), max_queued_(max_queued), queue_(url) {
  listener_ = std::thread([this] { listen_loop(); });
}

PgJobControl::~PgJobControl() {
  stopping_ = true;
  changed_.notify_all();
  listener_.join();
}

JobRow PgJobControl::submit(const JobRow& job, bool* created) {
  // The same key returns its job even when the queue is full (submit finds it).
  if (queue_.waiting() >= max_queued_ && (job.idem_key.empty() || !queue_.job_with_key(job.user, job.idem_key)))
    throw ServiceError(
        429, "queue_full",
        "the studio is busy: " + std::to_string(max_queued_) + " jobs are waiting. Try again in a minute");
  const Submitted s = queue_.submit(job.user, job.subject, job.spec, job.idem_key);
  if (s.conflict)
    throw ServiceError(409, "conflict", "the Idempotency-Key '" + job.idem_key + "' was used for another request");
  *created = s.created;
  JobRow row = job;  // the API reads the job back as stored (ServiceStore::job)
  row.id = s.id;
  row.state = "queued";
  return row;
}

void PgJobControl::cancel(const std::string& user, const std::string& id) { queue_.cancel(id, user); }

void PgJobControl::stop_subject(const std::string& subject) { queue_.cancel_subject(subject); }

void PgJobControl::bump() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++changes_;
  }
  changed_.notify_all();
}

unsigned long long PgJobControl::changes() {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

unsigned long long PgJobControl::wait_change(unsigned long long seen, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return changes_ != seen || stopping_; });
  return changes_;
}

// One connection LISTENs for the queue's NOTIFYs (any server's or worker's
// change) and wakes the event streams. When the database goes away it
// tries again every second; once back, every stream reads its job again
// (what was announced meanwhile is lost, not the state).
void PgJobControl::listen_loop() {
  std::unique_ptr<pg::Connection> c;
  bool said = false;
  while (!stopping_) {
    try {
      if (!c) {
        c = std::make_unique<pg::Connection>(url_);
        c->listen("likeness_jobs");
        if (said) std::cerr << "serve: the database is back\n";
        said = false;
        bump();
      }
      if (c->wait_notify(500)) bump();
    } catch (const Error& e) {
      c.reset();
      if (!said) std::cerr << "serve: " << e.what() << " (trying again every second)\n";
      said = true;
      bump();  // the streams notice (and say so) rather than wait in silence
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace likeness
