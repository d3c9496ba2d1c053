// An error the HTTP edge answers with its own status and stable code
// (unauthenticated, csrf, not_found, conflict, too_large, queue_full);
// library errors (likeness::Error) map to statuses in server.cpp.
#pragma once
#include <stdexcept>
#include <string>

namespace likeness {

struct ServiceError : std::runtime_error {
  int status;
  std::string code;
  ServiceError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)) {}
};

}  // namespace likeness
