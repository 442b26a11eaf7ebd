// SimDriver, live migration at the source: start (the job thread), job stats, abort,
// force-complete, cleanup, the hooks the job thread calls, and restart recovery.
#include <spdlog/spdlog.h>

#include <chrono>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_live_migration_util.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {

using lm::Lower;
using lm::Terminal;
using lm::ValidateSpec;

namespace {

// 1,000 ended jobs: the controller asks about a job within its reconciliation window (minutes);
// even a full host drain is a few hundred migrations. ~1 KiB each keeps the state file small.
constexpr size_t kMaxRememberedJobs = 1000;

}  // namespace

SimDriver::~SimDriver() {
  std::map<std::string, std::unique_ptr<OutgoingJob>> outgoing;
  std::map<std::string, std::unique_ptr<IncomingMigration>> incoming;
  {
    std::lock_guard lock(mu_);
    outgoing.swap(outgoing_);
    incoming.swap(incoming_);
  }
  // Destroyed without the lock: their threads may be waiting for it in a hook.
  outgoing.clear();
  incoming.clear();
}

void SimDriver::FailInterruptedJobs() {
  std::lock_guard lock(mu_);
  Domains domains = domains_;
  Jobs jobs = jobs_;
  bool changed = false;
  for (auto& [uuid, job] : jobs) {
    if (Terminal(job)) continue;
    job.state = "failed";
    job.error =
        "ferry-agent restarted during the copy: the simulated job died with it and the "
        "guest stays on the source";
    job.transfer_rate_bps = 0;
    job.sampled_at = std::chrono::duration<double>(clock_.Now().time_since_epoch()).count();
    interrupted_.push_back(uuid);
    changed = true;
    if (auto d = domains.find(Lower(job.domain_uuid));
        d != domains.end() && job.phase != "postcopy") {
      d->second.domain.power_state = wire::PowerState::kRunning;
    }
    spdlog::warn("ferry-sim: live migration interrupted by agent restart migration={} domain={}",
                 uuid, job.domain_uuid);
  }
  if (changed) CommitLocked(std::move(domains), std::move(jobs));
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
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  if (jobs_.count(spec.migration_uuid) != 0) return;  // already started (or aborted first)
  auto it = domains_.find(uuid);
  if (it == domains_.end() || it->second.incoming) {
    throw Error(Errc::kConflict, "domain " + uuid + " is not running on this host");
  }
  for (const auto& [mig, job] : outgoing_) {
    wire::LiveMigrationJob s = job->Snapshot();
    if (s.domain_uuid == spec.domain.uuid && !Terminal(s)) {
      throw Error(Errc::kConflict,
                  "domain " + uuid + " is already migrating (migration " + mig + ")");
    }
  }
  OutgoingJobFaults faults;
  faults.switchover_fails = config_.HasScenario(kScenarioSwitchoverFails, uuid);
  faults.die_past_half_copy = config_.HasScenario(kScenarioAgentDiesMidCopy, uuid);
  faults.postcopy_fails = config_.HasScenario(kScenarioPostcopyFails, uuid);
  faults.lost_switchover = config_.HasScenario(kScenarioLostSwitchover, uuid);
  OutgoingJobHooks hooks;
  hooks.on_end = [this](const wire::LiveMigrationJob& job) { OnJobEnded(job); };
  hooks.on_source_power = [this, uuid](wire::PowerState p) { OnSourcePower(uuid, p); };
  auto job = std::make_unique<OutgoingJob>(spec, ModelInputLocked(spec), faults, hooks, clock_);
  auto next_jobs = jobs_;
  next_jobs[spec.migration_uuid] = job->Snapshot();  // recorded running before it starts
  CommitLocked(domains_, std::move(next_jobs));
  job->Start();
  outgoing_[spec.migration_uuid] = std::move(job);
}

std::optional<wire::LiveMigrationJob> SimDriver::LiveMigrationJobStats(
    const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  auto rec = jobs_.find(migration_uuid);
  if (rec != jobs_.end() && Terminal(rec->second)) return rec->second;
  if (auto j = outgoing_.find(migration_uuid); j != outgoing_.end()) return j->second->Snapshot();
  if (rec != jobs_.end()) return rec->second;
  return std::nullopt;
}

std::vector<wire::LiveMigrationJob> SimDriver::LiveMigrationJobsToReport() {
  std::lock_guard lock(mu_);
  std::vector<wire::LiveMigrationJob> out;
  for (const auto& mig : interrupted_) {
    if (auto rec = jobs_.find(mig); rec != jobs_.end()) out.push_back(rec->second);
  }
  for (const auto& [mig, job] : outgoing_) {
    auto rec = jobs_.find(mig);
    if (rec != jobs_.end() && Terminal(rec->second)) continue;
    out.push_back(job->Snapshot());
  }
  return out;
}

void SimDriver::AbortLiveMigration(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  auto rec = jobs_.find(migration_uuid);
  if (rec != jobs_.end() && Terminal(rec->second)) {
    if (rec->second.state == "completed") {
      throw Error(Errc::kConflict, "migration " + migration_uuid +
                                       " has completed; the guest runs on the destination");
    }
    return;  // failed or cancelled: the guest is on the source already
  }
  auto j = outgoing_.find(migration_uuid);
  if (j == outgoing_.end()) {
    // Not started here: remember it as cancelled so a start that arrives late does nothing.
    wire::LiveMigrationJob tomb;
    tomb.migration_uuid = migration_uuid;
    tomb.state = "cancelled";
    tomb.error = "aborted before the copy started";
    tomb.sampled_at = std::chrono::duration<double>(clock_.Now().time_since_epoch()).count();
    auto next_jobs = jobs_;
    RememberEndedJobLocked(next_jobs, tomb);
    CommitLocked(domains_, std::move(next_jobs));
    return;
  }
  if (j->second->Snapshot().phase == "postcopy") {
    throw Error(Errc::kConflict, "migration " + migration_uuid +
                                     " is in post-copy: the guest runs on the destination and "
                                     "cannot be brought back");
  }
  j->second->RequestAbort();
}

void SimDriver::ForceCompleteLiveMigration(const std::string& migration_uuid,
                                           bool permit_post_copy) {
  std::lock_guard lock(mu_);
  auto rec = jobs_.find(migration_uuid);
  if (rec != jobs_.end() && Terminal(rec->second)) {
    if (rec->second.state == "completed") return;
    throw Error(Errc::kConflict, "migration " + migration_uuid + " has ended " + rec->second.state +
                                     "; nothing to force");
  }
  auto j = outgoing_.find(migration_uuid);
  if (j == outgoing_.end()) {
    throw Error(Errc::kNotFound, "no live migration " + migration_uuid + " on this host");
  }
  j->second->RequestForceComplete(permit_post_copy);
}

void SimDriver::CleanupLiveMigrationSource(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return;
  auto rec = jobs_.find(spec.migration_uuid);
  // A post-copy that failed left a stale copy here: its execution moved to the destination.
  const bool left =
      rec != jobs_.end() && (rec->second.state == "completed" ||
                             (rec->second.state == "failed" && rec->second.phase == "postcopy"));
  if (!left) {
    throw Error(Errc::kConflict, "domain " + uuid + " still runs on this host and migration " +
                                     spec.migration_uuid + " has not completed here");
  }
  auto next = domains_;
  next.erase(uuid);
  CommitLocked(std::move(next));
}

void SimDriver::RememberEndedJobLocked(Jobs& jobs, const wire::LiveMigrationJob& job) const {
  jobs[job.migration_uuid] = job;
  while (jobs.size() > kMaxRememberedJobs) {
    auto oldest = jobs.end();
    for (auto it = jobs.begin(); it != jobs.end(); ++it) {
      if (Terminal(it->second) &&
          (oldest == jobs.end() || it->second.sampled_at < oldest->second.sampled_at)) {
        oldest = it;
      }
    }
    if (oldest == jobs.end()) break;
    jobs.erase(oldest);
  }
}

void SimDriver::OnJobEnded(const wire::LiveMigrationJob& job) {
  std::lock_guard lock(mu_);
  auto next = domains_;
  // Completed: the destination confirmed the guest runs there, so it is no longer defined here
  // (lost-switchover: the guest stopped here instead; only cleanup would remove it).
  if (job.state == "completed" && !config_.HasScenario(kScenarioLostSwitchover, job.domain_uuid)) {
    next.erase(Lower(job.domain_uuid));
  }
  auto next_jobs = jobs_;
  RememberEndedJobLocked(next_jobs, job);
  try {
    CommitLocked(std::move(next), std::move(next_jobs));
  } catch (const std::exception& e) {
    spdlog::error("ferry-sim: cannot persist the end of migration={} error=\"{}\"",
                  job.migration_uuid, e.what());
  }
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
