#include "controller/live_migration/service.hpp"

#include <spdlog/spdlog.h>

#include <memory>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/conductor/live_migration_states.hpp"
#include "controller/moves/nova_checks.hpp"
#include "controller/store/aggregates_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::live_migration {
namespace {

constexpr const char* kAction = "os-migrateLive";

using moves::InvalidState;
using moves::RequireUnlocked;
using moves::ServerOr404;

// Nova's Migration.get_by_id_and_instance: MigrationNotFoundForInstance. The caller picks the
// status (abort answers 404, force_complete 400).
store::LiveMigration MigrationOfServer(store::Tx& tx, const std::string& server_uuid, int64_t id,
                                       Errc not_found) {
  auto m = store::FindLiveMigrationById(tx, id);
  if (!m || m->instance_uuid != server_uuid) {
    throw Error(not_found,
                "Migration " + std::to_string(id) + " not found for instance " + server_uuid);
  }
  return *m;
}

[[noreturn]] void InvalidMigrationState(const store::LiveMigration& m, const std::string& method) {
  throw Error(Errc::kBadRequest, "Migration " + std::to_string(m.id) + " state of instance " +
                                     m.instance_uuid + " is " + std::string(ToString(m.status)) +
                                     ". Cannot " + method +
                                     " while the migration is in this state.");
}

// Deployment defaults, overridden by the metadata of the source host's aggregates.
Policy EffectivePolicy(store::Tx& tx, const Policy& defaults, const std::string& host) {
  std::map<std::string, std::string> metadata;
  for (const auto& a : store::ListAggregates(tx)) {
    if (std::find(a.hosts.begin(), a.hosts.end(), host) == a.hosts.end()) continue;
    for (const auto& [k, v] : a.metadata) metadata[k] = v;
  }
  return WithOverrides(defaults, metadata);
}

}  // namespace

store::LiveMigration Service::Request(const LiveMigrateRequest& r) {
  store::LiveMigration m;
  bool created = false;
  ctx_.db.Transact([&](store::Tx& tx) {
    if (r.idempotency_key) {
      if (auto existing = store::FindByIdempotencyKey(tx, *r.idempotency_key)) {
        if (existing->instance_uuid != r.server_uuid) {
          throw Error(Errc::kConflict, "Idempotency-Key " + *r.idempotency_key +
                                           " was already used for another request");
        }
        m = *existing;
        return;
      }
    }
    const auto server = ServerOr404(tx, r.server_uuid);
    RequireUnlocked(server, r.admin);
    if (server.vm_state != "active" && server.vm_state != "paused") {
      InvalidState(kAction, server.uuid, "vm_state", server.vm_state);
    }
    if (server.task_state) InvalidState(kAction, server.uuid, "task_state", *server.task_state);
    if (!server.host) throw Error(Errc::kConflict, "Instance " + server.uuid + " has no host");
    auto source = store::FindHostNamed(tx, *server.host);
    if (!source) throw Error(Errc::kConflict, "Instance " + server.uuid + " has no host");
    if (r.host) {
      auto dest = store::FindHostNamed(tx, *r.host);
      if (!dest) throw Error(Errc::kBadRequest, "Compute host " + *r.host + " could not be found.");
      // Nova raises UnableToMigrateToSelf in the conductor: the request's 400 before 2.34,
      // from 2.34 a 202 and a migration that fails its pre-checks (Steps::Schedule).
      if (dest->name == source->name && r.synchronous_prechecks) {
        throw Error(Errc::kBadRequest, "Unable to migrate instance (" + server.uuid +
                                           ") to current host (" + source->name + ").");
      }
      // Nova looks the host up in the server's cell (the request context is targeted there),
      // so a host of another cell is ComputeHostNotFound.
      if (dest->cell != source->cell) {
        throw Error(Errc::kBadRequest, "Compute host " + *r.host + " could not be found.");
      }
    }
    // Nova's compare-and-set on task_state: of two racing requests exactly one wins.
    if (!store::CasTaskState(tx, server.uuid, std::nullopt, std::string("migrating"),
                             ctx_.clock.Now())) {
      InvalidState(kAction, server.uuid, "task_state", "migrating");
    }
    m.uuid = NewUuid();
    m.instance_uuid = server.uuid;
    m.status = store::MigrationStatus::kAccepted;
    m.source_compute = source->name;
    m.source_node = server.node.value_or(source->name);
    m.user_id = r.user_id;
    m.project_id = r.project_id;
    m.step = store::LiveStep::kScheduling;
    m.idempotency_key = r.idempotency_key;
    m.drain_uuid = r.drain_uuid;
    m.memory_total = server.memory_mb * 1024 * 1024;
    m.request_params = {{"block_migration", r.block_migration}, {"force", r.force}};
    if (r.host) m.request_params["host"] = *r.host;
    m.requested_host = r.host;
    m.block_migration =
        store::ParseBlockMigration(r.block_migration).value_or(store::BlockMigration::kAuto);
    m.forced = r.force;
    m.policy = EffectivePolicy(tx, ctx_.options.policy, source->name);
    store::MigrationEvent first{std::nullopt,        m.status,    "requested", std::nullopt,
                                "user " + r.user_id, r.request_id};
    store::InsertLiveMigration(tx, m, first, engine_.owner(), ctx_.engine.lease);
    created = true;
  });
  if (!created) return m;
  // Watched before the engine can move it, so that no change is missed.
  bool wait = r.synchronous_prechecks;
  if (wait && synchronous_waits_.fetch_add(1) >= kMaxSynchronousWaits) {
    synchronous_waits_.fetch_sub(1);
    spdlog::warn("live migration {}: too many pre-2.34 requests waiting; answered at once", m.uuid);
    wait = false;
  }
  // Released however this request ends.
  std::shared_ptr<void> release(nullptr, [this, wait](void*) {
    if (wait) synchronous_waits_.fetch_sub(1);
  });
  std::optional<moves::StatusWaiters::Watch> watch;
  if (wait) watch.emplace(ctx_.waiters, m.uuid);
  engine_.Wake({std::string(kType), m.uuid});
  if (!wait) return m;
  // Before 2.34 the request itself waits for the conductor's checks: the database is read
  // once now, once per status change this controller commits, and once at the deadline (the
  // lease may have gone to another controller meanwhile).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool last = false;
  while (true) {
    std::optional<store::LiveMigration> now;
    ctx_.db.Transact([&](store::Tx& tx) { now = store::FindLiveMigration(tx, m.uuid); });
    if (now && now->status != store::MigrationStatus::kAccepted) {
      if (now->status == store::MigrationStatus::kError)
        throw Error(Errc::kBadRequest, now->error_reason.value_or("pre-check failed"));
      return *now;
    }
    if (last) return now.value_or(m);
    // At the deadline one more read (above), then the answer as it stands.
    if (!watch->WaitForChange(deadline)) last = true;
  }
}

void Service::Abort(const std::string& server_uuid, int64_t migration_id, bool allow_before_running,
                    bool admin) {
  std::string uuid;
  ctx_.db.Transact([&](store::Tx& tx) {
    // Nova's live_migrate_abort: check_instance_lock, check_instance_state(task_state=migrating),
    // then the migration, then its status.
    const auto server = ServerOr404(tx, server_uuid);
    if (server.locked && !admin) {
      // server_migrations.py catches InstanceIsLocked as the InstanceInvalidState it derives
      // from; without attr/state the conflict helper words it generically.
      throw Error(Errc::kConflict,
                  "Instance " + server.uuid + " is in an invalid state for 'abort live migration'");
    }
    if (server.task_state != "migrating") {
      InvalidState("abort live migration", server.uuid, "task_state",
                   server.task_state.value_or("None"));
    }
    const auto m = MigrationOfServer(tx, server_uuid, migration_id, Errc::kNotFound);
    const bool ok = conductor::AbortableFrom(m.status) &&
                    (allow_before_running || m.status == store::MigrationStatus::kRunning);
    if (!ok) InvalidMigrationState(m, "abort live migration");
    store::RequestAbort(tx, m.uuid, ctx_.clock.Now());
    uuid = m.uuid;
  });
  engine_.Wake({std::string(kType), uuid});
}

void Service::ForceComplete(const std::string& server_uuid, int64_t migration_id, bool admin) {
  std::string uuid;
  ctx_.db.Transact([&](store::Tx& tx) {
    // Nova's live_migrate_force_complete: check_instance_lock, check_instance_state(vm_state=
    // active, task_state=migrating), then the migration (not found: 400 in this API), then its
    // status.
    const auto server = ServerOr404(tx, server_uuid);
    RequireUnlocked(server, admin);
    if (server.vm_state != "active")
      InvalidState("force_complete", server.uuid, "vm_state", server.vm_state);
    if (server.task_state != "migrating") {
      InvalidState("force_complete", server.uuid, "task_state", server.task_state.value_or("None"));
    }
    const auto m = MigrationOfServer(tx, server_uuid, migration_id, Errc::kBadRequest);
    if (!conductor::ForceCompletableFrom(m.status)) InvalidMigrationState(m, "force complete");
    store::RequestForceComplete(tx, m.uuid, ctx_.clock.Now());
    uuid = m.uuid;
  });
  engine_.Wake({std::string(kType), uuid});
}

}  // namespace ferry::controller::live_migration
