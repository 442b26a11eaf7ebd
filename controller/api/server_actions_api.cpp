// POST /v2.1/servers/{id}/action: the server actions that move a server. os-migrateLive, in
// every microversion form Nova accepts (migration-anchors.md §1.2):
//   2.1-2.24   {"host": h|null, "block_migration": bool, "disk_over_commit": bool} (all required)
//   2.25-2.29  {"host": h|null, "block_migration": bool|"auto"}
//   2.30-2.67  ... plus optional "force": bool (a host without force goes through the scheduler)
//   2.68+      no "force"
// 202 with no body. Before 2.34 the pre-checks run inside the request (failure = 400); from 2.34
// they run afterwards and a failure shows in os-instance-actions and the migration's `error`.
// Cold moves (§1.3, §1.4): migrate (admin; 2.56+ may name a host), resize, confirmResize (204)
// and revertResize (202) (owner or admin), each 202 unless said.
// Evacuate (§1.5, admin): 200; before 2.14 with {"adminPass": ...} (the one given, else a new
// one, as Nova's enable_instance_password default answers), from 2.14 with no body.

#include <algorithm>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/secure_random.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/server_lookup.hpp"
#include "controller/cold_migration/service.hpp"
#include "controller/evacuation/service.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/store/database.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// Nova's order for every action: the schema (a decorator), then the server (404), then the
// policy (403) with the server's project as target, then the compute API's checks.
store::Server VisibleServer(Deps& deps, const Request& req, const std::string& uuid) {
  store::Server s;
  deps.db.Transact([&](store::Tx& tx) { s = LoadVisibleServer(tx, req, uuid); });
  return s;
}

Response ColdAction(Deps& deps, Request& req, const std::string& server,
                    const std::string& action) {
  if (action == "migrate") {
    auto r = ParseMigrate(req, server);
    VisibleServer(deps, req, server);
    if (!req.IsAdmin()) {
      // Nova has a rule of its own for a migrate that names its host (2.56).
      const std::string rule = r.host ? "migrate:host" : "migrate";
      throw Error(Errc::kForbidden, "Policy doesn't allow os_compute_api:os-migrate-server:" +
                                        rule + " to be performed.");
    }
    deps.cold_migrations.Request(r);
    return Response{202, nullptr};
  }
  if (action == "resize") {
    // Owner or admin (Nova's PROJECT_MEMBER_OR_ADMIN): a server the caller can see.
    auto r = ParseResize(req, server);
    VisibleServer(deps, req, server);
    deps.cold_migrations.Request(r);
    return Response{202, nullptr};
  }
  // confirmResize / revertResize: Nova's schema is {} for the value (anything goes).
  VisibleServer(deps, req, server);
  const cold_migration::DecisionRequest decision{server, req.IsAdmin(), req.principal.user_id,
                                                 req.principal.project_id, req.request_id};
  if (action == "confirmResize") {
    deps.cold_migrations.Confirm(decision);
    // Nova answers 204 here (kept for compatibility, its code says), 202 for revert.
    return Response{204, nullptr};
  }
  deps.cold_migrations.Revert(decision);
  return Response{202, nullptr};
}

// Nova's utils.generate_password: 12 characters a person can read back (no 0/O, 1/l/I), from
// the kernel's CSPRNG.
std::string GeneratePassword() {
  return SecureRandomString(12, "23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ");
}

Response Evacuate(Deps& deps, Request& req, const std::string& server) {
  auto r = ParseEvacuate(req, server);
  VisibleServer(deps, req, server);
  if (!req.IsAdmin()) {
    throw Error(Errc::kForbidden,
                "Policy doesn't allow os_compute_api:os-evacuate to be performed.");
  }
  // evacuate.py's own 400s, after the server (404) and the policy (403), as in Nova.
  if (r.on_shared_storage.value_or(false) && r.admin_pass_given) {
    throw Error(Errc::kBadRequest, "admin password can't be changed on existing disk");
  }
  if (req.mv.AtLeast(29) && r.force && !r.host) {
    throw Error(Errc::kBadRequest, "Can't force to a non-provided destination");
  }
  deps.evacuations.Request(r);
  if (req.mv.AtLeast(14)) return Response{200, nullptr};
  // Before 2.14 Nova answers the password the rebuilt guest is to have. ferry's drivers set
  // no guest password (as Nova's libvirt driver without inject_password); the answer keeps the
  // contract. A password is refused on shared storage, so only a rebuilt disk gets one.
  const json& body = req.body.at("evacuate");
  std::string password;
  if (body.contains("adminPass")) {
    password = body.at("adminPass").get<std::string>();
  } else if (!r.on_shared_storage.value_or(false)) {
    password = GeneratePassword();
  }
  return Response{200, {{"adminPass", password.empty() ? json(nullptr) : json(password)}}};
}

Response Action(Deps& deps, Request& req) {
  const std::string server = req.params.at(0);
  const std::string action = ServerActionName(req);
  if (action == "os-migrateLive") {
    // Nova's order: the schema (a decorator), then common.get_instance (404), then the policy
    // (403) with the server's project as target, then the compute API's checks.
    ValidateMigrateLive(req);
    deps.db.Transact([&](store::Tx& tx) { LoadVisibleServer(tx, req, server); });
    if (!req.IsAdmin()) {
      throw Error(
          Errc::kForbidden,
          "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.");
    }
    deps.live_migrations.Request(ParseMigrateLive(req, server));
    return Response{202, nullptr};
  }
  if (action == "evacuate") return Evacuate(deps, req, server);
  if (action == "migrate" || action == "resize" || action == "confirmResize" ||
      action == "revertResize") {
    return ColdAction(deps, req, server, action);
  }
  throw Error(Errc::kBadRequest, "There is no such action: " + action);
}

}  // namespace

void RegisterServerActionRoutes(ApiServer& api, Deps& deps) {
  api.Route("POST", "/v2\\.1/servers/([^/]+)/action", Access::kUser,
            [&deps](Request& req) { return Action(deps, req); });
}

}  // namespace ferry::controller::api
