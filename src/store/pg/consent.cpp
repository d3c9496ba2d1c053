// ConsentStore on PostgreSQL: the records every machine of a studio checks.
#include <mutex>

#include "likeness/error.hpp"
#include "likeness/pg_store.hpp"
#include "store/pg/pg.hpp"

namespace likeness {

namespace {

std::string iso_column(const std::string& col) {
  return "to_char(" + col + " AT TIME ZONE 'UTC', '" + pg::kIsoFormat + "')";
}

const std::string& record_columns() {
  static const std::string c =
      "id, subject, given_by, on_behalf_of, basis, text_version, text_sha256, purposes::text, "
      "data_kinds::text, " +
      iso_column("granted_at") + ", " + iso_column("retention_until") + ", " + iso_column("withdrawn_at") +
      ", uses::text";
  return c;
}

ConsentRecord record_from(const pg::Result& r, int row) {
  ConsentRecord c;
  c.id = r.text(row, 0);
  c.subject = r.text(row, 1);
  c.given_by = r.text(row, 2);
  c.on_behalf_of = r.text(row, 3);
  c.basis = r.text(row, 4);
  c.text_version = r.text(row, 5);
  c.text_sha256 = r.text(row, 6);
  c.purposes = json::parse(r.text(row, 7)).get<std::vector<std::string>>();
  c.data_kinds = json::parse(r.text(row, 8)).get<std::vector<std::string>>();
  c.granted_at = r.text(row, 9);
  c.retention_until = r.text(row, 10);
  c.withdrawn_at = r.text(row, 11);
  c.uses = json::parse(r.text(row, 12)).get<std::vector<std::string>>();
  return c;
}

class PgConsentStore final : public ConsentStore {
 public:
  explicit PgConsentStore(const std::string& url) : db_(url) { pg::migrate(db_); }

  ConsentRecord grant(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                      const std::vector<std::string>& purposes, int retention_days,
                      const std::vector<std::string>& uses, const std::string& basis) override {
    const ConsentRecord r = new_consent_record(subject, by, on_behalf_of, purposes, retention_days, uses, basis);
    std::lock_guard<std::mutex> lock(mu_);
    db_.exec(
        "INSERT INTO consent (id, subject, given_by, on_behalf_of, basis, text_version, text_sha256, purposes, "
        "data_kinds, uses, granted_at, retention_until) VALUES ($1,$2,$3,$4,$5,$6,$7,$8::jsonb,$9::jsonb,$10::jsonb,"
        "$11::timestamptz,$12::timestamptz)",
        {r.id, r.subject, r.given_by, r.on_behalf_of, r.basis, r.text_version, r.text_sha256, json(r.purposes).dump(),
         json(r.data_kinds).dump(), json(r.uses).dump(), r.granted_at, r.retention_until});
    return r;
  }

  ConsentRecord latest(const std::string& subject) override {
    check_subject_id(subject);
    std::lock_guard<std::mutex> lock(mu_);
    const pg::Result r = db_.exec(
        "SELECT " + record_columns() + " FROM consent WHERE subject=$1 ORDER BY granted_at DESC, seq DESC LIMIT 1",
        {subject});
    return r.rows() ? record_from(r, 0) : ConsentRecord{};
  }

  bool withdraw(const std::string& subject) override {
    check_subject_id(subject);
    std::lock_guard<std::mutex> lock(mu_);
    return db_.exec(
                  "UPDATE consent SET withdrawn_at=date_trunc('second', now()) WHERE subject=$1 AND "
                  "withdrawn_at IS NULL",
                  {subject})
               .affected() > 0;
  }

  void add_photo(const std::string& subject, const std::string& sha256) override {
    check_subject_id(subject);
    std::lock_guard<std::mutex> lock(mu_);
    db_.exec("INSERT INTO consent_photos (subject, sha256) VALUES ($1,$2) ON CONFLICT DO NOTHING", {subject, sha256});
  }

  std::string subject_dir(const std::string&) override { return ""; }

  json list() override {
    std::lock_guard<std::mutex> lock(mu_);
    json out = json::object();
    const pg::Result c = db_.exec("SELECT " + record_columns() + " FROM consent ORDER BY subject, granted_at, seq");
    for (int i = 0; i < c.rows(); ++i) {
      const ConsentRecord r = record_from(c, i);
      out[r.subject]["consent"].push_back(r.to_json());
    }
    const pg::Result p = db_.exec("SELECT subject, count(*) FROM consent_photos GROUP BY subject");
    for (int i = 0; i < p.rows(); ++i) out[p.text(i, 0)]["photos"] = p.number(i, 1);
    return out;
  }

  json forget(const std::string& subject) override {
    check_subject_id(subject);
    std::lock_guard<std::mutex> lock(mu_);
    return forget_locked(subject);
  }

  json purge() override {
    std::lock_guard<std::mutex> lock(mu_);
    // A subject whose newest record is withdrawn or past its retention.
    const pg::Result due = db_.exec(
        "SELECT subject FROM (SELECT DISTINCT ON (subject) subject, withdrawn_at, retention_until FROM consent "
        "ORDER BY subject, granted_at DESC, seq DESC) newest WHERE withdrawn_at IS NOT NULL OR retention_until <= "
        "now()");
    json out = json::array();
    for (int i = 0; i < due.rows(); ++i) out.push_back(forget_locked(due.text(i, 0)));
    return out;
  }

  // The subject's analyses in the database, every machine's to reuse.
  std::shared_ptr<AnalysisKeeper> analysis_keeper(const std::string& subject) override {
    class Keeper final : public AnalysisKeeper {
     public:
      Keeper(PgConsentStore& store, std::string subject) : store_(store), subject_(std::move(subject)) {}
      std::optional<std::string> get(const std::string& key) override {
        std::lock_guard<std::mutex> lock(store_.mu_);
        const pg::Result r = store_.db_.exec("SELECT body FROM analyses WHERE subject=$1 AND key=$2", {subject_, key});
        if (!r.rows()) return std::nullopt;
        return r.text(0, 0);
      }
      // Only while the subject's consent holds: a forget or a withdrawal
      // that came first leaves no analysis behind it.
      void put(const std::string& key, const std::string& body) override {
        std::lock_guard<std::mutex> lock(store_.mu_);
        store_.db_.exec(
            "INSERT INTO analyses (subject, key, body) SELECT $1, $2, $3 WHERE coalesce((SELECT withdrawn_at IS "
            "NULL AND retention_until > now() FROM consent WHERE subject=$1 ORDER BY granted_at DESC, seq DESC "
            "LIMIT 1 FOR SHARE), false) ON CONFLICT (subject, key) DO UPDATE SET body = excluded.body",
            {subject_, key, body});
      }

     private:
      PgConsentStore& store_;
      std::string subject_;
    };
    return std::make_shared<Keeper>(*this, subject);
  }

 private:
  json forget_locked(const std::string& subject) {
    json removed = {{"subject", subject}, {"consent_records", 0}, {"photo_digests", 0}, {"jobs", 0},
                    {"outputs", 0},       {"photos", 0},          {"subjects", 0},      {"analyses", 0}};
    db_.transaction([&] {
      // Their jobs and outputs go with them: a worker running one of the
      // jobs finds its lease gone at its next heartbeat and can commit
      // nothing (PgJobQueue::complete reads the consent under a lock).
      removed["outputs"] = db_.exec("DELETE FROM outputs WHERE subject=$1", {subject}).affected();
      removed["photos"] = db_.exec("DELETE FROM photos WHERE subject=$1", {subject}).affected();
      const pg::Result jobs = db_.exec("DELETE FROM jobs WHERE subject=$1 RETURNING id", {subject});
      removed["jobs"] = jobs.rows();
      for (int i = 0; i < jobs.rows(); ++i) db_.exec("SELECT pg_notify('likeness_jobs', $1)", {jobs.text(i, 0)});
      removed["photo_digests"] = db_.exec("DELETE FROM consent_photos WHERE subject=$1", {subject}).affected();
      removed["analyses"] = db_.exec("DELETE FROM analyses WHERE subject=$1", {subject}).affected();
      // The person's entry in their user's list (a name) goes too.
      removed["subjects"] = db_.exec("DELETE FROM subjects WHERE id=$1", {subject}).affected();
      removed["consent_records"] = db_.exec("DELETE FROM consent WHERE subject=$1", {subject}).affected();
    });
    return removed;
  }

  std::mutex mu_;
  pg::Connection db_;
};

}  // namespace

std::unique_ptr<ConsentStore> open_pg_consent_store(const std::string& url) {
  return std::make_unique<PgConsentStore>(url);
}

std::optional<json> purge_pg_once(const std::string& url) {
  PgConsentStore store(url);
  pg::Connection lock(url);
  // Session-level: held while this connection lives ("purge" in ASCII).
  if (lock.exec("SELECT pg_try_advisory_lock(1886745203)").text(0, 0) != "t") return std::nullopt;
  return store.purge();
}

std::vector<int> migrate_pg(const std::string& url) {
  pg::Connection c(url);
  return pg::migrate(c);
}

}  // namespace likeness
