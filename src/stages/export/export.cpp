// export: converts the portrait to 8-bit sRGB (once, here), encodes it (sRGB ICC profile embedded) and writes XMP:
// Iptc4xmpExt:DigitalSourceType (the most synthetic term the recipe earned),
// xmp:CreatorTool and a plain-language dc:description of the edits.
#include "likeness/color.hpp"
#include "likeness/image_io.hpp"
#include "likeness/xmp.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
class ExportStage final : public Stage {
 public:
  std::string id() const override { return "export"; }
  int version() const override { return 1; }
  std::string summary() const override { return "Encode with an sRGB profile and XMP provenance"; }
  std::vector<ParamSpec> params() const override {
    return {
        {"format", ParamType::choice, "jpeg", "Output file format", 0, 0, {"jpeg", "png", "webp"}},
        {"quality", ParamType::integer, 92, "JPEG/WebP quality", 1, 100, {}},
    };
  }

  Frame run(const Frame& in, const json& p, JobContext&) const override {
    Frame out = in;
    const ImageFormat fmt = format_from_name(p["format"]);
    std::string description;
    for (const auto& e : in.edits) description += (description.empty() ? "" : "; ") + e;
    // The one conversion to 8-bit sRGB.
    const cv::Mat pixels = in.image.depth() == CV_8U ? in.image : linear_to_srgb8(in.image);
    out.encoded = embed_xmp(encode_image(pixels, fmt, p["quality"]),
                            {in.source_type, std::string("likeness ") + LIKENESS_VERSION, description});
    out.encoded_format = p["format"];
    return out;
  }
};
}  // namespace

const Stage& export_stage() {
  static ExportStage s;
  return s;
}

}  // namespace likeness
