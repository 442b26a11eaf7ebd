// SimDriver, live migration at the destination: check, prepare (the incoming listener),
// finish, rollback, and the hooks the listener thread calls.
#include <spdlog/spdlog.h>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_live_migration_util.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {

using lm::Lower;
using lm::ValidateSpec;

void SimDriver::CheckLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  ValidateSpec(spec);
  const wire::Domain& d = spec.domain;
  if (config_.HasScenario(kScenarioPrecheckFails, d.uuid)) {
    throw Error(Errc::kConflict, "destination cannot host the guest (sim scenario precheck-fails)");
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
    throw Error(
        Errc::kConflict,
        "domain " + uuid + " is already defined on this host" +
            (it->second.migration_uuid == mig ? " (this migration already switched over)" : ""));
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
  hooks.on_postcopy_broken = [this, mig, uuid] { OnPostcopyBroken(mig, uuid); };
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
      throw Error(Errc::kConflict, "domain " + uuid +
                                       " is not on this host (never prepared, "
                                       "or rolled back)");
    }
    if (it->second.incoming) {
      throw Error(Errc::kConflict, "domain " + uuid + " has not switched over to this host yet");
    }
    if (it->second.migration_uuid != spec.migration_uuid) {
      throw Error(Errc::kConflict,
                  "domain " + uuid + " did not arrive by migration " + spec.migration_uuid);
    }
    if (it->second.postcopy_failed) {
      throw Error(Errc::kConflict, "domain " + uuid +
                                       " is paused: its post-copy failed before "
                                       "every page arrived; it needs a restart");
    }
    if (config_.HasScenario(kScenarioFinishFails, uuid)) {
      throw Error(Errc::kInternal,
                  "finishing the migration on the destination failed (sim "
                  "scenario finish-fails); the guest runs here");
    }
    if (config_.HasScenario(kScenarioFinishFailsPaused, uuid)) {
      auto next = domains_;
      next[uuid].domain.power_state = wire::PowerState::kPaused;
      CommitLocked(std::move(next));
      throw Error(Errc::kInternal,
                  "resuming the guest on the destination failed (sim scenario "
                  "finish-fails-paused); it is paused here");
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
        throw Error(Errc::kConflict, "domain " + uuid +
                                         " has switched over and runs on this "
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

void SimDriver::OnPostcopyBroken(const std::string& migration_uuid, const std::string& uuid) {
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end() || it->second.migration_uuid != migration_uuid) return;
  auto next = domains_;
  next[uuid].domain.power_state = wire::PowerState::kPaused;
  next[uuid].postcopy_failed = true;
  CommitLocked(std::move(next));
}

}  // namespace ferry::agent::sim
