// SimDriver, cold migration at the source: power off, the disk copy (a job of the shared
// registry, resumed after an agent restart), abort, confirm and revert.
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_live_migration_util.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {

using lm::Lower;

namespace {

// 200 ms: a guest that honours the ACPI power button (the modelled graceful shutdown).
constexpr std::chrono::milliseconds kGracefulShutdown{200};
// 20 ms: how often a hung shutdown looks at the (injected) clock.
constexpr std::chrono::milliseconds kShutdownPoll{20};

}  // namespace

void SimDriver::PowerOffForColdMigration(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  {
    std::lock_guard lock(mu_);
    auto it = domains_.find(uuid);
    if (it == domains_.end()) throw Error(Errc::kNotFound, "domain " + uuid + " is not here");
    if (it->second.domain.power_state != wire::PowerState::kRunning) return;  // off already
  }
  std::string how = "graceful";
  if (config_.HasScenario(kScenarioColdShutdownHangs, uuid)) {
    // The guest ignores the power button: wait the spec's timeout, then pull the plug.
    const TimePoint deadline = clock_.Now() + std::chrono::seconds(spec.shutdown_timeout_s);
    while (clock_.Now() < deadline) std::this_thread::sleep_for(kShutdownPoll);
    how = "destroyed";
    spdlog::warn(
        "ferry-sim: guest {} did not shut down within {} s; destroyed it (sim scenario "
        "cold-shutdown-hangs)",
        uuid, spec.shutdown_timeout_s);
  } else {
    std::this_thread::sleep_for(kGracefulShutdown);
  }
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) throw Error(Errc::kNotFound, "domain " + uuid + " is gone");
  auto next = domains_;
  next[uuid].domain.power_state = wire::PowerState::kShutdown;
  next[uuid].last_shutdown = how;
  CommitLocked(std::move(next));
  spdlog::info("ferry-sim: powered off for cold migration migration={} domain={} how={}",
               spec.migration_uuid, uuid, how);
}

void SimDriver::StartColdMigrationCopy(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  if (spec.shared_storage) {
    throw Error(Errc::kConflict, "migration " + spec.migration_uuid +
                                     " keeps its disks on shared storage: nothing to copy");
  }
  if (spec.receive_uri.empty()) {
    throw Error(Errc::kBadRequest, "start_cold_migration_copy needs receive_uri (from prepare)");
  }
  jobs_.StartColdCopy(spec);
}

nlohmann::json SimDriver::CheckColdCopyStart(const JobRecord& job) {
  const std::string uuid = Lower(job.spec.domain.uuid);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end() || it->second.incoming) {
    throw Error(Errc::kConflict, "domain " + uuid + " is not defined on this host");
  }
  if (it->second.domain.power_state != wire::PowerState::kShutdown) {
    throw Error(Errc::kConflict, "domain " + uuid + " is not shut off; power it off first");
  }
  return nlohmann::json::object();
}

void SimDriver::LaunchColdCopyLocked(const JobRecord& job) {
  const std::string uuid = Lower(job.spec.domain.uuid);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) throw Error(Errc::kConflict, "domain " + uuid + " is not on this host");
  ColdCopyInput in;
  in.spec = *job.cold;
  // What the guest here holds now, not what the controller believes: the destination verifies it.
  in.disks = ColdDisksOf(it->second.domain);
  in.generation = it->second.content_generation;
  in.rate_bytes_per_s = config_.link_bandwidth_bytes_per_s;
  if (job.cold->bandwidth_mibps > 0) {
    in.rate_bytes_per_s = std::min(in.rate_bytes_per_s, job.cold->bandwidth_mibps * kBytesPerMiB);
  }
  in.link_breaks_at_half = config_.HasScenario(kScenarioColdCopyBreaks, uuid);
  auto copy = std::make_unique<ColdCopyJob>(
      std::move(in), [this](const wire::LiveMigrationJob& end) { OnColdCopyEnded(end); }, clock_);
  copy->Start();
  cold_copies_[job.spec.migration_uuid] = std::move(copy);
}

void SimDriver::OnColdCopyEnded(const wire::LiveMigrationJob& job) {
  // Nothing moves on the source: the guest stays defined and off here until confirm or revert.
  jobs_.End(job.migration_uuid, job);
}

std::optional<wire::LiveMigrationJob> SimDriver::RecoverColdCopy(const JobRecord& job) {
  wire::LiveMigrationJob out = job.last;
  out.transfer_rate_bps = 0;
  out.sampled_at = std::chrono::duration<double>(clock_.Now().time_since_epoch()).count();
  if (job.abort_requested) {
    out.state = "cancelled";
    out.error = "aborted while the agent restarted";
    return out;
  }
  std::lock_guard lock(mu_);
  auto it = domains_.find(Lower(job.spec.domain.uuid));
  if (it == domains_.end() || it->second.domain.power_state != wire::PowerState::kShutdown) {
    out.state = "failed";
    out.error = it == domains_.end()
                    ? "ferry-agent restarted during the copy and the guest is no longer here"
                    : "ferry-agent restarted during the copy and the guest runs again here: "
                      "its disks changed, the copy cannot resume";
    return out;
  }
  // The copy's thread died with the previous process; the destination kept every byte it got.
  to_resume_.push_back(job.spec.migration_uuid);
  return std::nullopt;
}

void SimDriver::ResumeColdCopies() {
  std::vector<std::string> resume;
  {
    std::lock_guard lock(mu_);
    resume.swap(to_resume_);
  }
  for (const auto& migration : resume) {
    auto record = jobs_.Find(migration);
    if (!record || record->Ended()) continue;
    try {
      std::lock_guard lock(mu_);
      LaunchColdCopyLocked(*record);
      spdlog::info("ferry-sim: resuming cold copy after a restart migration={}", migration);
    } catch (const std::exception& e) {
      wire::LiveMigrationJob failed = record->last;
      failed.state = "failed";
      failed.error = std::string("the copy could not resume after a restart: ") + e.what();
      jobs_.End(migration, failed);
    }
  }
}

void SimDriver::AbortColdMigrationCopy(const std::string& migration_uuid) {
  jobs_.Abort(migration_uuid);
}

void SimDriver::ConfirmColdMigrationSource(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  const auto copy = jobs_.Find(spec.migration_uuid);  // before mu_ (the registry's lock order)
  if (copy && !copy->Ended()) {
    throw Error(Errc::kConflict, "migration " + spec.migration_uuid + " is still copying disks");
  }
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return;
  if (it->second.domain.power_state != wire::PowerState::kShutdown) {
    throw Error(Errc::kConflict,
                "domain " + uuid + " runs on this host; deleting it would lose it");
  }
  auto next = domains_;
  next.erase(uuid);
  CommitLocked(std::move(next));
  spdlog::info("ferry-sim: confirmed cold migration migration={}: source copy of {} deleted",
               spec.migration_uuid, uuid);
}

wire::Domain SimDriver::RevertColdMigrationSource(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  const std::string uuid = Lower(spec.domain.uuid);
  const auto copy = jobs_.Find(spec.migration_uuid);
  if (copy && !copy->Ended()) {
    throw Error(Errc::kConflict, "migration " + spec.migration_uuid +
                                     " is still copying this guest's disks; abort the copy first");
  }
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) {
    throw Error(Errc::kNotFound, "domain " + uuid + " is no longer defined here (confirmed?)");
  }
  if (spec.power_on && it->second.domain.power_state != wire::PowerState::kRunning) {
    auto next = domains_;
    next[uuid].domain.power_state = wire::PowerState::kRunning;
    ++next[uuid].content_generation;  // it runs, so it writes
    CommitLocked(std::move(next));
    spdlog::info("ferry-sim: reverted cold migration migration={}: {} runs here again",
                 spec.migration_uuid, uuid);
  }
  return domains_.at(uuid).domain;
}

}  // namespace ferry::agent::sim
