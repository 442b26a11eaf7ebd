#include "agent/drivers/sim/sim_driver.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::sim {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Power state is the hypervisor's to report, not a creation parameter: a retried create of a
// guest that has since been stopped is still the same guest.
bool SameParameters(const wire::Domain& a, const wire::Domain& b) {
  return a.name == b.name && a.vcpus == b.vcpus && a.memory_mb == b.memory_mb &&
         a.disk_gb == b.disk_gb;
}

std::string Describe(const wire::Domain& d) {
  return "name=" + d.name + " vcpus=" + std::to_string(d.vcpus) +
         " memory_mb=" + std::to_string(d.memory_mb) + " disk_gb=" + std::to_string(d.disk_gb);
}

void Validate(const wire::Domain& d) {
  if (!IsUuid(d.uuid)) throw Error(Errc::kBadRequest, "domain uuid '" + d.uuid + "' is not a uuid");
  if (d.vcpus < 1) throw Error(Errc::kBadRequest, "domain vcpus must be >= 1");
  if (d.memory_mb < 1) throw Error(Errc::kBadRequest, "domain memory_mb must be >= 1");
  if (d.disk_gb < 0) throw Error(Errc::kBadRequest, "domain disk_gb must be >= 0");
}

std::vector<SimDomain> Values(const std::map<std::string, SimDomain>& m) {
  std::vector<SimDomain> out;
  out.reserve(m.size());
  for (const auto& [uuid, d] : m) out.push_back(d);
  return out;
}

}  // namespace

SimDriver::SimDriver(SimConfig config, Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      state_(config_.state_dir),
      jobs_(config_.state_dir + "/migration-jobs", *this, clock_) {
  spdlog::info(
      "ferry-sim: simulated hypervisor, no real guests run here state_dir={} vcpus={} "
      "memory_mb={} disk_gb={} link_bandwidth_bytes_per_s={} dirty_rate_bytes_per_s={}",
      config_.state_dir, config_.vcpus, config_.memory_mb, config_.disk_gb,
      config_.link_bandwidth_bytes_per_s, config_.dirty_rate_bytes_per_s);
  if (state_.Exists()) {
    SimState loaded = state_.Load();
    for (auto& d : loaded.domains) domains_[Lower(d.domain.uuid)] = std::move(d);
    for (auto& r : loaded.cold_receives) receives_[Lower(r.migration_uuid)] = std::move(r);
    ImportJobsOfOldStateFile(std::move(loaded.jobs));
    if (!config_.foreign_domains.empty()) {
      spdlog::info("ferry-sim: state exists, --sim-domain ignored (applies at first start only)");
    }
  } else {
    std::map<std::string, SimDomain> initial;
    for (auto d : config_.foreign_domains) {
      Validate(d);
      d.uuid = Lower(d.uuid);
      spdlog::info("ferry-sim: simulated foreign domain uuid={} {}", d.uuid, Describe(d));
      initial[d.uuid] = SimDomain{d, config_.dirty_rate_bytes_per_s, "", false};
    }
    std::lock_guard lock(mu_);
    CommitLocked(std::move(initial));  // writes the file even when empty: first start is done
  }
  {
    // A copy still under way when the agent stopped reconnects to where it listened.
    std::lock_guard lock(mu_);
    for (auto& [migration, receive] : receives_) {
      if (receive.shared_storage || receive.complete) continue;
      try {
        OpenReceiverLocked(receive, receive.port);
      } catch (const Error& e) {
        spdlog::warn(
            "ferry-sim: cold migration {}: cannot listen on port {} again ({}); a "
            "repeated prepare listens elsewhere",
            migration, receive.port, e.what());
      }
    }
  }
  jobs_.Recover();
  ResumeColdCopies();
  spdlog::info("ferry-sim: simulated hypervisor ready domains={}", domains_.size());
}

DriverInfo SimDriver::Info() {
  DriverInfo info;
  info.hypervisor_type = kHypervisorType;
  info.hypervisor_version = kHypervisorVersion;
  info.simulated = true;
  info.vcpus = config_.vcpus;
  info.memory_mb = config_.memory_mb;
  info.local_gb = config_.disk_gb;
  // All sim hosts share one CPU model so the scheduler's CPU-compatibility filter passes.
  info.cpu = wire::CpuInfo{"x86_64", "ferry-sim", "ferry-sim-cpu", {}};
  int64_t free_gb = 0;
  {
    std::lock_guard lock(mu_);
    free_gb = FreeDiskGbLocked();
  }
  info.datastores.push_back(
      wire::Datastore{"sim-local", "local", config_.disk_gb, std::max<int64_t>(0, free_gb)});
  return info;
}

std::vector<wire::Domain> SimDriver::ListDomains() {
  std::lock_guard lock(mu_);
  std::vector<wire::Domain> out;
  out.reserve(domains_.size());
  for (const auto& [uuid, d] : domains_) out.push_back(d.domain);
  return out;
}

// No capacity check: like a real hypervisor the sim lets the controller overcommit (allocation
// ratios and claims are the scheduler's job), and refusing here would hide scheduler bugs.
wire::Domain SimDriver::CreateDomain(const wire::Domain& requested) {
  Validate(requested);
  wire::Domain d = requested;
  d.uuid = Lower(d.uuid);
  d.power_state = wire::PowerState::kRunning;  // Nova's spawn boots the guest
  if (config_.HasScenario(kScenarioCreateSlow, d.uuid)) {
    // Before the domain exists, outside the lock: a delete meanwhile finds nothing, as on a
    // hypervisor still copying the image.
    spdlog::info("ferry-sim: create-slow uuid={} ms={}", d.uuid, config_.create_slow_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(config_.create_slow_ms));
  }
  std::lock_guard lock(mu_);
  if (auto it = domains_.find(d.uuid); it != domains_.end()) {
    if (SameParameters(it->second.domain, d)) return it->second.domain;
    throw Error(Errc::kConflict, "domain " + d.uuid + " exists with different parameters (" +
                                     Describe(it->second.domain) + ")");
  }
  auto next = domains_;
  next[d.uuid] = SimDomain{d, config_.dirty_rate_bytes_per_s, "", false};
  next[d.uuid].content_generation = 1;  // booted: it has written to its disks
  CommitLocked(std::move(next));
  spdlog::info("ferry-sim: created simulated domain uuid={} {}", d.uuid, Describe(d));
  return d;
}

void SimDriver::DeleteDomain(const std::string& uuid) {
  if (!IsUuid(uuid)) throw Error(Errc::kBadRequest, "domain uuid '" + uuid + "' is not a uuid");
  std::string key = Lower(uuid);
  std::lock_guard lock(mu_);
  if (domains_.count(key) == 0) return;
  auto next = domains_;
  next.erase(key);
  CommitLocked(std::move(next));
  spdlog::info("ferry-sim: deleted simulated domain uuid={}", key);
}

int64_t SimDriver::DirtyRateBytesPerSecond(const std::string& uuid) const {
  std::lock_guard lock(mu_);
  auto it = domains_.find(Lower(uuid));
  if (it == domains_.end()) throw Error(Errc::kNotFound, "no domain " + uuid);
  return it->second.dirty_rate_bytes_per_s;
}

void SimDriver::CommitLocked(Domains next) { CommitLocked(std::move(next), receives_); }

void SimDriver::CommitLocked(Domains next, Receives next_receives) {
  SimState state{Values(next), {}, {}};
  for (const auto& [migration, r] : next_receives) state.cold_receives.push_back(r);
  state_.Save(state);
  domains_ = std::move(next);
  receives_ = std::move(next_receives);
}

// Disks of defined guests, and the new flavor's disk of each cold migration being received
// (its disks are written here before the guest is defined).
int64_t SimDriver::FreeDiskGbLocked() const {
  int64_t used_gb = 0;
  for (const auto& [uuid, d] : domains_) used_gb += d.domain.disk_gb;
  for (const auto& [migration, r] : receives_) used_gb += r.reserved_gb;
  return config_.disk_gb - used_gb;
}

void SimDriver::ImportJobsOfOldStateFile(std::vector<wire::LiveMigrationJob> jobs) {
  if (jobs.empty()) return;
  JobJournal journal(config_.state_dir + "/migration-jobs");
  for (auto& job : jobs) {
    JobRecord record;
    record.spec.migration_uuid = job.migration_uuid;
    record.spec.domain.uuid = job.domain_uuid;
    record.last = std::move(job);
    record.ended_at = record.Ended() ? record.last.sampled_at : 0;
    if (!journal.Put(record)) {
      throw Error(Errc::kInternal,
                  "cannot move the job records of " + state_.Path() + " to the job journal");
    }
  }
  std::lock_guard lock(mu_);
  CommitLocked(domains_);  // rewritten without its jobs
  spdlog::info("ferry-sim: moved {} job records to {}/migration-jobs", jobs.size(),
               config_.state_dir);
}

}  // namespace ferry::agent::sim
