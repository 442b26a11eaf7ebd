// Steps::Run and what every step shares (loading, committing, sending), then the steps before
// anything reaches a host: Schedule (accepted -> queued), WhileQueued and Admit (queued ->
// pre-migrating), and the end that needs no agent.
#include "controller/evacuation/steps.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "controller/evacuation/states.hpp"
#include "controller/moves/destinations.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::evacuation {
namespace {

using store::EvacuationStep;
using S = store::MigrationStatus;

// Thrown inside a transaction when the destination claim lost its race: nothing commits.
struct ClaimLost {};
struct LeaseLost {};

// Nova's task state while the destination spawns the rebuilt guest.
constexpr const char* kRebuildSpawning = "rebuild_spawning";

// What the server needs on its destination: its flavor, and a root disk there only when its
// disks were local (rebuilt from its image); shared disks and volumes stay where they are.
store::Resources NeedOf(const store::Server& server) {
  return {server.vcpus, server.memory_mb, server.storage_kind == "local" ? server.root_gb : 0};
}

}  // namespace

Steps::Parties Steps::Load(const store::Evacuation& e) const {
  Parties p;
  ctx_.db.Transact([&](store::Tx& tx) {
    p.server = store::FindServer(tx, e.instance_uuid);
    p.source = store::FindHostNamed(tx, e.source_compute);
    p.dest = store::FindHostNamed(tx, e.dest_compute);
    p.reported_disks = store::ReportedDisksOf(tx, e.instance_uuid);
  });
  return p;
}

StepResult Steps::Run(store::Evacuation& e) {
  if (e.lease_owner != ctx_.engine.owner) return StepResult::kDone;
  try {
    return RunStep(e);
  } catch (const moves::NotOurs& ex) {
    spdlog::warn("{}; stopped driving it here", ex.what());
    return StepResult::kDone;
  }
}

StepResult Steps::RunStep(store::Evacuation& e) {
  if (!IsEvacuationStatus(e.status) || store::IsTerminal(e.status)) return StepResult::kDone;
  switch (e.status) {
    case S::kAccepted:
      return Schedule(e);
    case S::kQueued:
      return WhileQueued(e);
    case S::kPreMigrating:
      if (e.step == EvacuationStep::kRollingBackDestination) return RollBack(e);
      return Rebuild(e);
    case S::kDone:
      return CleanUpSource(e);
    default:
      return StepResult::kDone;
  }
}

bool Steps::Commit(store::Evacuation& e, store::Evacuation next, const std::string& event,
                   const std::optional<std::string>& reason,
                   const std::function<void(store::Tx&)>& also) {
  std::optional<store::MigrationEvent> row;
  if (next.status != e.status) {
    auto edge = FindTransition(e.status, event);
    if (!edge || edge->to != next.status) {
      throw Error(Errc::kInternal, fmt::format("evacuation {}: no transition {} -({})-> {}", e.uuid,
                                               e.status, event, next.status));
    }
    if (store::IsTerminal(next.status)) {
      next.finished_at = ctx_.clock.Now();
      next.step = EvacuationStep::kDone;
    }
    row = store::MigrationEvent{e.status, next.status, event, reason, Actor(), std::nullopt};
  }
  try {
    ctx_.db.Transact([&](store::Tx& tx) {
      if (also) also(tx);
      if (!store::SaveEvacuation(tx, next, ctx_.engine.owner, row)) throw LeaseLost{};
    });
  } catch (const LeaseLost&) {
    spdlog::info("evacuation {}: no longer driven here (lease or version moved on)", e.uuid);
    return false;
  }
  const auto from = e.status;
  e = std::move(next);
  if (row) {
    spdlog::info("evacuation {} {} -> {} ({})", e.uuid, from, e.status, event);
    ctx_.waiters.Changed(e.uuid);
    if (on_transition_) on_transition_(from, e.status, event);
  }
  return true;
}

moves::CallResult Steps::Send(store::Evacuation& e, const store::Host& host,
                              const std::string& kind, const std::string& step,
                              const wire::EvacuationSpec& spec) {
  const moves::Sender sender{ctx_.db, ctx_.agents, ctx_.engine.owner, ctx_.test_pause_before_send};
  auto r =
      moves::Call(sender, {"evacuation", e.uuid, e.lease_epoch, e.attempt}, host, kind, step, spec);
  if (r.outcome != moves::CallResult::Outcome::kReused) return r;
  // The id was used with other arguments (a server renamed meanwhile): asked again under the
  // next attempt, committed first; the commands are idempotent by migration.
  NextAttempt(e);
  r = moves::Call(sender, {"evacuation", e.uuid, e.lease_epoch, e.attempt}, host, kind, step, spec);
  if (r.outcome == moves::CallResult::Outcome::kReused) {
    r.outcome = moves::CallResult::Outcome::kUnreachable;
  }
  return r;
}

void Steps::NextAttempt(store::Evacuation& e) {
  auto next = e;
  next.attempt += 1;
  if (!Commit(e, next, "", std::nullopt)) throw moves::NotOurs("evacuation " + e.uuid);
}

std::optional<std::optional<wire::Domain>> Steps::DomainOn(const store::Host& host,
                                                           const std::string& uuid) const {
  try {
    for (const auto& d : ctx_.agents.FetchInventory(host.agent_url).domains) {
      if (d.uuid == uuid) return std::optional<wire::Domain>(d);
    }
    return std::optional<wire::Domain>();
  } catch (const std::exception& ex) {
    spdlog::warn("inventory of {} not readable: {}", host.name, ex.what());
    return std::nullopt;
  }
}

wire::EvacuationSpec Steps::BuildSpec(const store::Evacuation& e, const Parties& p) const {
  wire::EvacuationSpec spec;
  spec.migration_uuid = e.uuid;
  spec.domain.uuid = e.instance_uuid;
  spec.domain.name = p.server ? p.server->name : e.instance_uuid;
  spec.domain.vcpus = e.flavor.vcpus;
  spec.domain.memory_mb = e.flavor.memory_mb;
  const std::string storage = p.server ? p.server->storage_kind : "local";
  spec.domain.disk_gb = storage == "volume" ? 0 : e.flavor.root_gb;
  spec.domain.power_state = e.power_on ? wire::PowerState::kRunning : wire::PowerState::kShutdown;
  const bool shared = e.shared_storage.value_or(storage != "local");
  if (shared) {
    // Only what outlives the source: shared disks and volumes, as its host last reported them.
    // The destination's agent checks each path lies on storage it sees.
    for (const auto& d : p.reported_disks) {
      try {
        auto disk = d.get<wire::Disk>();
        if (disk.kind == "shared" || disk.kind == "volume") spec.domain.disks.push_back(disk);
      } catch (const nlohmann::json::exception&) {
        // A malformed record is no disk to hand on; the rebuild refuses an incomplete guest.
      }
    }
  }
  spec.source_host = e.source_compute.value_or("");
  spec.dest_host = p.dest ? p.dest->name : e.dest_compute.value_or("");
  spec.rebuild_from_image = !shared;
  if (p.server && p.server->attributes.image_ref) spec.image_ref = *p.server->attributes.image_ref;
  spec.power_on = e.power_on;
  spec.delete_local_disks = !shared;
  return spec;
}

StepResult Steps::Schedule(store::Evacuation& e) {
  auto p = Load(e);
  auto fail = [&](const std::string& message) {
    return EndOnSource(e, S::kError, "precheck_failed", message, "");
  };
  if (!p.server || !p.source) return fail("the server or its source host no longer exists");
  const store::Server& server = *p.server;
  const store::Host& source = *p.source;
  if (server.storage_kind == "local" && !server.attributes.image_ref) {
    return fail("the server's disks were local to " + source.name +
                " and it has no image to rebuild from");
  }
  const auto need = NeedOf(server);

  std::vector<std::string> candidates;
  std::string nothing_fits;
  if (e.forced && e.requested_host) {
    // Nova's force: the named host, past the scheduler.
    candidates.push_back(*e.requested_host);
    nothing_fits = "host " + *e.requested_host + " is down or has no room";
  } else {
    moves::DestinationQuery query{server, source};
    query.vcpus = need.vcpus;
    query.memory_mb = need.memory_mb;
    query.disk_gb = need.disk_gb;
    query.requested_host = e.requested_host;
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

  for (const auto& name : candidates) {
    std::optional<store::Host> dest;
    ctx_.db.Transact([&](store::Tx& tx) { dest = store::FindHostNamed(tx, name); });
    // The database's word over the snapshot's. A forced host may be disabled (Nova's force
    // skips the scheduler), never down: nothing could rebuild there.
    if (!dest || dest->name == source.name || !dest->IsUp()) continue;
    if (!e.forced && (dest->disabled || (server.availability_zone &&
                                         dest->availability_zone != *server.availability_zone))) {
      continue;
    }
    auto next = e;
    next.status = S::kQueued;
    next.step = EvacuationStep::kWaitingForSlot;
    next.dest_compute = dest->name;
    next.dest_node = dest->name;
    next.dest_host = dest->host_ip;
    next.shared_storage = server.storage_kind != "local";
    try {
      // As for cold moves: the source's claim moves to the evacuation (kept until the source
      // is back and clean), the destination's is made for the server.
      if (!Commit(e, next, "queued", "destination " + dest->name, [&](store::Tx& tx) {
            store::MoveClaims(tx, server.uuid, e.uuid);
            if (!store::ClaimIfFits(tx, server.uuid, dest->id, need)) throw ClaimLost{};
          })) {
        return StepResult::kDone;
      }
    } catch (const ClaimLost&) {
      continue;
    }
    if (on_claimed_) on_claimed_(dest->id);
    return StepResult::kAgain;
  }
  return fail(nothing_fits.empty() ? "No valid host was found." : nothing_fits);
}

StepResult Steps::WhileQueued(store::Evacuation& e) {
  auto p = Load(e);
  std::string why;
  if (!p.server)
    why = "the server no longer exists";
  else if (!p.dest || !p.dest->IsUp())
    why = "destination host " + e.dest_compute.value_or("?") + " is down";
  if (!why.empty()) return EndOnSource(e, S::kError, "start_failed", why, "");
  return StepResult::kWait;
}

bool Steps::Admit(store::Tx& tx, const std::string& uuid) {
  auto e = store::FindEvacuation(tx, uuid);
  if (!e || e->status != S::kQueued) return false;
  auto next = *e;
  next.status = S::kPreMigrating;
  next.step = EvacuationStep::kRebuildingOnDestination;
  next.started_at = ctx_.clock.Now();
  store::MigrationEvent event{e->status,    next.status, "slot_acquired",
                              std::nullopt, Actor(),     std::nullopt};
  if (!store::SaveEvacuation(tx, next, ctx_.engine.owner, event)) return false;
  store::SetServerTask(tx, e->instance_uuid, kRebuildSpawning);
  return true;
}

void Steps::Admitted(const std::string& uuid) {
  spdlog::info("evacuation {} queued -> pre-migrating (slot_acquired)", uuid);
  ctx_.waiters.Changed(uuid);
  if (on_transition_) on_transition_(S::kQueued, S::kPreMigrating, "slot_acquired");
}

StepResult Steps::EndOnSource(store::Evacuation& e, store::MigrationStatus to,
                              const std::string& event, const std::string& reason,
                              const std::string& vm_state) {
  std::optional<int64_t> dest_id;
  if (e.dest_compute) {
    ctx_.db.Transact([&](store::Tx& tx) {
      if (auto d = store::FindHostNamed(tx, e.dest_compute)) dest_id = d->id;
    });
  }
  auto next = e;
  next.status = to;
  next.error_reason = reason;
  const bool scheduled = e.status != S::kAccepted;
  if (!Commit(e, next, event, reason, [&](store::Tx& tx) {
        if (scheduled) {
          if (dest_id) store::ReleaseClaimsOnHost(tx, e.instance_uuid, *dest_id);
          store::MoveClaims(tx, e.uuid, e.instance_uuid);
        }
        if (vm_state == "error") {
          // Nova's _error_out_instance_on_exception: ERROR, with the reason as its fault.
          const auto now = ctx_.clock.Now();
          store::MarkServerError(
              tx, e.instance_uuid,
              {{"code", 500}, {"message", reason}, {"created", FormatNovaTime(now)}}, now);
        } else if (vm_state.empty()) {
          store::SetServerTask(tx, e.instance_uuid, std::nullopt);
        } else {
          store::SetServerVmState(tx, e.instance_uuid, vm_state);
        }
      })) {
    return StepResult::kDone;
  }
  if (scheduled && dest_id && on_claimed_) on_claimed_(*dest_id);
  return StepResult::kDone;
}

void Steps::GiveUp(store::Evacuation& e, const std::string& reason) {
  const std::string why = "gave up after repeated step failures: " + reason;
  switch (e.status) {
    case S::kAccepted:
    case S::kQueued:
      EndOnSource(e, S::kError, "step_failed", why, "");
      return;
    case S::kPreMigrating:
      // The destination may have defined (and started) the guest: only its agent can undo
      // that. The rollback waits for its answer; the source stays fenced meanwhile.
      if (e.step != EvacuationStep::kRollingBackDestination) StartRollBack(e, why);
      return;
    default:
      // done: the guest runs on the destination; the source's clean-up keeps waiting for it.
      spdlog::error("evacuation {} ({}): {}; left as it is", e.uuid, e.status, why);
      return;
  }
}

}  // namespace ferry::controller::evacuation
