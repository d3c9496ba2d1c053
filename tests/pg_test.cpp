// The shared store on a real PostgreSQL server, started by the test itself
// (pg_fixture.hpp): the schema migrated up from an empty database, consent
// that holds across machines, and a database that goes away and comes back.
#include "store/pg/pg.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "likeness/error.hpp"
#include "likeness/pg_queue.hpp"
#include "likeness/pg_store.hpp"
#include "likeness/studio.hpp"
#include "pg_fixture.hpp"
#include "testing.hpp"

using namespace likeness;
using likeness::testing::PgServer;

namespace {

PgServer& server() {
  static PgServer s;  // one cluster per test process, each test its own database
  return s;
}

std::string fresh_db(const std::string& name) { return server().create_database(name); }

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::internal;
}

}  // namespace

TEST(Pg, TheSchemaIsMigratedUpFromAnEmptyDatabaseOnce) {
  const std::string url = fresh_db("migrate_once");
  pg::Connection c(url);
  EXPECT_EQ(pg::schema_version(c), 0);
  const std::vector<int> applied = migrate_pg(url);
  ASSERT_FALSE(applied.empty());
  for (size_t i = 0; i < applied.size(); ++i) EXPECT_EQ(applied[i], int(i) + 1) << "versions in order, none skipped";
  EXPECT_EQ(pg::schema_version(c), applied.back());
  EXPECT_TRUE(migrate_pg(url).empty()) << "a second start applies nothing";
  for (const char* table : {"consent", "consent_photos", "likeness_schema"})
    EXPECT_EQ(c.exec("SELECT to_regclass($1) IS NOT NULL", {std::string(table)}).text(0, 0), "t") << table;
}

// Servers and workers starting at once on an empty database: each version
// is applied by exactly one of them, and none fails.
TEST(Pg, ProcessesStartingAtOnceMigrateOneAfterAnother) {
  const std::string url = fresh_db("migrate_race");
  std::atomic<int> applied{0}, failed{0};
  std::vector<std::thread> starts;
  for (int i = 0; i < 6; ++i)
    starts.emplace_back([&] {
      try {
        applied += int(migrate_pg(url).size());
      } catch (const std::exception& e) {
        ++failed;
        ADD_FAILURE() << e.what();
      }
    });
  for (auto& t : starts) t.join();
  pg::Connection c(url);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), pg::schema_version(c));
  EXPECT_EQ(c.exec("SELECT count(*) FROM likeness_schema").number(0, 0), pg::schema_version(c));
}

// Two machines, each its own connection: what one records, the other
// checks; a withdrawal on one stops the other; forget leaves nothing.
TEST(Pg, ConsentHoldsAcrossMachines) {
  const std::string url = fresh_db("consent_machines");
  auto a = open_pg_consent_store(url);
  auto b = open_pg_consent_store(url);
  EXPECT_EQ(code_of([&] { b->require("ada", "portraits"); }), ErrorCode::no_consent);
  const ConsentRecord r = a->grant("ada", "Ada", "", {"portraits", "likeness"}, 30, {"personal", "commercial"});
  const ConsentRecord seen = b->require("ada", "portraits");
  EXPECT_EQ(seen.id, r.id);
  EXPECT_EQ(seen.granted_at, r.granted_at);
  EXPECT_EQ(seen.retention_until, r.retention_until);
  EXPECT_TRUE(seen.permits("commercial"));
  EXPECT_TRUE(seen.valid_now());
  EXPECT_EQ(b->subject_dir("ada"), "") << "nothing of a person on one machine's disk";
  EXPECT_EQ(code_of([&] { a->grant("ada", "", "", {"portraits"}, 30, {"personal"}); }), ErrorCode::usage);
  EXPECT_EQ(code_of([&] { a->grant("../x", "Ada", "", {"portraits"}, 30, {"personal"}); }), ErrorCode::usage);

  a->add_photo("ada", std::string(64, 'a'));
  b->add_photo("ada", std::string(64, 'a'));  // the same photo twice: one digest
  b->add_photo("ada", std::string(64, 'b'));
  a->grant("bo", "Bo", "", {"portraits"}, 30, {"personal"});
  json all = b->list();
  EXPECT_EQ(all["ada"]["photos"], 2);
  EXPECT_EQ(all["ada"]["consent"].size(), 1u);

  EXPECT_TRUE(b->withdraw("ada"));
  EXPECT_FALSE(b->withdraw("ada")) << "nothing left to withdraw";
  EXPECT_EQ(code_of([&] { a->require("ada", "portraits"); }), ErrorCode::no_consent);
  EXPECT_FALSE(a->latest("ada").withdrawn_at.empty());

  // The purge forgets whoever withdrew, and only them.
  const json purged = a->purge();
  ASSERT_EQ(purged.size(), 1u);
  EXPECT_EQ(purged[0]["subject"], "ada");
  EXPECT_EQ(purged[0]["consent_records"], 1);
  EXPECT_EQ(purged[0]["photo_digests"], 2);
  EXPECT_TRUE(b->latest("ada").id.empty());
  EXPECT_FALSE(b->latest("bo").id.empty());
  pg::Connection c(url);
  EXPECT_EQ(c.exec("SELECT count(*) FROM consent_photos WHERE subject='ada'").number(0, 0), 0);

  const json gone = b->forget("bo");
  EXPECT_EQ(gone["consent_records"], 1);
  EXPECT_EQ(c.exec("SELECT count(*) FROM consent").number(0, 0), 0);
}

// The database goes away: every call says unavailable (never a wrong
// answer, never a hang); it comes back: the same store works again by
// itself.
TEST(Pg, ADatabaseThatGoesAwayIsUnavailableAndTheStoreRecoversByItself) {
  const std::string url = fresh_db("outage");
  auto store = open_pg_consent_store(url);
  store->grant("cy", "Cy", "", {"portraits"}, 30, {"personal"});
  server().stop();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of([&] { store->require("cy", "portraits"); }), ErrorCode::unavailable);
  EXPECT_EQ(code_of([&] { store->latest("cy"); }), ErrorCode::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
  server().start();
  EXPECT_EQ(store->require("cy", "portraits").subject, "cy");
  // A crash of the server, not a clean stop: the same.
  server().kill();
  EXPECT_EQ(code_of([&] { store->latest("cy"); }), ErrorCode::unavailable);
  server().start();
  EXPECT_EQ(store->latest("cy").subject, "cy");
}

// Many workers purge on a schedule: one at a time, the others skip.
TEST(Pg, OnePurgeAtATime) {
  const std::string url = fresh_db("purge_once");
  auto store = open_pg_consent_store(url);
  store->grant("kit", "Kit", "", {"portraits"}, 30, {"personal"});
  store->withdraw("kit");
  pg::Connection holder(url);
  ASSERT_EQ(holder.exec("SELECT pg_try_advisory_lock(1886745203)").text(0, 0), "t");
  EXPECT_FALSE(purge_pg_once(url)) << "another purge holds the lock";
  EXPECT_FALSE(store->latest("kit").id.empty());
  holder.exec("SELECT pg_advisory_unlock(1886745203)");
  const auto out = purge_pg_once(url);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0]["subject"], "kit");
  EXPECT_TRUE(store->latest("kit").id.empty());
}

TEST(Pg, NoServerAtTheAddressIsUnavailableAtOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of([&] { open_pg_consent_store("postgresql://likeness@127.0.0.1:1/none"); }), ErrorCode::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

// ---- The job queue ----------------------------------------------------------

namespace {

std::vector<JobOutput> outputs_for(const std::string& id) {
  return {{"portrait", "portrait-1.jpg", "jpeg bytes of " + id, {{"likeness", 0.97}}},
          {"sidecar", "portrait-1.json", "{\"job\":\"" + id + "\"}", json::object()}};
}

}  // namespace

// Three workers, each its own connection, take 40 jobs as fast as they can:
// every job done once, by one worker, its outputs once.
TEST(PgQueue, ThreeWorkersFortyJobsEachDoneExactlyOnce) {
  const std::string url = fresh_db("queue_forty");
  auto consent = open_pg_consent_store(url);
  consent->grant("dee", "Dee", "", {"portraits", "likeness"}, 30, {"personal"});
  PgJobQueue client(url);
  std::set<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.insert(client.submit("u1", "dee", {{"count", 1}, {"n", i}}).id);
  ASSERT_EQ(ids.size(), 40u);
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> done_by;
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w)
    workers.emplace_back([&, w] {
      PgJobQueue q(url);
      const std::string me = "worker-" + std::to_string(w);
      while (auto job = q.lease(me, 30)) {
        EXPECT_FALSE(q.heartbeat(job->id, me, 30, {{"fraction", 0.5}}).lost);
        if (q.complete(job->id, me, outputs_for(job->id))) {
          std::lock_guard<std::mutex> lock(mu);
          done_by[job->id].push_back(me);
        }
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(done_by.size(), 40u);
  for (const auto& [id, by] : done_by) EXPECT_EQ(by.size(), 1u) << id << " done twice";
  pg::Connection c(url);
  EXPECT_EQ(c.exec("SELECT count(*) FROM jobs WHERE state='done' AND attempts=1").number(0, 0), 40);
  EXPECT_EQ(c.exec("SELECT count(*) FROM outputs").number(0, 0), 80);
  EXPECT_EQ(c.exec("SELECT count(*) FROM (SELECT job, name FROM outputs GROUP BY job, name HAVING count(*) > 1) d")
                .number(0, 0),
            0);
  EXPECT_EQ(c.exec("SELECT count(DISTINCT made_by) > 1 FROM outputs").text(0, 0), "t") << "the work was shared";
  EXPECT_EQ(c.exec("SELECT bool_and(sha256 = encode(sha256(bytes), 'hex')) FROM outputs").text(0, 0), "t");
}

// A worker that stops answering: its lease expires, another worker takes the
// job and finishes it; the first can no longer write anything.
TEST(PgQueue, AnExpiredLeaseGoesToAnotherWorkerAndTheFirstCanWriteNothing) {
  const std::string url = fresh_db("queue_expiry");
  open_pg_consent_store(url)->grant("eve", "Eve", "", {"portraits", "likeness"}, 30, {"personal"});
  PgJobQueue a(url), b(url);
  const std::string id = a.submit("u1", "eve", {{"count", 1}}).id;
  const auto first = a.lease("a", 3);
  ASSERT_TRUE(first);
  EXPECT_FALSE(b.lease("b", 30)) << "a leased job is not offered again";
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  const auto second = b.lease("b", 30);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, id);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_TRUE(a.heartbeat(id, "a", 30, {}).lost);
  EXPECT_FALSE(a.complete(id, "a", outputs_for(id)));
  EXPECT_TRUE(b.complete(id, "b", outputs_for(id)));
  pg::Connection c(url);
  EXPECT_EQ(c.exec("SELECT count(*), min(made_by) FROM outputs").number(0, 0), 2);
  EXPECT_EQ(c.exec("SELECT min(made_by) FROM outputs").text(0, 0), "b");
}

TEST(PgQueue, AJobOutOfAttemptsIsDeadWithTheReason) {
  const std::string url = fresh_db("queue_dead");
  PgJobQueue q(url);
  const std::string id = q.submit("u1", "fay", {{"count", 1}}, "", 2).id;
  ASSERT_TRUE(q.lease("w1", 0.2));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(q.lease("w2", 30));  // the second and last attempt
  EXPECT_TRUE(q.fail(id, "w2", {{"code", "unavailable"}, {"message", "the database went away"}}, true));
  const auto j = q.get(id, "u1");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->state, "dead");
  EXPECT_EQ(j->attempts, 2);
  EXPECT_EQ(j->error["message"], "the database went away");
  EXPECT_FALSE(q.lease("w3", 30)) << "a dead job is not offered again";
  // A failure that a retry cannot mend fails the job at once.
  const std::string bad = q.submit("u1", "fay", {{"count", 2}}).id;
  ASSERT_TRUE(q.lease("w1", 30));
  EXPECT_TRUE(q.fail(bad, "w1", {{"code", "bad_input"}}, false));
  EXPECT_EQ(q.get(bad, "u1")->state, "failed");
  // An expiry on the last attempt: dead, and the reason names the worker.
  const std::string lost = q.submit("u1", "fay", {{"count", 3}}, "", 1).id;
  ASSERT_TRUE(q.lease("w9", 0.2));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(q.expire_leases(), 1);
  const auto l = q.get(lost, "u1");
  EXPECT_EQ(l->state, "dead");
  EXPECT_EQ(l->error["code"], "lease_expired");
  EXPECT_NE(l->error["message"].get<std::string>().find("w9"), std::string::npos);
}

TEST(PgQueue, ACancelReachesTheRunningWorkerAndOnlyTheOwnerCanCancel) {
  const std::string url = fresh_db("queue_cancel");
  open_pg_consent_store(url)->grant("gus", "Gus", "", {"portraits", "likeness"}, 30, {"personal"});
  PgJobQueue server(url), worker(url);
  const std::string queued = server.submit("u1", "gus", {{"count", 1}}).id;
  const std::string running = server.submit("u1", "gus", {{"count", 2}}).id;
  ASSERT_EQ(worker.lease("w", 30)->id, queued);
  EXPECT_FALSE(server.cancel(queued, "u2")) << "another user's job";
  EXPECT_TRUE(server.cancel(running, "u1"));
  EXPECT_EQ(server.get(running, "u1")->state, "cancelled") << "a queued job is cancelled at once";
  EXPECT_TRUE(server.cancel(queued, "u1"));
  EXPECT_EQ(server.get(queued, "u1")->state, "running");
  const Beat beat = worker.heartbeat(queued, "w", 30, {{"stage", "segment"}});
  EXPECT_FALSE(beat.lost);
  EXPECT_TRUE(beat.cancel);
  EXPECT_FALSE(worker.complete(queued, "w", outputs_for(queued))) << "nothing is written after a cancel";
  EXPECT_TRUE(worker.cancelled(queued, "w"));
  EXPECT_EQ(server.get(queued, "u1")->state, "cancelled");
  EXPECT_FALSE(server.get(queued, "u2")) << "another user sees nothing";
  pg::Connection c(url);
  EXPECT_EQ(c.exec("SELECT count(*) FROM outputs").number(0, 0), 0);
}

TEST(PgQueue, TheSameKeyGivesTheSameJobAndAnotherRequestUnderItConflicts) {
  const std::string url = fresh_db("queue_idempotency");
  PgJobQueue q(url);
  const Submitted a = q.submit("u1", "hal", {{"count", 1}}, "key-1");
  const Submitted b = q.submit("u1", "hal", {{"count", 1}}, "key-1");
  const Submitted c = q.submit("u1", "hal", {{"count", 2}}, "key-1");
  const Submitted d = q.submit("u2", "hal", {{"count", 1}}, "key-1");
  EXPECT_TRUE(a.created);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(b.id, a.id);
  EXPECT_TRUE(c.conflict);
  EXPECT_TRUE(d.created) << "keys are per user";
  EXPECT_NE(d.id, a.id);
}

// A forget on one machine while another runs the subject's job: the job and
// its outputs go, the worker's lease is gone at its next heartbeat and its
// commit writes nothing.
TEST(PgQueue, AForgetWhileAnotherMachineRunsTheJobLeavesNothing) {
  const std::string url = fresh_db("queue_forget");
  auto consent = open_pg_consent_store(url);
  consent->grant("ida", "Ida", "", {"portraits", "likeness"}, 30, {"personal"});
  PgJobQueue server(url), worker(url);
  const std::string done = server.submit("u1", "ida", {{"count", 1}}).id;
  ASSERT_TRUE(worker.lease("w", 30));
  ASSERT_TRUE(worker.complete(done, "w", outputs_for(done)));
  const std::string id = server.submit("u1", "ida", {{"count", 2}}).id;
  ASSERT_TRUE(worker.lease("w", 30));
  const json removed = consent->forget("ida");
  EXPECT_EQ(removed["jobs"], 2);
  EXPECT_EQ(removed["outputs"], 2);
  EXPECT_TRUE(worker.heartbeat(id, "w", 30, {}).lost);
  EXPECT_FALSE(worker.complete(id, "w", outputs_for(id)));
  pg::Connection c(url);
  for (const char* t : {"jobs", "outputs", "consent", "consent_photos"})
    EXPECT_EQ(c.exec(std::string("SELECT count(*) FROM ") + t + " WHERE subject='ida'").number(0, 0), 0) << t;
  // Withdrawn, not forgotten: the commit is refused and the job failed.
  consent->grant("jo", "Jo", "", {"portraits", "likeness"}, 30, {"personal"});
  const std::string late = server.submit("u1", "jo", {{"count", 1}}).id;
  ASSERT_TRUE(worker.lease("w", 30));
  consent->withdraw("jo");
  EXPECT_EQ(code_of([&] { worker.complete(late, "w", outputs_for(late)); }), ErrorCode::no_consent);
  EXPECT_EQ(server.get(late, "u1")->state, "failed");
  EXPECT_EQ(c.exec("SELECT count(*) FROM outputs WHERE subject='jo'").number(0, 0), 0);
}

// A subject's photo analyses (face embeddings) are kept in the database by
// whichever machine computed them first and read by every other; kept only
// while consent holds; forget removes them with the rest.
TEST(Pg, AnalysesAreKeptOnceForEveryMachineAndForgottenWithThePerson) {
  const std::string url = fresh_db("analyses");
  std::unique_ptr<ConsentStore> here = open_pg_consent_store(url), there = open_pg_consent_store(url);
  here->grant("ana", "Ana", "", {"portraits", "likeness"}, 30, {"personal"});
  const std::vector<std::string> files = {likeness::testing::people("person05_1.jpg"),
                                          likeness::testing::people("person05_2.jpg")};
  pg::Connection c(url);
  auto rows = [&] { return c.exec("SELECT count(*) FROM analyses WHERE subject='ana'").number(0, 0); };
  JobContext ctx;
  ctx.analysis_store = "";
  ctx.consent = here.get();
  const SetCheck first = check_references(files, ctx, "ana", "likeness");
  ASSERT_EQ(first.usable(), 2);
  EXPECT_EQ(rows(), 2) << "one analysis per photo, kept";

  // Another machine reads them rather than computing them again: an entry
  // marked in the database comes back marked.
  c.exec("UPDATE analyses SET body = jsonb_set(body::jsonb, '{faces,0,score}', '0.123')::text WHERE subject='ana'");
  ctx.consent = there.get();
  const SetCheck second = check_references(files, ctx, "ana", "likeness");
  ASSERT_EQ(second.photos.size(), 2u);
  for (const auto& p : second.photos) {
    ASSERT_FALSE(p.a.faces.empty());
    EXPECT_NEAR(p.a.faces[0].face.score, 0.123, 1e-6) << "read from the database, not recomputed";
  }
  EXPECT_EQ(rows(), 2);

  // Withdrawn: nothing new is kept. Forgotten: none is left.
  c.exec("DELETE FROM analyses");
  ASSERT_TRUE(here->withdraw("ana"));
  here->analysis_keeper("ana")->put("k", "{}");
  EXPECT_EQ(rows(), 0) << "nothing kept after the consent was withdrawn";
  here->grant("ana", "Ana", "", {"portraits", "likeness"}, 30, {"personal"});
  ctx.consent = here.get();
  check_references(files, ctx, "ana", "likeness");
  EXPECT_EQ(rows(), 2);
  const json removed = there->forget("ana");
  EXPECT_EQ(removed["analyses"], 2);
  EXPECT_EQ(rows(), 0);
}
