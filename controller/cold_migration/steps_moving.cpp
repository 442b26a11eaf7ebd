// The steps that move the guest: Prepare (pre-migrating), Migrate and FollowCopy (migrating),
// Finish (post-migrating), and the rollback of a move that failed before finish.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/errors.hpp"
#include "controller/cold_migration/steps.hpp"
#include "controller/store/cold_migrations_store.hpp"

namespace ferry::controller::cold_migration {
namespace {

using store::ColdStep;
using S = store::MigrationStatus;

// Nova's task states of a cold move (migration-anchors.md §2.3).
constexpr const char* kResizeMigrating = "resize_migrating";
constexpr const char* kResizeMigrated = "resize_migrated";

}  // namespace

StepResult Steps::Prepare(store::ColdMigration& m) {
  auto p = Load(m);
  if (!p.server || !p.source || !p.dest) {
    return StartRollBack(m, "the server or one of its hosts no longer exists");
  }
  if (m.abort_requested_at) return StartRollBack(m, "");
  const auto spec = BuildSpec(m, *p.server, *p.dest);
  auto r = Send(m, *p.dest, "prepare_cold_migration_destination", "prepare", spec);
  if (r.outcome == moves::CallResult::Outcome::kUnreachable) {
    if (!p.dest->IsUp()) return StartRollBack(m, "destination " + p.dest->name + " is down");
    return StepResult::kWait;
  }
  if (!r.ok()) return StartRollBack(m, "destination " + p.dest->name + " refused: " + r.error);
  std::string uri;
  if (r.result.data.is_object() && r.result.data.contains("receive_uri") &&
      r.result.data.at("receive_uri").is_string()) {
    uri = r.result.data.at("receive_uri").get<std::string>();
  }
  if (uri.empty() && !spec.shared_storage) {
    return StartRollBack(m, "destination " + p.dest->name + " gave no address to send disks to");
  }
  auto next = m;
  next.status = S::kMigrating;
  next.step = ColdStep::kPoweringOff;
  next.receive_uri = uri;
  next.started_at = ctx_.clock.Now();
  if (!Commit(m, next, "destination_ready", std::nullopt, [&](store::Tx& tx) {
        store::SetServerTask(tx, m.instance_uuid, kResizeMigrating);
      })) {
    return StepResult::kDone;
  }
  return StepResult::kAgain;
}

StepResult Steps::Migrate(store::ColdMigration& m) {
  auto p = Load(m);
  if (!p.server || !p.source || !p.dest) {
    return StartRollBack(m, "the server or one of its hosts no longer exists");
  }
  const auto spec = BuildSpec(m, *p.server, *p.dest);
  if (m.step == ColdStep::kPoweringOff) {
    auto r = Send(m, *p.source, "power_off_for_cold_migration", "power-off", spec);
    // Unreachable: whether the guest still runs is unknown; only its agent can say.
    if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
    if (!r.ok()) return StartRollBack(m, "the source could not shut the guest down: " + r.error);
    auto next = m;
    // Shared storage or volumes: the destination reaches the same disks, nothing is copied. A
    // destination that still gave an address learns the guest's disk layout through it (the
    // libvirt driver: a copy of no disks, the source's manifest only).
    if (spec.shared_storage && spec.receive_uri.empty()) {
      next.status = S::kPostMigrating;
      next.step = ColdStep::kFinishingOnDestination;
      if (!Commit(m, next, "disks_copied", "shared storage: nothing to copy", [&](store::Tx& tx) {
            store::SetServerTask(tx, m.instance_uuid, kResizeMigrated);
          })) {
        return StepResult::kDone;
      }
      return StepResult::kAgain;
    }
    next.step = ColdStep::kStartingCopy;
    if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
    return StepResult::kAgain;
  }
  if (m.step == ColdStep::kStartingCopy) {
    // The agent's registry starts a migration's copy once: a repeat after a crash is harmless.
    auto r = Send(m, *p.source, "start_cold_migration_copy", "copy", spec);
    if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
    if (!r.ok()) return StartRollBack(m, "the source could not start the disk copy: " + r.error);
    auto next = m;
    next.step = ColdStep::kCopyingDisks;
    if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
    return StepResult::kWait;  // its reports wake the move
  }
  return FollowCopy(m, p);
}

StepResult Steps::FollowCopy(store::ColdMigration& m, const Parties& p) {
  std::optional<wire::JobState> state = m.job_state;
  std::string error = m.job_error.value_or("");
  // No report for three intervals (a lost post, an agent restart, reports going to a controller
  // that died): ask the source's agent itself, as live migration does.
  const auto last_heard = m.progress_at.value_or(m.updated_at.value_or(m.created_at));
  const auto silence = std::chrono::seconds(std::max(3 * ctx_.options.monitor_interval_s, 10));
  if ((!state || *state == wire::JobState::kRunning) && ctx_.clock.Now() - last_heard >= silence) {
    try {
      auto job = ctx_.agents.FetchMigrationJob(p.source->agent_url, m.uuid);
      if (!job) {
        return StartRollBack(m, "the source's agent knows no copy job for this move");
      }
      state = wire::ParseJobState(job->state);
      if (job->state != "running") error = job->error;
    } catch (const std::exception& e) {
      // Unreachable: the guest is off on the source with its disks; wait for the agent.
      spdlog::warn("cold migration {}: copy job not readable on {}: {}", m.uuid, p.source->name,
                   e.what());
      return StepResult::kWait;
    }
  }
  if (!state || *state == wire::JobState::kRunning) return StepResult::kWait;
  if (*state != wire::JobState::kCompleted) {
    return StartRollBack(m, "the disk copy " + std::string(wire::ToString(*state)) +
                                (error.empty() ? "" : ": " + error));
  }
  auto next = m;
  next.status = S::kPostMigrating;
  next.step = ColdStep::kFinishingOnDestination;
  if (!Commit(m, next, "disks_copied", std::nullopt,
              [&](store::Tx& tx) { store::SetServerTask(tx, m.instance_uuid, kResizeMigrated); })) {
    return StepResult::kDone;
  }
  return StepResult::kAgain;
}

StepResult Steps::Finish(store::ColdMigration& m) {
  auto p = Load(m);
  if (!p.server || !p.source || !p.dest) {
    return StartRollBack(m, "the server or one of its hosts no longer exists");
  }
  const auto spec = BuildSpec(m, *p.server, *p.dest);
  auto r = Send(m, *p.dest, "finish_cold_migration_destination", "finish", spec);
  // Unreachable: the destination may have started the guest and lost the answer; restarting it
  // on the source now could run it twice, so the move waits for the destination's word.
  if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
  if (!r.ok())
    return StartRollBack(m, "destination " + p.dest->name + " could not finish: " + r.error);
  int power_state = m.power_on ? 1 : 4;  // Nova's RUNNING / SHUTDOWN
  if (r.result.domain) power_state = static_cast<int>(r.result.domain->power_state);
  auto next = m;
  next.status = S::kFinished;
  next.step = ColdStep::kWaitingForConfirm;
  const int64_t dest_id = p.dest->id;
  const std::string dest_name = p.dest->name;
  if (!Commit(m, next, "finished_on_destination", std::nullopt, [&](store::Tx& tx) {
        // VERIFY_RESIZE: the server runs on the destination with its new flavor; the source
        // keeps its copy (and its claim, held by the migration) until confirm or revert.
        store::PlaceServer(tx, m.instance_uuid, dest_id, dest_name, m.new_flavor, "resized",
                           power_state);
      })) {
    return StepResult::kDone;
  }
  return StepResult::kAgain;
}

StepResult Steps::StartRollBack(store::ColdMigration& m, const std::string& reason) {
  auto next = m;
  next.step = ColdStep::kRollingBackDestination;
  // Empty: an abort, which ends cancelled rather than in error.
  if (!reason.empty()) next.error_reason = reason;
  if (!reason.empty()) spdlog::warn("cold migration {}: rolling back: {}", m.uuid, reason);
  if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
  return StepResult::kAgain;
}

StepResult Steps::RollBack(store::ColdMigration& m) {
  auto p = Load(m);
  const std::string reason = m.error_reason.value_or("aborted by request");
  // pre-migrating: nothing was copied and the guest never touched.
  const bool before_copy = m.status == S::kPreMigrating;
  if (m.step == ColdStep::kRollingBackDestination) {
    if (!before_copy) {
      // The destination's copy may be the only whole one left (a source host reinstalled
      // mid-move): it is removed only once the source shows the guest still defined there.
      if (!p.source) {
        throw Error(Errc::kConflict, "the source host is gone: the destination's copy is kept");
      }
      auto kept = DomainOn(*p.source, m.instance_uuid);
      if (!kept) return StepResult::kWait;
      if (!*kept) {
        throw Error(Errc::kConflict, "source " + p.source->name +
                                         " no longer has the guest: the destination's copy is "
                                         "kept for an operator");
      }
    }
    if (p.dest && p.server) {
      if (before_copy && !p.dest->IsUp()) {
        // A destination host that is down holds at most an empty receive: the move ends on the
        // source without waiting for it (its slot and claims are not held hostage).
        spdlog::warn("cold migration {}: destination {} is down; nothing was copied there", m.uuid,
                     p.dest->name);
      } else {
        auto r = Send(m, *p.dest, "revert_cold_migration_destination", "rollback-destination",
                      BuildSpec(m, *p.server, *p.dest));
        // Unreachable: the destination may run the guest (a finish whose answer was lost); the
        // source restarts it only once the destination confirms it holds nothing.
        if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
        if (!r.ok()) {
          // The destination will not let go: starting the guest on the source too could run it
          // twice. The move ends with the server in error for an operator to look at.
          return EndOnSource(m, S::kError,
                             before_copy                 ? "prepare_failed"
                             : m.status == S::kMigrating ? "copy_failed"
                                                         : "finish_failed",
                             reason + "; the destination refused to roll back: " + r.error,
                             "error");
        }
      }
    }
    if (before_copy) {
      if (!m.error_reason && m.abort_requested_at) {
        return EndOnSource(m, S::kCancelled, "aborted", "aborted by request", "");
      }
      return EndOnSource(m, S::kError, "prepare_failed", reason, "");
    }
    auto next = m;
    next.step = ColdStep::kRollingBackSource;
    if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
    return StepResult::kAgain;
  }
  // Rolling back the source: the guest as it was, running if it ran.
  const std::string event = m.status == S::kMigrating ? "copy_failed" : "finish_failed";
  if (!p.source || !p.server) {
    return EndOnSource(m, S::kError, event, reason + "; the source host is gone", "error");
  }
  auto spec = BuildSpec(m, *p.server, p.dest ? *p.dest : *p.source);
  if (m.status == S::kMigrating) {
    // A copy may still run (a rollback the retry budget began): it ends before the guest
    // starts again. Refused: it had completed, and its disks are gone with the destination's.
    auto a = Send(m, *p.source, "abort_cold_migration_copy", "abort-copy", spec);
    if (a.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
  }
  auto r = Send(m, *p.source, "revert_cold_migration_source", "rollback-source", spec);
  if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
  if (!r.ok()) {
    return EndOnSource(m, S::kError, event,
                       reason + "; the guest could not be restarted on the source: " + r.error,
                       "error");
  }
  return EndOnSource(m, S::kError, event, reason, "");
}

}  // namespace ferry::controller::cold_migration
