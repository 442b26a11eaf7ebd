#pragma once
// The part of each write route that reads its request body: what Nova checks before the handler
// looks anything up. Pure functions of the Request (body, microversion, role): no store, no
// clock. The routes call them first, and tests/fuzz/rest_bodies_fuzz.cpp feeds them arbitrary
// bodies, so both run the same code. Each throws ferry::Error (400 with Nova's text, or 403
// for a forced host asked by a non-admin).
#include <map>
#include <optional>
#include <string>

#include "controller/api/api_server.hpp"
#include "controller/cold_migration/service.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/evacuation/service.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/store/models.hpp"
#include "controller/store/server_groups_store.hpp"

namespace ferry::controller::api {

// POST /servers. The flavor, the forced host and the zone are looked up afterwards.
struct ServerCreateBody {
  conductor::CreateServerRequest request;  // flavor, user and project not filled in yet
  std::string flavor_ref;                  // as sent: an id or a link ending in one
  std::optional<std::string> forced_host;  // from "zone:host" or 2.74's "host"
  std::optional<std::string> admin_pass;   // answered back as Nova does (ferry sets no password)
};
ServerCreateBody ParseServerCreate(const Request& req);
// accessIPv4, accessIPv6, description (2.19), hostname (2.90) of a create body's "server".
store::ServerAttributes ParseServerAttributes(const Request& req, const nlohmann::json& server);
// PUT /servers/{id}: checks the body and applies its name and attributes to `s`.
void ApplyServerUpdate(const Request& req, store::Server& s);

// POST /servers/{id}/action: Nova's action_peek (exactly one key), returns the action's name.
std::string ServerActionName(const Request& req);
// {"os-migrateLive": ...} against Nova's schema for req.mv; then the request it asks for.
void ValidateMigrateLive(const Request& req);
live_migration::LiveMigrateRequest ParseMigrateLive(const Request& req, const std::string& server);
// {"migrate": ...}: Nova's schema from 2.56 (null, or an object with an optional "host");
// before 2.56 Nova checks nothing and ignores the body's value. Then the request it asks for.
cold_migration::ColdMoveRequest ParseMigrate(const Request& req, const std::string& server);
// {"resize": {"flavorRef": ..., "OS-DCF:diskConfig": ...}} against Nova's schema.
cold_migration::ColdMoveRequest ParseResize(const Request& req, const std::string& server);
// {"evacuate": {...}} against Nova's schema for req.mv (onSharedStorage before 2.14, force in
// 2.29-2.67), with the API layer's own 400s (force without a host, a password on shared disks).
evacuation::EvacuateRequest ParseEvacuate(const Request& req, const std::string& server);

// POST /os-server-groups (uuid, user, project and time are set by the route).
store::ServerGroup ParseServerGroupCreate(const Request& req);

// POST /flavors (admin).
store::Flavor ParseFlavorCreate(const Request& req);

// os-aggregates (admin): POST, PUT and POST .../action.
struct AggregateBody {
  std::optional<std::string> name;
  std::optional<std::string> availability_zone;
  bool zone_given = false;  // PUT: "availability_zone" present (null clears it)
};
AggregateBody ParseAggregateCreate(const Request& req);
AggregateBody ParseAggregateUpdate(const Request& req);
struct AggregateAction {
  std::string action;  // "add_host" | "remove_host" | "set_metadata"
  std::string host;    // add_host, remove_host
  std::map<std::string, std::optional<std::string>> metadata;  // set_metadata (null = remove)
};
AggregateAction ParseAggregateAction(const Request& req);
// An availability zone as Nova accepts it: 1-255 characters without ':'.
std::optional<std::string> ValidZone(const std::optional<std::string>& az);

}  // namespace ferry::controller::api
