#pragma once
// Who sees a flavor, as Nova's flavor access rules it: a public flavor everyone, a private one
// admins and the projects it is shared with (os-flavor-access). Flavor reads, extra specs and
// server create all ask this.
#include <algorithm>

#include "controller/api/api_server.hpp"
#include "controller/store/flavors_store.hpp"

namespace ferry::controller::api {

inline bool FlavorVisible(store::Tx& tx, const Request& req, const store::Flavor& f) {
  if (f.is_public || req.IsAdmin()) return true;
  const auto projects = store::ListFlavorProjects(tx, f.flavorid);
  return std::find(projects.begin(), projects.end(), req.principal.name) != projects.end();
}

}  // namespace ferry::controller::api
