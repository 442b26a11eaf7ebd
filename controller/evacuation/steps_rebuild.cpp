// The steps that reach hosts: Rebuild (pre-migrating -> done) with its rollback (-> failed), and
// CleanUpSource (done -> completed) once the source is back.
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/evacuation/steps.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/hosts_store.hpp"

namespace ferry::controller::evacuation {
namespace {

using store::EvacuationStep;
using S = store::MigrationStatus;

}  // namespace

StepResult Steps::Rebuild(store::Evacuation& e) {
  auto p = Load(e);
  if (!p.server || !p.dest) {
    return StartRollBack(e, "the server or its destination host no longer exists");
  }
  const auto spec = BuildSpec(e, p);
  if (spec.domain.disks.empty() && !spec.rebuild_from_image) {
    // Its host never reported where its shared disks or volumes are: a guest defined without
    // them would boot from nothing. Refused rather than claimed.
    return StartRollBack(
        e, "the server's disks were never reported by " + e.source_compute.value_or("its host"));
  }
  if (p.source && p.source->state == "up") {
    // Forced down while its agent still heartbeats: the copy there is powered off at the
    // agent's next heartbeat answer (the tombstone). While the agent shows it running, the
    // destination must not start another copy on the same disks. An agent that cannot be asked
    // is what forced_down vouches for (the admin's word that the host is fenced).
    auto there = DomainOn(*p.source, e.instance_uuid);
    if (there && *there && (*there)->power_state == wire::PowerState::kRunning) {
      spdlog::info("evacuation {}: waiting for {} to power its copy off", e.uuid, p.source->name);
      return StepResult::kWait;
    }
  }
  auto r = Send(e, *p.dest, "rebuild_evacuated_domain", "rebuild", spec);
  if (r.outcome == moves::CallResult::Outcome::kUnreachable) {
    // The destination may have defined and started the guest and lost the answer: the
    // evacuation waits for its word (never a second rebuild elsewhere). A destination that is
    // down is counted by the retry budget, whose give-up rolls back through it.
    if (!p.dest->IsUp()) {
      throw Error(Errc::kConflict,
                  "destination " + p.dest->name + " is down; waiting for its rebuild answer");
    }
    return StepResult::kWait;
  }
  if (!r.ok()) return StartRollBack(e, "destination " + p.dest->name + " refused: " + r.error);
  int power_state = e.power_on ? 1 : 4;  // Nova's RUNNING / SHUTDOWN
  if (r.result.domain) power_state = static_cast<int>(r.result.domain->power_state);
  auto next = e;
  next.status = S::kDone;
  next.step = EvacuationStep::kWaitingForSource;
  const int64_t dest_id = p.dest->id;
  const std::string dest_name = p.dest->name;
  if (!Commit(e, next, "rebuilt", "rebuilt on " + dest_name, [&](store::Tx& tx) {
        // The server lives on the destination now; the source's claim stays with the
        // evacuation until the source is back and clean.
        store::PlaceServer(tx, e.instance_uuid, dest_id, dest_name, e.flavor,
                           power_state == 1 ? "active" : "stopped", power_state);
      })) {
    return StepResult::kDone;
  }
  return StepResult::kAgain;
}

StepResult Steps::StartRollBack(store::Evacuation& e, const std::string& reason) {
  auto next = e;
  next.step = EvacuationStep::kRollingBackDestination;
  next.error_reason = reason;
  spdlog::warn("evacuation {}: rolling back: {}", e.uuid, reason);
  if (!Commit(e, next, "", std::nullopt)) return StepResult::kDone;
  return StepResult::kAgain;
}

StepResult Steps::RollBack(store::Evacuation& e) {
  auto p = Load(e);
  const std::string reason = e.error_reason.value_or("rebuild failed");
  if (p.dest) {
    auto r =
        Send(e, *p.dest, "revert_evacuation_destination", "rollback-destination", BuildSpec(e, p));
    // The destination may run the guest: the evacuation ends only once it holds nothing (the
    // source's tombstone stays meanwhile, so the guest never runs twice).
    if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
    if (!r.ok()) {
      // Asked again under a new id on the next try, not answered from the agent's log.
      NextAttempt(e);
      throw Error(Errc::kConflict, "the destination refused to remove its rebuild: " + r.error);
    }
  }
  // Nova's compute: the rebuild failed, the instance in error on its (down) source; it can be
  // evacuated again.
  return EndOnSource(e, S::kFailed, "rebuild_failed", reason, "error");
}

StepResult Steps::CleanUpSource(store::Evacuation& e) {
  if (e.step == EvacuationStep::kWaitingForSource) {
    // Stepped on every lease renewal for as long as its host is dead (maybe days, a rack of
    // them): one look at the host before loading the rest.
    std::optional<store::Host> source;
    ctx_.db.Transact([&](store::Tx& tx) { source = store::FindHostNamed(tx, e.source_compute); });
    if (source && source->state != "up") return StepResult::kWait;
  }
  auto p = Load(e);
  if (p.source && p.source->state != "up") {
    // Down, or never heard from since: nothing can be asked of it. forced_down alone does not
    // hold this back: an agent that heartbeats can remove the copy whatever the admin flag says.
    if (e.step != EvacuationStep::kWaitingForSource) {
      auto next = e;
      next.step = EvacuationStep::kWaitingForSource;
      if (!Commit(e, next, "", std::nullopt)) return StepResult::kDone;
    }
    return StepResult::kWait;
  }
  // The server has since moved back onto its old host: what runs there is the server itself,
  // not a stale copy (the tombstone no longer names it there either).
  const bool back_on_source =
      p.server && p.server->host && p.source && *p.server->host == p.source->name;
  if (p.source && !back_on_source) {
    if (e.step != EvacuationStep::kCleaningUpSource) {
      auto next = e;
      next.step = EvacuationStep::kCleaningUpSource;
      if (!Commit(e, next, "", std::nullopt)) return StepResult::kDone;
    }
    const auto spec = BuildSpec(e, p);
    if (spec.delete_local_disks && p.server && p.server->host) {
      // The source's local disks are the last of the guest's old data: they go only once the
      // server's host (the destination, or wherever it moved since) is seen running it.
      std::optional<store::Host> now_on;
      ctx_.db.Transact([&](store::Tx& tx) { now_on = store::FindHostNamed(tx, p.server->host); });
      if (!now_on) throw Error(Errc::kConflict, "the server's host is gone: source disks kept");
      auto seen = DomainOn(*now_on, e.instance_uuid);
      if (!seen) return StepResult::kWait;
      if (!*seen) {
        throw Error(Errc::kConflict,
                    now_on->name + " does not have the guest: the source's disks are kept");
      }
    }
    auto r = Send(e, *p.source, "clean_up_evacuated_source", "clean-up-source", spec);
    if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
    if (!r.ok()) {
      // Asked again under a new id on the next try, not answered from the agent's log.
      NextAttempt(e);
      throw Error(Errc::kConflict, "the source refused to remove its copy: " + r.error);
    }
  }
  // A source host removed from the cluster holds nothing any more: its claim just goes.
  auto next = e;
  next.status = S::kCompleted;
  std::optional<int64_t> source_id;
  if (p.source) source_id = p.source->id;
  if (!Commit(e, next, "source_cleaned_up", std::nullopt,
              [&](store::Tx& tx) { store::ReleaseClaims(tx, e.uuid); })) {
    return StepResult::kDone;
  }
  if (source_id && on_claimed_) on_claimed_(*source_id);
  return StepResult::kDone;
}

}  // namespace ferry::controller::evacuation
