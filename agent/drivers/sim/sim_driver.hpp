#pragma once
// ferry-sim: a modelled hypervisor. It runs no guests; it keeps a persistent list of domains and
// models live migration in real time (sim_migration_model.hpp) over a real TCP link between
// source and destination (sim_migration_link.hpp). It says it is a simulation wherever it
// shows: hypervisor_type "ferry-sim", simulated=true, and its start-up log line.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/driver.hpp"
#include "agent/drivers/sim/sim_config.hpp"
#include "agent/drivers/sim/sim_incoming_migration.hpp"
#include "agent/drivers/sim/sim_migration_model.hpp"
#include "agent/drivers/sim/sim_outgoing_job.hpp"
#include "agent/drivers/sim/sim_state_file.hpp"
#include "common/clock.hpp"

namespace ferry::agent::sim {

inline constexpr const char* kHypervisorType = "ferry-sim";
// Nova's integer form of the sim model's version, 0.1.0 (major*1000000 + minor*1000 + micro).
inline constexpr int64_t kHypervisorVersion = 1000;

class SimDriver final : public Driver {
 public:
  // Loads the state dir, or creates it with the configured foreign domains on first start.
  // Throws ferry::Error when the state dir is unusable, locked or corrupt.
  // Jobs that were running when the agent last stopped are recorded as failed (their thread
  // died with the process; the guest never left the source).
  explicit SimDriver(SimConfig config, Clock& clock = DefaultClock());
  // Stops job threads and incoming listeners; running jobs end without an outcome.
  ~SimDriver() override;
  SimDriver(const SimDriver&) = delete;
  SimDriver& operator=(const SimDriver&) = delete;

  DriverInfo Info() override;
  std::vector<wire::Domain> ListDomains() override;
  wire::Domain CreateDomain(const wire::Domain& domain) override;
  void DeleteDomain(const std::string& uuid) override;

  void CheckLiveMigrationDestination(const wire::LiveMigrationSpec& spec) override;
  std::string PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& spec) override;
  void StartLiveMigration(const wire::LiveMigrationSpec& spec) override;
  std::optional<wire::LiveMigrationJob> LiveMigrationJobStats(
      const std::string& migration_uuid) override;
  std::vector<wire::LiveMigrationJob> LiveMigrationJobsToReport() override;
  void AbortLiveMigration(const std::string& migration_uuid) override;
  void ForceCompleteLiveMigration(const std::string& migration_uuid,
                                  bool permit_post_copy) override;
  wire::Domain FinishLiveMigrationDestination(const wire::LiveMigrationSpec& spec) override;
  void CleanupLiveMigrationSource(const wire::LiveMigrationSpec& spec) override;
  void RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& spec) override;

  int64_t LinkBandwidthBytesPerSecond() const { return config_.link_bandwidth_bytes_per_s; }
  // Throws ferry::Error(kNotFound) for an unknown uuid.
  int64_t DirtyRateBytesPerSecond(const std::string& uuid) const;

 private:
  using Domains = std::map<std::string, SimDomain>;
  using Jobs = std::map<std::string, wire::LiveMigrationJob>;

  // Persists `next` and only then makes it current, so a failed write changes nothing.
  void CommitLocked(Domains next);
  void CommitLocked(Domains next, Jobs next_jobs);
  // At load: a job recorded running died with the previous agent process.
  void FailInterruptedJobs();
  // Hooks run on job and listener threads.
  void OnJobEnded(const wire::LiveMigrationJob& job);
  void OnSourcePower(const std::string& domain_uuid, wire::PowerState power);
  void OnGuestArrived(const std::string& migration_uuid, const std::string& domain_uuid);
  void OnPostcopyBroken(const std::string& migration_uuid, const std::string& domain_uuid);
  void OnIncomingStart(const std::string& migration_uuid, const std::string& domain_uuid);
  MigrationModelInput ModelInputLocked(const wire::LiveMigrationSpec& spec) const;
  void RememberEndedJobLocked(Jobs& jobs, const wire::LiveMigrationJob& job) const;

  const SimConfig config_;
  Clock& clock_;
  SimStateFile state_;
  mutable std::mutex mu_;
  Domains domains_;  // by lowercase uuid; ordered for stable listings
  Jobs jobs_;        // by migration uuid: the persisted record of every outgoing job
  std::vector<std::string> interrupted_;  // jobs failed at load: reported once the monitor starts
  std::map<std::string, std::unique_ptr<OutgoingJob>> outgoing_;
  std::map<std::string, std::unique_ptr<IncomingMigration>> incoming_;
};

}  // namespace ferry::agent::sim
