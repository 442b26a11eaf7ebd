#pragma once
// The one table from ferry::Errc to an HTTP status and Nova's error body
// {"<faultName>": {"code": N, "message": "..."}}.
#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.hpp"

namespace ferry::controller::api {

int HttpStatus(Errc code);
nlohmann::json FaultBody(Errc code, const std::string& message);

}  // namespace ferry::controller::api
