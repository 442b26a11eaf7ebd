#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/store/models.hpp"

namespace ferry::controller::store {

class Tx;

std::vector<Flavor> ListFlavors(Tx& tx);
// By API id (flavorid).
std::optional<Flavor> FindFlavor(Tx& tx, const std::string& flavorid);
// Throws ferry::Error(kConflict) when the name or the id is taken.
Flavor CreateFlavor(Tx& tx, const Flavor& f);
// False when no such flavor. Servers keep their copy of the flavor's sizes.
bool DeleteFlavor(Tx& tx, const std::string& flavorid);
// Sets these extra specs (a JSON object of strings), keeping the others; false: no flavor.
bool MergeFlavorExtraSpecs(Tx& tx, const std::string& flavorid, const nlohmann::json& specs);
// False when the flavor or the key does not exist.
bool DeleteFlavorExtraSpec(Tx& tx, const std::string& flavorid, const std::string& key);
// The projects a (private) flavor is shared with, sorted.
std::vector<std::string> ListFlavorProjects(Tx& tx, const std::string& flavorid);
// False when the project already has access (or no such flavor: check it first).
bool AddFlavorProject(Tx& tx, const std::string& flavorid, const std::string& project_id);
// False when the project had no access.
bool RemoveFlavorProject(Tx& tx, const std::string& flavorid, const std::string& project_id);
// 2.55's flavor update; false when no such flavor.
bool SetFlavorDescription(Tx& tx, const std::string& flavorid,
                          const std::optional<std::string>& description);

}  // namespace ferry::controller::store
