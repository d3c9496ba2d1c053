// The job queue on PostgreSQL, for workers on any number of machines.
//
// A worker leases a job (SELECT ... FOR UPDATE SKIP LOCKED: two workers
// never take the same row), keeps the lease with heartbeats, and finishes
// it in one transaction with its outputs (the bytes, their SHA-256 and
// records visible together or not at all, and only if the lease is still
// its own and the subject's consent still holds). A lease that expires (a
// worker that died or lost the database) puts the job back in the queue,
// until its attempts are used up: then it is dead, with the reason. A
// cancel of a running job is seen by its worker at its next heartbeat.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace likeness {

using json = nlohmann::json;

struct QueuedJob {
  std::string id, owner, subject, state;  // state: queued running done failed cancelled dead
  json spec, progress, error;
  int attempts = 0, max_attempts = 0;
  std::string lease_owner;
};

struct JobOutput {
  std::string kind, name, bytes;  // kind: portrait, edit_map, before, sidecar, report ...
  json meta = json::object();
};

struct Submitted {
  std::string id;
  bool created = false;   // false: the same key came before with the same spec
  bool conflict = false;  // the same key came before with another spec
};

struct StoredPhoto {
  std::string id, name, bytes;
};

struct Beat {
  bool lost = false;    // the lease is no longer this worker's: stop touching the job
  bool cancel = false;  // the owner asked to cancel: stop at the next stage boundary
};

class PgJobQueue {
 public:
  explicit PgJobQueue(const std::string& url);  // migrates the schema first
  ~PgJobQueue();
  PgJobQueue(const PgJobQueue&) = delete;
  PgJobQueue& operator=(const PgJobQueue&) = delete;

  Submitted submit(const std::string& owner, const std::string& subject, const json& spec,
                   const std::string& idempotency_key = "", int max_attempts = 3);
  // The oldest queued job, leased to `worker` for `lease_seconds`; first,
  // expired leases are given back (or the job declared dead).
  std::optional<QueuedJob> lease(const std::string& worker, double lease_seconds);
  Beat heartbeat(const std::string& id, const std::string& worker, double lease_seconds, const json& progress);
  // Done with these outputs, in one transaction. False (nothing written)
  // if the lease is no longer this worker's or the job was cancelled.
  // Error{no_consent} (nothing written, the job failed) if the subject's
  // consent no longer covers portraits.
  bool complete(const std::string& id, const std::string& worker, const std::vector<JobOutput>& outputs);
  // A failure: retryable ones go back to the queue while attempts remain,
  // then the job is dead; others fail it at once. False if not the lease's.
  bool fail(const std::string& id, const std::string& worker, const json& error, bool retryable);
  // The worker stopped on a cancel: the job is cancelled, nothing kept.
  bool cancelled(const std::string& id, const std::string& worker);
  // The owner's cancel: a queued job is cancelled now, a running one is
  // flagged for its worker. False if the job is not the owner's or ended.
  bool cancel(const std::string& id, const std::string& owner);
  // Every job of the subject: queued ones cancelled, running ones flagged
  // (before their person is forgotten or withdraws); how many.
  int cancel_subject(const std::string& subject);
  int waiting();  // jobs queued, not yet leased
  // The owner's job of an idempotency key, if one came before.
  std::optional<std::string> job_with_key(const std::string& owner, const std::string& key);
  std::optional<QueuedJob> get(const std::string& id, const std::string& owner);
  int expire_leases();  // expired leases given back or dead; how many

  // The subject's uploaded photos, where every worker reads them.
  std::string add_photo(const std::string& owner, const std::string& subject, const std::string& name,
                        const std::string& bytes);
  std::vector<StoredPhoto> photos(const std::string& subject);
  // The outputs of a done job (bytes included).
  std::vector<JobOutput> outputs(const std::string& id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace likeness
