#include "common/http/message.hpp"

#include <strings.h>

#include <nlohmann/json.hpp>

#include "common/nova_fault.hpp"

namespace ferry::http {
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
  nlohmann::json body = {{NovaFaultName(status), {{"code", status}, {"message", message}}}};
  // replace: a message quoting a request's invalid UTF-8 must still give a body, not throw.
  r.SetJson(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return r;
}

}  // namespace ferry::http
