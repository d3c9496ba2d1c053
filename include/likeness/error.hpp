// Errors carry a machine-readable code plus the stage, parameter and file they
// concern. They travel as exceptions of one type (no global error buffer, no
// error strings parsed back); the CLI and HTTP edges turn them into a message
// and an exit code or status.
#pragma once
#include <stdexcept>
#include <string>

namespace likeness {

enum class ErrorCode {
  internal = 1,     // a bug or an environment fault (missing model, disk)
  usage = 2,        // bad flags or parameter values
  bad_input = 3,    // unreadable image, no face, refused size
  invalid = 4,      // a manifest that does not verify (verify only)
  no_consent = 5,   // no valid consent record for the subject
  cancelled = 6,    // the job's cancel flag was raised
  unavailable = 7,  // the shared database cannot be reached (try again)
};

struct ErrorInfo {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  std::string stage;  // stage id, if any
  std::string param;  // parameter key, if any
  std::string file;   // input file, if any
};

class Error : public std::runtime_error {
 public:
  explicit Error(ErrorInfo info);
  Error(ErrorCode code, std::string message);
  const ErrorInfo& info() const noexcept { return info_; }
  ErrorCode code() const noexcept { return info_.code; }

 private:
  ErrorInfo info_;
};

// Process exit code for an error code (documented in `likeness --help`).
int exit_code(ErrorCode code);
// Its stable name in JSON reports: "internal", "usage", "bad_input",
// "invalid", "no_consent", "cancelled".
const char* code_name(ErrorCode code);

[[noreturn]] void throw_bad_input(const std::string& file, const std::string& why);

}  // namespace likeness
