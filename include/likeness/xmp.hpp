// XMP metadata in encoded files, through exiv2.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace likeness {

inline constexpr const char* kDigitalSourceTypeBase = "http://cv.iptc.org/newscodes/digitalsourcetype/";

struct XmpFields {
  std::string digital_source_type;  // a term, e.g. "compositeWithTrainedAlgorithmicMedia"
  std::string creator_tool;         // "likeness 0.1.0"
  std::string description;          // plain-language summary of the edits
};

// Returns the encoded image with the XMP packet added (JPEG, PNG, WebP).
std::string embed_xmp(const std::string& encoded, const XmpFields& fields);

// The portrait's usage rights, from the person's consent record (the model
// release): XMP xmpRights:Marked and UsageTerms ("Permitted uses: personal,
// commercial ..."), IPTC PLUS plus:ModelReleaseStatus (MR-UMR when
// commercial use is permitted, else MR-LMR: a limited release) and
// plus:ModelReleaseID (the opaque consent id, nothing personal).
struct UsageRights {
  std::vector<std::string> uses;  // personal, commercial
  std::string consent_id;
  std::string release_status() const;  // "MR-UMR" or "MR-LMR"
  std::string terms() const;           // the UsageTerms text
};
inline constexpr const char* kPlusVocab = "http://ns.useplus.org/ldf/vocab/";
std::string embed_usage_rights(const std::string& encoded, const UsageRights& rights);

// All XMP properties of an encoded image, keyed like "Xmp.iptcExt.DigitalSourceType".
std::map<std::string, std::string> read_xmp(const std::string& encoded);

}  // namespace likeness
