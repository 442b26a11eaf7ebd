// POST /v2.1/servers/{id}/action: the server actions that move a server. Today: os-migrateLive,
// in every microversion form Nova accepts (migration-anchors.md §1.2):
//   2.1-2.24   {"host": h|null, "block_migration": bool, "disk_over_commit": bool} (all required)
//   2.25-2.29  {"host": h|null, "block_migration": bool|"auto"}
//   2.30-2.67  ... plus optional "force": bool (a host without force goes through the scheduler)
//   2.68+      no "force"
// 202 with no body. Before 2.34 the pre-checks run inside the request (failure = 400); from 2.34
// they run afterwards and a failure shows in os-instance-actions and the migration's `error`.
#include <string>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/validation.hpp"
#include "controller/live_migration/service.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// Nova's parameter_types.boolean: JSON booleans and the strings oslo accepts.
bool StrictBool(const json& v, const char* key) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) return ParseBoolParam(key, v.get<std::string>());
  throw Error(Errc::kBadRequest, std::string("Invalid input for field/attribute ") + key +
                                     ". Value: " + v.dump() + ". " + v.dump() +
                                     " is not of type 'boolean', 'string'");
}

void RequireKey(const json& obj, const char* key) {
  if (!obj.contains(key)) {
    throw Error(Errc::kBadRequest, std::string("Invalid input for field/attribute os-migrateLive. ") +
                                       "Value: " + obj.dump() + ". '" + key + "' is a required property");
  }
}

live_migration::LiveMigrateRequest ParseMigrateLive(const Request& req, const std::string& server) {
  const json& body = req.body.at("os-migrateLive");
  if (!body.is_object()) {
    throw Error(Errc::kBadRequest, "Invalid input for field/attribute os-migrateLive. Value: " +
                                       body.dump() + ". " + body.dump() + " is not of type 'object'");
  }
  live_migration::LiveMigrateRequest r;
  r.server_uuid = server;
  const auto& mv = req.mv;
  if (!mv.AtLeast(25)) {
    RejectUnknownKeys(body, {"host", "block_migration", "disk_over_commit"});
    RequireKey(body, "block_migration");
    RequireKey(body, "disk_over_commit");
    RequireKey(body, "host");
    r.block_migration = StrictBool(body.at("block_migration"), "block_migration") ? "true" : "false";
    StrictBool(body.at("disk_over_commit"), "disk_over_commit");  // validated, then ignored (Nova)
  } else {
    if (mv.AtLeast(30) && !mv.AtLeast(68)) {
      RejectUnknownKeys(body, {"host", "block_migration", "force"});
    } else {
      RejectUnknownKeys(body, {"host", "block_migration"});
    }
    RequireKey(body, "block_migration");
    RequireKey(body, "host");
    const json& bm = body.at("block_migration");
    r.block_migration = bm.is_string() && bm.get<std::string>() == "auto"
                            ? "auto"
                            : (StrictBool(bm, "block_migration") ? "true" : "false");
    if (body.contains("force")) r.force = StrictBool(body.at("force"), "force");
  }
  r.host = OptionalString(body, "host");
  if (r.host && r.host->empty()) {
    throw Error(Errc::kBadRequest, "Invalid input for field/attribute host. Value: . '' is too short");
  }
  if (r.force && !r.host) throw Error(Errc::kBadRequest, "Can't force to a non-provided destination");
  r.synchronous_prechecks = !mv.AtLeast(34);
  r.user_id = req.principal.name;
  r.project_id = req.principal.name;
  r.request_id = req.request_id;
  r.idempotency_key = req.idempotency_key;
  return r;
}

Response Action(Deps& deps, Request& req) {
  const std::string server = req.params.at(0);
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest, "Malformed request body: expected exactly one action");
  }
  const std::string action = req.body.begin().key();
  if (action == "os-migrateLive") {
    if (!req.IsAdmin()) {
      throw Error(Errc::kForbidden,
                  "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.");
    }
    if (!IsUuid(server)) throw Error(Errc::kNotFound, "Instance " + server + " could not be found.");
    auto request = ParseMigrateLive(req, server);
    deps.live_migrations.Request(request);
    return Response{202, nullptr};
  }
  throw Error(Errc::kBadRequest, "There is no such action: " + action);
}

}  // namespace

void RegisterServerActionRoutes(ApiServer& api, Deps& deps) {
  api.Route("POST", "/v2\\.1/servers/([^/]+)/action", Access::kUser,
            [&deps](Request& req) { return Action(deps, req); });
}

}  // namespace ferry::controller::api
