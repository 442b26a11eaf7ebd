#pragma once
// The agent's outgoing jobs, for every driver: the rules the controller relies on are kept here
// once, and a driver implements hypervisor primitives only (JobPrimitives). Two kinds share them
// (JobRecord::kind): a live migration, and the disk copy of a cold migration (StartColdCopy),
// which cannot be force-completed; every other rule below is the same for both.
//
//  - Start is idempotent: a migration that has a record (running, ended, or aborted before it
//    started) starts nothing; a domain already migrating is refused (kConflict). The record is
//    written before the job starts; when it cannot be, nothing starts (kUnavailable).
//  - Abort before start leaves a tombstone ("cancelled"), so a late start does nothing; abort of
//    a completed job is kConflict (the guest has moved); of one in post-copy too (it cannot come
//    back). Abort waits a while for the job to end, to tell "cancelled" from "completed anyway".
//  - Force-complete: success when forcing or completed, kConflict when failed or cancelled,
//    kNotFound when unknown.
//  - Ended jobs' outcomes are remembered across agent restarts for 7 days; beyond 1,000, those
//    the controller acknowledged are forgotten oldest first (tombstones: 10,000).
//  - Uuids are compared lowercase.
//  - After a restart, a job recorded running goes to the driver to adopt (the hypervisor still
//    runs it) or to end from where the guest is.
//
// Locking: the registry calls LaunchJob with its lock held (a job must not be sampled before it
// exists), every other primitive without it. A driver must not call the registry while holding
// a lock LaunchJob takes.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/jobs/job_journal.hpp"
#include "agent/jobs/job_record.hpp"
#include "common/clock.hpp"

namespace ferry::agent {

class JobPrimitives {
 public:
  virtual ~JobPrimitives() = default;
  // Can this host start the job (its record as it will be written, driver_facts empty; dispatch
  // on job.kind)? Returns the driver's facts to record with it; throws ferry::Error to refuse
  // (nothing is recorded).
  virtual nlohmann::json CheckJobStart(const JobRecord& job) = 0;
  // Starts the copy and returns at once; the driver ends it through JobRegistry::End. A throw
  // ends the job failed.
  virtual void LaunchJob(const JobRecord& job) = 0;
  // A fresh sample of a running job; a state other than "running" ends it (a job adopted after
  // a restart whose hypervisor job is gone). nullopt: nothing new.
  virtual std::optional<wire::LiveMigrationJob> SampleJob(const JobRecord& job) = 0;
  // Asks the hypervisor to cancel a running job (its end comes through End or SampleJob).
  virtual void AbortJob(const JobRecord& job) = 0;
  // Makes a running job finish: by post-copy when `post_copy`, else by pausing the guest.
  virtual void ForceCompleteJob(const JobRecord& job, bool post_copy) = 0;
  // After an agent restart, for a job recorded running: nullopt when the hypervisor still runs
  // it (it is then watched through SampleJob), else how it ended.
  virtual std::optional<wire::LiveMigrationJob> RecoverJob(const JobRecord& job) = 0;
};

struct JobRegistryLimits {
  std::chrono::hours keep_ended{24 * 7};  // far longer than a controller takes to ask
  // Acknowledged outcomes kept beyond that many are forgotten oldest first (a full host drain
  // is a few hundred migrations); outcomes not yet acknowledged only go with age.
  size_t max_ended = 1000;
  // Aborts of migrations that never started here: a late start must find one, so far more.
  size_t max_tombstones = 10'000;
  std::chrono::milliseconds abort_wait{20'000};
  std::chrono::milliseconds abort_poll{250};
};

class JobRegistry {
 public:
  // `journal_dir` empty: nothing survives the process (no --state-dir).
  JobRegistry(std::string journal_dir, JobPrimitives& primitives, Clock& clock,
              JobRegistryLimits limits = {});
  JobRegistry(const JobRegistry&) = delete;
  JobRegistry& operator=(const JobRegistry&) = delete;

  // Loads the journal and hands each job recorded running to RecoverJob. Call once, when the
  // driver can answer.
  void Recover();

  // The Driver's source-side live-migration methods (agent/driver.hpp), with its contract.
  void Start(const wire::LiveMigrationSpec& spec);
  // A cold migration's disk copy: the same rules; its phase is "copying".
  void StartColdCopy(const wire::ColdMigrationSpec& spec);
  std::optional<wire::LiveMigrationJob> Stats(const std::string& migration_uuid);
  // Running jobs, and ended ones whose outcome the controller has not acknowledged.
  std::vector<wire::LiveMigrationJob> ToReport();
  // The controller acknowledged this job's final report: it leaves ToReport.
  void Acknowledge(const std::string& migration_uuid);
  void Abort(const std::string& migration_uuid);
  void ForceComplete(const std::string& migration_uuid, bool permit_post_copy);

  // For the driver: the job ended (the first end counts; later ones are ignored). Calls the
  // end listener, so the outcome is pushed when it happens, not at the next poll.
  void End(const std::string& migration_uuid, wire::LiveMigrationJob final_state);
  // Called (outside the registry's lock) for every job a driver ends; nullptr removes it, and
  // returns only once no call of the previous listener is still running.
  void SetEndListener(std::function<void(const std::string& migration_uuid)> listener);
  // For the driver: facts learned after start; true once they are in the journal.
  bool SetDriverFacts(const std::string& migration_uuid, const nlohmann::json& facts);
  std::optional<JobRecord> Find(const std::string& migration_uuid) const;
  bool AbortRequested(const std::string& migration_uuid) const;

  int failed_writes() const { return journal_.failed_writes(); }
  int quarantined() const { return journal_.quarantined(); }

 private:
  double Now() const;
  // Start's rules, for a record of either kind (spec, cold and kind set).
  void StartRecord(JobRecord record);
  void EndLocked(JobRecord& record, wire::LiveMigrationJob final_state);
  // Forgets outcomes older than keep_ended, then the oldest acknowledged beyond max_ended and
  // the oldest tombstones beyond max_tombstones.
  void PruneLocked();
  // Samples a running job through the driver and applies what it says; returns the record's
  // latest sample (nullopt when unknown).
  std::optional<wire::LiveMigrationJob> Refresh(const std::string& migration_uuid);

  JobJournal journal_;
  JobPrimitives& primitives_;
  Clock& clock_;
  const JobRegistryLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable ended_;
  std::map<std::string, JobRecord> records_;  // by migration uuid
  // When each job this process started began (agent clock), for its duration metric; a job
  // adopted after a restart has none and is counted without a duration.
  std::map<std::string, double> started_at_;
  std::mutex listener_mu_;  // held while the listener runs, so removing it is safe
  std::function<void(const std::string&)> end_listener_;
};

}  // namespace ferry::agent
