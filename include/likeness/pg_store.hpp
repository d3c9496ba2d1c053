// The shared store on PostgreSQL, for a studio on several machines: any
// number of servers and workers reach one database (likeness serve --db,
// likeness worker --db). The schema is created and migrated by the binary.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "likeness/consent_store.hpp"

namespace likeness {

// Consent records and photo digests in the database at `url`
// (postgresql://user@host:port/db), its schema migrated first. Thread-safe.
// Keeps no local folder: a subject's photo analyses are kept in the
// database (analysis_keeper), only while their consent holds. A database
// that cannot be reached is Error{unavailable}; the next call tries again.
std::unique_ptr<ConsentStore> open_pg_consent_store(const std::string& url);

// purge() on the database at `url` if no other process is purging it now
// (an advisory lock: many workers, one purge at a time); nullopt if one is.
std::optional<json> purge_pg_once(const std::string& url);

// Migrates the database at `url` to the newest schema; the versions applied.
std::vector<int> migrate_pg(const std::string& url);

}  // namespace likeness
