
#include <mutex>

#include "likeness/error.hpp"
#include "likeness/hash.hpp"
#include "likeness/pg_queue.hpp"
#include "store/pg/pg.hpp"

namespace likeness {

namespace {

// A cancel: a queued job ends now, a running one is flagged for its worker.
constexpr const char* kCancel =
    "UPDATE jobs SET cancel_requested = true, state = CASE WHEN state='queued' THEN 'cancelled' ELSE state END, "
    "finished_at = CASE WHEN state='queued' THEN now() ELSE finished_at END ";

std::string seconds(double s) { return std::to_string(s) + " seconds"; }

constexpr const char* kJobColumns =
    "id, owner, subject, state, spec::text, progress::text, coalesce(error::text, 'null'), attempts, max_attempts, "
    "coalesce(lease_owner, '')";

QueuedJob job_from(const pg::Result& r, int row) {
  QueuedJob j;
  j.id = r.text(row, 0);
  j.owner = r.text(row, 1);
  j.subject = r.text(row, 2);
  j.state = r.text(row, 3);
  j.spec = json::parse(r.text(row, 4));
  j.progress = json::parse(r.text(row, 5));
  j.error = json::parse(r.text(row, 6));
  j.attempts = int(r.number(row, 7));
  j.max_attempts = int(r.number(row, 8));
  j.lease_owner = r.text(row, 9);
  return j;
}

}  // namespace

struct PgJobQueue::Impl {
  explicit Impl(const std::string& url) : db(url) { pg::migrate(db); }
  std::mutex mu;
  pg::Connection db;

  void notify(const std::string& id) { db.exec("SELECT pg_notify('likeness_jobs', $1)", {id}); }
  // An UPDATE ... RETURNING id of one job: announced if it changed it.
  bool change(const std::string& sql, const std::vector<pg::Param>& params) {
    const pg::Result r = db.exec(sql, params);
    if (r.rows()) notify(r.text(0, 0));
    return r.rows() == 1;
  }
};

PgJobQueue::PgJobQueue(const std::string& url) : impl_(std::make_unique<Impl>(url)) {}
PgJobQueue::~PgJobQueue() = default;

Submitted PgJobQueue::submit(const std::string& owner, const std::string& subject, const json& spec,
                             const std::string& key, int max_attempts) {
  if (max_attempts < 1) throw Error(ErrorCode::usage, "a job is tried at least once");
  std::lock_guard<std::mutex> lock(impl_->mu);
  Submitted out;
  impl_->db.transaction([&] {
    const std::string id = random_id("job_", 12);
    const pg::Param k = key.empty() ? pg::Param{} : pg::Param{key};
    const pg::Result r = impl_->db.exec(
        "INSERT INTO jobs (id, owner, subject, spec, idempotency_key, state, max_attempts) "
        "VALUES ($1,$2,$3,$4::jsonb,$5,'queued',$6) ON CONFLICT (owner, idempotency_key) DO NOTHING RETURNING id",
        {id, owner, subject, spec.dump(), k, std::to_string(max_attempts)});
    if (r.rows() == 1) {
      out = {id, true, false};
      impl_->notify(id);
      return;
    }
    // The key was used: the same job if the request is the same.
    const pg::Result was =
        impl_->db.exec("SELECT id, spec = $3::jsonb AND subject = $4 FROM jobs WHERE owner=$1 AND idempotency_key=$2",
                       {owner, key, spec.dump(), subject});
    out = {was.text(0, 0), false, was.text(0, 1) != "t"};
  });
  return out;
}

int PgJobQueue::expire_leases() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r = impl_->db.exec(
      "UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempts >= max_attempts THEN 'dead' "
      "ELSE 'queued' END, "
      "error = CASE WHEN cancel_requested THEN NULL ELSE jsonb_build_object('code', 'lease_expired', 'message', "
      "'the worker ' || lease_owner || ' stopped answering (attempt ' || attempts || ' of ' || max_attempts || ')') "
      "END, "
      "finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN now() END, "
      "lease_owner = NULL, lease_until = NULL "
      "WHERE state = 'running' AND lease_until < now() RETURNING id");
  for (int i = 0; i < r.rows(); ++i) impl_->notify(r.text(i, 0));
  return r.rows();
}

std::optional<QueuedJob> PgJobQueue::lease(const std::string& worker, double lease_seconds) {
  expire_leases();
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::optional<QueuedJob> out;
  impl_->db.transaction([&] {
    // SKIP LOCKED: a row another worker is taking is passed over, never
    // waited for and never taken twice.
    const pg::Result r = impl_->db.exec(
        std::string("UPDATE jobs SET state='running', attempts = attempts + 1, lease_owner=$1, "
                    "lease_until = now() + $2::interval, heartbeat_at = now(), started_at = coalesce(started_at, "
                    "now()), error = NULL WHERE id = (SELECT id FROM jobs WHERE state='queued' ORDER BY seq "
                    "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING ") +
            kJobColumns,
        {worker, seconds(lease_seconds)});
    if (r.rows() == 1) {
      out = job_from(r, 0);
      impl_->notify(out->id);
    }
  });
  return out;
}

Beat PgJobQueue::heartbeat(const std::string& id, const std::string& worker, double lease_seconds,
                           const json& progress) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r = impl_->db.exec(
      "UPDATE jobs SET lease_until = now() + $3::interval, heartbeat_at = now(), progress = $4::jsonb "
      "WHERE id=$1 AND lease_owner=$2 AND state='running' RETURNING cancel_requested",
      {id, worker, seconds(lease_seconds), progress.dump()});
  if (r.rows() == 0) return {true, false};
  impl_->notify(id);
  return {false, r.text(0, 0) == "t"};
}

bool PgJobQueue::complete(const std::string& id, const std::string& worker, const std::vector<JobOutput>& outputs) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  bool done = false;
  bool no_consent = false;
  impl_->db.transaction([&] {
    const pg::Result j = impl_->db.exec(
        "SELECT subject FROM jobs WHERE id=$1 AND lease_owner=$2 AND state='running' AND NOT cancel_requested "
        "FOR UPDATE",
        {id, worker});
    if (j.rows() == 0) return;
    const std::string subject = j.text(0, 0);
    // The consent, read in this transaction and held (FOR SHARE) until it
    // commits: a forget or a withdrawal on another machine either comes
    // first (nothing is written) or waits for this commit.
    const pg::Result c = impl_->db.exec(
        "SELECT withdrawn_at IS NULL AND retention_until > now() AND purposes ? 'portraits' FROM consent "
        "WHERE subject=$1 ORDER BY granted_at DESC, seq DESC LIMIT 1 FOR SHARE",
        {subject});
    if (c.rows() == 0 || c.text(0, 0) != "t") {
      no_consent = true;
      return;
    }
    for (const JobOutput& o : outputs)
      impl_->db.exec_bytes(
          "INSERT INTO outputs (job, subject, kind, name, sha256, bytes, meta, made_by) "
          "VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8)",
          {id, subject, o.kind, o.name, sha256_hex(o.bytes), o.bytes, o.meta.dump(), worker},
          {false, false, false, false, false, true, false, false});
    impl_->db.exec(
        "UPDATE jobs SET state='done', finished_at=now(), lease_owner=NULL, lease_until=NULL, "
        "progress = jsonb_build_object('fraction', 1) WHERE id=$1",
        {id});
    impl_->notify(id);
    done = true;
  });
  if (no_consent) {
    impl_->db.exec(
        "UPDATE jobs SET state='failed', finished_at=now(), lease_owner=NULL, lease_until=NULL, error = "
        "jsonb_build_object('code','no_consent','message','the consent ended while the job ran: nothing was kept') "
        "WHERE id=$1 AND lease_owner=$2",
        {id, worker});
    impl_->notify(id);
    throw Error(ErrorCode::no_consent, "the consent of the job's subject ended while it ran: nothing was kept");
  }
  return done;
}

bool PgJobQueue::fail(const std::string& id, const std::string& worker, const json& error, bool retryable) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->change(
      "UPDATE jobs SET state = CASE WHEN NOT $3 THEN 'failed' WHEN attempts >= max_attempts THEN 'dead' "
      "ELSE 'queued' END, error = $4::jsonb, lease_owner = NULL, lease_until = NULL, "
      "finished_at = CASE WHEN NOT $3 OR attempts >= max_attempts THEN now() END "
      "WHERE id=$1 AND lease_owner=$2 AND state='running' RETURNING id",
      {id, worker, retryable ? "true" : "false", error.dump()});
}

bool PgJobQueue::cancelled(const std::string& id, const std::string& worker) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->change(
      "UPDATE jobs SET state='cancelled', finished_at=now(), lease_owner=NULL, lease_until=NULL "
      "WHERE id=$1 AND lease_owner=$2 AND state='running' RETURNING id",
      {id, worker});
}

bool PgJobQueue::cancel(const std::string& id, const std::string& owner) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->change(std::string(kCancel) + "WHERE id=$1 AND owner=$2 AND state IN ('queued','running') RETURNING id",
                       {id, owner});
}

int PgJobQueue::cancel_subject(const std::string& subject) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r = impl_->db.exec(
      std::string(kCancel) + "WHERE subject=$1 AND state IN ('queued','running') RETURNING id", {subject});
  for (int i = 0; i < r.rows(); ++i) impl_->notify(r.text(i, 0));
  return r.rows();
}

int PgJobQueue::waiting() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return int(impl_->db.exec("SELECT count(*) FROM jobs WHERE state='queued'").number(0, 0));
}

std::optional<std::string> PgJobQueue::job_with_key(const std::string& owner, const std::string& key) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r = impl_->db.exec("SELECT id FROM jobs WHERE owner=$1 AND idempotency_key=$2", {owner, key});
  if (!r.rows()) return std::nullopt;
  return r.text(0, 0);
}

std::string PgJobQueue::add_photo(const std::string& owner, const std::string& subject, const std::string& name,
                                  const std::string& bytes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::string id = random_id("p_");
  impl_->db.exec_bytes("INSERT INTO photos (id, owner, subject, name, sha256, bytes) VALUES ($1,$2,$3,$4,$5,$6)",
                       {id, owner, subject, name, sha256_hex(bytes), bytes}, {false, false, false, false, false, true});
  return id;
}

std::vector<StoredPhoto> PgJobQueue::photos(const std::string& subject) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r =
      impl_->db.exec("SELECT id, name, bytes FROM photos WHERE subject=$1 ORDER BY seq", {subject}, true);
  std::vector<StoredPhoto> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.bytes(i, 2)});
  return out;
}

std::vector<JobOutput> PgJobQueue::outputs(const std::string& id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r =
      impl_->db.exec("SELECT kind, name, bytes, meta::text FROM outputs WHERE job=$1 ORDER BY id", {id}, true);
  std::vector<JobOutput> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.text(i, 0), r.text(i, 1), r.bytes(i, 2), json::parse(r.text(i, 3))});
  return out;
}

std::optional<QueuedJob> PgJobQueue::get(const std::string& id, const std::string& owner) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const pg::Result r =
      impl_->db.exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=$1 AND owner=$2", {id, owner});
  if (r.rows() == 0) return std::nullopt;
  return job_from(r, 0);
}

}  // namespace likeness
