// POST /v2.1/servers/{id}/action: the server actions that move a server. Today: os-migrateLive,
// in every microversion form Nova accepts (migration-anchors.md §1.2):
//   2.1-2.24   {"host": h|null, "block_migration": bool, "disk_over_commit": bool} (all required)
//   2.25-2.29  {"host": h|null, "block_migration": bool|"auto"}
//   2.30-2.67  ... plus optional "force": bool (a host without force goes through the scheduler)
//   2.68+      no "force"
// 202 with no body. Before 2.34 the pre-checks run inside the request (failure = 400); from 2.34
// they run afterwards and a failure shows in os-instance-actions and the migration's `error`.
#include <algorithm>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/store/database.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// Nova's schemas for the body (migrate_server.py migrate_live, _v2_25, _v2_30, _v2_68), checked
// in the order jsonschema reports them: the properties' own schemas first (in the schema's
// property order), then `required`, then `additionalProperties`. Nothing has been looked up
// yet when one fails, exactly as Nova validates before the handler runs.
void ValidateMigrateLive(const Request& req) {
  namespace ns = nova_schema;
  const json& body = req.body.at("os-migrateLive");
  const std::string field = "os-migrateLive";
  if (!body.is_object()) ns::Invalid(field, body, ns::Repr(body) + " is not of type 'object'");
  const bool legacy = !req.mv.AtLeast(25);
  std::vector<std::string> properties = legacy ? std::vector<std::string>{"block_migration", "disk_over_commit", "host"}
                                               : std::vector<std::string>{"block_migration", "host"};
  if (req.mv.AtLeast(30) && !req.mv.AtLeast(68)) properties.push_back("force");
  for (const auto& key : properties) {
    auto it = body.find(key);
    if (it == body.end()) continue;
    const json& v = *it;
    if (key == "host") {
      if (!v.is_null() && !v.is_string()) ns::Invalid(key, v, ns::Repr(v) + " is not of type 'string', 'null'");
      if (v.is_string() && v.get<std::string>().empty()) ns::Invalid(key, v, ns::Repr(v) + " is too short");
      if (v.is_string() && v.get<std::string>().size() > 255) ns::Invalid(key, v, ns::Repr(v) + " is too long");
    } else if (key == "block_migration" && !legacy) {
      // oneOf [parameter_types.boolean, {"enum": ["auto"]}]
      if (v != "auto" && !ns::IsBoolean(v)) {
        ns::Invalid(key, v, ns::Repr(v) + " is not valid under any of the given schemas");
      }
    } else {
      ns::Boolean(key, v);
    }
  }
  for (const auto& key : properties) {
    if (key == "force") continue;  // the only optional one
    if (!body.contains(key)) ns::Invalid(field, body, "'" + key + "' is a required property");
  }
  std::vector<std::string> extra;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(properties.begin(), properties.end(), it.key()) == properties.end()) extra.push_back(it.key());
  }
  if (!extra.empty()) {
    std::string list;
    for (const auto& k : extra) list += (list.empty() ? "" : ", ") + ns::Repr(json(k));
    ns::Invalid(field, body, "Additional properties are not allowed (" + list +
                                 (extra.size() == 1 ? " was" : " were") + " unexpected)");
  }
}

live_migration::LiveMigrateRequest ParseMigrateLive(const Request& req, const std::string& server) {
  const json& body = req.body.at("os-migrateLive");
  live_migration::LiveMigrateRequest r;
  r.server_uuid = server;
  if (body.at("host").is_string()) r.host = body.at("host").get<std::string>();
  const json& bm = body.at("block_migration");
  r.block_migration = bm == "auto" ? "auto" : (nova_schema::Boolean("block_migration", bm) ? "true" : "false");
  // disk_over_commit (before 2.25) is validated, then ignored, as Nova's libvirt driver does.
  if (body.contains("force")) r.force = nova_schema::Boolean("force", body.at("force"));
  // Nova's _get_force_param_for_live_migration, after the policy check.
  if (r.force && !r.host) throw Error(Errc::kBadRequest, "Can't force to a non-provided destination");
  r.synchronous_prechecks = !req.mv.AtLeast(34);
  r.admin = req.IsAdmin();
  r.user_id = req.principal.name;
  r.project_id = req.principal.name;
  r.request_id = req.request_id;
  r.idempotency_key = req.idempotency_key;
  return r;
}

Response Action(Deps& deps, Request& req) {
  const std::string server = req.params.at(0);
  // Nova's action_peek: the body names exactly one action.
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest, "Malformed request body: too many body keys");
  }
  const std::string action = req.body.begin().key();
  if (action == "os-migrateLive") {
    // Nova's order: the schema (a decorator), then common.get_instance (404), then the policy
    // (403) with the server's project as target, then the compute API's checks.
    ValidateMigrateLive(req);
    bool exists = false;
    if (IsUuid(server)) deps.db.Transact([&](store::Tx& tx) { exists = store::ServerExists(tx, server); });
    if (!exists) throw Error(Errc::kNotFound, "Instance " + server + " could not be found.");
    if (!req.IsAdmin()) {
      throw Error(Errc::kForbidden,
                  "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.");
    }
    deps.live_migrations.Request(ParseMigrateLive(req, server));
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
