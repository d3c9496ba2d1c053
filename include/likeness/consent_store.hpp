// The consent store: who agreed to what, the reference photos a record
// covers, and the one action that deletes a person's data. An interface, so
// a job's checks go to whichever store holds the person (SQLite on one
// machine: store.hpp; a database shared by many machines for a service);
// nothing about a person is kept without a valid record.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
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
  std::vector<std::string> purposes;    // "portraits", "likeness"
  std::vector<std::string> data_kinds;  // "photos", "embeddings", "portraits"
  // What the portraits may be used for, as the person agreed (the model
  // release): "personal" and/or "commercial". A record made before uses
  // were asked reads as personal only.
  std::vector<std::string> uses;
  bool permits(const std::string& use) const;
  std::string granted_at, retention_until, withdrawn_at;  // ISO 8601 UTC; withdrawn_at "" if not
  bool valid_now() const;                                 // not withdrawn, not expired
  json to_json() const;
};

inline constexpr const char* kConsentPurposes[] = {"portraits", "likeness"};
inline constexpr const char* kUses[] = {"personal", "commercial"};

// Throws Error{usage} unless `s` is a subject id: 1-64 letters, digits, '-',
// '_' or '.' (it names a folder in the embedded store).
void check_subject_id(const std::string& s);
// A new record (id, the consent text's digest, the dates), every field
// checked; each store only saves it.
ConsentRecord new_consent_record(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                                 const std::vector<std::string>& purposes, int retention_days,
                                 const std::vector<std::string>& uses, const std::string& basis);

// Thread-safe in every implementation: a server's jobs share one.
// Photo analyses (they hold face embeddings: biometric data) kept by key
// somewhere other than a folder.
class AnalysisKeeper {
 public:
  virtual ~AnalysisKeeper() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual void put(const std::string& key, const std::string& json) = 0;
};

class ConsentStore {
 public:
  virtual ~ConsentStore() = default;

  virtual ConsentRecord grant(const std::string& subject, const std::string& by, const std::string& on_behalf_of,
                              const std::vector<std::string>& purposes, int retention_days,
                              const std::vector<std::string>& uses, const std::string& basis = "consent") = 0;
  // The newest record of a subject, or id "" if none.
  virtual ConsentRecord latest(const std::string& subject) = 0;
  virtual bool withdraw(const std::string& subject) = 0;  // false if no active record
  // Throws Error{no_consent} unless the subject has a valid record covering
  // `purpose` (read fresh every call: a check before each write).
  ConsentRecord require(const std::string& subject, const std::string& purpose);

  // What a subject's consent covers.
  virtual void add_photo(const std::string& subject, const std::string& sha256) = 0;
  // A local folder where the subject's analyses and set records may be
  // kept, or "" where the store keeps none there.
  virtual std::string subject_dir(const std::string& subject) = 0;
  // Where a store with no local folder keeps the subject's photo analyses
  // (a shared database: every machine reads what one computed), or null:
  // they stay with the job. Kept only while the subject's consent holds;
  // forget removes them.
  virtual std::shared_ptr<AnalysisKeeper> analysis_keeper(const std::string& subject) {
    (void)subject;
    return nullptr;
  }

  // Everything the store holds, per subject.
  virtual json list() = 0;
  // Deletes everything of the subject the store holds; returns what went.
  virtual json forget(const std::string& subject) = 0;
  // forget() for every subject whose retention has passed or who withdrew.
  virtual json purge() = 0;
};

}  // namespace likeness
