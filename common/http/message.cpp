#include "common/http/message.hpp"

#include <strings.h>

#include <nlohmann/json.hpp>

namespace ferry::http {
namespace {

// Nova's fault names by status (nova/api/openstack/wsgi.py Fault._fault_names); 431 is not
// among them and is answered as a badRequest with code 431.
const char* FaultName(int status) {
  switch (status) {
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
    case 501:
      return "notImplemented";
    case 503:
      return "serviceUnavailable";
    default:
      return status >= 500 ? "computeFault" : "badRequest";
  }
}

}  // namespace

std::optional<std::string> Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), key.size()) == 0) {
      return value;
    }
  }
  return std::nullopt;
}

Response FaultResponse(int status, const std::string& message) {
  Response r;
  nlohmann::json body = {{FaultName(status), {{"code", status}, {"message", message}}}};
  // replace: a message quoting a request's invalid UTF-8 must still give a body, not throw.
  r.SetJson(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return r;
}

}  // namespace ferry::http
