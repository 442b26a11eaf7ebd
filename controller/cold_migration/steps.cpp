// Steps::Run and what every step shares (loading, committing, sending), then the steps before
// anything reaches a host: Schedule (accepted -> queued), WhileQueued and Admit (queued ->
// pre-migrating), and the ends that need no agent.
#include "controller/cold_migration/steps.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/cold_migration/states.hpp"
#include "controller/moves/destinations.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::cold_migration {
namespace {

using store::ColdStep;
using S = store::MigrationStatus;

// Thrown inside a transaction when the move is no longer ours: nothing commits.
struct LeaseLost {};
// Thrown inside a transaction when the destination claim lost its race: nothing commits.
struct ClaimLost {};

// What the server needs on its destination: the new flavor, and no disk there when its disks
// are not local to the host.
store::Resources NeedOf(const store::ColdMigration& m, const store::Server& server) {
  return {m.new_flavor.vcpus, m.new_flavor.memory_mb,
          server.storage_kind == "local" ? m.new_flavor.root_gb : 0};
}

}  // namespace

Steps::Parties Steps::Load(const store::ColdMigration& m) const {
  Parties p;
  ctx_.db.Transact([&](store::Tx& tx) {
    p.server = store::FindServer(tx, m.instance_uuid);
    p.source = store::FindHostNamed(tx, m.source_compute);
    p.dest = store::FindHostNamed(tx, m.dest_compute);
  });
  return p;
}

StepResult Steps::Run(store::ColdMigration& m) {
  if (m.lease_owner != ctx_.engine.owner) return StepResult::kDone;
  try {
    return RunStep(m);
  } catch (const moves::NotOurs& e) {
    spdlog::warn("{}; stopped driving it here", e.what());
    return StepResult::kDone;
  }
}

StepResult Steps::RunStep(store::ColdMigration& m) {
  if (!IsColdStatus(m.status) || store::IsTerminal(m.status)) return StepResult::kDone;
  // A rollback, once begun, runs to its end whatever status it began in.
  if (m.step == ColdStep::kRollingBackDestination || m.step == ColdStep::kRollingBackSource) {
    return RollBack(m);
  }
  switch (m.status) {
    case S::kAccepted:
      return Schedule(m);
    case S::kQueued:
      return WhileQueued(m);
    case S::kPreMigrating:
      return Prepare(m);
    case S::kMigrating:
      return Migrate(m);
    case S::kPostMigrating:
      return Finish(m);
    case S::kFinished:
      return AwaitDecision(m);
    case S::kConfirming:
      return Confirm(m);
    case S::kReverting:
      return Revert(m);
    default:
      return StepResult::kDone;
  }
}

bool Steps::Commit(store::ColdMigration& m, store::ColdMigration next, const std::string& event,
                   const std::optional<std::string>& reason,
                   const std::function<void(store::Tx&)>& also) {
  std::optional<store::MigrationEvent> row;
  if (next.status != m.status) {
    auto edge = FindTransition(m.status, event);
    if (!edge || edge->to != next.status) {
      throw Error(Errc::kInternal, fmt::format("cold migration {}: no transition {} -({})-> {}",
                                               m.uuid, m.status, event, next.status));
    }
    if (store::IsTerminal(next.status)) {
      next.finished_at = ctx_.clock.Now();
      next.step = ColdStep::kDone;
    }
    row = store::MigrationEvent{m.status, next.status, event, reason, Actor(), std::nullopt};
  }
  try {
    ctx_.db.Transact([&](store::Tx& tx) {
      if (also) also(tx);
      if (!store::SaveColdMigration(tx, next, ctx_.engine.owner, row)) throw LeaseLost{};
    });
  } catch (const LeaseLost&) {
    spdlog::info("cold migration {}: no longer driven here (lease or version moved on)", m.uuid);
    return false;
  }
  const auto from = m.status;
  m = std::move(next);
  if (row) {
    spdlog::info("cold migration {} {} -> {} ({})", m.uuid, from, m.status, event);
    ctx_.waiters.Changed(m.uuid);
    if (on_transition_) on_transition_(from, m.status, event);
  }
  return true;
}

moves::CallResult Steps::Send(store::ColdMigration& m, const store::Host& host,
                              const std::string& kind, const std::string& step,
                              wire::ColdMigrationSpec spec) {
  if (kind != "prepare_cold_migration_destination" && kind != "start_cold_migration_copy") {
    spec.transfer_token.clear();
  }
  const moves::Sender sender{ctx_.db, ctx_.agents, ctx_.engine.owner,
                             ctx_.options.test_pause_before_send};
  auto r = moves::Call(sender, {"cold migration", m.uuid, m.lease_epoch, m.attempt}, host, kind,
                       step, spec);
  if (r.outcome != moves::CallResult::Outcome::kReused) return r;
  spdlog::warn(
      "cold migration {}: {} reused its command id with other arguments ({}); sending "
      "it again as attempt {}",
      m.uuid, kind, r.error, m.attempt + 1);
  NextAttempt(m);
  r = moves::Call(sender, {"cold migration", m.uuid, m.lease_epoch, m.attempt}, host, kind, step,
                  spec);
  // Twice: something else is wrong; no answer yet, never a refusal that would roll back.
  if (r.outcome == moves::CallResult::Outcome::kReused) {
    r.outcome = moves::CallResult::Outcome::kUnreachable;
  }
  return r;
}

void Steps::NextAttempt(store::ColdMigration& m) {
  auto next = m;
  next.attempt += 1;
  if (!Commit(m, next, "", std::nullopt)) {
    throw moves::NotOurs("cold migration " + m.uuid + ": no longer ours");
  }
}

std::optional<std::optional<wire::Domain>> Steps::DomainOn(const store::Host& host,
                                                           const std::string& uuid) const {
  try {
    for (const auto& d : ctx_.agents.FetchInventory(host.agent_url).domains) {
      if (d.uuid == uuid) return std::optional<wire::Domain>(d);
    }
    return std::optional<wire::Domain>();
  } catch (const std::exception& e) {
    spdlog::warn("inventory of {} not readable: {}", host.name, e.what());
    return std::nullopt;
  }
}

store::Server Steps::ServerOf(const store::ColdMigration& m) {
  store::Server s;
  s.uuid = m.instance_uuid;
  s.name = m.instance_uuid;
  s.storage_kind = m.shared_storage.value_or(false) ? "shared" : "local";
  return s;
}

wire::ColdMigrationSpec Steps::BuildSpec(const store::ColdMigration& m, const store::Server& server,
                                         const store::Host& dest) const {
  wire::ColdMigrationSpec spec;
  spec.migration_uuid = m.uuid;
  // The guest as it is on the source: the old flavor, whatever the server row says now (after
  // finish it shows the new one).
  spec.domain.uuid = server.uuid;
  spec.domain.name = server.name;
  spec.domain.vcpus = m.old_flavor.vcpus;
  spec.domain.memory_mb = m.old_flavor.memory_mb;
  spec.domain.disk_gb = server.storage_kind == "volume" ? 0 : m.old_flavor.root_gb;
  spec.domain.power_state = m.power_on ? wire::PowerState::kRunning : wire::PowerState::kShutdown;
  spec.new_vcpus = m.new_flavor.vcpus;
  spec.new_memory_mb = m.new_flavor.memory_mb;
  spec.new_disk_gb = server.storage_kind == "volume" ? 0 : m.new_flavor.root_gb;
  spec.source_host = m.source_compute.value_or("");
  spec.dest_host = dest.name;
  spec.dest_migration_address =
      dest.migration_address.empty() ? dest.host_ip : dest.migration_address;
  spec.receive_uri = m.receive_uri.value_or("");
  spec.transfer_token = m.transfer_token;
  spec.shared_storage = m.shared_storage.value_or(server.storage_kind != "local");
  spec.power_on = m.power_on;
  spec.bandwidth_mibps = ctx_.options.bandwidth_mibps;
  spec.shutdown_timeout_s = ctx_.options.shutdown_timeout_s;
  spec.monitor_interval_s = ctx_.options.monitor_interval_s;
  return spec;
}

StepResult Steps::Schedule(store::ColdMigration& m) {
  auto p = Load(m);
  auto fail = [&](const std::string& message) {
    return EndOnSource(m, S::kError, "precheck_failed", message, "");
  };
  if (!p.server || !p.source) return fail("the server or its source host no longer exists");
  const store::Server& server = *p.server;
  const store::Host& source = *p.source;

  moves::DestinationQuery query{server, source};
  const auto need = NeedOf(m, server);
  query.vcpus = need.vcpus;
  query.memory_mb = need.memory_mb;
  query.disk_gb = need.disk_gb;
  query.requested_host = m.requested_host;
  query.ignore_hosts.insert(m.ignore_hosts.begin(), m.ignore_hosts.end());
  // Never the source: Nova's allow_resize_to_same_host (default off) is not offered (README).
  query.max_inbound_migrations = ctx_.engine.limits.max_inbound_per_host;
  ctx_.db.Transact([&](store::Tx& tx) {
    if (auto flavor = store::FindFlavor(tx, m.new_flavor.flavorid)) {
      query.flavor_extra_specs = flavor->extra_specs;
    }
  });
  auto found = moves::FindDestinations(ctx_.db, ctx_.hosts, ctx_.scheduler, query);

  for (const auto& name : found.names) {
    std::optional<store::Host> dest;
    ctx_.db.Transact([&](store::Tx& tx) { dest = store::FindHostNamed(tx, name); });
    // The database's word over the snapshot's: a host disabled, down or moved to another zone
    // since the view was taken is no destination.
    if (!dest || !dest->IsUp() || dest->disabled ||
        (server.availability_zone && dest->availability_zone != *server.availability_zone)) {
      continue;
    }
    auto next = m;
    next.status = S::kQueued;
    next.step = ColdStep::kWaitingForSlot;
    next.dest_compute = dest->name;
    next.dest_node = dest->name;
    next.dest_host = dest->host_ip;
    next.shared_storage = server.storage_kind != "local";
    try {
      // Nova's claims for a move: the source's (old flavor) moves to the migration, the
      // destination's (new flavor) is made for the server, with the status change.
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
  return fail(found.nothing_fits);
}

StepResult Steps::WhileQueued(store::ColdMigration& m) {
  if (m.abort_requested_at) {
    return EndOnSource(m, S::kCancelled, "aborted", "aborted by request", "");
  }
  // Nothing has touched either host yet: a host gone down or away ends the move, releasing
  // its claims is the whole rollback.
  auto p = Load(m);
  std::string why;
  if (!p.server)
    why = "the server no longer exists";
  else if (!p.source || !p.source->IsUp())
    why = "source host " + m.source_compute.value_or("?") + " is down";
  else if (!p.dest || !p.dest->IsUp())
    why = "destination host " + m.dest_compute.value_or("?") + " is down";
  if (!why.empty()) return EndOnSource(m, S::kError, "start_failed", why, "");
  return StepResult::kWait;
}

bool Steps::Admit(store::Tx& tx, const std::string& uuid) {
  auto m = store::FindColdMigration(tx, uuid);
  if (!m || m->status != S::kQueued || m->abort_requested_at) return false;
  auto next = *m;
  next.status = S::kPreMigrating;
  next.step = ColdStep::kPreparingDestination;
  store::MigrationEvent event{m->status,    next.status, "slot_acquired",
                              std::nullopt, Actor(),     std::nullopt};
  return store::SaveColdMigration(tx, next, ctx_.engine.owner, event);
}

void Steps::Admitted(const std::string& uuid) {
  spdlog::info("cold migration {} queued -> pre-migrating (slot_acquired)", uuid);
  ctx_.waiters.Changed(uuid);
  if (on_transition_) on_transition_(S::kQueued, S::kPreMigrating, "slot_acquired");
}

StepResult Steps::EndOnSource(store::ColdMigration& m, store::MigrationStatus to,
                              const std::string& event, const std::string& reason,
                              const std::string& vm_state) {
  std::optional<int64_t> dest_id;
  if (m.dest_compute) {
    ctx_.db.Transact([&](store::Tx& tx) {
      if (auto d = store::FindHostNamed(tx, m.dest_compute)) dest_id = d->id;
    });
  }
  auto next = m;
  next.status = to;
  if (to == S::kError) next.error_reason = reason;
  const bool scheduled = m.status != S::kAccepted;
  if (!Commit(m, next, event, reason, [&](store::Tx& tx) {
        // Claims are made only by Schedule's commit (accepted -> queued).
        if (scheduled) {
          if (dest_id) store::ReleaseClaimsOnHost(tx, m.instance_uuid, *dest_id);
          store::MoveClaims(tx, m.uuid, m.instance_uuid);
        }
        if (vm_state.empty()) {
          store::SetServerTask(tx, m.instance_uuid, std::nullopt);
        } else {
          store::SetServerVmState(tx, m.instance_uuid, vm_state);
        }
      })) {
    return StepResult::kDone;
  }
  if (scheduled && dest_id && on_claimed_) on_claimed_(*dest_id);
  return StepResult::kDone;
}

void Steps::GiveUp(store::ColdMigration& m, const std::string& reason) {
  const std::string why = "gave up after repeated step failures: " + reason;
  switch (m.status) {
    case S::kAccepted:
    case S::kQueued:
      // Nothing reached a host: the database alone ends it.
      EndOnSource(m, S::kError, "step_failed", why, "");
      return;
    case S::kPreMigrating:
    case S::kMigrating:
    case S::kPostMigrating:
      // The destination may hold a copy and the guest may be off: only the agents can undo
      // that, through the rollback steps.
      if (m.step != ColdStep::kRollingBackDestination && m.step != ColdStep::kRollingBackSource) {
        StartRollBack(m, why);
      }
      return;
    default:
      // finished, confirming, reverting: the guest runs (or waits) where the record says; an
      // operator decides. The move stays visible with its last step error.
      spdlog::error("cold migration {} ({}): {}; left as it is", m.uuid, m.status, why);
      return;
  }
}

}  // namespace ferry::controller::cold_migration
