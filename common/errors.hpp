#pragma once
// One error type for the whole project. Layers throw ferry::Error with an Errc; the HTTP
// boundary (controller/api/fault.cpp) is the single place that maps Errc to status + Nova body.
#include <stdexcept>
#include <string>

namespace ferry {

enum class Errc {
  kBadRequest,     // 400 badRequest: malformed or invalid input
  kUnauthorized,   // 401 unauthorized: no or unknown token
  kForbidden,      // 403 forbidden: policy refuses the role
  kNotFound,       // 404 itemNotFound
  kNotAcceptable,  // 406 computeFault (Nova names no 406): microversion out of range
  kConflict,       // 409 conflictingRequest: state or uniqueness conflict
  kUnavailable,    // 503 serviceUnavailable: a dependency (database, agent) is down
  kInternal,       // 500 computeFault
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const { return code_; }

 private:
  Errc code_;
};

}  // namespace ferry
