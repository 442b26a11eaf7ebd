// Steps::Run and Commit, and the steps that follow a migration while it is under way:
// queued (waiting for a slot), preparing and running. Scheduling is in steps_schedule.cpp, the
// steps that end a migration in steps_ending.cpp.
#include "controller/live_migration/steps.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/conductor/live_migration_states.hpp"
#include "controller/live_migration/agent_calls.hpp"
#include "controller/live_migration/progress_ingest.hpp"
#include "controller/live_migration/steps_parties.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::live_migration {
namespace {

using Outcome = CallResult::Outcome;
using conductor::LiveMigrationStatus;

// Thrown inside a transaction whose compare-and-set failed: nothing commits.
struct LeaseLost {};

int64_t Seconds(TimePoint::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// The pre-copy may copy the local disk too; only then does it count towards the timeout.
int64_t CopiedDiskGb(const store::LiveMigration& m, const store::Server& s) {
  return m.copies_disk.value_or(false) ? s.root_gb : 0;
}

}  // namespace

StepResult Steps::Run(store::LiveMigration& m) {
  if (m.lease_owner != ctx_.engine.owner) return StepResult::kDone;
  try {
    return RunStep(m);
  } catch (const NotOurs& e) {
    // Another controller holds the lease now: nothing more is sent or committed from here.
    spdlog::warn("{}; stopped driving it here", e.what());
    return StepResult::kDone;
  }
}

StepResult Steps::RunStep(store::LiveMigration& m) {
  if (!conductor::IsLiveMigrationStatus(m.status) || conductor::IsTerminal(m.status)) {
    return StepResult::kDone;
  }
  switch (m.status) {
    case LiveMigrationStatus::kAccepted:
      return Schedule(m);
    case LiveMigrationStatus::kQueued:
      return WhileQueued(m);
    case LiveMigrationStatus::kPreparing:
      return Prepare(m);
    case LiveMigrationStatus::kRunning:
      return Monitor(m);
    case LiveMigrationStatus::kPostMigrating:
      return Complete(m);
    default:
      return StepResult::kDone;
  }
}

bool Steps::Commit(store::LiveMigration& m, store::LiveMigration next, const std::string& event,
                   const std::optional<std::string>& reason,
                   const std::function<void(store::Tx&)>& also) {
  std::optional<store::MigrationEvent> row;
  if (next.status != m.status) {
    // Every status change must be an edge of the state table, named by its event.
    auto edge = conductor::FindTransition(m.status, event);
    if (!edge || edge->to != next.status) {
      throw Error(Errc::kInternal, fmt::format("live migration {}: no transition {} -({})-> {}",
                                               m.uuid, m.status, event, next.status));
    }
    if (conductor::IsTerminal(next.status)) next.finished_at = ctx_.clock.Now();
    row = store::MigrationEvent{m.status, next.status, event, reason, Actor(), std::nullopt};
  }
  try {
    ctx_.db.Transact([&](store::Tx& tx) {
      if (also) also(tx);
      // Roll back `also` too when the migration is no longer ours.
      if (!store::SaveLiveMigration(tx, next, ctx_.engine.owner, row)) throw LeaseLost{};
    });
  } catch (const LeaseLost&) {
    spdlog::info("live migration {}: no longer driven here (lease or version moved on)", m.uuid);
    return false;
  }
  const auto from = m.status;
  m = std::move(next);
  if (row) {
    spdlog::info("live migration {} {} -> {} ({})", m.uuid, from, m.status, event);
    ctx_.waiters.Changed(m.uuid);
    if (on_transition_) on_transition_(from, m.status, event);
  }
  return true;
}

StepResult Steps::WhileQueued(store::LiveMigration& m) {
  // Admission to preparing is the move engine's (it needs every queued move at once).
  if (m.abort_requested_at)
    return RollBack(m, store::MigrationStatus::kCancelled, "aborted", "aborted by request");
  // Nova leaves a queued migration whose compute died queued forever; here it ends: nothing
  // has touched either host yet, so releasing the claims is the whole rollback.
  auto parties = Load(ctx_.db, m);
  for (const auto* host : {&parties.source, &parties.dest}) {
    if (!*host || !(*host)->IsUp()) {
      const std::string name = *host ? (*host)->name : std::string("a host");
      return RollBack(m, store::MigrationStatus::kFailed, "start_failed",
                      name + " went down while the migration was queued");
    }
  }
  return StepResult::kWait;
}

StepResult Steps::Prepare(store::LiveMigration& m) {
  if (m.abort_requested_at)
    return RollBack(m, store::MigrationStatus::kCancelled, "aborted", "aborted by request");
  auto parties = Load(ctx_.db, m);
  if (!parties.server || !parties.dest) {
    return RollBack(m, store::MigrationStatus::kFailed, "pre_live_migration_failed",
                    "the server or destination vanished");
  }
  auto spec = BuildSpec(m, *parties.server, *parties.dest);
  auto r = Call(ctx_, m, *parties.dest, "prepare_live_migration_destination", "prepare", spec);
  if (r.outcome == Outcome::kUnreachable) {
    if (parties.dest->IsUp()) return StepResult::kWait;
    return RollBack(m, store::MigrationStatus::kFailed, "pre_live_migration_failed",
                    "destination down: " + r.error);
  }
  if (r.outcome == Outcome::kRefused)
    return RollBack(m, store::MigrationStatus::kFailed, "pre_live_migration_failed", r.error);
  auto next = m;
  next.status = store::MigrationStatus::kRunning;
  next.step = store::LiveStep::kStarting;
  next.started_at = ctx_.clock.Now();
  // Where the destination listens, if it says (a string, else none: the source then uses the
  // hypervisor's default); never a reason to throw after the destination was prepared.
  if (r.result.data.is_object() && r.result.data.contains("incoming_uri") &&
      r.result.data["incoming_uri"].is_string()) {
    next.incoming_uri = r.result.data["incoming_uri"].get<std::string>();
  }
  // "starting" is committed before start_live_migration is sent: after a crash the next owner
  // sends it again (same id) instead of wondering whether it went out.
  return Commit(m, next, "destination_ready", std::nullopt) ? StepResult::kAgain
                                                            : StepResult::kDone;
}

StepResult Steps::Monitor(store::LiveMigration& m) {
  if (m.job_state == wire::JobState::kCompleted) {
    auto next = m;
    next.status = store::MigrationStatus::kPostMigrating;
    next.step = store::LiveStep::kFinishing;
    return Commit(m, next, "switched_over", std::nullopt) ? StepResult::kAgain : StepResult::kDone;
  }
  if (m.job_state == wire::JobState::kFailed) {
    // Failed in post-copy: the guest's execution had moved to the destination, so there is
    // nothing left on the source to roll back to.
    if (m.job_phase == wire::JobPhase::kPostcopy)
      return SwitchoverFailed(m, m.job_error.value_or("post-copy failed"));
    return RollBack(m, store::MigrationStatus::kFailed, "copy_failed",
                    m.job_error.value_or("the copy failed"));
  }
  if (m.job_state == wire::JobState::kCancelled) {
    return RollBack(m, store::MigrationStatus::kCancelled, "aborted",
                    m.abort_reason.value_or("aborted by request"));
  }
  auto parties = Load(ctx_.db, m);
  if (!parties.server || !parties.source || !parties.dest) {
    return RollBack(m, store::MigrationStatus::kFailed, "copy_failed",
                    "the server or a host vanished");
  }
  const auto& source = *parties.source;
  auto spec = BuildSpec(m, *parties.server, *parties.dest);
  const auto now = ctx_.clock.Now();

  const bool starting = m.step == store::LiveStep::kStarting;
  if (starting && m.abort_requested_at) {
    // Whether start reached the source is unknown: rolling the destination back fences the
    // copy off either way, without waiting on a source that did not answer start.
    return RollBack(m, store::MigrationStatus::kCancelled, "aborted",
                    m.abort_reason.value_or("aborted by request") +
                        " (before the source confirmed the copy started; the destination was "
                        "rolled back)");
  }
  if (starting) {
    auto r = Call(ctx_, m, source, "start_live_migration", "start", spec);
    if (r.outcome == Outcome::kRefused)
      return RollBack(m, store::MigrationStatus::kFailed, "copy_failed", r.error);
    if (r.outcome == Outcome::kDone) {
      auto next = m;
      next.step = store::LiveStep::kCopying;
      Commit(m, next, "", std::nullopt);
      return StepResult::kWait;
    }
    // No answer: the abort and the timeouts below still apply (review M1).
    if (!source.IsUp()) return SourceLost(m, parties, r.error);
  }
  if (m.abort_requested_at && !m.abort_sent) {
    auto r = Call(ctx_, m, source, "abort_live_migration", "abort", spec);
    if (r.outcome == Outcome::kUnreachable) {
      // Rolling the destination back stops the copy from landing there just as well: the
      // source's job fails and the guest stays on the source.
      return RollBack(m, store::MigrationStatus::kCancelled, "aborted",
                      m.abort_reason.value_or("aborted by request") +
                          " (the source did not answer the abort: " + r.error +
                          "; the destination was rolled back instead)");
    }
    auto next = m;
    next.abort_sent = true;
    if (r.outcome == Outcome::kRefused) next.abort_refused = r.error;
    Commit(m, next, "", std::nullopt);
    return StepResult::kWait;
  }
  if (m.force_complete_requested_at && !m.force_completed_at) {
    auto r = Call(ctx_, m, source, "force_complete_live_migration", "force-complete", spec);
    if (r.outcome == Outcome::kUnreachable) return StepResult::kWait;
    auto next = m;
    next.force_completed_at = now;
    if (r.outcome == Outcome::kRefused) next.force_complete_refused = r.error;
    Commit(m, next, "", std::nullopt);
    return StepResult::kWait;
  }

  // Timeouts: Nova's completion timeout, and ferry's progress (stall) timeout.
  const Policy policy = m.policy.get<Policy>();
  std::optional<std::string> timed_out;
  const int64_t limit =
      policy.CompletionTimeoutSeconds(parties.server->memory_mb, CopiedDiskGb(m, *parties.server));
  if (limit > 0 && m.started_at && Seconds(now - *m.started_at) > limit) {
    timed_out = "completion timeout: still copying after " + std::to_string(limit) + " s";
  } else if (policy.progress_timeout_s > 0 && m.lowest_remaining_at &&
             Seconds(now - *m.lowest_remaining_at) > policy.progress_timeout_s) {
    timed_out =
        "progress timeout: no progress for " + std::to_string(policy.progress_timeout_s) + " s";
  }
  if (timed_out) {
    const bool abort = policy.timeout_action == "abort";
    if (abort ? !m.abort_requested_at : !m.force_complete_requested_at) {
      auto next = m;
      (abort ? next.abort_reason : next.force_complete_reason) = *timed_out;
      spdlog::warn("live migration {}: {}; action {}", m.uuid, *timed_out, policy.timeout_action);
      const std::string uuid = m.uuid;
      const auto at = now;
      if (!Commit(m, next, "", std::nullopt, [&](store::Tx& tx) {
            if (abort) {
              store::RequestAbort(tx, uuid, at);
            } else {
              store::RequestForceComplete(tx, uuid, at);
            }
          })) {
        return StepResult::kDone;
      }
      return StepResult::kAgain;
    }
  }

  if (starting) return StepResult::kWait;  // no job to ask about before start is answered
  // Reports stopped: ask the source's hypervisor what it has (controller crash, lost posts,
  // agent restarted). A report it gives lands through the same path as a posted one.
  const auto last = m.progress_at ? *m.progress_at : m.started_at.value_or(now);
  const auto quiet = std::max<int64_t>(3 * policy.monitor_interval_s, 10);
  if (Seconds(now - last) <= quiet) return StepResult::kWait;
  std::optional<wire::LiveMigrationJob> job;
  try {
    job = ctx_.agents.FetchMigrationJob(source.agent_url, m.uuid);
  } catch (const Error& e) {
    spdlog::warn("live migration {}: source {} unreachable: {}", m.uuid, source.name, e.what());
    if (!source.IsUp()) return SourceLost(m, parties, e.what());
    return StepResult::kWait;
  }
  if (!job) {
    // The hypervisor has no such job: the guest is wherever the inventories say it is.
    job = wire::LiveMigrationJob{};
    job->migration_uuid = m.uuid;
    job->domain_uuid = m.instance_uuid;
    if (DomainRunsOn(*parties.dest, m.instance_uuid)) {
      job->state = "completed";
    } else if (DomainRunsOn(source, m.instance_uuid)) {
      job->state = "failed";
      job->error =
          "the source hypervisor has no job for this migration (agent or hypervisor "
          "restarted); the guest still runs on " +
          source.name;
    } else {
      return StepResult::kWait;
    }
  }
  // sampled_at stays the agent's (its clock, never this controller's): a job fetched from the
  // agent keeps its own, and one made up above carries 0, which lands whatever came before.
  // What the agent answered lands through the same checks as a posted report: a value the
  // table would refuse must not make this step throw (and count against the retry budget).
  if (auto problem = ProgressIngest::Normalize(*job)) {
    spdlog::warn("live migration {}: the source's job report is unusable: {}", m.uuid, *problem);
    return StepResult::kWait;
  }
  int landed = 0;
  ctx_.db.Transact([&](store::Tx& tx) { landed = store::ApplyProgress(tx, source.name, {*job}); });
  return landed > 0 ? StepResult::kAgain : StepResult::kWait;
}

bool Steps::DomainRunsOn(const store::Host& host, const std::string& uuid) const {
  try {
    for (const auto& d : ctx_.agents.FetchInventory(host.agent_url).domains) {
      if (d.uuid == uuid) return d.power_state == wire::PowerState::kRunning;
    }
  } catch (const Error&) {
  }
  return false;
}

}  // namespace ferry::controller::live_migration
