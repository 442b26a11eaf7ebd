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
#include "controller/api/request_bodies.hpp"
#include "controller/api/server_lookup.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/store/database.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

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
  throw Error(Errc::kBadRequest, "There is no such action: " + action);
}

}  // namespace

void RegisterServerActionRoutes(ApiServer& api, Deps& deps) {
  api.Route("POST", "/v2\\.1/servers/([^/]+)/action", Access::kUser,
            [&deps](Request& req) { return Action(deps, req); });
}

}  // namespace ferry::controller::api
