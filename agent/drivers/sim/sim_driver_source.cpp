// SimDriver, live migration at the source: start (the job thread), job stats, abort,
// force-complete, cleanup, the hooks the job thread calls, and restart recovery.
#include <spdlog/spdlog.h>

#include <chrono>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_live_migration_util.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {

using lm::Lower;
using lm::ValidateSpec;

SimDriver::~SimDriver() {
  std::map<std::string, std::unique_ptr<OutgoingJob>> outgoing;
  std::map<std::string, std::unique_ptr<IncomingMigration>> incoming;
  std::map<std::string, std::unique_ptr<ColdCopyJob>> cold_copies;
  std::map<std::string, std::unique_ptr<ColdReceiver>> receivers;
  {
    std::lock_guard lock(mu_);
    outgoing.swap(outgoing_);
    incoming.swap(incoming_);
    cold_copies.swap(cold_copies_);
    receivers.swap(receivers_);
  }
  // Destroyed without the lock: their threads may be waiting for it in a hook.
  outgoing.clear();
  incoming.clear();
  cold_copies.clear();
  receivers.clear();
}

std::optional<wire::LiveMigrationJob> SimDriver::RecoverJob(const JobRecord& job) {
  if (job.IsColdCopy()) return RecoverColdCopy(job);
  // The job thread died with the previous agent process; what it recorded says how far it got.
  wire::LiveMigrationJob out = job.last;
  out.transfer_rate_bps = 0;
  out.sampled_at = std::chrono::duration<double>(clock_.Now().time_since_epoch()).count();
  if (job.driver_facts.value("switched_over", false)) {
    // The destination confirmed the guest runs there (written before the domain was forgotten
    // here); if the agent died before forgetting it, cleanup removes the stale entry.
    out.state = "completed";
    out.phase = "done";
    out.memory_remaining = 0;
    out.disk_remaining = 0;
    spdlog::warn("ferry-sim: live migration switched over while the agent was down migration={}",
                 job.spec.migration_uuid);
    return out;
  }
  out.state = "failed";
  if (job.driver_facts.value("postcopy_confirmed", false)) {
    // The destination confirmed it runs the guest in post-copy: never resumed here, never a
    // cancellation; the phase tells the controller not to roll back to this stale copy.
    out.phase = "postcopy";
    out.error = "ferry-agent restarted during post-copy: the simulated job died with it";
    return out;
  }
  if (job.driver_facts.value("postcopy_started", false) ||
      job.driver_facts.value("switchover_sent", false)) {
    // The destination may or may not have taken the guest over: this copy is left as it is
    // (paused, never resumed), and the destination's rollback, which refuses once the guest
    // runs there, decides where it lives.
    out.phase = "switchover";
    out.error =
        "ferry-agent restarted while handing the guest over to the destination: whether the "
        "destination took it is for the destination to say; the source's copy is kept paused";
    return out;
  }
  std::lock_guard lock(mu_);
  auto d = domains_.find(Lower(job.spec.domain.uuid));
  if (d == domains_.end()) {
    out.error =
        "ferry-agent restarted during the copy and the guest is no longer on this host, with no "
        "switch-over recorded: whether it moved is unknown, so the move is not counted as done";
    return out;
  }
  // The copy never finished, so the guest is still here (paused by a forced completion:
  // resumed).
  out.error =
      "ferry-agent restarted during the copy: the simulated job died with it and the guest "
      "stays on the source";
  if (d->second.domain.power_state != wire::PowerState::kRunning) {
    auto next = domains_;
    next[d->first].domain.power_state = wire::PowerState::kRunning;
    CommitLocked(std::move(next));
  }
  spdlog::warn("ferry-sim: live migration interrupted by agent restart migration={} domain={}",
               job.spec.migration_uuid, job.spec.domain.uuid);
  return out;
}

MigrationModelInput SimDriver::ModelInputLocked(const wire::LiveMigrationSpec& spec) const {
  MigrationModelInput in;
  in.memory_bytes = spec.domain.memory_mb * kBytesPerMiB;
  in.disk_bytes = spec.block_migration ? spec.domain.disk_gb * kBytesPerGiB : 0;
  in.rate_bytes_per_s = config_.link_bandwidth_bytes_per_s;
  if (spec.bandwidth_mibps > 0) {
    in.rate_bytes_per_s = std::min(in.rate_bytes_per_s, spec.bandwidth_mibps * kBytesPerMiB);
  }
  in.dirty_bytes_per_s = domains_.at(Lower(spec.domain.uuid)).dirty_rate_bytes_per_s;
  if (config_.HasScenario(kScenarioStall, spec.domain.uuid)) {
    in.dirty_bytes_per_s = 2 * in.rate_bytes_per_s;  // twice what the link carries: no progress
  }
  in.max_downtime_ms = spec.max_downtime_ms;
  in.downtime_steps = spec.downtime_steps;
  in.downtime_delay_s = spec.downtime_delay_s;
  in.auto_converge = spec.permit_auto_converge;
  return in;
}

void SimDriver::StartLiveMigration(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  if (spec.incoming_uri.empty()) {
    throw Error(Errc::kBadRequest, "start_live_migration needs incoming_uri (from prepare)");
  }
  if (config_.HasScenario(kScenarioStartRefused, spec.domain.uuid)) {
    // kBadRequest: the command server answers HTTP 400, as to a command it cannot accept.
    throw Error(Errc::kBadRequest, "start_live_migration refused (sim scenario start-refused)");
  }
  jobs_.Start(spec);
}

nlohmann::json SimDriver::CheckJobStart(const JobRecord& job) {
  ReapEndedJobs();
  if (job.IsColdCopy()) return CheckColdCopyStart(job);
  const wire::LiveMigrationSpec& spec = job.spec;
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end() || it->second.incoming) {
    throw Error(Errc::kConflict, "domain " + uuid + " is not running on this host");
  }
  return nlohmann::json::object();
}

void SimDriver::ReapEndedJobs() {
  // A job's record ends in OnJobEnded, its last step: a job whose record has ended is past
  // every hook, and joining its thread (outside mu_, which that step takes) is prompt.
  // The registry is asked without mu_ (LaunchJob takes mu_ under the registry's lock).
  std::vector<std::string> running;
  {
    std::lock_guard lock(mu_);
    for (const auto& [migration, job] : outgoing_) running.push_back(migration);
    for (const auto& [migration, job] : cold_copies_) running.push_back(migration);
  }
  std::vector<std::string> done;
  for (const auto& migration : running) {
    auto rec = jobs_.Find(migration);
    if (!rec || rec->Ended()) done.push_back(migration);
  }
  std::vector<std::unique_ptr<OutgoingJob>> ended;
  std::vector<std::unique_ptr<ColdCopyJob>> ended_cold;
  {
    std::lock_guard lock(mu_);
    for (const auto& migration : done) {
      if (auto it = outgoing_.find(migration); it != outgoing_.end()) {
        ended.push_back(std::move(it->second));
        outgoing_.erase(it);
      }
      if (auto it = cold_copies_.find(migration); it != cold_copies_.end()) {
        ended_cold.push_back(std::move(it->second));
        cold_copies_.erase(it);
      }
    }
  }
  ended.clear();  // joins, without any lock
  ended_cold.clear();
}

void SimDriver::LaunchJob(const JobRecord& record) {
  const wire::LiveMigrationSpec& spec = record.spec;
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  if (record.IsColdCopy()) return LaunchColdCopyLocked(record);
  if (domains_.count(uuid) == 0) {
    throw Error(Errc::kConflict, "domain " + uuid + " is not on this host");
  }
  OutgoingJobFaults faults;
  faults.switchover_fails = config_.HasScenario(kScenarioSwitchoverFails, uuid);
  faults.die_past_half_copy = config_.HasScenario(kScenarioAgentDiesMidCopy, uuid);
  faults.postcopy_fails = config_.HasScenario(kScenarioPostcopyFails, uuid);
  faults.lost_switchover = config_.HasScenario(kScenarioLostSwitchover, uuid);
  OutgoingJobHooks hooks;
  hooks.on_end = [this](const wire::LiveMigrationJob& job) { OnJobEnded(job); };
  hooks.on_source_power = [this, uuid](wire::PowerState p) { OnSourcePower(uuid, p); };
  hooks.journal = [this, migration = spec.migration_uuid](const char* fact) {
    return jobs_.SetDriverFacts(migration, {{fact, true}});
  };
  auto job = std::make_unique<OutgoingJob>(spec, ModelInputLocked(spec), faults, hooks, clock_);
  job->Start();
  outgoing_[spec.migration_uuid] = std::move(job);
}

std::optional<wire::LiveMigrationJob> SimDriver::SampleJob(const JobRecord& record) {
  std::lock_guard lock(mu_);
  if (record.IsColdCopy()) {
    auto c = cold_copies_.find(record.spec.migration_uuid);
    if (c == cold_copies_.end()) return std::nullopt;
    wire::LiveMigrationJob snapshot = c->second->Snapshot();
    if (snapshot.state != "running") return std::nullopt;  // ended by OnColdCopyEnded
    return snapshot;
  }
  auto j = outgoing_.find(record.spec.migration_uuid);
  if (j == outgoing_.end()) return std::nullopt;
  wire::LiveMigrationJob snapshot = j->second->Snapshot();
  // An end is the job thread's to record (OnJobEnded), after it has moved the domain.
  if (snapshot.state != "running") return std::nullopt;
  return snapshot;
}

void SimDriver::AbortJob(const JobRecord& record) {
  std::lock_guard lock(mu_);
  if (auto c = cold_copies_.find(record.spec.migration_uuid); c != cold_copies_.end()) {
    c->second->RequestAbort();
  }
  if (auto j = outgoing_.find(record.spec.migration_uuid); j != outgoing_.end()) {
    j->second->RequestAbort();
  }
}

void SimDriver::ForceCompleteJob(const JobRecord& record, bool post_copy) {
  std::lock_guard lock(mu_);
  auto j = outgoing_.find(record.spec.migration_uuid);
  if (j == outgoing_.end()) {
    throw Error(Errc::kNotFound,
                "no live migration " + record.spec.migration_uuid + " running on this host");
  }
  j->second->RequestForceComplete(post_copy);
}

std::optional<wire::LiveMigrationJob> SimDriver::LiveMigrationJobStats(
    const std::string& migration_uuid) {
  return jobs_.Stats(migration_uuid);
}

std::vector<wire::LiveMigrationJob> SimDriver::LiveMigrationJobsToReport() {
  return jobs_.ToReport();
}

void SimDriver::LiveMigrationJobReported(const std::string& migration_uuid) {
  jobs_.Acknowledge(migration_uuid);
}

void SimDriver::SetLiveMigrationJobEndListener(
    std::function<void(const std::string& migration_uuid)> listener) {
  jobs_.SetEndListener(std::move(listener));
}

void SimDriver::AbortLiveMigration(const std::string& migration_uuid) {
  jobs_.Abort(migration_uuid);
}

void SimDriver::ForceCompleteLiveMigration(const std::string& migration_uuid,
                                           bool permit_post_copy) {
  jobs_.ForceComplete(migration_uuid, permit_post_copy);
}

void SimDriver::CleanupLiveMigrationSource(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  const auto rec = jobs_.Find(spec.migration_uuid);
  const bool completed = rec && rec->last.state == "completed";
  // A post-copy that failed left a stale copy here: its execution moved to the destination.
  const bool postcopy_failed = rec && rec->last.state == "failed" && rec->last.phase == "postcopy";
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return;
  // As libvirt's cleanup: a copy still running here is never stale, whatever the record says.
  const bool left =
      completed || (postcopy_failed && it->second.domain.power_state != wire::PowerState::kRunning);
  if (!left) {
    throw Error(Errc::kConflict, "domain " + uuid + " still runs on this host and migration " +
                                     spec.migration_uuid + " has not completed here");
  }
  auto next = domains_;
  next.erase(uuid);
  CommitLocked(std::move(next));
}

void SimDriver::OnJobEnded(const wire::LiveMigrationJob& job) {
  // Completed: the destination confirmed the guest runs there, so it is no longer defined here
  // (lost-switchover: the guest stopped here instead; only cleanup would remove it). As libvirt
  // undefines the source before its migrate call returns, whoever reads "completed" finds the
  // guest gone. The switch-over is journalled first, so an agent that dies before the outcome
  // is recorded still knows it (RecoverJob), and never resumes a guest that moved.
  if (job.state == "completed" && !config_.HasScenario(kScenarioLostSwitchover, job.domain_uuid)) {
    if (!jobs_.SetDriverFacts(job.migration_uuid, {{"switched_over", true}})) {
      spdlog::error("ferry-sim: cannot journal the switch-over of migration={}",
                    job.migration_uuid);
    }
    std::lock_guard lock(mu_);
    auto next = domains_;
    next.erase(Lower(job.domain_uuid));
    try {
      CommitLocked(std::move(next));
    } catch (const std::exception& e) {
      spdlog::error("ferry-sim: cannot persist the end of migration={} error=\"{}\"",
                    job.migration_uuid, e.what());
    }
  }
  jobs_.End(job.migration_uuid, job);
}

void SimDriver::OnSourcePower(const std::string& uuid, wire::PowerState power) {
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end() || it->second.domain.power_state == power) return;
  auto next = domains_;
  next[uuid].domain.power_state = power;
  try {
    CommitLocked(std::move(next));
  } catch (const std::exception& e) {
    spdlog::error("ferry-sim: cannot persist power state of domain={} error=\"{}\"", uuid,
                  e.what());
  }
}

}  // namespace ferry::agent::sim
