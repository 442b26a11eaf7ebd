// Steps::Schedule (accepted -> queued or error) and Steps::Admit (queued -> preparing, in the
// move engine's admission): choosing, checking and claiming a destination, then taking a slot.
#include <spdlog/spdlog.h>

#include "controller/live_migration/agent_calls.hpp"
#include "controller/live_migration/steps.hpp"
#include "controller/live_migration/steps_parties.hpp"
#include "controller/moves/destinations.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/flavors_store.hpp"

namespace ferry::controller::live_migration {
namespace {

// Thrown inside a transaction when the destination claim lost its race: nothing commits.
struct ClaimLost {};

}  // namespace

StepResult Steps::Schedule(store::LiveMigration& m) {
  auto parties = Load(ctx_.db, m);
  auto fail = [&](const std::string& message) {
    return EndUnscheduled(m, "precheck_failed", message);
  };
  if (!parties.server || !parties.source)
    return fail("the server or its source host no longer exists");
  const store::Server& server = *parties.server;
  const store::Host& source = *parties.source;
  if (m.requested_host == source.name) {
    return fail("Unable to migrate instance (" + server.uuid + ") to current host (" + source.name +
                ").");
  }

  // block_migration: Nova's "auto" copies the disk exactly when it is local to the host.
  const auto requested = m.block_migration;
  const bool local_disk = server.storage_kind == "local";
  if (requested == store::BlockMigration::kTrue && !local_disk) {
    return fail(source.name +
                " is on shared storage: Block migration can not be used with shared storage.");
  }
  if (requested == store::BlockMigration::kFalse && local_disk) {
    return fail(server.uuid +
                " is not on shared storage: Shared storage live-migration requires "
                "either shared storage or boot-from-volume with no local disks.");
  }
  m.copies_disk = local_disk;

  const auto host = m.requested_host.value_or("");
  const bool forced = m.forced && !host.empty();
  std::vector<std::string> candidates;
  std::string nothing_fits = "No valid host was found. There are not enough hosts available.";
  if (forced) {
    candidates.push_back(host);  // force skips the filters, not the checks and the claim
  } else {
    moves::DestinationQuery query{server, source};
    query.vcpus = server.vcpus;
    query.memory_mb = server.memory_mb;
    query.disk_gb = local_disk ? server.root_gb : 0;
    if (!host.empty()) query.requested_host = host;
    query.ignore_hosts.insert(m.ignore_hosts.begin(), m.ignore_hosts.end());
    query.max_inbound_migrations = ctx_.engine.limits.max_inbound_per_host;
    ctx_.db.Transact([&](store::Tx& tx) {
      if (auto flavor = store::FindFlavor(tx, server.flavorid)) {
        query.flavor_extra_specs = flavor->extra_specs;
      }
    });
    auto found = moves::FindDestinations(ctx_.db, ctx_.hosts, ctx_.scheduler, query);
    candidates = std::move(found.names);
    nothing_fits = std::move(found.nothing_fits);
  }

  const store::Resources need{server.vcpus, server.memory_mb, local_disk ? server.root_gb : 0};
  int checked = 0;
  for (const auto& name : candidates) {
    if (ctx_.options.migrate_max_retries >= 0 && checked > ctx_.options.migrate_max_retries) break;
    std::optional<store::Host> dest;
    ctx_.db.Transact([&](store::Tx& tx) { dest = store::FindHostNamed(tx, name); });
    if (!dest) continue;
    if (forced && (!dest->IsUp() || dest->disabled)) {
      return fail("Compute service of " + name + " is unavailable at this time.");
    }
    // The database's word over the snapshot's: a host disabled, gone down or moved to another
    // zone since the view was taken is no destination.
    if (!forced &&
        (!dest->IsUp() || dest->disabled ||
         (server.availability_zone && dest->availability_zone != *server.availability_zone))) {
      continue;
    }
    if (forced && server.storage_kind == "shared" && server.datastore) {
      // force skips the filters, not what the guest needs: its disks where it goes.
      const auto index = ctx_.hosts.Current();
      const auto* seen = index->Find(name);
      if (!seen || seen->shared_datastores.count(*server.datastore) == 0) {
        return fail(name + " does not see datastore " + *server.datastore +
                    ", where the disks of " + server.uuid + " are.");
      }
    }
    if (forced && dest->cell != source.cell) {
      return fail("Cannot live migrate " + server.uuid + " from cell " + source.cell + " to cell " +
                  dest->cell + ": cross-cell live migration is not supported.");
    }
    ++checked;
    auto spec = BuildSpec(m, server, *dest, &source);  // source_cpu: the CPU pre-check
    auto check = Call(ctx_, m, *dest, "check_live_migration_destination", "check-" + name, spec);
    if (!check.ok()) {
      // Nova: MigrationPreCheckError -> the host joins ignore_hosts and the next one is tried.
      auto next = m;
      next.ignore_hosts.push_back(name);
      next.attempt += 1;
      next.precheck_failures.push_back(name + ": " + check.error);
      if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
      continue;
    }
    auto next = m;
    next.status = store::MigrationStatus::kQueued;
    next.step = store::LiveStep::kWaitingForSlot;
    next.dest_compute = dest->name;
    next.dest_node = dest->name;
    next.dest_host = dest->host_ip;
    try {
      // The source claim moves to the migration and the destination claim is made for the
      // server in the same transaction as the status change: never half of it.
      if (!Commit(m, next, "queued", "destination " + dest->name, [&](store::Tx& tx) {
            store::MoveClaims(tx, server.uuid, m.uuid);
            if (!store::ClaimIfFits(tx, server.uuid, dest->id, need)) throw ClaimLost{};
          })) {
        return StepResult::kDone;
      }
    } catch (const ClaimLost&) {
      continue;  // another request took the room first; the next candidate may have it
    }
    if (on_claimed_) on_claimed_(dest->id);
    return StepResult::kAgain;
  }
  const auto& failures = m.precheck_failures;
  if (failures.empty()) return fail(nothing_fits);
  std::string message = "Migration pre-check error:";
  for (const auto& f : failures) message += " " + f + ";";
  message.pop_back();
  return fail(message);
}

bool Steps::Admit(store::Tx& tx, const std::string& uuid) {
  auto m = store::FindLiveMigration(tx, uuid);
  if (!m || m->status != store::MigrationStatus::kQueued || m->abort_requested_at) return false;
  auto next = *m;
  next.status = store::MigrationStatus::kPreparing;
  next.step = store::LiveStep::kPreparingDestination;
  store::MigrationEvent event{m->status,    next.status, "slot_acquired",
                              std::nullopt, Actor(),     std::nullopt};
  return store::SaveLiveMigration(tx, next, ctx_.engine.owner, event);
}

void Steps::Admitted(const std::string& uuid) {
  spdlog::info("live migration {} queued -> preparing (slot_acquired)", uuid);
  ctx_.waiters.Changed(uuid);
  if (on_transition_) {
    on_transition_(store::MigrationStatus::kQueued, store::MigrationStatus::kPreparing,
                   "slot_acquired");
  }
}

}  // namespace ferry::controller::live_migration
