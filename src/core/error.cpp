#include "likeness/error.hpp"

namespace likeness {

namespace {
std::string compose(const ErrorInfo& i) {
  std::string out;
  if (!i.file.empty()) out += i.file + ": ";
  if (!i.stage.empty()) {
    out += "stage '" + i.stage + "'";
    if (!i.param.empty()) out += ", parameter '" + i.param + "'";
    out += ": ";
  }
  return out + i.message;
}
}  // namespace

Error::Error(ErrorInfo info) : std::runtime_error(compose(info)), info_(std::move(info)) {}

Error::Error(ErrorCode code, std::string message) : Error(ErrorInfo{code, std::move(message), {}, {}, {}}) {}

int exit_code(ErrorCode code) { return static_cast<int>(code); }

const char* code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::internal:
      return "internal";
    case ErrorCode::usage:
      return "usage";
    case ErrorCode::bad_input:
      return "bad_input";
    case ErrorCode::invalid:
      return "invalid";
    case ErrorCode::no_consent:
      return "no_consent";
    case ErrorCode::cancelled:
      return "cancelled";
    case ErrorCode::unavailable:
      return "unavailable";
  }
  return "internal";
}

void throw_bad_input(const std::string& file, const std::string& why) {
  throw Error(ErrorInfo{ErrorCode::bad_input, why, {}, {}, file});
}

}  // namespace likeness
