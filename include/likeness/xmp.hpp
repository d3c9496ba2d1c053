// XMP metadata in encoded files, through exiv2.
#pragma once
#include <map>
#include <string>

namespace likeness {

inline constexpr const char* kDigitalSourceTypeBase = "http://cv.iptc.org/newscodes/digitalsourcetype/";

struct XmpFields {
  std::string digital_source_type;  // a term, e.g. "compositeWithTrainedAlgorithmicMedia"
  std::string creator_tool;         // "likeness 0.1.0"
  std::string description;          // plain-language summary of the edits
};

// Returns the encoded image with the XMP packet added (JPEG, PNG, WebP).
std::string embed_xmp(const std::string& encoded, const XmpFields& fields);

// All XMP properties of an encoded image, keyed like "Xmp.iptcExt.DigitalSourceType".
std::map<std::string, std::string> read_xmp(const std::string& encoded);

}  // namespace likeness
