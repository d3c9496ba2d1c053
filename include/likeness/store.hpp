// The studio's store of people's data (SQLite + files under the data dir):
// consent records, the reference photos' digests a record covers, face
// analyses (embeddings), set records and the portraits made. Nothing about a
// person is kept without a valid consent record; one call deletes it all.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace likeness {

using json = nlohmann::json;

inline constexpr const char* kConsentTextVersion = "1";
const std::string& consent_text();  // what the person agrees to (its SHA-256 is recorded)

struct ConsentRecord {
  std::string id;  // opaque ("cr_" + 16 hex), the only thing a manifest may carry
  std::string subject;
  std::string given_by, on_behalf_of;
  std::string basis;  // "consent" or "public-domain sample"
  std::string text_version, text_sha256;
  std::vector<std::string> purposes;                      // "portraits", "likeness"
  std::vector<std::string> data_kinds;                    // "photos", "embeddings", "portraits"
  std::string granted_at, retention_until, withdrawn_at;  // ISO 8601 UTC; withdrawn_at "" if not
  bool valid_now() const;                                 // not withdrawn, not expired
  json to_json() const;
};

inline constexpr const char* kConsentPurposes[] = {"portraits", "likeness"};

class Store {
 public:
  static Store& open();  // <data dir>/studio.db, created on first use

  ConsentRecord grant(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                      const std::vector<std::string>& purposes, int retention_days,
                      const std::string& basis = "consent");
  // The newest record of a subject, or id "" if none.
  ConsentRecord latest(const std::string& subject);
  bool withdraw(const std::string& subject);  // false if no active record
  // Throws Error{no_consent} unless the subject has a valid record covering `purpose`.
  ConsentRecord require(const std::string& subject, const std::string& purpose);

  // What a subject's consent covers and what was made.
  void add_photo(const std::string& subject, const std::string& sha256);
  void add_output(const std::string& subject, const std::string& path, const std::string& sha256);
  std::string subject_dir(const std::string& subject);  // analyses and set records live here

  // Everything the store holds, per subject.
  json list();
  // Deletes the subject's records, photo digests, analyses, set records and
  // the portraits made (if unchanged); returns what was removed.
  json forget(const std::string& subject);
  // forget() for every subject whose retention has passed or who withdrew.
  json purge();

 private:
  explicit Store(const std::string& path);
  void* db_ = nullptr;  // sqlite3*
};

}  // namespace likeness
