#include "common/nova_fault.hpp"

namespace ferry {

NovaFaultShape NovaFault(Errc code) {
  switch (code) {
    case Errc::kBadRequest:
      return {400, "badRequest"};
    case Errc::kUnauthorized:
      return {401, "unauthorized"};
    case Errc::kForbidden:
      return {403, "forbidden"};
    case Errc::kNotFound:
      return {404, "itemNotFound"};
    // Nova's Fault names no 406 (nova/api/openstack/wsgi.py _fault_names): computeFault.
    case Errc::kNotAcceptable:
      return {406, "computeFault"};
    case Errc::kConflict:
      return {409, "conflictingRequest"};
    case Errc::kUnavailable:
      return {503, "serviceUnavailable"};
    case Errc::kInternal:
      return {500, "computeFault"};
  }
  return {500, "computeFault"};
}

const char* NovaFaultName(int status) {
  switch (status) {
    case 400:
      return "badRequest";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "itemNotFound";
    case 405:
      return "badMethod";
    case 409:
      return "conflictingRequest";
    case 413:
      return "overLimit";
    case 415:
      return "badMediaType";
    case 429:
      return "overLimit";
    case 431:
      return "badRequest";
    case 501:
      return "notImplemented";
    case 503:
      return "serviceUnavailable";
    default:
      return "computeFault";
  }
}

namespace {

// The message with every invalid UTF-8 sequence replaced by U+FFFD. Messages may quote a raw
// path segment or header (`/servers/%FF`); a body holding invalid UTF-8 makes dump() throw
// while the error itself is being answered.
std::string ValidUtf8(const std::string& message) {
  const auto quoted =
      nlohmann::json(message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace

nlohmann::json NovaFaultBody(Errc code, const std::string& message) {
  auto shape = NovaFault(code);
  return {{shape.name, {{"code", shape.status}, {"message", ValidUtf8(message)}}}};
}

}  // namespace ferry
