// The shared store on a real PostgreSQL server, started by the test itself
// (pg_fixture.hpp): the schema migrated up from an empty database, consent
// that holds across machines, and a database that goes away and comes back.
#include "store/pg/pg.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "likeness/error.hpp"
#include "likeness/pg_store.hpp"
#include "pg_fixture.hpp"

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

TEST(Pg, NoServerAtTheAddressIsUnavailableAtOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of([&] { open_pg_consent_store("postgresql://likeness@127.0.0.1:1/none"); }), ErrorCode::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}
