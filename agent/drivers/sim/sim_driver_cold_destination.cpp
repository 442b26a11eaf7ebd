// SimDriver, cold migration at the destination: prepare (room for the new flavor, a listener
// for the disks), the listener's hooks (token, offsets, chunks, digest), finish (verify,
// define with the new flavor, start) and revert.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_live_migration_util.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {

using lm::Lower;

namespace {

int64_t UsedMemoryMb(const std::map<std::string, SimDomain>& domains) {
  int64_t used = 0;
  for (const auto& [uuid, d] : domains) {
    if (d.domain.power_state == wire::PowerState::kRunning ||
        d.domain.power_state == wire::PowerState::kPaused) {
      used += d.domain.memory_mb;
    }
  }
  return used;
}

// The guest as finish defines it: the new flavor, its local root disk grown to the new size.
wire::Domain Resized(const wire::ColdMigrationSpec& spec) {
  wire::Domain d = spec.domain;
  d.uuid = Lower(d.uuid);
  d.vcpus = spec.new_vcpus;
  d.memory_mb = spec.new_memory_mb;
  d.disk_gb = spec.new_disk_gb;
  const int64_t new_bytes = spec.new_disk_gb * kBytesPerGiB;
  for (auto& disk : d.disks) {
    if (disk.target == "vda" && disk.kind != "volume" && disk.capacity_bytes < new_bytes) {
      disk.capacity_bytes = new_bytes;
    }
  }
  d.power_state = spec.power_on ? wire::PowerState::kRunning : wire::PowerState::kShutdown;
  return d;
}

}  // namespace

std::string SimDriver::PrepareColdMigrationDestination(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  const std::string mig = Lower(spec.migration_uuid);
  const std::string uuid = Lower(spec.domain.uuid);
  const std::string token_sha256 = Sha256Hex(spec.transfer_token);
  std::unique_ptr<ColdReceiver> orphan;  // declared first: destroyed after the lock is released
  std::lock_guard lock(mu_);
  if (auto d = domains_.find(uuid); d != domains_.end()) {
    throw Error(Errc::kConflict,
                "domain " + uuid + " is already defined on this host" +
                    (d->second.migration_uuid == mig ? " (this migration finished here)" : ""));
  }
  if (auto r = receives_.find(mig); r != receives_.end()) {
    if (!ConstantTimeEquals(r->second.token_sha256, token_sha256)) {
      throw Error(Errc::kConflict, "migration " + mig + " was prepared with another token");
    }
    if (r->second.shared_storage) return "";
    if (receivers_.count(mig) == 0) {  // its old port was taken while the agent restarted
      auto next = receives_;
      OpenReceiverLocked(next.at(mig), 0);
      CommitLocked(domains_, std::move(next));
    }
    return receivers_.at(mig)->Uri();
  }
  // The same scenario as a live migration's prepare: this host refuses to receive the guest.
  if (config_.HasScenario(kScenarioPrepareFails, spec.domain.uuid)) {
    throw Error(Errc::kInternal, "preparing the destination failed (sim scenario prepare-fails)");
  }
  if (spec.new_vcpus > config_.vcpus) {
    throw Error(Errc::kConflict, "the new flavor needs " + std::to_string(spec.new_vcpus) +
                                     " vCPUs; this host has " + std::to_string(config_.vcpus));
  }
  const int64_t free_mb = config_.memory_mb - UsedMemoryMb(domains_);
  if (spec.new_memory_mb > free_mb) {
    throw Error(Errc::kConflict, "the new flavor needs " + std::to_string(spec.new_memory_mb) +
                                     " MB of RAM; " + std::to_string(free_mb) +
                                     " MB free on this host");
  }
  SimColdReceive receive;
  receive.migration_uuid = mig;
  receive.domain_uuid = uuid;
  receive.token_sha256 = token_sha256;
  receive.shared_storage = spec.shared_storage;
  if (!spec.shared_storage) {
    const int64_t free_gb = FreeDiskGbLocked();
    if (spec.new_disk_gb > free_gb) {
      throw Error(Errc::kConflict, "the new flavor needs " + std::to_string(spec.new_disk_gb) +
                                       " GB of local disk; " + std::to_string(free_gb) +
                                       " GB free on this host");
    }
    receive.reserved_gb = spec.new_disk_gb;
    for (const auto& d : ColdDisksOf(spec.domain)) receive.disks.push_back({d.target, d.bytes, 0});
    OpenReceiverLocked(receive, 0);  // before it is recorded: its port is part of the record
  }
  auto next = receives_;
  next[mig] = receive;
  try {
    CommitLocked(domains_, std::move(next));
  } catch (...) {
    orphan = std::move(receivers_[mig]);
    receivers_.erase(mig);
    throw;
  }
  spdlog::info("ferry-sim: prepared cold migration migration={} domain={} shared_storage={}", mig,
               uuid, spec.shared_storage);
  return spec.shared_storage ? "" : receivers_.at(mig)->Uri();
}

void SimDriver::OpenReceiverLocked(SimColdReceive& receive, int port) {
  const std::string mig = receive.migration_uuid;
  ColdReceiveHooks hooks;
  hooks.on_hello = [this, mig](const std::string& token, const std::vector<ColdDisk>& disks) {
    return OnColdHello(mig, token, disks);
  };
  hooks.on_chunk = [this, mig](const std::string& disk, int64_t offset, int64_t length,
                               int64_t generation) {
    OnColdChunk(mig, disk, offset, length, generation);
  };
  hooks.on_done = [this, mig](const std::string& digest) { OnColdDone(mig, digest); };
  auto receiver = std::make_unique<ColdReceiver>(mig, config_.migration_address, port, hooks);
  receive.port = receiver->Port();
  receivers_[mig] = std::move(receiver);
}

std::vector<int64_t> SimDriver::OnColdHello(const std::string& mig, const std::string& token,
                                            const std::vector<ColdDisk>& disks) {
  std::lock_guard lock(mu_);
  auto r = receives_.find(mig);
  if (r == receives_.end()) {
    throw Error(Errc::kConflict, "migration " + mig + " is not prepared here (reverted?)");
  }
  if (!ConstantTimeEquals(Sha256Hex(token), r->second.token_sha256)) {
    throw Error(Errc::kUnauthorized, "wrong transfer token for migration " + mig);
  }
  const auto& expected = r->second.disks;
  bool same = disks.size() == expected.size();
  for (size_t i = 0; same && i < disks.size(); ++i) {
    same = disks[i].target == expected[i].target && disks[i].bytes == expected[i].bytes;
  }
  if (!same) {
    throw Error(Errc::kConflict, "the source sends other disks than prepare expected");
  }
  std::vector<int64_t> have;
  for (const auto& d : expected) have.push_back(d.received);
  return have;
}

void SimDriver::OnColdChunk(const std::string& mig, const std::string& disk, int64_t offset,
                            int64_t length, int64_t generation) {
  std::lock_guard lock(mu_);
  auto r = receives_.find(mig);
  if (r == receives_.end()) throw Error(Errc::kConflict, "migration " + mig + " was reverted");
  auto next = receives_;
  SimColdReceive& receive = next.at(mig);
  auto d = std::find_if(receive.disks.begin(), receive.disks.end(),
                        [&](const SimReceivedDisk& x) { return x.target == disk; });
  if (d == receive.disks.end()) throw Error(Errc::kBadRequest, "no disk '" + disk + "' expected");
  // In order and inside the disk: offset is what is here, so nothing is written twice or skipped.
  if (offset != d->received || length <= 0 || length > d->bytes - d->received) {
    throw Error(Errc::kBadRequest, "chunk of " + disk + " at " + std::to_string(offset) + "+" +
                                       std::to_string(length) + " does not follow the " +
                                       std::to_string(d->received) + " bytes here");
  }
  d->received += length;
  if (receive.generation == kNoGeneration) {
    receive.generation = generation;
  } else if (receive.generation != generation) {
    receive.generation = kMixedGeneration;  // two contents: it can never verify
  }
  receive.complete = false;
  CommitLocked(domains_, std::move(next));
  wire_bytes_[mig] += length;
}

void SimDriver::OnColdDone(const std::string& mig, const std::string& digest) {
  std::lock_guard lock(mu_);
  auto r = receives_.find(mig);
  if (r == receives_.end()) throw Error(Errc::kConflict, "migration " + mig + " was reverted");
  for (const auto& d : r->second.disks) {
    if (d.received != d.bytes) {
      throw Error(Errc::kConflict, "disk " + d.target + " has " + std::to_string(d.received) +
                                       " of " + std::to_string(d.bytes) + " bytes here");
    }
  }
  auto next = receives_;
  next.at(mig).claimed_digest = digest;
  next.at(mig).complete = true;
  CommitLocked(domains_, std::move(next));
}

wire::Domain SimDriver::FinishColdMigrationDestination(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  const std::string mig = Lower(spec.migration_uuid);
  const std::string uuid = Lower(spec.domain.uuid);
  std::unique_ptr<ColdReceiver> listener;
  wire::Domain result;
  {
    std::lock_guard lock(mu_);
    if (auto d = domains_.find(uuid); d != domains_.end()) {
      if (d->second.migration_uuid == mig && !d->second.incoming) return d->second.domain;
      throw Error(Errc::kConflict, "domain " + uuid + " is already defined on this host");
    }
    auto r = receives_.find(mig);
    if (r == receives_.end()) {
      throw Error(Errc::kConflict, "migration " + mig + " is not prepared here (reverted?)");
    }
    const SimColdReceive& receive = r->second;
    int64_t generation = 0;
    if (!receive.shared_storage) {
      if (!receive.complete) {
        throw Error(Errc::kConflict, "the disks of migration " + mig + " have not all arrived");
      }
      std::vector<ColdDisk> disks;
      for (const auto& d : receive.disks) disks.push_back({d.target, d.bytes});
      std::string here = ColdDiskDigest(uuid, disks, receive.generation);
      if (config_.HasScenario(kScenarioColdChecksumMismatch, uuid)) here = Sha256Hex(here);
      if (!ConstantTimeEquals(here, receive.claimed_digest)) {
        throw Error(Errc::kConflict, "the disks received do not verify: SHA-256 " + here +
                                         " here, " + receive.claimed_digest +
                                         " sent by the source; nothing defined");
      }
      generation = receive.generation;
    }
    if (config_.HasScenario(kScenarioColdDefineFails, uuid)) {
      throw Error(Errc::kInternal,
                  "defining the guest failed (sim scenario cold-define-fails); nothing defined");
    }
    SimDomain defined{Resized(spec), config_.dirty_rate_bytes_per_s, mig, false};
    defined.content_generation = generation + (spec.power_on ? 1 : 0);
    auto next = domains_;
    next[uuid] = defined;
    auto next_receives = receives_;
    next_receives.erase(mig);  // its disks are the guest's now
    CommitLocked(std::move(next), std::move(next_receives));
    result = defined.domain;
    if (auto l = receivers_.find(mig); l != receivers_.end()) {
      listener = std::move(l->second);
      receivers_.erase(l);
    }
  }
  listener.reset();  // joins its thread without the lock
  spdlog::info(
      "ferry-sim: finished cold migration migration={} domain={} vcpus={} memory_mb={} "
      "disk_gb={} power_on={}",
      mig, uuid, result.vcpus, result.memory_mb, result.disk_gb, spec.power_on);
  return result;
}

void SimDriver::RevertColdMigrationDestination(const wire::ColdMigrationSpec& spec) {
  ValidateColdSpec(spec);
  const std::string mig = Lower(spec.migration_uuid);
  const std::string uuid = Lower(spec.domain.uuid);
  std::unique_ptr<ColdReceiver> listener;
  {
    std::lock_guard lock(mu_);
    if (auto l = receivers_.find(mig); l != receivers_.end()) {
      listener = std::move(l->second);
      receivers_.erase(l);
    }
    auto next = domains_;
    auto d = next.find(uuid);
    // Only what this move made: a guest of that uuid defined here otherwise is somebody else's.
    if (d != next.end() && d->second.migration_uuid == mig && !d->second.incoming) next.erase(d);
    auto next_receives = receives_;
    next_receives.erase(mig);
    if (next.size() != domains_.size() || next_receives.size() != receives_.size()) {
      CommitLocked(std::move(next), std::move(next_receives));
      spdlog::info("ferry-sim: reverted cold migration migration={} domain={} on the destination",
                   mig, uuid);
    }
  }
  listener.reset();
}

std::string SimDriver::LastShutdownForTest(const std::string& uuid) const {
  std::lock_guard lock(mu_);
  auto it = domains_.find(Lower(uuid));
  return it == domains_.end() ? "" : it->second.last_shutdown;
}

std::vector<int64_t> SimDriver::ReceivedBytesForTest(const std::string& migration_uuid) const {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  auto r = receives_.find(Lower(migration_uuid));
  if (r != receives_.end()) {
    for (const auto& d : r->second.disks) out.push_back(d.received);
  }
  return out;
}

int64_t SimDriver::WireBytesForTest(const std::string& migration_uuid) const {
  std::lock_guard lock(mu_);
  auto it = wire_bytes_.find(Lower(migration_uuid));
  return it == wire_bytes_.end() ? 0 : it->second;
}

}  // namespace ferry::agent::sim
