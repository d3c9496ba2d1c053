// Content Credentials (C2PA 2.2, claim v2): a signed manifest embedded in the
// JPEG (APP11) or PNG (caBX) a portrait is written as, and its verification.
// JUMBF, CBOR and COSE_Sign1 (ES256) are written here with OpenSSL.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace likeness {

using json = nlohmann::json;

// The key and certificate chain that sign manifests. By default the
// installation's own: a CA and a leaf certificate (ECDSA P-256, C2PA profile:
// key usage digitalSignature, EKU documentSigning + emailProtection, AKI/SKI)
// created on first use in <data dir>/keys with owner-only permissions.
class Signer {
 public:
  ~Signer();
  Signer(Signer&&) noexcept;
  static Signer installation();
  // A user's own certificate chain (PEM, leaf first) and private key (PEM).
  static Signer from_files(const std::string& chain_pem, const std::string& key_pem);
  // The CA others can trust; create=false gives "" where none exists yet
  // (verifying a file must not mint a signing identity).
  static std::string installation_ca_pem(bool create = true);

  const std::vector<std::string>& chain_der() const { return chain_der_; }
  // ES256: SHA-256 + ECDSA P-256, as raw r||s (64 bytes).
  std::string sign(const std::string& data) const;

 private:
  Signer() = default;
  std::vector<std::string> chain_der_;
  void* key_ = nullptr;  // EVP_PKEY*
};

struct C2paAction {
  std::string action;                // "c2pa.edited", "c2pa.resized", ...
  std::string description;           // plain language
  json parameters = json::object();  // the stage's name and parameters
  std::string digital_source_type;   // IPTC term, or ""
};

struct ManifestInput {
  std::string source_sha256;  // the photo the portrait was made from (hash only)
  std::string source_format;  // "image/jpeg", ...
  std::vector<C2paAction> actions;
  std::string title;       // "portrait_01.jpg"
  std::string consent_id;  // opaque consent-record id, or ""
  // With the consent id: the uses it permits and the PLUS model-release
  // status ("MR-UMR", "MR-LMR"), in the org.likeness.consent assertion.
  std::vector<std::string> uses;
  std::string model_release;
};

// Embeds a signed manifest into an encoded JPEG or PNG (XMP already in place)
// and returns the new bytes.
std::string sign_c2pa(const std::string& asset, const ManifestInput& in, const Signer& signer);

struct Verification {
  enum State { valid = 0, invalid = 4, no_manifest = 3 } state = no_manifest;
  bool trusted = false;               // the chain ends at a given trust anchor
  std::vector<std::string> problems;  // C2PA status codes with details
  json manifest;                      // claim and decoded assertions
  std::string digital_source_type;    // from XMP
};
// trust_pem: CA certificates to trust (PEM); empty = the installation's CA.
Verification verify_c2pa(const std::string& asset, const std::string& trust_pem = "");
// `verify --json`: {"state": "valid"|"invalid"|"no manifest", "trusted",
// "problems", "digital_source_type", "usage" (XMP usage terms and model
// release, and the signed consent assertion's), "manifest"}.
json verification_report(const std::string& asset, const Verification& v);

}  // namespace likeness
