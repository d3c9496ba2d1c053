// The shared database's schema, one migration per version. A migration
// once released never changes: a change is a new version.
#include <utility>
#include <vector>

#include "store/pg/pg.hpp"

namespace likeness::pg {

namespace {

// Taken for the length of a migration transaction: processes that start
// at once migrate one after another ("likeness" in ASCII).
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7020098461926765427)";

const std::vector<std::pair<int, const char*>>& migrations() {
  static const std::vector<std::pair<int, const char*>> m = {
      // 1: consent records and the photo digests a record covers
      // (ConsentStore). Times are timestamptz; the newest record of a
      // subject is the one that counts (seq breaks a tie in one second).
      {1,
       "CREATE TABLE consent ("
       "  id text PRIMARY KEY, subject text NOT NULL, given_by text NOT NULL,"
       "  on_behalf_of text NOT NULL DEFAULT '', basis text NOT NULL,"
       "  text_version text NOT NULL, text_sha256 text NOT NULL,"
       "  purposes jsonb NOT NULL, data_kinds jsonb NOT NULL, uses jsonb NOT NULL,"
       "  granted_at timestamptz NOT NULL, retention_until timestamptz NOT NULL,"
       "  withdrawn_at timestamptz, seq bigserial NOT NULL);"
       "CREATE INDEX consent_newest ON consent (subject, granted_at DESC, seq DESC);"
       "CREATE TABLE consent_photos ("
       "  subject text NOT NULL, sha256 text NOT NULL,"
       "  added_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (subject, sha256));"},
      // 2: the job queue (PgJobQueue) and the outputs, bytes and digest
      // beside their record. A lease is a worker's name and an expiry.
      {2,
       "CREATE TABLE jobs ("
       "  id text PRIMARY KEY, owner text NOT NULL, subject text NOT NULL, spec jsonb NOT NULL,"
       "  idempotency_key text,"
       "  state text NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled','dead')),"
       "  attempts integer NOT NULL DEFAULT 0, max_attempts integer NOT NULL CHECK (max_attempts >= 1),"
       "  lease_owner text, lease_until timestamptz, heartbeat_at timestamptz,"
       "  cancel_requested boolean NOT NULL DEFAULT false,"
       "  progress jsonb NOT NULL DEFAULT '{}', error jsonb,"
       "  created_at timestamptz NOT NULL DEFAULT clock_timestamp(), started_at timestamptz,"
       "  finished_at timestamptz, seq bigserial NOT NULL,"
       "  UNIQUE (owner, idempotency_key));"
       "CREATE INDEX jobs_queued ON jobs (seq) WHERE state = 'queued';"
       "CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';"
       "CREATE INDEX jobs_subject ON jobs (subject);"
       "CREATE TABLE outputs ("
       "  id bigserial PRIMARY KEY, job text NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
       "  subject text NOT NULL, kind text NOT NULL, name text NOT NULL, sha256 text NOT NULL,"
       "  bytes bytea NOT NULL, meta jsonb NOT NULL DEFAULT '{}',"
       "  made_by text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (job, name));"
       "CREATE INDEX outputs_subject ON outputs (subject);"},
      // 3: the uploaded photos, bytes beside their record, where every
      // worker reads them.
      {3,
       "CREATE TABLE photos ("
       "  id text PRIMARY KEY, owner text NOT NULL, subject text NOT NULL, name text NOT NULL,"
       "  sha256 text NOT NULL, bytes bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
       "  seq bigserial NOT NULL);"
       "CREATE INDEX photos_subject ON photos (subject, seq);"},
      // 4: what `likeness serve --db` keeps beside them: users and their
      // sign-ins (secrets as SHA-256, passwords as PBKDF2), the people each
      // user manages, a photo's size, a job's spec digest.
      {4,
       "CREATE TABLE users ("
       "  id text PRIMARY KEY, name text UNIQUE NOT NULL, salt text NOT NULL, hash text NOT NULL,"
       "  created_at timestamptz NOT NULL DEFAULT now());"
       "CREATE TABLE sessions ("
       "  secret_sha text PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       "  csrf text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
       "CREATE TABLE tokens ("
       "  secret_sha text PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       "  label text NOT NULL DEFAULT '', created_at timestamptz NOT NULL DEFAULT now());"
       "CREATE TABLE subjects ("
       "  id text PRIMARY KEY, owner text NOT NULL, name text NOT NULL,"
       "  created_at timestamptz NOT NULL DEFAULT now(), seq bigserial NOT NULL);"
       "CREATE INDEX subjects_owner ON subjects (owner, seq);"
       "ALTER TABLE photos ADD COLUMN width integer NOT NULL DEFAULT 0,"
       "  ADD COLUMN height integer NOT NULL DEFAULT 0;"
       "CREATE INDEX jobs_owner ON jobs (owner, seq);"},
      // 5: a consented subject's photo analyses (face embeddings:
      // biometric data), computed once by whichever machine first needed
      // them; forget removes them with the rest.
      {5,
       "CREATE TABLE analyses ("
       "  subject text NOT NULL, key text NOT NULL, body text NOT NULL,"
       "  created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (subject, key));"},
  };
  return m;
}

}  // namespace

int schema_version(Connection& c) {
  if (c.exec("SELECT to_regclass('likeness_schema') IS NULL").text(0, 0) == "t") return 0;
  return int(c.exec("SELECT coalesce(max(version), 0) FROM likeness_schema").number(0, 0));
}

std::vector<int> migrate(Connection& c) {
  std::vector<int> applied;
  c.transaction([&] {
    c.exec(kLock);
    c.exec(
        "CREATE TABLE IF NOT EXISTS likeness_schema ("
        "  version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const int current = int(c.exec("SELECT coalesce(max(version), 0) FROM likeness_schema").number(0, 0));
    for (const auto& [version, sql] : migrations()) {
      if (version <= current) continue;
      c.script(sql);
      c.exec("INSERT INTO likeness_schema (version) VALUES ($1)", {std::to_string(version)});
      applied.push_back(version);
    }
  });
  return applied;
}

}  // namespace likeness::pg
