// `likeness verify --json` and the service's /api/verify: one report.
#include <map>

#include "likeness/c2pa.hpp"
#include "likeness/error.hpp"
#include "likeness/xmp.hpp"

namespace likeness {

json verification_report(const std::string& bytes, const Verification& v) {
  // The usage rights: the XMP's terms and model release, and the signed
  // manifest's consent assertion (what the person permitted).
  json usage = json::object();
  {
    std::map<std::string, std::string> xmp;
    try {
      xmp = read_xmp(bytes);
    } catch (const Error&) {
    }
    auto from_xmp = [&](const char* key, const char* name) {
      auto it = xmp.find(key);
      if (it != xmp.end()) usage[name] = it->second;
    };
    from_xmp("Xmp.xmpRights.UsageTerms", "usage_terms");
    if (usage.contains("usage_terms")) {  // exiv2 prefixes a language alternative's language
      std::string t = usage["usage_terms"];
      if (t.rfind("lang=", 0) == 0 && t.find(' ') != std::string::npos) t = t.substr(t.find(' ') + 1);
      usage["usage_terms"] = t;
    }
    from_xmp("Xmp.plus.ModelReleaseStatus", "model_release_status");
    from_xmp("Xmp.plus.ModelReleaseID", "model_release_id");
    if (v.manifest.contains("assertions") && v.manifest["assertions"].contains("org.likeness.consent")) {
      const json& c = v.manifest["assertions"]["org.likeness.consent"];
      if (c.is_object()) {
        if (c.contains("uses")) usage["signed_uses"] = c["uses"];
        if (c.contains("model_release")) usage["signed_model_release"] = c["model_release"];
        if (c.contains("record")) usage["signed_consent_record"] = c["record"];
      }
    }
  }
  const char* state = v.state == Verification::valid     ? "valid"
                      : v.state == Verification::invalid ? "invalid"
                                                         : "no manifest";
  return {{"state", state},         {"trusted", v.trusted},
          {"problems", v.problems}, {"digital_source_type", v.digital_source_type},
          {"usage", usage},         {"manifest", v.manifest}};
}

}  // namespace likeness
