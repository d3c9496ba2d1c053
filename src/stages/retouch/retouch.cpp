// retouch: the skin's polish, on the rendered canvas before the backdrop
// composite (skin.hpp says what it does and keeps). `polish` 0 leaves the
// portrait untouched; `remove` and `keep` name marks by position.
#include <algorithm>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/parallel.hpp"
#include "stages/retouch/skin.hpp"
#include "stages/stages.hpp"

namespace likeness {

namespace {
// A layer's part in `roi`, CV_32F 0..1 (only that part converted).
cv::Mat layer(const Frame& f, const char* name, const cv::Rect& roi) {
  auto it = f.layers.find(name);
  if (it == f.layers.end() || it->second.data.size() != f.image.size()) return {};
  cv::Mat m;
  it->second.data(roi).convertTo(m, CV_32F, it->second.data.depth() == CV_8U ? 1.0 / 255 : 1.0);
  return m;
}

const char* kMarksForm = "\"x,y;x,y\": x and y in 0..1 of the portrait's width and height, \"\" for none";

class RetouchStage final : public Stage {
 public:
  std::string id() const override { return "retouch"; }
  int version() const override { return 1; }
  std::string summary() const override {
    return "Skin retouch: blemishes healed, under-eye shadows and shine softened, tone evened; pores, freckles, "
           "moles, lines and every feature's shape kept";
  }
  std::string c2pa_action() const override { return "c2pa.filtered"; }
  std::string c2pa_source_type() const override { return "algorithmicallyEnhanced"; }
  bool changes_pixels(const json& p) const override {
    return p["polish"].get<double>() > 0 || !p["remove"].get<std::string>().empty();
  }
  std::vector<ParamSpec> params() const override {
    ParamSpec remove{
        "remove", ParamType::text,
        "",       "Marks to heal whatever they are (a mole, a scar), by position; moles are otherwise kept",
        0,        0,
        {}};
    remove.pattern = retouch::kMarksPattern, remove.form = kMarksForm;
    ParamSpec keep{"keep", ParamType::text, "", "Marks never to heal, by position (a spot the polish would take)", 0, 0,
                   {}};
    keep.pattern = retouch::kMarksPattern, keep.form = kMarksForm;
    return {
        {"polish",
         ParamType::number,
         retouch::kPolishDefault,
         "How much polish: 0 untouched .. 1 the most this product allows (pores and features always kept)",
         0,
         1,
         {}},
        remove,
        keep,
    };
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    if (!in.rendered)
      throw Error(ErrorInfo{ErrorCode::internal, "retouches the rendered canvas: put it after render", id(), {}, {}});
    if (!changes_pixels(p)) return in;
    retouch::Settings st;
    st.polish = p["polish"].get<double>();
    st.remove = retouch::parse_marks(p["remove"].get<std::string>(), in.image.size(), "remove");
    st.keep = retouch::parse_marks(p["keep"].get<std::string>(), in.image.size(), "keep");
    Frame out = in;
    const Face* face = in.subject_face();
    if (!face || face->mesh.size() != kFaceMeshPoints) {
      out.edits.push_back("skin not retouched (no face mesh to place it)");
      return out;
    }
    ctx.check_cancel();
    const float ed = face->landmarks.size() == 68 ? face->eye_distance()
                                                  : float(cv::norm(cv::Point2f(face->mesh[33].x, face->mesh[33].y) -
                                                                   cv::Point2f(face->mesh[263].x, face->mesh[263].y)));
    // Everything happens in the face's work region: the masks are cut to
    // it, and the outputs differ from the input only there.
    const cv::Rect roi = retouch::work_region(face->mesh, ed, in.image.size());
    if (roi.area() == 0) {
      out.edits.push_back("skin not retouched (no face region)");
      return out;
    }
    cv::Mat skin = layer(in, "face_skin", roi), body = layer(in, "body_skin", roi);
    if (skin.empty())
      skin = body.empty() ? cv::Mat::zeros(roi.size(), CV_32F) : body;
    else if (!body.empty())
      cv::max(skin, body, skin);
    if (!in.alpha.empty() && in.alpha.size() == in.image.size()) {
      cv::Mat a;
      in.alpha(roi).convertTo(a, CV_32F, in.alpha.depth() == CV_8U ? 1.0 / 255 : 1.0);
      skin = skin.mul(a);
    }
    const cv::Mat where = retouch::retouchable_in(roi, skin, layer(in, "eyes", roi), layer(in, "lips", roi),
                                                  layer(in, "teeth", roi), layer(in, "hair", roi), face->mesh, ed);
    const retouch::Result r = retouch::retouch(in.image, where, face->mesh, ed, st);
    if (!r.touched) {
      out.edits.push_back("skin not retouched (no face region)");
      return out;
    }
    out.image = r.image;
    if (!in.foreground.empty() && in.foreground.size() == in.image.size() && in.foreground.type() == CV_32FC3) {
      // The backdrop composite uses the person's own colour at the matte's
      // edges: it gets the same change. A new buffer (the input's is shared),
      // changed in the region only.
      cv::Mat fg = in.foreground.clone();
      cv::Mat fg_roi = fg(roi);
      const cv::Mat a = r.image(roi), b = in.image(roi);
      parallel_ranges(cv::Range(0, roi.height), [&](const cv::Range& rows) {
        for (int y = rows.start; y < rows.end; ++y) {
          auto* f = fg_roi.ptr<float>(y);
          const auto* na = a.ptr<float>(y);
          const auto* nb = b.ptr<float>(y);
          for (int x = 0; x < 3 * roi.width; ++x)
            if (na[x] != nb[x]) f[x] = std::max(0.f, f[x] + (na[x] - nb[x]));
        }
      });
      out.foreground = fg;
    }
    cv::Mat amount = r.amount;
    if (!in.retouched.empty() && in.retouched.size() == r.amount.size() && in.retouched.type() == CV_32F) {
      amount = in.retouched.clone();
      cv::Mat dst = amount(roi);
      cv::max(dst, r.amount(roi), dst);
    }
    out.retouched = amount;
    if (out.source_type == "digitalCapture") out.source_type = "algorithmicallyEnhanced";
    int healed = 0;
    for (const auto& s : r.spots) healed += s.healed;
    std::string what =
        cv::format("skin retouched at polish %.2f: %d blemish%s healed", st.polish, healed, healed == 1 ? "" : "es");
    if (!st.remove.empty())
      what += cv::format(" (%d mark%s listed to remove)", int(st.remove.size()), st.remove.size() == 1 ? "" : "s");
    if (r.shadow_lift > 0.005f) what += cv::format(", under-eyes lifted %.0f%%", 100 * (std::exp(r.shadow_lift) - 1));
    out.edits.push_back(what);
    return out;
  }
};
}  // namespace

const Stage& retouch_stage() {
  static RetouchStage s;
  return s;
}

}  // namespace likeness
