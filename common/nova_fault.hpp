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
nlohmann::json NovaFaultBody(Errc code, const std::string& message);

}  // namespace ferry
