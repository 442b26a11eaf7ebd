#include "controller/live_migration/steps.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/conductor/live_migration_states.hpp"
#include "controller/live_migration/agent_calls.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/server_groups_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::live_migration {
namespace {

using Outcome = CallResult::Outcome;
using conductor::LiveMigrationStatus;

// Thrown inside a transaction when the destination claim lost its race: nothing commits.
struct ClaimLost {};
// Thrown inside a transaction whose compare-and-set failed: nothing commits.
struct LeaseLost {};

double EpochSecondsOf(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

std::optional<store::Host> HostNamed(store::Tx& tx, const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  store::HostFilter f;
  f.name = *name;
  return store::FindHost(tx, f);
}

struct Parties {
  std::optional<store::Server> server;
  std::optional<store::Host> source;
  std::optional<store::Host> dest;
};

Parties Load(store::Database& db, const store::LiveMigration& m) {
  Parties p;
  db.Transact([&](store::Tx& tx) {
    p.server = store::FindServer(tx, m.instance_uuid);
    p.source = HostNamed(tx, m.source_compute);
    p.dest = HostNamed(tx, m.dest_compute);
  });
  return p;
}

int64_t Seconds(TimePoint::duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

// The pre-copy may copy the local disk too; only then does it count towards the timeout.
int64_t CopiedDiskGb(const store::LiveMigration& m, const store::Server& s) {
  return m.request_params.value("block_migration_resolved", false) ? s.root_gb : 0;
}

}  // namespace

StepResult Steps::Run(store::LiveMigration& m) {
  if (m.lease_owner != ctx_.options.owner) return StepResult::kDone;
  auto status = conductor::FromString(m.status);
  if (!status || conductor::IsTerminal(*status)) return StepResult::kDone;
  switch (*status) {
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
    auto from = conductor::FromString(m.status);
    auto to = conductor::FromString(next.status);
    auto edge = from ? conductor::FindTransition(*from, event) : std::nullopt;
    if (!edge || !to || edge->to != *to) {
      throw Error(Errc::kInternal, "live migration " + m.uuid + ": no transition " + m.status +
                                       " -(" + event + ")-> " + next.status);
    }
    if (conductor::IsTerminal(*to)) next.finished_at = ctx_.clock.Now();
    row = store::MigrationEvent{m.status, next.status, event, reason, Actor(), std::nullopt};
  }
  try {
    ctx_.db.Transact([&](store::Tx& tx) {
      if (also) also(tx);
      // Roll back `also` too when the migration is no longer ours.
      if (!store::SaveLiveMigration(tx, next, ctx_.options.owner, row)) throw LeaseLost{};
    });
  } catch (const LeaseLost&) {
    spdlog::info("live migration {}: no longer driven here (lease or version moved on)", m.uuid);
    return false;
  }
  const std::string from = m.status;
  m = std::move(next);
  if (row) {
    spdlog::info("live migration {} {} -> {} ({})", m.uuid, from, m.status, event);
    if (on_transition_) on_transition_(from, m.status);
  }
  return true;
}

StepResult Steps::Schedule(store::LiveMigration& m) {
  auto parties = Load(ctx_.db, m);
  auto fail = [&](const std::string& message) {
    auto next = m;
    next.status = "error";
    next.phase = "done";
    next.error_reason = message;
    const std::string server_uuid = m.instance_uuid;
    Commit(m, next, "precheck_failed", message,
           [&](store::Tx& tx) { store::ClearMigratingTask(tx, server_uuid); });
    return StepResult::kDone;
  };
  if (!parties.server || !parties.source) return fail("the server or its source host no longer exists");
  const store::Server& server = *parties.server;
  const store::Host& source = *parties.source;
  if (m.request_params.value("host", std::string()) == source.name) {
    return fail("Unable to migrate instance (" + server.uuid + ") to current host (" + source.name + ").");
  }

  // block_migration: Nova's "auto" copies the disk exactly when it is local to the host.
  const std::string requested = m.request_params.value("block_migration", "auto");
  const bool local_disk = server.storage_kind == "local";
  if (requested == "true" && !local_disk) {
    return fail(source.name + " is on shared storage: Block migration can not be used with shared storage.");
  }
  if (requested == "false" && local_disk) {
    return fail(server.uuid + " is not on shared storage: Shared storage live-migration requires "
                              "either shared storage or boot-from-volume with no local disks.");
  }
  m.request_params["block_migration_resolved"] = local_disk;

  const auto host = m.request_params.value("host", std::string());
  const bool forced = m.request_params.value("force", false) && !host.empty();
  std::vector<std::string> candidates;
  std::string nothing_fits = "No valid host was found. There are not enough hosts available.";
  if (forced) {
    candidates.push_back(host);  // force skips the filters, not the checks and the claim
  } else {
    scheduler::RequestSpec spec;
    spec.vcpus = server.vcpus;
    spec.memory_mb = server.memory_mb;
    spec.disk_gb = local_disk ? server.root_gb : 0;
    if (!host.empty()) spec.requested_host = host;
    spec.source_host = source.name;
    spec.cell = source.cell;
    spec.hypervisor_type = source.hypervisor_type;
    spec.min_hypervisor_version = source.hypervisor_version;
    spec.ignore_hosts.insert(m.ignore_hosts.begin(), m.ignore_hosts.end());
    spec.ignore_hosts.insert(source.name);
    spec.max_inbound_migrations = ctx_.options.limits.max_inbound_per_host;
    const auto index = ctx_.hosts.Current();
    if (const auto* seen = index->Find(source.name)) {
      // The guest runs with the source's CPU model (host-model): the destination must offer
      // all of it. Datastores the source sees make a destination that sees them cheaper.
      spec.guest_cpu = seen->cpu;
      spec.source_shared_datastores = seen->shared_datastores;
    }
    ctx_.db.Transact([&](store::Tx& tx) { spec.anti_affinity_hosts = store::AntiAffinityHosts(tx, server.uuid); });
    auto selection = ctx_.scheduler.Select(*index, spec);
    if (selection.candidates.empty()) {
      // Inbound headroom is a preference, not a refusal: when every destination that fits is
      // already receiving its maximum, the migration queues for one (admission enforces the
      // limit) instead of failing a drain with "No valid host".
      auto without_headroom = spec;
      without_headroom.max_inbound_migrations = 0;
      auto queued_for = ctx_.scheduler.Select(*index, without_headroom);
      if (!queued_for.candidates.empty()) selection = std::move(queued_for);
    }
    for (const auto& c : selection.candidates) candidates.push_back(c.name);
    nothing_fits = scheduler::NoValidHostMessage(selection);
  }

  const store::Resources need{server.vcpus, server.memory_mb, local_disk ? server.root_gb : 0};
  int checked = 0;
  for (const auto& name : candidates) {
    if (ctx_.options.migrate_max_retries >= 0 && checked > ctx_.options.migrate_max_retries) break;
    std::optional<store::Host> dest;
    ctx_.db.Transact([&](store::Tx& tx) { dest = HostNamed(tx, name); });
    if (!dest) continue;
    if (forced && (!dest->IsUp() || dest->disabled)) {
      return fail("Compute service of " + name + " is unavailable at this time.");
    }
    if (forced && dest->cell != source.cell) {
      return fail("Cannot live migrate " + server.uuid + " from cell " + source.cell + " to cell " +
                  dest->cell + ": cross-cell live migration is not supported.");
    }
    ++checked;
    auto spec = BuildSpec(m, server, *dest, &source);  // source_cpu: the CPU pre-check
    auto check = Call(ctx_.agents, *dest, "check_live_migration_destination", "check-" + name,
                      m.attempt, spec);
    if (!check.ok()) {
      // Nova: MigrationPreCheckError -> the host joins ignore_hosts and the next one is tried.
      auto next = m;
      next.ignore_hosts.push_back(name);
      next.attempt += 1;
      auto failures = next.request_params.value("precheck_failures", nlohmann::json::array());
      failures.push_back(name + ": " + check.error);
      next.request_params["precheck_failures"] = failures;
      if (!Commit(m, next, "", std::nullopt)) return StepResult::kDone;
      continue;
    }
    auto next = m;
    next.status = "queued";
    next.phase = "waiting for a slot";
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
  auto failures = m.request_params.value("precheck_failures", nlohmann::json::array());
  if (failures.empty()) return fail(nothing_fits);
  std::string message = "Migration pre-check error:";
  for (const auto& f : failures) message += " " + f.get<std::string>() + ";";
  message.pop_back();
  return fail(message);
}

std::vector<std::string> Steps::AdmitQueued() {
  std::vector<std::string> admitted;
  const auto& limits = ctx_.options.limits;
  ctx_.db.Transact([&](store::Tx& tx) {
    auto view = store::LockSlots(tx);
    for (const auto& q : view.queued) {
      const bool fits = view.outbound[q.source] < limits.max_outbound_per_host &&
                        view.inbound[q.dest] < limits.max_inbound_per_host &&
                        (limits.max_total == 0 || view.total < limits.max_total);
      if (!fits) continue;
      // Fairness holds across controllers: a migration another controller drives keeps its
      // turn (its slot is counted) and its owner admits it on its own tick.
      ++view.outbound[q.source];
      ++view.inbound[q.dest];
      ++view.total;
      if (q.lease_owner != ctx_.options.owner) continue;
      auto m = store::FindLiveMigration(tx, q.uuid);
      if (!m || m->abort_requested_at) continue;
      auto next = *m;
      next.status = "preparing";
      next.phase = "preparing destination";
      store::MigrationEvent event{m->status, next.status, "slot_acquired", std::nullopt, Actor(),
                                  std::nullopt};
      if (store::SaveLiveMigration(tx, next, ctx_.options.owner, event)) admitted.push_back(q.uuid);
    }
  });
  for (const auto& uuid : admitted) {
    spdlog::info("live migration {} queued -> preparing (slot_acquired)", uuid);
    if (on_transition_) on_transition_("queued", "preparing");
  }
  return admitted;
}

StepResult Steps::WhileQueued(store::LiveMigration& m) {
  // Admission to preparing is AdmitQueued's (it needs every queued migration at once).
  if (m.abort_requested_at) return RollBack(m, "cancelled", "aborted", "aborted by request");
  // Nova leaves a queued migration whose compute died queued forever; here it ends: nothing
  // has touched either host yet, so releasing the claims is the whole rollback.
  auto parties = Load(ctx_.db, m);
  for (const auto* host : {&parties.source, &parties.dest}) {
    if (!*host || !(*host)->IsUp()) {
      const std::string name = *host ? (*host)->name : std::string("a host");
      return RollBack(m, "failed", "start_failed", name + " went down while the migration was queued");
    }
  }
  return StepResult::kWait;
}

StepResult Steps::Prepare(store::LiveMigration& m) {
  if (m.abort_requested_at) return RollBack(m, "cancelled", "aborted", "aborted by request");
  auto parties = Load(ctx_.db, m);
  if (!parties.server || !parties.dest) {
    return RollBack(m, "failed", "pre_live_migration_failed", "the server or destination vanished");
  }
  auto spec = BuildSpec(m, *parties.server, *parties.dest);
  auto r = Call(ctx_.agents, *parties.dest, "prepare_live_migration_destination", "prepare",
                m.attempt, spec);
  if (r.outcome == Outcome::kUnreachable) {
    if (parties.dest->IsUp()) return StepResult::kWait;
    return RollBack(m, "failed", "pre_live_migration_failed", "destination down: " + r.error);
  }
  if (r.outcome == Outcome::kRefused) return RollBack(m, "failed", "pre_live_migration_failed", r.error);
  auto next = m;
  next.status = "running";
  next.phase = "starting";
  next.started_at = ctx_.clock.Now();
  if (r.result.data.is_object()) {
    next.request_params["incoming_uri"] = r.result.data.value("incoming_uri", "");
  }
  // "starting" is committed before start_live_migration is sent: after a crash the next owner
  // sends it again (same id) instead of wondering whether it went out.
  return Commit(m, next, "destination_ready", std::nullopt) ? StepResult::kAgain : StepResult::kDone;
}

StepResult Steps::Monitor(store::LiveMigration& m) {
  if (m.job_state == "completed") {
    auto next = m;
    next.status = "post-migrating";
    next.phase = "finishing";
    return Commit(m, next, "switched_over", std::nullopt) ? StepResult::kAgain : StepResult::kDone;
  }
  if (m.job_state == "failed") {
    return RollBack(m, "failed", "copy_failed", m.job_error.value_or("the copy failed"));
  }
  if (m.job_state == "cancelled") {
    return RollBack(m, "cancelled", "aborted",
                    m.request_params.value("abort_reason", std::string("aborted by request")));
  }
  auto parties = Load(ctx_.db, m);
  if (!parties.server || !parties.source || !parties.dest) {
    return RollBack(m, "failed", "copy_failed", "the server or a host vanished");
  }
  const auto& source = *parties.source;
  auto spec = BuildSpec(m, *parties.server, *parties.dest);
  const auto now = ctx_.clock.Now();

  if (m.phase == "starting") {
    auto r = Call(ctx_.agents, source, "start_live_migration", "start", m.attempt, spec);
    if (r.outcome == Outcome::kUnreachable) return StepResult::kWait;
    if (r.outcome == Outcome::kRefused) return RollBack(m, "failed", "copy_failed", r.error);
    auto next = m;
    next.phase = "copying";
    Commit(m, next, "", std::nullopt);
    return StepResult::kWait;
  }
  if (m.abort_requested_at && !m.request_params.value("abort_sent", false)) {
    auto r = Call(ctx_.agents, source, "abort_live_migration", "abort", m.attempt, spec);
    if (r.outcome == Outcome::kUnreachable) return StepResult::kWait;
    auto next = m;
    next.request_params["abort_sent"] = true;
    if (r.outcome == Outcome::kRefused) next.request_params["abort_refused"] = r.error;
    Commit(m, next, "", std::nullopt);
    return StepResult::kWait;
  }
  if (m.force_complete_requested_at && !m.force_completed_at) {
    auto r = Call(ctx_.agents, source, "force_complete_live_migration", "force-complete",
                  m.attempt, spec);
    if (r.outcome == Outcome::kUnreachable) return StepResult::kWait;
    auto next = m;
    next.force_completed_at = now;
    if (r.outcome == Outcome::kRefused) next.request_params["force_complete_refused"] = r.error;
    Commit(m, next, "", std::nullopt);
    return StepResult::kWait;
  }

  // Timeouts: Nova's completion timeout, and ferry's progress (stall) timeout.
  const Policy policy = m.policy.get<Policy>();
  std::optional<std::string> timed_out;
  const int64_t limit = policy.CompletionTimeoutSeconds(parties.server->memory_mb,
                                                        CopiedDiskGb(m, *parties.server));
  if (limit > 0 && m.started_at && Seconds(now - *m.started_at) > limit) {
    timed_out = "completion timeout: still copying after " + std::to_string(limit) + " s";
  } else if (policy.progress_timeout_s > 0 && m.lowest_remaining_at &&
             Seconds(now - *m.lowest_remaining_at) > policy.progress_timeout_s) {
    timed_out = "progress timeout: no progress for " + std::to_string(policy.progress_timeout_s) + " s";
  }
  if (timed_out) {
    const bool abort = policy.timeout_action == "abort";
    if (abort ? !m.abort_requested_at : !m.force_complete_requested_at) {
      auto next = m;
      next.request_params[abort ? "abort_reason" : "force_complete_reason"] = *timed_out;
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
      job->error = "the source hypervisor has no job for this migration (agent or hypervisor "
                   "restarted); the guest still runs on " + source.name;
    } else {
      return StepResult::kWait;
    }
  }
  job->sampled_at = EpochSecondsOf(now);
  int landed = 0;
  ctx_.db.Transact([&](store::Tx& tx) { landed = store::ApplyProgress(tx, source.name, {*job}); });
  return landed > 0 ? StepResult::kAgain : StepResult::kWait;
}

StepResult Steps::Complete(store::LiveMigration& m) {
  auto parties = Load(ctx_.db, m);
  if (!parties.server || !parties.source || !parties.dest) {
    return FailAfterSwitchover(m, "the server or a host vanished after switch-over");
  }
  auto spec = BuildSpec(m, *parties.server, *parties.dest);
  auto finish = Call(ctx_.agents, *parties.dest, "finish_live_migration_destination", "finish",
                     m.attempt, spec);
  if (finish.outcome == Outcome::kUnreachable) return StepResult::kWait;
  if (finish.outcome == Outcome::kRefused) return FailAfterSwitchover(m, finish.error);
  std::optional<std::string> note;
  auto cleanup = Call(ctx_.agents, *parties.source, "cleanup_live_migration_source", "cleanup",
                      m.attempt, spec);
  if (cleanup.outcome == Outcome::kUnreachable) {
    if (parties.source->IsUp()) return StepResult::kWait;
    note = "source down; its copy of the guest was not cleaned up";
  } else if (cleanup.outcome == Outcome::kRefused) {
    return FailAfterSwitchover(m, cleanup.error);
  }
  auto next = m;
  next.status = "completed";
  next.phase = "done";
  next.error_reason = note;
  const std::string server_uuid = m.instance_uuid;
  const int64_t dest_id = parties.dest->id;
  const std::string dest_name = parties.dest->name;
  const std::string migration_uuid = m.uuid;
  Commit(m, next, "cleaned_up", note, [&](store::Tx& tx) {
    store::ReleaseClaims(tx, migration_uuid);  // the source claim: the guest left
    store::FinishServerMove(tx, server_uuid, dest_id, dest_name);
  });
  if (on_claimed_) on_claimed_(parties.source->id);
  return StepResult::kDone;
}

StepResult Steps::FailAfterSwitchover(store::LiveMigration& m, const std::string& reason) {
  // The guest runs on the destination: the record follows it even though cleanup failed.
  std::optional<store::Host> dest;
  ctx_.db.Transact([&](store::Tx& tx) { dest = HostNamed(tx, m.dest_compute); });
  auto next = m;
  next.status = "error";
  next.phase = "done";
  next.error_reason = reason;
  const std::string server_uuid = m.instance_uuid;
  const std::string migration_uuid = m.uuid;
  Commit(m, next, "cleanup_failed", reason, [&](store::Tx& tx) {
    store::ReleaseClaims(tx, migration_uuid);
    if (dest) {
      store::FinishServerMove(tx, server_uuid, dest->id, dest->name);
    } else {
      store::ClearMigratingTask(tx, server_uuid);
    }
  });
  return StepResult::kDone;
}

StepResult Steps::RollBack(store::LiveMigration& m, const std::string& to, const std::string& event,
                           const std::string& reason) {
  auto parties = Load(ctx_.db, m);
  std::string why = reason;
  const bool prepared = m.status == "preparing" || m.status == "running";
  if (prepared && parties.dest && parties.server) {
    auto spec = BuildSpec(m, *parties.server, *parties.dest);
    auto r = Call(ctx_.agents, *parties.dest, "rollback_live_migration_destination", "rollback",
                  m.attempt, spec);
    if (r.outcome == Outcome::kUnreachable) {
      if (parties.dest->IsUp()) return StepResult::kWait;
      why += " (destination down: not rolled back there)";
    } else if (r.outcome == Outcome::kRefused) {
      // The destination refuses because the guest already switched over and runs there (an
      // abort or a failure report that raced the end of the copy): the record follows the
      // guest instead of claiming it is still on the source.
      if (m.status == "running" && DomainRunsOn(*parties.dest, m.instance_uuid) &&
          (!parties.source || !DomainRunsOn(*parties.source, m.instance_uuid))) {
        spdlog::warn("live migration {}: rollback refused, the guest runs on {}: finishing there",
                     m.uuid, parties.dest->name);
        auto next = m;
        next.status = "post-migrating";
        next.phase = "finishing";
        return Commit(m, next, "switched_over", std::nullopt) ? StepResult::kAgain : StepResult::kDone;
      }
      why += " (destination rollback failed: " + r.error + ")";
    }
  }
  auto next = m;
  next.status = to;
  next.phase = "done";
  next.error_reason = why;
  const std::string server_uuid = m.instance_uuid;
  const std::string migration_uuid = m.uuid;
  const std::optional<int64_t> dest_id =
      parties.dest ? std::optional<int64_t>(parties.dest->id) : std::nullopt;
  Commit(m, next, event, why, [&](store::Tx& tx) {
    if (dest_id) store::ReleaseClaimsOnHost(tx, server_uuid, *dest_id);
    store::MoveClaims(tx, migration_uuid, server_uuid);
    store::ClearMigratingTask(tx, server_uuid);
  });
  if (on_claimed_ && dest_id) on_claimed_(*dest_id);
  return StepResult::kDone;
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
