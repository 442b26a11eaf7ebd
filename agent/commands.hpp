#pragma once
// The command kinds the agent understands, one row each: decode args, call the driver.
// Later issues add the migration steps here; the command server stays unchanged.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/driver.hpp"

namespace ferry::agent {

// Runs one command against the driver. Returns the domain the command leaves behind (if any).
// Throws ferry::Error(kBadRequest) or nlohmann::json::exception for invalid args, and whatever
// the driver throws for failures.
using CommandFn = std::function<std::optional<wire::Domain>(Driver&, const nlohmann::json& args)>;

// nullptr for an unknown kind.
const CommandFn* FindCommand(const std::string& kind);

}  // namespace ferry::agent
