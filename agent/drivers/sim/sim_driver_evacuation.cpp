// SimDriver, evacuation: the guest of a host that died is rebuilt here from what the controller
// knows (its shared disks and volumes as last reported, or a fresh root disk from its image),
// marked with the evacuation; the host that comes back fences its stale copy and cleans it up.
#include <spdlog/spdlog.h>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_live_migration_util.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::sim {

using lm::Lower;

namespace {

void ValidateEvacuationSpec(const wire::EvacuationSpec& spec) {
  if (!IsUuid(spec.migration_uuid)) {
    throw Error(Errc::kBadRequest, "migration_uuid '" + spec.migration_uuid + "' is not a uuid");
  }
  if (!IsUuid(spec.domain.uuid)) {
    throw Error(Errc::kBadRequest, "domain uuid '" + spec.domain.uuid + "' is not a uuid");
  }
}

// The guest as rebuild defines it. A fresh root disk is local to this host ("vda", like the
// one create_domain's guests have); otherwise its disks are the shared ones and volumes every
// host sees, as listed. A local disk died with the source: it cannot be found here.
wire::Domain Rebuilt(const wire::EvacuationSpec& spec) {
  wire::Domain d = spec.domain;
  d.uuid = Lower(d.uuid);
  d.power_state = spec.power_on ? wire::PowerState::kRunning : wire::PowerState::kShutdown;
  if (spec.rebuild_from_image) {
    d.disks.clear();
    if (d.disk_gb > 0) {
      // The sim has no files: the path only says where a real host would keep it.
      d.disks.push_back({"vda", "/var/lib/ferry-sim/ferry-" + d.uuid + "-vda.img", "local",
                         d.disk_gb * kBytesPerGiB, "raw", ""});
    }
    return d;
  }
  if (d.disks.empty() && d.disk_gb > 0) {
    // A sim guest that reports no disks has a local root disk of disk_gb (sim_cold_disks.hpp).
    throw Error(Errc::kConflict, "domain " + d.uuid + " has a local root disk of " +
                                     std::to_string(d.disk_gb) +
                                     " GB (it reports no shared disk): rebuild it from its image");
  }
  for (const auto& disk : d.disks) {
    if (disk.kind != "shared" && disk.kind != "volume") {
      throw Error(Errc::kConflict, "disk " + disk.target + " of domain " + d.uuid + " is '" +
                                       disk.kind +
                                       "', not on storage this host sees: rebuild it from its "
                                       "image");
    }
  }
  return d;
}

}  // namespace

wire::Domain SimDriver::RebuildEvacuatedDomain(const wire::EvacuationSpec& spec) {
  ValidateEvacuationSpec(spec);
  const std::string mig = Lower(spec.migration_uuid);
  const std::string uuid = Lower(spec.domain.uuid);
  if (config_.HasScenario(kScenarioRebuildFails, uuid)) {
    throw Error(Errc::kConflict,
                "rebuilding the evacuated guest failed (sim scenario rebuild-fails); nothing "
                "defined");
  }
  std::lock_guard lock(mu_);
  if (auto it = domains_.find(uuid); it != domains_.end()) {
    if (it->second.migration_uuid == mig && !it->second.incoming) return it->second.domain;
    throw Error(Errc::kConflict, "domain " + uuid +
                                     " is already defined on this host, not by evacuation " + mig +
                                     ": it is never replaced");
  }
  SimDomain rebuilt{Rebuilt(spec), config_.dirty_rate_bytes_per_s, mig, false};
  rebuilt.content_generation = spec.power_on ? 1 : 0;  // a fresh boot writes to its disks
  auto next = domains_;
  next[uuid] = rebuilt;
  CommitLocked(std::move(next));
  spdlog::info(
      "ferry-sim: rebuilt evacuated domain migration={} domain={} from={} from_image={} "
      "image_ref={} disks={} power_on={}",
      mig, uuid, spec.source_host, spec.rebuild_from_image, spec.image_ref,
      rebuilt.domain.disks.size(), spec.power_on);
  return rebuilt.domain;
}

void SimDriver::RevertEvacuationDestination(const wire::EvacuationSpec& spec) {
  ValidateEvacuationSpec(spec);
  const std::string mig = Lower(spec.migration_uuid);
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return;
  // Only what this evacuation rebuilt: a guest of that uuid here otherwise is somebody else's.
  if (it->second.migration_uuid != mig || it->second.incoming) {
    spdlog::warn("ferry-sim: evacuation {}: domain {} is here but not rebuilt by it: left alone",
                 mig, uuid);
    return;
  }
  auto next = domains_;
  next.erase(uuid);
  CommitLocked(std::move(next));
  spdlog::info("ferry-sim: reverted evacuation migration={} domain={} on the destination", mig,
               uuid);
}

void SimDriver::CleanUpEvacuatedSource(const wire::EvacuationSpec& spec) {
  ValidateEvacuationSpec(spec);
  const std::string mig = Lower(spec.migration_uuid);
  const std::string uuid = Lower(spec.domain.uuid);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return;
  // The copy this evacuation rebuilt runs here: this host is its destination, not its source
  // (a command sent to the wrong host must not destroy the only running copy).
  if (it->second.migration_uuid == mig && !it->second.incoming) {
    throw Error(Errc::kConflict, "domain " + uuid + " here was rebuilt by evacuation " + mig +
                                     ": this host is its destination, not its source");
  }
  auto next = domains_;
  next.erase(uuid);
  CommitLocked(std::move(next));
  // The sim has no disk files; a real host deletes the local ones only when asked.
  spdlog::info(
      "ferry-sim: cleaned up the evacuated guest's stale copy migration={} domain={} "
      "delete_local_disks={}",
      mig, uuid, spec.delete_local_disks);
}

void SimDriver::FenceEvacuatedDomain(const std::string& uuid_in) {
  if (!IsUuid(uuid_in))
    throw Error(Errc::kBadRequest, "domain uuid '" + uuid_in + "' is not a uuid");
  const std::string uuid = Lower(uuid_in);
  std::lock_guard lock(mu_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return;
  const wire::PowerState power = it->second.domain.power_state;
  if (power != wire::PowerState::kRunning && power != wire::PowerState::kPaused) return;
  auto next = domains_;
  next[uuid].domain.power_state = wire::PowerState::kShutdown;  // destroyed: no graceful shutdown
  CommitLocked(std::move(next));
  spdlog::warn("ferry-sim: fenced evacuated domain {}: destroyed (it runs elsewhere now)", uuid);
}

}  // namespace ferry::agent::sim
