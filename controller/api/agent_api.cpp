// Agent -> controller endpoints (role "agent"): registration, heartbeats with inventory, and
// live-migration progress reports.
#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"
#include "api/wire/progress_batch_parser.hpp"
#include "common/errors.hpp"
#include "controller/api/api_server.hpp"
#include "controller/conductor/host_registry.hpp"
#include "controller/live_migration/progress_ingest.hpp"

namespace ferry::controller::api {

void RegisterAgentRoutes(ApiServer& api, Deps& deps) {
  api.Route("POST", "/agent/v1/register", Access::kAgent, [&deps](Request& req) {
    auto reg = req.body.get<wire::RegisterRequest>();
    if (reg.host != req.principal.name && req.principal.name != "agent") {
      // A token named for a host may only speak for that host.
      throw Error(Errc::kForbidden,
                  "token of " + req.principal.name + " cannot register " + reg.host);
    }
    return Response{200, deps.hosts.Register(reg)};
  });
  api.Route("POST", "/agent/v1/heartbeat", Access::kAgent, [&deps](Request& req) {
    auto hb = req.body.get<wire::Heartbeat>();
    if (hb.host != req.principal.name && req.principal.name != "agent") {
      throw Error(Errc::kForbidden,
                  "token of " + req.principal.name + " cannot speak for " + hb.host);
    }
    return Response{200, deps.hosts.Heartbeat(hb)};
  });
  // The busiest endpoint (a post per host every few seconds): its body goes straight into the
  // wire structs, without the JSON tree every other route gets.
  api.Route(
      "POST", "/agent/v1/migration-progress", Access::kAgent,
      [&deps](Request& req) {
        auto batch = wire::ParseMigrationProgressBatch(req.raw_body);
        if (batch.host != req.principal.name && req.principal.name != "agent") {
          throw Error(Errc::kForbidden,
                      "token of " + req.principal.name + " cannot speak for " + batch.host);
        }
        // Only reports from a running migration's source land (see store::ApplyProgress). The
        // reports are formatted for the statement here, on this API thread, not on the writer's.
        deps.progress.Submit(live_migration::ProgressIngest::Prepare(batch));
        return Response{204, nullptr};
      },
      ApiServer::Body::kRaw);
}

}  // namespace ferry::controller::api
