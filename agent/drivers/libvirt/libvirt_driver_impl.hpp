#pragma once
// The driver's shared state, seen by its files (inventory, migration source, destination).
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/drivers/libvirt/libvirt_downtime.hpp"
#include "agent/drivers/libvirt/libvirt_driver.hpp"
#include "agent/drivers/libvirt/libvirt_incoming.hpp"
#include "agent/drivers/libvirt/libvirt_job_store.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"

namespace ferry::agent::libvirt {

// One outgoing live migration, from the source's point of view.
struct Job {
  wire::LiveMigrationSpec spec;
  wire::LiveMigrationJob last;  // the latest sample; the outcome once ended
  bool ended = false;
  bool abort_requested = false;
  bool forcing = false;
  bool post_copy = false;   // started with VIR_MIGRATE_POSTCOPY
  bool final_read = false;  // the ended state was returned by LiveMigrationJobStats
  // Found running in libvirt after an agent restart (JobStore): no thread of ours waits on the
  // migrate call, so Sample tells how it ended from where the guest is.
  bool adopted = false;
  std::vector<std::string> copied_disks;  // block migration: the local disks being copied
  // The domain had a persistent definition here when the migration started. Only then does
  // "gone from this host" prove the move: VIR_MIGRATE_UNDEFINE_SOURCE removes that definition
  // only after the destination runs the guest, while a crash or a host reboot leaves it
  // defined and shut off. A transient domain vanishes when QEMU dies, so its absence proves
  // nothing.
  bool source_persistent = false;
  std::thread thread;

  StoredJob Stored() const {
    return {spec, last, ended, final_read, copied_disks, source_persistent};
  }
};

struct LibvirtDriver::Impl {
  LibvirtConfig config;
  std::mutex conn_mu;
  ConnPtr conn;  // control connection; reopened when it dies
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Job>> jobs;  // by migration uuid
  std::unique_ptr<JobStore> store;                   // jobs on disk (--state-dir)
  std::unique_ptr<IncomingRecords> incoming;         // destination: the pool before prepare

  std::atomic<bool> pool_seen{false};  // the images pool was usable once (storage driver present)
  // Destination: one watcher per prepared block migration, recording its incoming domain's disks
  // (libvirt_migration_destination.cpp); stopped and joined by the destructor.
  struct Watcher {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;  // joined by the next WatchIncoming once set
  };
  std::mutex watch_mu;
  std::vector<Watcher> watchers;
  std::atomic<bool> stopping{false};
  void WatchIncoming(const std::string& migration_uuid, const std::string& domain_uuid);

  virConnectPtr Conn() {
    std::lock_guard lock(conn_mu);
    if (!conn || virConnectIsAlive(conn.get()) != 1) conn = Connect(config.uri);
    return conn.get();
  }

  // The images pool (libvirt_storage.hpp), ensured on every call: cheap, and it comes back
  // after an operator removed it. Throws when libvirtd has no storage driver.
  PoolPtr ImagesPool();
  bool HasImagesPool() const { return pool_seen; }

  // migration source (libvirt_migration_source.cpp)
  void RunMigration(const std::shared_ptr<Job>& job);
  // past_postcopy_switch: a failure after post-copy moved the guest's execution away.
  void EndJob(const std::shared_ptr<Job>& job, const std::string& state, const std::string& error,
              bool past_postcopy_switch = false);
  // Raises the allowed downtime along `steps` until the job ends (runs on its own thread).
  void StepDowntime(const std::shared_ptr<Job>& job, const std::vector<DowntimeStep>& steps);
  // Writes the job to the store; the caller holds mu.
  void Persist(const Job& job) const { store->Save(job.Stored()); }

  // job monitoring (libvirt_migration_monitor.cpp)
  std::optional<wire::LiveMigrationJob> Sample(const std::shared_ptr<Job>& job);
  // Jobs of the store, at driver start: ended ones answer for their outcome, running ones that
  // libvirt still runs are watched (adopted), the rest are ended from where the guest is.
  void LoadStoredJobs();
  // Where an adopted job's guest is once libvirt's job is gone (SourceGuestOf).
  enum class SourceGuest { kRunning, kStopped, kGone };
  SourceGuest SourceGuestOf(virDomainPtr d, const std::string& uuid);
  // An adopted job whose libvirt job is gone: completed only when the guest's persistent
  // definition left this host (UNDEFINE_SOURCE after a successful copy); cancelled when an
  // abort was asked and it still runs here; else failed (a guest defined but shut off here
  // stopped during the move: host reboot, QEMU died, virsh destroy). The caller holds mu.
  void EndAdopted(Job& job, SourceGuest where);
};

}  // namespace ferry::agent::libvirt
