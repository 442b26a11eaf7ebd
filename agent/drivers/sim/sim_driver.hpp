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
#include "agent/jobs/job_registry.hpp"
#include "common/clock.hpp"

namespace ferry::agent::sim {

inline constexpr const char* kHypervisorType = "ferry-sim";
// Nova's integer form of the sim model's version, 0.1.0 (major*1000000 + minor*1000 + micro).
inline constexpr int64_t kHypervisorVersion = 1000;

class SimDriver final : public Driver, private JobPrimitives {
 public:
  // Loads the state dir, or creates it with the configured foreign domains on first start.
  // Throws ferry::Error when the state dir is unusable, locked or corrupt.
  // Jobs that were running when the agent last stopped are recorded as failed (their thread
  // died with the process; the guest never left the source). Outgoing jobs are kept by the
  // shared JobRegistry in <state_dir>/migration-jobs.
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
  void LiveMigrationJobReported(const std::string& migration_uuid) override;
  void SetLiveMigrationJobEndListener(
      std::function<void(const std::string& migration_uuid)> listener) override;
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

  // Persists `next` and only then makes it current, so a failed write changes nothing.
  void CommitLocked(Domains next);
  // Jobs in a state file written before the shared registry move to its journal.
  void ImportJobsOfOldStateFile(std::vector<wire::LiveMigrationJob> jobs);

  // JobPrimitives: the simulated hypervisor's side of an outgoing job.
  nlohmann::json CheckJobStart(const wire::LiveMigrationSpec& spec) override;
  void LaunchJob(const JobRecord& job) override;
  // Joins and drops the threads of jobs that ended (called without any lock held).
  void ReapEndedJobs();
  std::optional<wire::LiveMigrationJob> SampleJob(const JobRecord& job) override;
  void AbortJob(const JobRecord& job) override;
  void ForceCompleteJob(const JobRecord& job, bool post_copy) override;
  // A job recorded running died with the previous agent process: failed, the guest resumed.
  std::optional<wire::LiveMigrationJob> RecoverJob(const JobRecord& job) override;
  // Hooks run on job and listener threads.
  void OnJobEnded(const wire::LiveMigrationJob& job);
  void OnSourcePower(const std::string& domain_uuid, wire::PowerState power);
  void OnGuestArrived(const std::string& migration_uuid, const std::string& domain_uuid);
  void OnPostcopyBroken(const std::string& migration_uuid, const std::string& domain_uuid);
  void OnIncomingStart(const std::string& migration_uuid, const std::string& domain_uuid);
  MigrationModelInput ModelInputLocked(const wire::LiveMigrationSpec& spec) const;

  const SimConfig config_;
  Clock& clock_;
  SimStateFile state_;
  mutable std::mutex mu_;
  Domains domains_;  // by lowercase uuid; ordered for stable listings
  std::map<std::string, std::unique_ptr<OutgoingJob>> outgoing_;  // this process's job threads
  std::map<std::string, std::unique_ptr<IncomingMigration>> incoming_;
  // Declared last: its journal is recovered once the domains are loaded, and job threads
  // (destroyed first, in ~SimDriver) may still end jobs in it.
  JobRegistry jobs_;
};

}  // namespace ferry::agent::sim
