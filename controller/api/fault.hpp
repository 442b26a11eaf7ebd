#pragma once
// HTTP status and Nova's error body for an Errc (the table itself is common/nova_fault.hpp)
#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.hpp"

namespace ferry::controller::api {

int HttpStatus(Errc code);
nlohmann::json FaultBody(Errc code, const std::string& message);

}  // namespace ferry::controller::api
