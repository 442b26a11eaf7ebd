#pragma once
// The one table from ferry::Errc to an HTTP status and Nova's fault name, shared by the
// controller's API and the agent's command server so both answer errors alike:
// {"<faultName>": {"code": N, "message": "..."}}.
#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.hpp"

namespace ferry {

struct NovaFaultShape {
  int status;
  const char* name;
};

NovaFaultShape NovaFault(Errc code);
// Nova's fault name for an HTTP status (nova/api/openstack/wsgi.py Fault._fault_names, where
// anything else is computeFault); 431, which Nova never answers, reads as badRequest.
const char* NovaFaultName(int status);
nlohmann::json NovaFaultBody(Errc code, const std::string& message);

}  // namespace ferry
