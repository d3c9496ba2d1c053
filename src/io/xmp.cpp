#include "likeness/xmp.hpp"

#include <algorithm>
#include <exiv2/exiv2.hpp>
#include <functional>
#include <mutex>

#include "likeness/error.hpp"

namespace likeness {

namespace {
void init_exiv2() {
  static std::once_flag once;
  std::call_once(once, [] {
    Exiv2::XmpParser::initialize();
    Exiv2::LogMsg::setLevel(Exiv2::LogMsg::mute);
  });
}

Exiv2::Image::AutoPtr open_bytes(const std::string& bytes) {
  return Exiv2::ImageFactory::open(reinterpret_cast<const Exiv2::byte*>(bytes.data()), static_cast<long>(bytes.size()));
}
}  // namespace

namespace {
// Reads the image's metadata, lets `edit` change its XMP, and returns the
// image with it written back; `what` names the change in an error.
std::string with_xmp(const std::string& encoded, const char* what, const std::function<void(Exiv2::XmpData&)>& edit) {
  init_exiv2();
  try {
    auto image = open_bytes(encoded);
    image->readMetadata();
    edit(image->xmpData());
    image->writeMetadata();
    Exiv2::BasicIo& io = image->io();
    io.seek(0, Exiv2::BasicIo::beg);
    Exiv2::DataBuf buf = io.read(static_cast<long>(io.size()));
    return std::string(reinterpret_cast<const char*>(buf.pData_), static_cast<size_t>(buf.size_));
  } catch (const Exiv2::AnyError& e) {
    throw Error(ErrorCode::internal, std::string("exiv2 cannot write ") + what + ": " + e.what());
  }
}
}  // namespace

std::string embed_xmp(const std::string& encoded, const XmpFields& f) {
  return with_xmp(encoded, "XMP", [&](Exiv2::XmpData& xmp) {
    if (!f.digital_source_type.empty())
      xmp["Xmp.iptcExt.DigitalSourceType"] = std::string(kDigitalSourceTypeBase) + f.digital_source_type;
    if (!f.creator_tool.empty()) xmp["Xmp.xmp.CreatorTool"] = f.creator_tool;
    if (!f.description.empty()) xmp["Xmp.dc.description"] = "lang=\"x-default\" " + f.description;
  });
}

std::string UsageRights::release_status() const {
  return std::find(uses.begin(), uses.end(), "commercial") != uses.end() ? "MR-UMR" : "MR-LMR";
}

std::string UsageRights::terms() const {
  std::string list;
  for (const auto& u : uses) list += (list.empty() ? "" : ", ") + u;
  return "Permitted uses: " + list + ". Model release: the person's own consent, record " + consent_id +
         " (likeness); any other use needs their permission.";
}

std::string embed_usage_rights(const std::string& encoded, const UsageRights& rights) {
  return with_xmp(encoded, "the usage rights", [&](Exiv2::XmpData& xmp) {
    xmp["Xmp.xmpRights.Marked"] = "True";
    xmp["Xmp.xmpRights.UsageTerms"] = "lang=\"x-default\" " + rights.terms();
    xmp["Xmp.plus.ModelReleaseStatus"] = std::string(kPlusVocab) + rights.release_status();
    Exiv2::Value::AutoPtr id = Exiv2::Value::create(Exiv2::xmpBag);
    id->read(rights.consent_id);
    xmp.add(Exiv2::XmpKey("Xmp.plus.ModelReleaseID"), id.get());
  });
}

std::map<std::string, std::string> read_xmp(const std::string& encoded) {
  init_exiv2();
  std::map<std::string, std::string> out;
  try {
    auto image = open_bytes(encoded);
    image->readMetadata();
    for (const auto& d : image->xmpData()) out[d.key()] = d.toString();
  } catch (const Exiv2::AnyError& e) {
    throw Error(ErrorCode::bad_input, std::string("exiv2 cannot read XMP: ") + e.what());
  }
  return out;
}

}  // namespace likeness
