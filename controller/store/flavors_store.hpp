#pragma once
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

}  // namespace ferry::controller::store
