// os-flavor-access (admin): the projects a private flavor is shared with, as Nova's
// flavor_access controller serves them: GET /flavors/{id}/os-flavor-access and
// POST /flavors/{id}/action {"addTenantAccess" | "removeTenantAccess": {"tenant": ...}}, each
// answering with the flavor's access list.
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/flavors_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

json AccessList(store::Tx& tx, const std::string& flavorid) {
  json out = json::array();
  for (const auto& project : store::ListFlavorProjects(tx, flavorid)) {
    out.push_back({{"flavor_id", flavorid}, {"tenant_id", project}});
  }
  return out;
}

store::Flavor Load(store::Tx& tx, const std::string& flavorid) {
  auto f = store::FindFlavor(tx, flavorid);
  if (!f) throw Error(Errc::kNotFound, "Flavor " + flavorid + " could not be found.");
  return *f;
}

Response Index(Deps& deps, Request& req) {
  json list;
  deps.db.Transact([&](store::Tx& tx) {
    if (Load(tx, req.params[0]).is_public) {
      throw Error(Errc::kNotFound, "Access list not available for public flavors.");
    }
    list = AccessList(tx, req.params[0]);
  });
  return {200, {{"flavor_access", list}}};
}

// Nova's action schemas: exactly one action key, holding {"tenant": 1-255 characters}.
std::pair<std::string, std::string> ParseAction(const Request& req) {
  if (req.body.is_object()) RejectUnknownKeys(req.body, {"addTenantAccess", "removeTenantAccess"});
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest,
                "The request body must hold one of addTenantAccess, removeTenantAccess.");
  }
  const std::string action = req.body.begin().key();
  const json& body = RequireMember(req.body, action.c_str());
  RejectUnknownKeys(body, {"tenant"});
  auto tenant = OptionalString(body, "tenant", 255, false);
  if (!tenant) throw Error(Errc::kBadRequest, "'tenant' is a required property");
  if (tenant->empty())
    throw Error(Errc::kBadRequest,
                "Invalid input for field/attribute tenant. Value: . '' is too short");
  return {action, *tenant};
}

Response Action(Deps& deps, Request& req) {
  const auto [action, tenant] = ParseAction(req);
  const std::string& flavorid = req.params[0];
  json list;
  deps.db.Transact([&](store::Tx& tx) {
    auto flavor = Load(tx, flavorid);
    if (action == "addTenantAccess") {
      if (flavor.is_public) throw Error(Errc::kConflict, "Can not add access to a public flavor.");
      if (!store::AddFlavorProject(tx, flavorid, tenant)) {
        throw Error(Errc::kConflict, "Flavor access already exists for flavor " + flavorid +
                                         " and project " + tenant + " combination.");
      }
    } else if (!store::RemoveFlavorProject(tx, flavorid, tenant)) {
      throw Error(Errc::kNotFound,
                  "Flavor access not found for " + flavorid + " / " + tenant + " combination.");
    }
    list = AccessList(tx, flavorid);
  });
  spdlog::info("flavor access {} flavor={} project={}", action, flavorid, tenant);
  return {200, {{"flavor_access", list}}};
}

}  // namespace

void RegisterFlavorAccessRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/flavors/([^/]+)/os-flavor-access", Access::kAdmin,
            [&deps](Request& req) { return Index(deps, req); });
  api.Route("POST", "/v2\\.1/flavors/([^/]+)/action", Access::kAdmin,
            [&deps](Request& req) { return Action(deps, req); });
}

}  // namespace ferry::controller::api
