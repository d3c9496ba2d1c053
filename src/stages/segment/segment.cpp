// segment: the person matte, computed once at the source with full context
// and shared by every crop, aspect and backdrop of the photo.
//
// ISNet runs on the person's region of the source (from above the hair to the
// bottom of a half-body frame, a torso's width either side of the face) at
// 640x1024 (the region's own 2:3 shape, sampled alike both ways), 640x640 or
// 1024x1024. Where that region reaches beyond the photo (a tight
// close-up) it is filled with the photo's edges, smeared, so the network sees
// a whole person on a plain surround rather than a face filling the frame;
// the padding is then cut away again. The result is a coarse layer in the
// region's own pixels; the render step resamples it onto the canvas and the
// matte stage refines its edge there.
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "likeness/error.hpp"
#include "likeness/inference.hpp"
#include "likeness/parallel.hpp"
#include "likeness/resample.hpp"
#include "stages/stages.hpp"

namespace likeness {

cv::Rect2d person_region(const Face& face, double above, double below, double side) {
  const cv::Point2f eyes = (face.left_eye() + face.right_eye()) * 0.5f;
  const double d = std::max(4.0f, face.eye_distance());
  return {eyes.x - side * d, eyes.y - above * d, 2 * side * d, (above + below) * d};
}

namespace {
class SegmentStage final : public Stage {
 public:
  std::string id() const override { return "segment"; }
  int version() const override { return 4; }
  std::string summary() const override {
    return "Person matte at the source, on the person's region with full context (ISNet)";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"resolution",
         ParamType::choice,
         "640x1024",
         "ISNet input, width x height: 640x1024 (the region's tall shape, 1024's vertical detail at 62% of its "
         "cost), 1024 (square, native) or 640 (square, 2.5x faster than 1024; can drop a dark jacket on a dark "
         "background)",
         0,
         0,
         {"640x1024", "640", "1024"}},
        {"above", ParamType::number, 4.0, "Region above the eyes, in eye distances (room for hair)", 2, 10, {}},
        {"below", ParamType::number, 11.0, "Region below the eyes, in eye distances (down to the waist)", 4, 30, {}},
        {"side", ParamType::number, 5.0, "Region either side of the face, in eye distances", 2, 15, {}},
        {"pad",
         ParamType::number,
         0.25,
         "Where the region reaches beyond the photo (a tight crop), the largest share of each side of the "
         "network's input its smeared padding may take",
         0,
         0.6,
         {}},
        {"fuse",
         ParamType::choice,
         "selfie",
         "Second opinion on the person's extent: selfie (MediaPipe selfie segmentation) fills in what ISNet "
         "saw only faintly inside the body (a dark jacket), never what ISNet calls background, and clears what "
         "it calls person far from anyone",
         0,
         0,
         {"none", "selfie"}},
        {"others",
         ParamType::boolean,
         true,
         "Leave out other people: what lies nearer another detected face than the subject's (a stranger "
         "behind the hair) is not the subject",
         0,
         0,
         {}},
    };
  }
  std::vector<std::string> models() const override { return {"isnet_640x1024", "isnet", "isnet_640", "selfie"}; }
  std::vector<std::string> models_for(const json& p) const override {
    if (p["fuse"] == "selfie") return {model_for(p), "selfie"};
    return {model_for(p)};
  }

  Frame run(const Frame& in, const json& p, JobContext& ctx) const override {
    const Face* face = in.subject_face();
    if (!face || face->landmarks.size() != 68)
      throw Error(ErrorInfo{ErrorCode::bad_input, "no face to find the person by", id(), {}, {}});
    const cv::Size net = input_size(p);
    const cv::Rect2d want = person_region(*face, p["above"], p["below"], p["side"]);
    const cv::Rect photo(0, 0, in.image.cols, in.image.rows);
    cv::Rect inside = cv::Rect(cvFloor(want.x), cvFloor(want.y), cvCeil(want.width), cvCeil(want.height)) & photo;
    if (inside.area() <= 0) throw Error(ErrorInfo{ErrorCode::bad_input, "the face is outside the photo", id(), {}, {}});
    // Reduced by a whole factor k first (OpenCV's fast area average), the
    // photo's part cut to whole blocks: under k px of it at the right and
    // bottom go to the padding instead.
    const double reduce = std::min(double(net.width) / inside.width, double(net.height) / inside.height);
    const int k = reduce < 0.5 ? int(1.0 / reduce) : 1;
    if (k >= 2 && inside.width >= 4 * k && inside.height >= 4 * k)
      inside = cv::Rect(inside.x, inside.y, inside.width / k * k, inside.height / k * k);
    // Beyond the photo the region is padding, at most `pad` of each side:
    // a photo shown as a small picture in a wide surround is itself taken
    // for the object (a busy sign behind a tight portrait becomes "person").
    const double keep = 1.0 - p["pad"].get<double>();
    auto limit = [&](double lo, double hi, int in_lo, int in_hi) {
      const double have = in_hi - in_lo, extra = (hi - lo) - have, allowed = have / keep - have;
      const double f = extra > allowed && extra > 0 ? allowed / extra : 1.0;
      return std::pair<int, int>(cvFloor(in_lo - (in_lo - lo) * f), cvCeil(in_hi + (hi - in_hi) * f));
    };
    const auto [x0, x1] = limit(want.x, want.x + want.width, inside.x, inside.x + inside.width);
    const auto [y0, y1] = limit(want.y, want.y + want.height, inside.y, inside.y + inside.height);
    const cv::Rect region(x0, y0, x1 - x0, y1 - y0);

    // The region, scaled to fit the network's input: the part inside the
    // photo resampled once, the rest filled by its smeared edges.
    const double s = std::min(double(net.width) / region.width, double(net.height) / region.height);
    const cv::Size scaled(std::max(1, int(std::lround(region.width * s))),
                          std::max(1, int(std::lround(region.height * s))));
    const int left = int(std::lround((inside.x - region.x) * s)), top = int(std::lround((inside.y - region.y) * s));
    cv::Mat piece;
    const cv::Size piece_size(std::max(1, std::min(scaled.width - left, int(std::lround(inside.width * s)))),
                              std::max(1, std::min(scaled.height - top, int(std::lround(inside.height * s)))));
    if (k >= 2 && inside.width % k == 0 && inside.height % k == 0 && s * k < 1) {
      piece = area_in_two_steps(in.image(inside), k, piece_size);
    } else {
      cv::resize(in.image(inside), piece, piece_size, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    cv::Mat canvas;
    const int bottom = std::max(0, scaled.height - top - piece.rows),
              right = std::max(0, scaled.width - left - piece.cols);
    cv::copyMakeBorder(piece, canvas, top, bottom, left, right, cv::BORDER_REPLICATE);
    if (top || bottom || left || right) {
      const int k = std::max(3, std::max(scaled.width, scaled.height) / 20) | 1;
      cv::Mat smeared;
      cv::blur(canvas, smeared, cv::Size(k, k));
      piece.copyTo(smeared(cv::Rect(left, top, piece.cols, piece.rows)));
      canvas = smeared;
    }
    cv::Mat input;
    cv::resize(canvas, input, net, 0, 0, cv::INTER_AREA);
    const cv::Mat blob = cv::dnn::blobFromImage(input, 1.0 / 256, cv::Size(), cv::Scalar(128, 128, 128), true);
    ctx.check_cancel();
    cv::Mat pred = network(model_for(p)).run({{"", blob}}, {"output"})[0];
    cv::Mat answer(net, CV_32F, pred.ptr<float>());
    cv::Mat person = cv::min(cv::max(answer, 0.0), 1.0);
    if (p["fuse"] == "selfie") {
      const double fx = double(net.width) / scaled.width, fy = double(net.height) / scaled.height;
      const cv::Rect photo_in_net(
          cv::Point(int(std::lround(left * fx)), int(std::lround(top * fy))),
          cv::Point(int(std::lround((left + piece.cols) * fx)), int(std::lround((top + piece.rows) * fy))));
      person = fuse_selfie(person, piece, photo_in_net);
    }
    const double lx = net.width / double(region.width), ly = net.height / double(region.height);
    const cv::Matx23d from_source(lx, 0, -region.x * lx, 0, ly, -region.y * ly);
    if (p["others"].get<bool>()) person = leave_out_others(person, from_source, in.faces, in.subject);

    Frame out = in;
    // The layer: ISNet's answer in its own pixels of the region.
    out.person.data = person;
    out.person.from_source = from_source;
    return out;
  }

 private:
  // Other people are not the subject. In a body's metric (eye distances,
  // bodies reaching far below the face and wider than it) the subject's
  // body is what lies within 3.5 of their face; it hides other people
  // except for a head that was seen (hair included); beyond it, others own
  // what is nearer their face than the subject's.
  // The matte fades out over about an eye distance there, so a stranger
  // touching the hair, or a crowd behind, is not taken for the subject.
  static cv::Mat leave_out_others(const cv::Mat& person, const cv::Matx23d& from_source, const std::vector<Face>& faces,
                                  int subject) {
    if (subject < 0 || faces.size() < 2) return person;
    struct Head {
      cv::Point2f eyes;
      float d;
    };
    std::vector<Head> heads;
    for (const Face& f : faces) {
      if (f.landmarks.size() == 68)
        heads.push_back({(f.left_eye() + f.right_eye()) * 0.5f, std::max(4.f, f.eye_distance())});
      else
        heads.push_back(
            {cv::Point2f(f.box.x + f.box.width / 2, f.box.y + f.box.height * 0.4f), std::max(4.f, f.box.width * 0.4f)});
    }
    auto metric = [](const Head& h, cv::Point2f p) {
      float dx = (p.x - h.eyes.x) / h.d, dy = (p.y - h.eyes.y) / h.d;
      if (dy > 0) dy *= 0.35f, dx /= 1.6f;  // the body hangs below the face, wider than it
      return std::hypot(dx, dy);
    };
    cv::Matx23d to_source;
    cv::invertAffineTransform(from_source, to_source);
    cv::Mat out = person.clone();
    parallel_ranges(cv::Range(0, out.rows), [&](const cv::Range& r) {
      for (int y = r.start; y < r.end; ++y) {
        float* row = out.ptr<float>(y);
        for (int x = 0; x < out.cols; ++x) {
          if (row[x] <= 0) continue;
          const cv::Point2f p(float(to_source(0, 0) * x + to_source(0, 1) * y + to_source(0, 2)),
                              float(to_source(1, 0) * x + to_source(1, 1) * y + to_source(1, 2)));
          const float mine = metric(heads[subject], p);
          const float mine_head =
              std::hypot(p.x - heads[subject].eyes.x, p.y - heads[subject].eyes.y) / heads[subject].d;
          float keep = 1;
          for (int j = 0; j < int(heads.size()); ++j) {
            if (j == subject) continue;
            const Head& h = heads[j];
            // The subject stands in front: their own body hides others',
            // but not a head that was seen (hair included); beyond the
            // subject's body the others own what is nearer their face.
            const float head = std::hypot(p.x - h.eyes.x, p.y - h.eyes.y) / h.d;
            const float theirs = metric(h, p);
            const float claim =
                std::max(std::clamp(2.2f - head, 0.f, 1.f) * std::clamp((mine_head - head) / 0.5f, 0.f, 1.f),
                         std::clamp(mine - 3.5f, 0.f, 1.f) * std::clamp(mine - theirs, 0.f, 1.f) *
                             std::clamp(6.f - theirs, 0.f, 1.f));
            keep = std::min(keep, 1 - claim);
          }
          row[x] *= keep;
        }
      }
    });
    return out;
  }

  // ISNet's matte with the selfie model's opinion, asked of the photo's
  // part of the region (the smeared padding is nobody's opinion): its
  // confident interior, shrunk well inside its coarse edge, is person where
  // ISNet let it go but saw something (a dark jacket on a dark background
  // at partial alpha); what ISNet confidently calls background stays so
  // (a bystander pressed against the subject's shoulder is person to the
  // selfie model too). What it confidently calls background far from its
  // person is not person (a stray object ISNet took for part of them).
  // ISNet keeps every edge. Beyond the photo's edges both opinions continue
  // the photo's own, so a body cut by the frame stays whole up to it.
  static cv::Mat fuse_selfie(const cv::Mat& isnet, const cv::Mat& photo_bgr, const cv::Rect& photo) {
    constexpr int kSelfie = 256;
    cv::Mat in;
    cv::resize(photo_bgr, in, cv::Size(kSelfie, kSelfie), 0, 0, cv::INTER_AREA);
    cv::cvtColor(in, in, cv::COLOR_BGR2RGB);
    in.convertTo(in, CV_32F, 1.0 / 255);
    const int dims[] = {1, kSelfie, kSelfie, 3};
    const cv::Mat blob(4, dims, CV_32F, in.ptr<float>());
    cv::Mat out = network("selfie").run(blob)[0];
    const cv::Mat selfie(kSelfie, kSelfie, CV_32F, out.ptr<float>());
    // Shrunk and softened at the selfie model's own coarse size (the
    // photo's edges do not erode), then enlarged: its edge carries no detail
    // finer than that.
    const cv::Rect inside = photo & cv::Rect(cv::Point(), isnet.size());
    auto shrink = [&](const cv::Mat& m, double fraction) {
      const int r = std::max(1, int(std::lround(kSelfie * fraction)));
      cv::Mat e, f, big, whole;
      cv::erode(m, e, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
      e.convertTo(f, CV_32F, 1.0 / 255);
      cv::GaussianBlur(f, f, cv::Size(), r / 2.0 + 1);
      cv::resize(f, big, inside.size(), 0, 0, cv::INTER_LINEAR);
      cv::copyMakeBorder(big, whole, inside.y, isnet.rows - inside.br().y, inside.x, isnet.cols - inside.br().x,
                         cv::BORDER_REPLICATE);
      return whole;
    };
    const cv::Mat core = shrink(selfie > 0.8, 1.0 / 40), away = shrink(selfie < 0.05, 1.0 / 25);
    // ISNet's evidence: none below 1%, full from 5% (the bystander of
    // person09_3_full is 0 to ISNet; the dark garments it half missed in
    // person03_1, person12_1 and person09_3_full sit at 0.15-0.9).
    cv::Mat evidence(isnet.size(), CV_32F, cv::Scalar(1));
    cv::Mat seen = cv::min(cv::max((isnet(inside) - 0.01) / 0.04, 0.0), 1.0);
    seen.copyTo(evidence(inside));
    cv::Mat fused = cv::max(isnet, core.mul(evidence));
    return fused.mul(1.0 - away);
  }

  static std::string model_for(const json& p) {
    const std::string r = p["resolution"];
    return r == "1024" ? "isnet" : r == "640" ? "isnet_640" : "isnet_640x1024";
  }
  static cv::Size input_size(const json& p) {
    const std::string r = p["resolution"];
    return r == "1024" ? cv::Size(1024, 1024) : r == "640" ? cv::Size(640, 640) : cv::Size(640, 1024);
  }
};
}  // namespace

const Stage& segment_stage() {
  static SegmentStage s;
  return s;
}

}  // namespace likeness
