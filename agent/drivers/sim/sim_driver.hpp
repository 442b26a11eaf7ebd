#pragma once
// ferry-sim: a modelled hypervisor. It runs no guests; it keeps a persistent list of domains and
// models live migration in real time (sim_migration_model.hpp) over a real TCP link between
// source and destination (sim_migration_link.hpp). It says it is a simulation wherever it
// shows: hypervisor_type "ferry-sim", simulated=true, and its start-up log line.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/driver.hpp"
#include "agent/drivers/sim/sim_cold_copy_job.hpp"
#include "agent/drivers/sim/sim_cold_receiver.hpp"
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

  // Cold migration and resize (sim_driver_cold_source.cpp, sim_driver_cold_destination.cpp).
  std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec& spec) override;
  void PowerOffForColdMigration(const wire::ColdMigrationSpec& spec) override;
  void StartColdMigrationCopy(const wire::ColdMigrationSpec& spec) override;
  void AbortColdMigrationCopy(const std::string& migration_uuid) override;
  wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& spec) override;
  void ConfirmColdMigrationSource(const wire::ColdMigrationSpec& spec) override;
  void RevertColdMigrationDestination(const wire::ColdMigrationSpec& spec) override;
  wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& spec) override;

  // Evacuation (sim_driver_evacuation.cpp): the mark of a rebuilt guest is its SimDomain's
  // migration_uuid, persisted with the domains.
  wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec& spec) override;
  void RevertEvacuationDestination(const wire::EvacuationSpec& spec) override;
  void CleanUpEvacuatedSource(const wire::EvacuationSpec& spec) override;
  void FenceEvacuatedDomain(const std::string& uuid) override;

  // Test hooks: how the guest last stopped for a cold migration ("graceful", "destroyed", "");
  // the bytes of each disk this destination holds for a cold migration (empty: none); the chunk
  // bytes this process received over the link for it (a resumed copy never sends one twice).
  std::string LastShutdownForTest(const std::string& uuid) const;
  std::vector<int64_t> ReceivedBytesForTest(const std::string& migration_uuid) const;
  int64_t WireBytesForTest(const std::string& migration_uuid) const;

  int64_t LinkBandwidthBytesPerSecond() const { return config_.link_bandwidth_bytes_per_s; }
  // Throws ferry::Error(kNotFound) for an unknown uuid.
  int64_t DirtyRateBytesPerSecond(const std::string& uuid) const;

 private:
  using Domains = std::map<std::string, SimDomain>;
  using Receives = std::map<std::string, SimColdReceive>;  // by migration uuid

  // Persists `next` and only then makes it current, so a failed write changes nothing.
  void CommitLocked(Domains next);
  void CommitLocked(Domains next, Receives next_receives);
  int64_t FreeDiskGbLocked() const;
  // Jobs in a state file written before the shared registry move to its journal.
  void ImportJobsOfOldStateFile(std::vector<wire::LiveMigrationJob> jobs);

  // JobPrimitives: the simulated hypervisor's side of an outgoing job.
  nlohmann::json CheckJobStart(const JobRecord& job) override;
  void LaunchJob(const JobRecord& job) override;
  // Joins and drops the threads of jobs that ended (called without any lock held).
  void ReapEndedJobs();
  std::optional<wire::LiveMigrationJob> SampleJob(const JobRecord& job) override;
  void AbortJob(const JobRecord& job) override;
  void ForceCompleteJob(const JobRecord& job, bool post_copy) override;
  // A job recorded running died with the previous agent process: failed, the guest resumed.
  std::optional<wire::LiveMigrationJob> RecoverJob(const JobRecord& job) override;
  // The cold-copy side of the primitives (sim_driver_cold_source.cpp).
  nlohmann::json CheckColdCopyStart(const JobRecord& job);
  void LaunchColdCopyLocked(const JobRecord& job);
  std::optional<wire::LiveMigrationJob> RecoverColdCopy(const JobRecord& job);
  // Starts again, from the destination's bytes, the copies RecoverColdCopy kept running.
  void ResumeColdCopies();
  void OnColdCopyEnded(const wire::LiveMigrationJob& job);
  // Destination: a listener for a pending receive (on `port`, 0: any), and its hooks.
  void OpenReceiverLocked(SimColdReceive& receive, int port);
  std::vector<int64_t> OnColdHello(const std::string& migration_uuid, const std::string& token,
                                   const std::vector<ColdDisk>& disks);
  void OnColdChunk(const std::string& migration_uuid, const std::string& disk, int64_t offset,
                   int64_t length, int64_t generation);
  void OnColdDone(const std::string& migration_uuid, const std::string& digest);
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
  Receives receives_;  // cold migrations this destination prepared, persisted with the domains
  std::map<std::string, std::unique_ptr<ColdReceiver>> receivers_;   // their listeners
  std::map<std::string, std::unique_ptr<ColdCopyJob>> cold_copies_;  // this process's copies
  std::map<std::string, int64_t> wire_bytes_;  // chunk bytes received, per migration (tests)
  std::vector<std::string> to_resume_;         // copies RecoverColdCopy kept running
  // Declared last: its journal is recovered once the domains are loaded, and job threads
  // (destroyed first, in ~SimDriver) may still end jobs in it.
  JobRegistry jobs_;
};

}  // namespace ferry::agent::sim
