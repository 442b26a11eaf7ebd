// The steps after the guest runs on the destination: AwaitDecision (finished: VERIFY_RESIZE),
// Confirm (confirming -> confirmed) and Revert (reverting -> reverted).
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/cold_migration/steps.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/cold_migrations_store.hpp"

namespace ferry::controller::cold_migration {
namespace {

using store::ColdStep;
using S = store::MigrationStatus;

constexpr const char* kResizeReverting = "resize_reverting";

}  // namespace

StepResult Steps::AwaitDecision(store::ColdMigration& m) {
  auto next = m;
  if (m.confirm_requested_at) {
    next.status = S::kConfirming;
    next.step = ColdStep::kDeletingSource;
    if (!Commit(m, next, "confirm_requested", m.confirm_reason)) return StepResult::kDone;
    return StepResult::kAgain;
  }
  if (m.revert_requested_at) {
    next.status = S::kReverting;
    next.step = ColdStep::kRevertingDestination;
    if (!Commit(m, next, "revert_requested", std::nullopt, [&](store::Tx& tx) {
          store::SetServerTask(tx, m.instance_uuid, kResizeReverting);
        })) {
      return StepResult::kDone;
    }
    return StepResult::kAgain;
  }
  // Nova's resize_confirm_window. Nothing writes a finished move's row but the API's confirm
  // or revert (which end the wait), so updated_at is when it finished.
  const auto window = ctx_.options.resize_confirm_window;
  const auto since = m.updated_at.value_or(m.created_at);
  if (window.count() > 0 && ctx_.clock.Now() - since >= window) {
    next.status = S::kConfirming;
    next.step = ColdStep::kDeletingSource;
    if (!Commit(m, next, "confirm_requested", "resize_confirm_window")) return StepResult::kDone;
    return StepResult::kAgain;
  }
  return StepResult::kWait;
}

StepResult Steps::Confirm(store::ColdMigration& m) {
  auto p = Load(m);
  // A server deleted in VERIFY_RESIZE is confirmed first (server_deletion.cpp): its row may be
  // gone by now, its destination's copy with it, and the source's copy must still go.
  const bool deleting = m.confirm_reason == "server deleted";
  if (p.dest && !deleting) {
    // The source's copy goes only while the destination's is there: a destination host that
    // died in VERIFY_RESIZE (the confirm window elapsing meanwhile) must not leave no copy.
    auto seen = DomainOn(*p.dest, m.instance_uuid);
    if (!seen) return StepResult::kWait;
    if (!*seen) {
      throw Error(Errc::kConflict, "destination " + p.dest->name +
                                       " does not have the guest: its source copy is kept");
    }
  }
  if (p.source) {
    auto r = Send(m, *p.source, "confirm_cold_migration_source", "confirm",
                  BuildSpec(m, p.server ? *p.server : ServerOf(m), p.dest ? *p.dest : *p.source));
    if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
    if (!r.ok()) {
      // The source refuses to delete its copy (it runs there?): never guessed past. Counted by
      // the engine's retry budget and shown as the move's last step error; asked again under a
      // new id, not answered from the agent's log of this failure.
      NextAttempt(m);
      throw Error(Errc::kConflict, "the source refused to delete its copy: " + r.error);
    }
  }
  auto next = m;
  next.status = S::kConfirmed;
  const std::string vm_state = m.power_on ? "active" : "stopped";
  std::optional<int64_t> source_id;
  if (p.source) source_id = p.source->id;
  if (!Commit(m, next, "source_deleted", std::nullopt, [&](store::Tx& tx) {
        store::ReleaseClaims(tx, m.uuid);  // the source's claim, held by the migration
        store::SetServerVmState(tx, m.instance_uuid, vm_state);
      })) {
    return StepResult::kDone;
  }
  if (source_id && on_claimed_) on_claimed_(*source_id);
  return StepResult::kDone;
}

StepResult Steps::Revert(store::ColdMigration& m) {
  auto p = Load(m);
  if (!p.server || !p.source) {
    throw Error(Errc::kInternal, "revert: the server or its source host no longer exists");
  }
  const auto spec = BuildSpec(m, *p.server, p.dest ? *p.dest : *p.source);
  if (m.step == ColdStep::kRevertingDestination) {
    // The destination's copy (the one running) is removed only once the source shows it still
    // has the guest to start again: a source host reinstalled meanwhile must not leave none.
    auto kept = DomainOn(*p.source, m.instance_uuid);
    if (!kept) return StepResult::kWait;
    if (!*kept) {
      throw Error(Errc::kConflict, "source " + p.source->name +
                                       " no longer has the guest: it stays on the destination");
    }
    if (p.dest) {
      auto r = Send(m, *p.dest, "revert_cold_migration_destination", "revert-destination", spec);
      // The source starts the guest only once the destination holds nothing: never twice.
      if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
      if (!r.ok()) {
        NextAttempt(m);
        throw Error(Errc::kConflict, "the destination refused to remove its copy: " + r.error);
      }
    }
    auto next = m;
    next.step = ColdStep::kRestartingSource;
    if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
    return StepResult::kAgain;
  }
  auto r = Send(m, *p.source, "revert_cold_migration_source", "revert-source", spec);
  if (r.outcome == moves::CallResult::Outcome::kUnreachable) return StepResult::kWait;
  if (!r.ok()) {
    NextAttempt(m);
    throw Error(Errc::kConflict, "the source could not restart the guest: " + r.error);
  }
  int power_state = m.power_on ? 1 : 4;
  if (r.result.domain) power_state = static_cast<int>(r.result.domain->power_state);
  auto next = m;
  next.status = S::kReverted;
  std::optional<int64_t> dest_id;
  if (p.dest) dest_id = p.dest->id;
  const int64_t source_id = p.source->id;
  const std::string source_name = p.source->name;
  if (!Commit(m, next, "reverted", std::nullopt, [&](store::Tx& tx) {
        // The destination's claim (new flavor) goes; the source's (old) is the server's again.
        if (dest_id) store::ReleaseClaimsOnHost(tx, m.instance_uuid, *dest_id);
        store::MoveClaims(tx, m.uuid, m.instance_uuid);
        store::PlaceServer(tx, m.instance_uuid, source_id, source_name, m.old_flavor,
                           m.power_on ? "active" : "stopped", power_state);
      })) {
    return StepResult::kDone;
  }
  if (dest_id && on_claimed_) on_claimed_(*dest_id);
  return StepResult::kDone;
}

}  // namespace ferry::controller::cold_migration
