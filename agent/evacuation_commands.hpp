#pragma once
// Evacuation's three command kinds (api/wire/evacuation_messages.hpp): their EvacuationSpec is
// decoded and checked before the driver runs, as cold migration's is; an invalid one is 400 and
// not remembered.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/commands.hpp"

namespace ferry::agent {

// Decodes and validates an EvacuationSpec for `kind`. Throws ferry::Error(kBadRequest) naming
// the field (or nlohmann::json::exception for a wrong type, also 400 at the server).
wire::EvacuationSpec DecodeEvacuationSpec(const std::string& kind, const nlohmann::json& args);

// Adds "rebuild_evacuated_domain", "revert_evacuation_destination" and
// "clean_up_evacuated_source" to the command table.
void AddEvacuationRows(std::map<std::string, CommandFn>& table);

}  // namespace ferry::agent
