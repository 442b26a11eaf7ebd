// The steps that end a migration whose outcome is known: after switch-over (completed, or
// error when finishing, cleaning up or post-copy failed) and before it (rolled back: failed or
// cancelled). Each commits the final status, claims and server in one transaction.
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "controller/conductor/live_migration_states.hpp"
#include "controller/live_migration/agent_calls.hpp"
#include "controller/live_migration/steps.hpp"
#include "controller/live_migration/steps_parties.hpp"
#include "controller/store/claims_store.hpp"

namespace ferry::controller::live_migration {

using Outcome = CallResult::Outcome;

StepResult Steps::Complete(store::LiveMigration& m) {
  auto parties = Load(ctx_.db, m);
  if (!parties.server || !parties.source || !parties.dest) {
    return EndAfterSwitchover(m, "cleanup_failed",
                              "the server or a host vanished after switch-over");
  }
  auto spec = BuildSpec(m, *parties.server, *parties.dest);
  auto finish = Call(ctx_, m, *parties.dest, "finish_live_migration_destination", "finish", spec);
  if (finish.outcome == Outcome::kUnreachable) return StepResult::kWait;
  // The source's copy goes only once the destination confirmed it runs the guest.
  if (finish.outcome == Outcome::kRefused) return FinishRefused(m, parties, spec, finish.error);
  auto cleanup = CleanUpSource(m, *parties.source, spec);
  if (cleanup.wait) return StepResult::kWait;
  if (cleanup.problem && !cleanup.source_down)
    return EndAfterSwitchover(m, "cleanup_failed", *cleanup.problem);
  auto next = m;
  next.status = store::MigrationStatus::kCompleted;
  next.step = store::LiveStep::kDone;
  next.error_reason = cleanup.problem;  // a source that is down keeps its stale copy for now
  const std::string server_uuid = m.instance_uuid;
  const int64_t dest_id = parties.dest->id;
  const std::string dest_name = parties.dest->name;
  const std::string migration_uuid = m.uuid;
  Commit(m, next, "cleaned_up", cleanup.problem, [&](store::Tx& tx) {
    store::ReleaseClaims(tx, migration_uuid);  // the source claim: the guest left
    store::FinishServerMove(tx, server_uuid, dest_id, dest_name);
  });
  if (on_claimed_) on_claimed_(parties.source->id);
  return StepResult::kDone;
}

StepResult Steps::FinishRefused(store::LiveMigration& m, const Parties& parties,
                                const wire::LiveMigrationSpec& spec, const std::string& error) {
  const store::Host& source = *parties.source;
  const store::Host& dest = *parties.dest;
  std::string why = "finishing on " + dest.name + " failed: " + error;
  // A refused finish proves nothing: the guest may run there (finishing touches failed) or may
  // never have arrived (a source that stopped mid-copy was read as completed, review C1). Only
  // the destination's own inventory can tell, and cleaning the source on a guess loses the guest.
  auto on_dest = LookForDomain(dest, m.instance_uuid);
  if (!on_dest.known) return StepResult::kWait;
  if (on_dest.domain && on_dest.domain->power_state == wire::PowerState::kRunning) {
    auto cleanup = CleanUpSource(m, source, spec);
    if (cleanup.wait) return StepResult::kWait;
    if (cleanup.problem) why += "; " + *cleanup.problem;
    return EndAfterSwitchover(m, "cleanup_failed", why);
  }
  auto on_source = LookForDomain(source, m.instance_uuid);
  // Ending on the source needs its word that it has the guest, or the destination's that it
  // has none: a destination holding the guest (paused) with a source that cannot answer, down
  // or not, may hold the only copy, and ending on the source would release its claims and
  // leave it unmanaged there. It waits, visibly, for the source to answer.
  if (!on_source.known && (source.IsUp() || on_dest.domain)) return StepResult::kWait;
  if (on_source.known && !on_source.domain && on_dest.domain) {
    // The destination holds the only copy, not running: it stays there, and so does the record.
    spdlog::error("live migration {}: {} has the guest but does not run it; {} has none", m.uuid,
                  dest.name, source.name);
    return EndAfterSwitchover(m, "cleanup_failed",
                              why + "; the guest is on " + dest.name + " but not running, and " +
                                  source.name + " has no copy: nothing was cleaned up");
  }
  spdlog::error(
      "live migration {}: {} does not run the guest after a refused finish; {} keeps "
      "it untouched",
      m.uuid, dest.name, source.name);
  why += "; " + dest.name + " does not run the guest, so " + source.name + " was left untouched";
  if (on_source.domain) {
    // The guest is on the source: what the destination holds is this migration's leftover.
    auto r = Call(ctx_, m, dest, "rollback_live_migration_destination", "rollback", spec);
    if (!r.ok()) why += " (destination not rolled back: " + r.error + ")";
  }
  return EndOnSource(m, store::MigrationStatus::kError, "cleanup_failed", why, dest.id);
}

Steps::DomainSighting Steps::LookForDomain(const store::Host& host, const std::string& uuid) const {
  DomainSighting out;
  try {
    for (const auto& d : ctx_.agents.FetchInventory(host.agent_url).domains) {
      if (d.uuid == uuid) out.domain = d;
    }
    out.known = true;
  } catch (const Error& e) {
    spdlog::warn("inventory of {} unavailable: {}", host.name, e.what());
  }
  return out;
}

StepResult Steps::SourceLost(store::LiveMigration& m, const Parties& parties,
                             const std::string& error) {
  // With both hosts down nobody can say where the guest is: ending would be a guess, so the
  // migration waits (visibly running) for either to come back.
  if (!parties.dest->IsUp()) return StepResult::kWait;
  // The source may still be copying (only its agent is gone): rolling the destination back
  // fences the copy off, so the guest cannot land there. A destination that already runs it
  // refuses, and RollBack follows the guest there instead.
  spdlog::warn("live migration {}: source {} is down and does not answer: rolling back", m.uuid,
               parties.source->name);
  return RollBack(m, store::MigrationStatus::kFailed, "copy_failed",
                  "source " + parties.source->name + " is down and does not answer (" + error +
                      "); the destination was rolled back, the guest stays on the source");
}

StepResult Steps::SwitchoverFailed(store::LiveMigration& m, const std::string& reason) {
  auto parties = Load(ctx_.db, m);
  std::string why = reason;
  if (parties.server && parties.source && parties.dest) {
    // The source's copy is stale (its CPU state moved on) and ferry does not resume a broken
    // post-copy, so it goes: the destination's is the one a restart brings back.
    auto cleanup = CleanUpSource(m, *parties.source, BuildSpec(m, *parties.server, *parties.dest));
    if (cleanup.wait) return StepResult::kWait;
    if (cleanup.problem) why += "; " + *cleanup.problem;
  }
  return EndAfterSwitchover(m, "switchover_failed", why);
}

Steps::SourceCleanup Steps::CleanUpSource(const store::LiveMigration& m, const store::Host& source,
                                          const wire::LiveMigrationSpec& spec) {
  auto r = Call(ctx_, m, source, "cleanup_live_migration_source", "cleanup", spec);
  SourceCleanup out;
  if (r.outcome == Outcome::kUnreachable) {
    if (source.IsUp()) {
      out.wait = true;
    } else {
      out.source_down = true;
      out.problem = "source down; its copy of the guest was not cleaned up";
    }
  } else if (r.outcome == Outcome::kRefused) {
    out.problem = "cleaning up " + source.name + " failed: " + r.error;
  }
  return out;
}

StepResult Steps::EndAfterSwitchover(store::LiveMigration& m, const std::string& event,
                                     const std::string& reason) {
  // The guest's execution is on the destination: the record follows it there.
  std::optional<store::Host> dest;
  ctx_.db.Transact([&](store::Tx& tx) { dest = store::FindHostNamed(tx, m.dest_compute); });
  auto next = m;
  next.status = store::MigrationStatus::kError;
  next.step = store::LiveStep::kDone;
  next.error_reason = reason;
  const std::string server_uuid = m.instance_uuid;
  const std::string migration_uuid = m.uuid;
  // A broken post-copy leaves a guest that no host can run until it is restarted: the server
  // is in error, with the reason as its fault, as Nova shows a server that needs a hard reboot.
  const bool guest_broken = event == "switchover_failed";
  const auto now = ctx_.clock.Now();
  Commit(m, next, event, reason, [&](store::Tx& tx) {
    store::ReleaseClaims(tx, migration_uuid);
    if (dest) {
      store::FinishServerMove(tx, server_uuid, dest->id, dest->name);
    } else {
      store::ClearMigratingTask(tx, server_uuid);
    }
    if (guest_broken) {
      store::MarkServerError(tx, server_uuid,
                             {{"code", 500}, {"message", reason}, {"created", FormatNovaTime(now)}},
                             now);
    }
  });
  return StepResult::kDone;
}

StepResult Steps::RollBack(store::LiveMigration& m, store::MigrationStatus to,
                           const std::string& event, const std::string& reason) {
  auto parties = Load(ctx_.db, m);
  std::string why = reason;
  const bool prepared = m.status == store::MigrationStatus::kPreparing ||
                        m.status == store::MigrationStatus::kRunning;
  if (prepared && parties.dest && parties.server) {
    auto spec = BuildSpec(m, *parties.server, *parties.dest);
    auto r = Call(ctx_, m, *parties.dest, "rollback_live_migration_destination", "rollback", spec);
    if (r.outcome == Outcome::kUnreachable) {
      if (parties.dest->IsUp()) return StepResult::kWait;
      why += " (destination down: not rolled back there)";
    } else if (r.outcome == Outcome::kRefused) {
      // The destination refuses because the guest already switched over and runs there (an
      // abort or a failure report that raced the end of the copy): the record follows the
      // guest instead of claiming it is still on the source.
      // The destination's inventory decides; when it cannot be read, nothing is decided.
      const auto on_dest = m.status == store::MigrationStatus::kRunning
                               ? LookForDomain(*parties.dest, m.instance_uuid)
                               : DomainSighting{true, std::nullopt};
      if (!on_dest.known) return StepResult::kWait;
      const bool runs_on_dest =
          on_dest.domain && on_dest.domain->power_state == wire::PowerState::kRunning;
      if (runs_on_dest && (!parties.source || !DomainRunsOn(*parties.source, m.instance_uuid))) {
        spdlog::warn("live migration {}: rollback refused, the guest runs on {}: finishing there",
                     m.uuid, parties.dest->name);
        auto next = m;
        next.status = store::MigrationStatus::kPostMigrating;
        next.step = store::LiveStep::kFinishing;
        return Commit(m, next, "switched_over", std::nullopt) ? StepResult::kAgain
                                                              : StepResult::kDone;
      }
      why += " (destination rollback failed: " + r.error + ")";
    }
  }
  return EndOnSource(m, to, event, why,
                     parties.dest ? std::optional<int64_t>(parties.dest->id) : std::nullopt);
}

StepResult Steps::EndUnscheduled(store::LiveMigration& m, const std::string& event,
                                 const std::string& reason) {
  auto next = m;
  next.status = store::MigrationStatus::kError;
  next.step = store::LiveStep::kDone;
  next.error_reason = reason;
  const std::string server_uuid = m.instance_uuid;
  Commit(m, next, event, reason,
         [&](store::Tx& tx) { store::ClearMigratingTask(tx, server_uuid); });
  return StepResult::kDone;
}

StepResult Steps::EndOnSource(store::LiveMigration& m, store::MigrationStatus to,
                              const std::string& event, const std::string& why,
                              std::optional<int64_t> dest_id) {
  auto next = m;
  next.status = to;
  next.step = store::LiveStep::kDone;
  next.error_reason = why;
  const std::string server_uuid = m.instance_uuid;
  const std::string migration_uuid = m.uuid;
  Commit(m, next, event, why, [&](store::Tx& tx) {
    if (dest_id) store::ReleaseClaimsOnHost(tx, server_uuid, *dest_id);
    store::MoveClaims(tx, migration_uuid, server_uuid);
    store::ClearMigratingTask(tx, server_uuid);
  });
  if (on_claimed_ && dest_id) on_claimed_(*dest_id);
  return StepResult::kDone;
}

void Steps::GiveUp(store::LiveMigration& m, const std::string& reason) {
  if (m.lease_owner != ctx_.engine.owner) return;
  spdlog::error("live migration {} ({}): {}", m.uuid, m.status, reason);
  switch (m.status) {
    case store::MigrationStatus::kAccepted:
      EndUnscheduled(m, "step_failed", reason);
      return;
    case store::MigrationStatus::kQueued: {
      // Claims only: no host has been told anything yet.
      std::optional<store::Host> dest;
      ctx_.db.Transact([&](store::Tx& tx) { dest = store::FindHostNamed(tx, m.dest_compute); });
      EndOnSource(m, store::MigrationStatus::kError, "step_failed", reason,
                  dest ? std::optional<int64_t>(dest->id) : std::nullopt);
      return;
    }
    case store::MigrationStatus::kPreparing:
    case store::MigrationStatus::kRunning: {
      // Past the switch-over (the job completed, or post-copy moved the guest's execution):
      // as in post-migrating, nothing is rolled back and nothing is given up.
      if (m.job_state == wire::JobState::kCompleted || m.job_phase == wire::JobPhase::kPostcopy) {
        spdlog::error("live migration {}: past its switch-over; not given up, still retried",
                      m.uuid);
        return;
      }
      // A destination whose agent is silent and whose host is down (not fenced by an operator)
      // may still be receiving: without its word nothing ends.
      auto parties = Load(ctx_.db, m);
      if (parties.dest && !parties.dest->IsUp() && !parties.dest->forced_down) {
        spdlog::error(
            "live migration {}: destination {} down; not given up until it answers "
            "or is forced down",
            m.uuid, parties.dest->name);
        return;
      }
      // A destination may be prepared and a copy under way: only the agents know where the
      // guest is. The rollback asks them (fenced): the destination rolled back ends the copy
      // with the guest on the source; a destination that refuses because the guest runs
      // there makes the record follow it; no answer from a destination that is up ends
      // nothing (tried again after the next failure).
      RollBack(m, store::MigrationStatus::kError, "step_failed", reason);
      return;
    }
    default:
      // post-migrating: the guest runs on the destination; only finishing is left, which
      // keeps being retried (an operator sees step_failures and last_step_error on the
      // migration). Giving up here could only drop what the record knows.
      spdlog::error("live migration {}: not given up in {}; still retried", m.uuid, m.status);
      return;
  }
}

}  // namespace ferry::controller::live_migration
