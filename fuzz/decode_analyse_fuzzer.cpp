// libFuzzer target for the path an untrusted photo takes through
// `likeness check`: bytes -> decode_image_bytes (libvips) -> analyse_photo
// (decode with shrink-on-load, face detection, landmarks, embedding and every
// measure of every candidate face).
//
// The contract it checks (README, "Exit codes"; include/likeness/image_io.hpp):
// - decode_image_bytes either returns an 8-bit BGR image or throws
//   likeness::Error with code bad_input. Any other exception, or an Error with
//   another code ("internal error" on bad input), is a bug: abort().
// - analyse_photo never throws for a bad photo (check_set would fail the whole
//   set): it reports the failure in PhotoAnalysis::error. Any exception is a
//   bug: abort().
// - What it returns is usable by the reports: sizes are positive, measures
//   and embeddings are finite (NaN turns into `null` in `check --json` and the
//   analysis cache).
// ASan/UBSan findings and crashes inside OpenCV or libvips are reported by the
// sanitizers themselves.
//
// Differences from `likeness check`, for throughput:
// - the first decode refuses images over 16 MP (the CLI allows 100 MP); a
//   16-100 MP image costs seconds per run and covers no other code;
// - analyse_photo reads the input from a per-process file in /dev/shm (or
//   /tmp), because it takes a path; it runs without the analysis cache.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>

#include "likeness/error.hpp"
#include "likeness/face.hpp"
#include "likeness/image_io.hpp"
#include "likeness/intake.hpp"

namespace {

std::string g_input_file;  // where analyse_photo reads the input

[[noreturn]] void fail(const char* where, const std::string& what) {
  std::fprintf(stderr, "\n==decode_analyse_fuzzer== ERROR: likeness bug in %s: %s\n", where, what.c_str());
  std::fflush(stderr);
  std::abort();
}

bool finite(float v) { return std::isfinite(v); }

void check_analysis(const likeness::PhotoAnalysis& a) {
  if (!a.error.empty()) {
    if (!a.faces.empty()) fail("analyse_photo", "an error (" + a.error + ") and faces");
    return;
  }
  if (a.width <= 0 || a.height <= 0)
    fail("analyse_photo", "no error but a size of " + std::to_string(a.width) + "x" + std::to_string(a.height));
  if (a.faces_found < int(a.faces.size())) fail("analyse_photo", "more faces than found");
  for (const auto& f : a.faces) {
    const auto& m = f.m;
    for (float v : {m.temple_px, m.eye_distance_px, m.sharpness, m.brightness, m.clipped, m.crushed, m.noise, m.yaw,
                    m.pitch, m.roll, m.smile, m.eye_openness, m.occlusion, m.brisque})
      if (!finite(v)) fail("analyse_photo", "a measure is not finite: " + m.to_json(false).dump());
    for (float v : f.face.embedding)
      if (!finite(v)) fail("analyse_photo", "the embedding is not finite");
    if (!finite(f.face.box.x) || !finite(f.face.box.y) || !finite(f.face.box.width) || !finite(f.face.box.height))
      fail("analyse_photo", "the face box is not finite");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  try {
    likeness::init_image_io();
    likeness::FaceAnalyzer::shared();  // loads the models once ($LIKENESS_MODELS)
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_analyse_fuzzer: cannot start: %s\n", e.what());
    std::exit(1);
  }
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  g_input_file = std::string(dir) + "/likeness-fuzz-" + std::to_string(getpid()) + ".img";
  std::atexit([] { std::remove(g_input_file.c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  likeness::DecodeLimits limits;
  limits.max_pixels = 16'000'000;
  try {
    const likeness::DecodedImage d = likeness::decode_image_bytes(bytes, "fuzz-input", limits);
    if (d.bgr.empty() || d.bgr.type() != CV_8UC3) fail("decode_image_bytes", "returned an image that is not 8-bit BGR");
  } catch (const likeness::Error& e) {
    if (e.code() != likeness::ErrorCode::bad_input)
      fail("decode_image_bytes", std::string("Error{") + likeness::code_name(e.code()) + "}: " + e.what());
    return 0;  // junk refused: the expected outcome
  } catch (const std::exception& e) {
    fail("decode_image_bytes", std::string("exception: ") + e.what());
  } catch (...) {
    fail("decode_image_bytes", "unknown exception");
  }

  {
    std::ofstream out(g_input_file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out.flush()) {
      std::fprintf(stderr, "decode_analyse_fuzzer: cannot write %s\n", g_input_file.c_str());
      std::exit(1);
    }
  }
  try {
    check_analysis(likeness::analyse_photo(g_input_file, false));
  } catch (const likeness::Error& e) {
    fail("analyse_photo", std::string("Error{") + likeness::code_name(e.code()) + "}: " + e.what());
  } catch (const std::exception& e) {
    fail("analyse_photo", std::string("exception: ") + e.what());
  } catch (...) {
    fail("analyse_photo", "unknown exception");
  }
  return 0;
}
