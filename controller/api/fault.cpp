#include "controller/api/fault.hpp"

#include "common/nova_fault.hpp"

namespace ferry::controller::api {

int HttpStatus(Errc code) { return NovaFault(code).status; }

nlohmann::json FaultBody(Errc code, const std::string& message) {
  return NovaFaultBody(code, message);
}

}  // namespace ferry::controller::api
