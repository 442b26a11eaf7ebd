// /v2.1/servers/{id}/migrations (admin; a member learns 404 for an unknown server, then the
// policy's 403, in Nova's order): the in-progress live migrations of a server, with
// Nova's fields (2.23; 2.59 uuid; 2.80 user_id, project_id) plus, with X-Ferry-Extensions:
// true, ferry's: phase, progress_percent, transfer_rate_bps, dirty_rate_bps, eta_seconds,
// attempt, queue_position, error. force_complete (2.22) and abort (2.24; queued and preparing too
// from 2.65). ferry's extension: DELETE of a cold migration or resize of the server that has not
// started yet (queued, pre-migrating) aborts it; Nova aborts live migrations only.
#include <algorithm>
#include <string>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/api/server_lookup.hpp"
#include "controller/cold_migration/service.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/database.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/moves_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Bytes copied out of bytes to copy (memory and disk), as a percentage; null before the first
// report. Pre-copy rounds re-send dirtied memory, so it may dip between rounds.
json ProgressPercent(const store::LiveMigration& m) {
  const int64_t total = m.memory_total.value_or(0) + m.disk_total.value_or(0);
  if (!m.memory_remaining || total <= 0) return nullptr;
  const int64_t remaining =
      std::clamp<int64_t>(m.memory_remaining.value_or(0) + m.disk_remaining.value_or(0), 0, total);
  return (total - remaining) * 100 / total;
}

json View(const Request& req, const store::LiveMigration& m,
          const std::map<std::string, int>& queue) {
  json o = {{"id", m.id},
            {"server_uuid", m.instance_uuid},
            {"source_compute", Opt(m.source_compute)},
            {"source_node", Opt(m.source_node)},
            {"dest_compute", Opt(m.dest_compute)},
            {"dest_node", Opt(m.dest_node)},
            {"dest_host", Opt(m.dest_host)},
            {"status", m.status},
            {"memory_total_bytes", Opt(m.memory_total)},
            {"memory_processed_bytes", Opt(m.memory_processed)},
            {"memory_remaining_bytes", Opt(m.memory_remaining)},
            {"disk_total_bytes", Opt(m.disk_total)},
            {"disk_processed_bytes", Opt(m.disk_processed)},
            {"disk_remaining_bytes", Opt(m.disk_remaining)},
            {"created_at", FormatNovaTime(m.created_at)},
            {"updated_at", m.updated_at ? json(FormatNovaTime(*m.updated_at)) : json(nullptr)}};
  if (req.ferry_extensions) {
    // What is happening now: the source's job phase while it copies, else the controller's step.
    o["phase"] = m.status == store::MigrationStatus::kRunning && m.job_phase
                     ? wire::ToString(*m.job_phase)
                     : store::ToString(m.step);
    o["progress_percent"] = ProgressPercent(m);
    o["transfer_rate_bps"] = Opt(m.transfer_rate_bps);
    o["dirty_rate_bps"] = Opt(m.dirty_rate_bps);
    o["eta_seconds"] = Opt(m.eta_seconds);
    o["attempt"] = m.attempt;
    auto it = queue.find(m.uuid);
    o["queue_position"] = it == queue.end() ? json(nullptr) : json(it->second);
    o["error"] = Opt(m.error_reason);
    // A step that keeps failing (the move engine retries it; see README, "retry budget").
    o["step_failures"] = m.step_failures;
    o["last_step_error"] = Opt(m.last_step_error);
  }
  if (req.mv.AtLeast(59)) o["uuid"] = m.uuid;
  if (req.mv.AtLeast(80)) {
    o["user_id"] = Opt(m.user_id);
    o["project_id"] = Opt(m.project_id);
  }
  return o;
}

void RequireVersion(const Request& req, int minor) {
  // Nova: the route does not exist below its microversion.
  if (!req.mv.AtLeast(minor)) throw Error(Errc::kNotFound, "The resource could not be found.");
}

// Nova looks the server up (404) before the policy check (403), whose target is the server's
// project; so the routes admit members and the handlers refuse them in that order.
void RequireServerThenPolicy(Deps& deps, const Request& req, const std::string& rule) {
  deps.db.Transact([&](store::Tx& tx) { LoadVisibleServer(tx, req, req.params.at(0)); });
  if (!req.IsAdmin()) {
    throw Error(Errc::kForbidden, "Policy doesn't allow os_compute_api:servers:migrations:" + rule +
                                      " to be performed.");
  }
}

int64_t MigrationId(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(Errc::kNotFound, "Migration " + text + " could not be found.");
  }
  return std::stoll(text);
}

Response List(Deps& deps, Request& req) {
  RequireVersion(req, 23);
  RequireServerThenPolicy(deps, req, "index");
  json out = json::array();
  deps.db.Transact([&](store::Tx& tx) {
    LoadVisibleServer(tx, req, req.params.at(0));
    const auto queue = store::QueuePositions(tx);
    for (const auto& m : store::ListServerLiveMigrations(tx, req.params.at(0), true)) {
      out.push_back(View(req, m, queue));
    }
  });
  return Response{200, {{"migrations", out}}};
}

Response Show(Deps& deps, Request& req) {
  RequireVersion(req, 23);
  RequireServerThenPolicy(deps, req, "show");
  const std::string server = req.params.at(0);
  const std::string id_text = req.params.at(1);
  json out;
  deps.db.Transact([&](store::Tx& tx) {
    LoadVisibleServer(tx, req, server);
    std::optional<int64_t> id;
    if (!id_text.empty() && id_text.size() <= 18 &&
        id_text.find_first_not_of("0123456789") == std::string::npos) {
      id = std::stoll(id_text);
    }
    std::optional<store::LiveMigration> m;
    if (id) m = store::FindLiveMigrationById(tx, *id);
    // Nova's three answers: not this server's, not a live migration, not in progress.
    if (!m && id) {
      auto cold = store::FindColdMigrationById(tx, *id);
      if (cold && cold->instance_uuid == server) {
        throw Error(Errc::kNotFound,
                    "Migration " + id_text + " for server " + server + " is not live-migration.");
      }
    }
    if (!m || m->instance_uuid != server) {
      throw Error(Errc::kNotFound, "In-progress live migration " + id_text +
                                       " is not found for server " + server + ".");
    }
    if (!store::FlagsOf(m->status).api_in_progress) {
      throw Error(Errc::kNotFound,
                  "Live migration " + id_text + " for server " + server + " is not in progress.");
    }
    out = View(req, *m, store::QueuePositions(tx));
  });
  return Response{200, {{"migration", out}}};
}

Response ForceComplete(Deps& deps, Request& req) {
  // Nova's action dispatch: exactly one body key naming a known action, before any version.
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest, "Malformed request body: too many body keys");
  }
  if (!req.body.contains("force_complete")) {
    throw Error(Errc::kBadRequest, "There is no such action: " + req.body.begin().key());
  }
  RequireVersion(req, 22);
  // server_migrations.force_complete: {"force_complete": {"type": "null"}}.
  const json& v = req.body.at("force_complete");
  if (!v.is_null())
    nova_schema::Invalid("force_complete", v, nova_schema::Repr(v) + " is not of type 'null'");
  RequireServerThenPolicy(deps, req, "force_complete");
  deps.live_migrations.ForceComplete(req.params.at(0), MigrationId(req.params.at(1)),
                                     req.IsAdmin());
  return Response{202, nullptr};
}

Response Abort(Deps& deps, Request& req) {
  RequireVersion(req, 24);
  RequireServerThenPolicy(deps, req, "delete");
  const int64_t id = MigrationId(req.params.at(1));
  bool cold = false;
  deps.db.Transact([&](store::Tx& tx) {
    auto m = store::FindColdMigrationById(tx, id);
    cold = m && m->instance_uuid == req.params.at(0);
  });
  if (cold) {
    deps.cold_migrations.Abort(req.params.at(0), id, req.IsAdmin());
    return Response{202, nullptr};
  }
  deps.live_migrations.Abort(req.params.at(0), id, req.mv.AtLeast(65), req.IsAdmin());
  return Response{202, nullptr};
}

}  // namespace

void RegisterServerMigrationRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/servers/([^/]+)/migrations", Access::kUser,
            [&deps](Request& req) { return List(deps, req); });
  api.Route("GET", "/v2\\.1/servers/([^/]+)/migrations/([^/]+)", Access::kUser,
            [&deps](Request& req) { return Show(deps, req); });
  api.Route("POST", "/v2\\.1/servers/([^/]+)/migrations/([^/]+)/action", Access::kUser,
            [&deps](Request& req) { return ForceComplete(deps, req); });
  api.Route("DELETE", "/v2\\.1/servers/([^/]+)/migrations/([^/]+)", Access::kUser,
            [&deps](Request& req) { return Abort(deps, req); });
}

}  // namespace ferry::controller::api
