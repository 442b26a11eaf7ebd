// SimDriver's live-migration surface: the destination's check/prepare/finish/rollback, the
// source's start/abort/force-complete/cleanup, and the hooks the job and listener threads call.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "agent/drivers/sim/sim_driver.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::sim {
namespace {

// 1,000 ended jobs: the controller asks about a job within its reconciliation window (minutes);
// even a full host drain is a few hundred migrations. ~1 KiB each keeps the state file small.
constexpr size_t kMaxRememberedJobs = 1000;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void ValidateSpec(const wire::LiveMigrationSpec& spec) {
  if (!IsUuid(spec.migration_uuid)) {
    throw Error(Errc::kBadRequest, "migration_uuid '" + spec.migration_uuid + "' is not a uuid");
  }
  if (!IsUuid(spec.domain.uuid)) {
    throw Error(Errc::kBadRequest, "domain uuid '" + spec.domain.uuid + "' is not a uuid");
  }
}

bool Terminal(const wire::LiveMigrationJob& job) { return job.state != "running"; }

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
    job.error = "ferry-agent restarted during the copy: the simulated job died with it and the "
                "guest stays on the source";
    job.transfer_rate_bps = 0;
    job.sampled_at = std::chrono::duration<double>(clock_.Now().time_since_epoch()).count();
    interrupted_.push_back(uuid);
    changed = true;
    if (auto d = domains.find(Lower(job.domain_uuid)); d != domains.end() && job.phase != "postcopy") {
      d->second.domain.power_state = wire::PowerState::kRunning;
    }
    spdlog::warn("ferry-sim: live migration interrupted by agent restart migration={} domain={}",
                 uuid, job.domain_uuid);
  }
  if (changed) CommitLocked(std::move(domains), std::move(jobs));
}

// ---- destination --------------------------------------------------------------------------

void SimDriver::CheckLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  const wire::Domain& d = spec.domain;
  if (config_.HasScenario(kScenarioPrecheckFails, d.uuid)) {
    throw Error(Errc::kConflict,
                "destination cannot host the guest (sim scenario precheck-fails)");
  }
  if (d.memory_mb > config_.memory_mb) {
    throw Error(Errc::kConflict, "guest needs " + std::to_string(d.memory_mb) +
                                     " MB of RAM; this host has " +
                                     std::to_string(config_.memory_mb) + " MB");
  }
  if (d.vcpus > config_.vcpus) {
    throw Error(Errc::kConflict, "guest needs " + std::to_string(d.vcpus) +
                                     " vCPUs; this host has " + std::to_string(config_.vcpus));
  }
  std::lock_guard lock(mu_);
  auto it = domains_.find(Lower(d.uuid));
  bool ours = it != domains_.end() && it->second.incoming &&
              it->second.migration_uuid == spec.migration_uuid;
  if (it != domains_.end() && !ours) {
    throw Error(Errc::kConflict, "domain " + d.uuid + " is already defined on this host");
  }
  if (spec.block_migration && !ours) {
    int64_t used_gb = 0;
    for (const auto& [uuid, dom] : domains_) used_gb += dom.domain.disk_gb;
    int64_t free_gb = config_.disk_gb - used_gb;
    if (d.disk_gb > free_gb) {
      throw Error(Errc::kConflict, "block migration needs " + std::to_string(d.disk_gb) +
                                       " GB of local disk; " + std::to_string(free_gb) +
                                       " GB free on this host");
    }
  }
}

std::string SimDriver::PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  if (config_.HasScenario(kScenarioPrepareFails, spec.domain.uuid)) {
    throw Error(Errc::kInternal, "preparing the destination failed (sim scenario prepare-fails)");
  }
  const std::string mig = spec.migration_uuid;
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it != domains_.end() && !(it->second.incoming && it->second.migration_uuid == mig)) {
    throw Error(Errc::kConflict, "domain " + uuid + " is already defined on this host" +
                                     (it->second.migration_uuid == mig
                                          ? " (this migration already switched over)"
                                          : ""));
  }
  if (auto l = incoming_.find(mig); l != incoming_.end()) return l->second->Uri();
  if (it == domains_.end()) {
    // Like libvirt's incoming domain: defined and paused until the switch-over.
    SimDomain incoming{spec.domain, config_.dirty_rate_bytes_per_s, mig, true};
    incoming.domain.uuid = uuid;
    incoming.domain.power_state = wire::PowerState::kPaused;
    auto next = domains_;
    next[uuid] = incoming;
    CommitLocked(std::move(next));
  }
  IncomingHooks hooks;
  hooks.on_start = [this, mig, uuid](const nlohmann::json&) { OnIncomingStart(mig, uuid); };
  hooks.on_arrived = [this, mig, uuid] { OnGuestArrived(mig, uuid); };
  auto listener = std::make_unique<IncomingMigration>(mig, config_.migration_address, hooks);
  std::string uri = listener->Uri();
  incoming_[mig] = std::move(listener);
  spdlog::info("ferry-sim: prepared incoming migration migration={} domain={} uri={}", mig, uuid,
               uri);
  return uri;
}

wire::Domain SimDriver::FinishLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  std::unique_ptr<IncomingMigration> listener;
  wire::Domain result;
  {
    std::lock_guard lock(mu_);
    auto it = domains_.find(uuid);
    if (it == domains_.end()) {
      throw Error(Errc::kConflict, "domain " + uuid + " is not on this host (never prepared, "
                                   "or rolled back)");
    }
    if (it->second.incoming) {
      throw Error(Errc::kConflict, "domain " + uuid + " has not switched over to this host yet");
    }
    if (it->second.migration_uuid != spec.migration_uuid) {
      throw Error(Errc::kConflict, "domain " + uuid + " did not arrive by migration " +
                                       spec.migration_uuid);
    }
    if (it->second.domain.power_state != wire::PowerState::kRunning) {
      auto next = domains_;
      next[uuid].domain.power_state = wire::PowerState::kRunning;
      CommitLocked(std::move(next));
    }
    result = domains_.at(uuid).domain;
    if (auto l = incoming_.find(spec.migration_uuid); l != incoming_.end()) {
      listener = std::move(l->second);
      incoming_.erase(l);
    }
  }
  listener.reset();  // joins the listener thread without the lock
  return result;
}

void SimDriver::RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  std::unique_ptr<IncomingMigration> listener;
  {
    std::lock_guard lock(mu_);
    if (auto l = incoming_.find(spec.migration_uuid); l != incoming_.end()) {
      listener = std::move(l->second);
      incoming_.erase(l);
    }
    auto it = domains_.find(uuid);
    if (it != domains_.end() && it->second.migration_uuid == spec.migration_uuid) {
      if (!it->second.incoming) {
        throw Error(Errc::kConflict, "domain " + uuid + " has switched over and runs on this "
                                     "host; rolling back would lose it");
      }
      auto next = domains_;
      next.erase(uuid);
      CommitLocked(std::move(next));
      spdlog::info("ferry-sim: rolled back incoming migration migration={} domain={}",
                   spec.migration_uuid, uuid);
    }
  }
  listener.reset();
}

void SimDriver::OnIncomingStart(const std::string& migration_uuid, const std::string& uuid) {
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end() || !it->second.incoming || it->second.migration_uuid != migration_uuid) {
    throw Error(Errc::kConflict, "migration " + migration_uuid + " is not prepared here");
  }
}

void SimDriver::OnGuestArrived(const std::string& migration_uuid, const std::string& uuid) {
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end() || it->second.migration_uuid != migration_uuid) {
    throw Error(Errc::kConflict, "migration " + migration_uuid + " was rolled back here");
  }
  auto next = domains_;
  next[uuid].incoming = false;
  next[uuid].domain.power_state = wire::PowerState::kRunning;
  CommitLocked(std::move(next));
}

// ---- source -------------------------------------------------------------------------------

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
      throw Error(Errc::kConflict, "domain " + uuid + " is already migrating (migration " + mig + ")");
    }
  }
  OutgoingJobFaults faults;
  faults.switchover_fails = config_.HasScenario(kScenarioSwitchoverFails, uuid);
  faults.die_past_half_copy = config_.HasScenario(kScenarioAgentDiesMidCopy, uuid);
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
    throw Error(Errc::kConflict, "migration " + migration_uuid + " has ended " +
                                     rec->second.state + "; nothing to force");
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
  if (rec == jobs_.end() || rec->second.state != "completed") {
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
      if (Terminal(it->second) && (oldest == jobs.end() ||
                                   it->second.sampled_at < oldest->second.sampled_at)) {
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
  // Completed: the destination confirmed the guest runs there, so it is no longer defined here.
  if (job.state == "completed") next.erase(Lower(job.domain_uuid));
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
    spdlog::error("ferry-sim: cannot persist power state of domain={} error=\"{}\"", uuid, e.what());
  }
}

}  // namespace ferry::agent::sim
