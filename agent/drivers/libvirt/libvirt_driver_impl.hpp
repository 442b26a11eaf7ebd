#pragma once
// The driver's shared state, seen by its files (inventory, migration source, destination).
#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/disk_transfer/disk_receiver.hpp"
#include "agent/disk_transfer/tls_context.hpp"
#include "agent/drivers/libvirt/libvirt_downtime.hpp"
#include "agent/drivers/libvirt/libvirt_driver.hpp"
#include "agent/drivers/libvirt/libvirt_incoming.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"
#include "agent/drivers/libvirt/libvirt_volume_streams.hpp"
#include "agent/jobs/job_registry.hpp"
#include "common/errors.hpp"

namespace ferry::agent::libvirt {

// One outgoing live migration this process started: the thread blocked in
// virDomainMigrateToURI3. Its record (state, outcome, abort asked) is in the shared
// JobRegistry; a job adopted after an agent restart has no Copy.
struct Copy {
  wire::LiveMigrationSpec spec;
  bool ended = false;  // guarded by Impl::mu
  std::thread thread;
  // A cold migration's disk copy (libvirt_cold_source.cpp): its spec, and the progress it last
  // published (guarded by Impl::mu), which SampleJob answers.
  std::optional<wire::ColdMigrationSpec> cold;
  wire::LiveMigrationJob progress;
};

// Facts the libvirt driver keeps in a job's record (JobRecord::driver_facts).
//  copied_disks       paths block migration copied: the source's copies cleanup deletes
//  source_persistent  the domain had a persistent definition here when the migration started.
//                     Only then does "gone from this host" prove the move:
//                     VIR_MIGRATE_UNDEFINE_SOURCE removes that definition only after the
//                     destination runs the guest, while a crash or a host reboot leaves it
//                     defined and shut off. A transient domain vanishes when QEMU dies, so its
//                     absence proves nothing.
inline std::vector<std::string> CopiedDisks(const JobRecord& r) {
  return r.driver_facts.value("copied_disks", std::vector<std::string>{});
}
inline bool SourcePersistent(const JobRecord& r) {
  return r.driver_facts.value("source_persistent", false);
}

// Steps of one move on this host (a cold move's prepare, finish and revert; an evacuation's
// rebuild and revert) run one at a time: a revert never interleaves with the step that defines
// and starts the guest. Striped: moves rarely share a lock.
inline std::mutex& MoveLock(const std::string& migration_uuid) {
  static std::array<std::mutex, 16> locks;
  return locks[std::hash<std::string>{}(migration_uuid) % locks.size()];
}

struct LibvirtDriver::Impl final : JobPrimitives {
  LibvirtConfig config;
  std::mutex conn_mu;
  ConnPtr conn;   // control connection; reopened when it dies
  std::mutex mu;  // guards copies and each Copy::ended; never held while calling `jobs`
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Copy>> copies;  // by migration uuid
  // Outgoing jobs (agent/jobs): <state_dir>/libvirt-migrations, the directory this driver used
  // before the registry was shared, so records of an earlier agent are read on upgrade.
  std::unique_ptr<JobRegistry> jobs;
  std::unique_ptr<IncomingRecords> incoming;  // destination: the pool before prepare
  // Cold migration's disk transfers (libvirt_cold_*.cpp): set only when the host has a TLS
  // identity (LibvirtConfig::tls); destroyed receiver first (it uses the store).
  std::unique_ptr<transfer::TlsContext> tls;
  std::unique_ptr<VolumeDiskStore> disk_store;
  std::unique_ptr<transfer::DiskReceiver> receiver;
  std::string disk_transfer_problem;      // why tls/receiver are not set (said in refusals)
  std::vector<JobRecord> cold_to_resume;  // guarded by mu: found running by Recover

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
  // Best effort: files made outside libvirt in the pool's directory become its volumes.
  void RefreshImagesPool() {
    try {
      RefreshPool(ImagesPool().get());
    } catch (const Error&) {  // no pool: a disk outside any pool is refused where it is used
    }
  }

  // migration source (libvirt_migration_source.cpp)
  nlohmann::json CheckJobStart(const JobRecord& job) override;
  void LaunchJob(const JobRecord& job) override;
  // Joins and drops the threads of copies that ended, so a long-lived agent does not keep a
  // thread per migration it ever ran.
  void ReapEndedCopies();
  // The record of this migration is still running: a stale abort or force must not act on
  // another migration of the same domain that started since.
  bool StillRunning(const std::string& migration_uuid) const {
    auto r = jobs->Find(migration_uuid);
    return r && !r->Ended();
  }
  void RunMigration(const std::shared_ptr<Copy>& copy);
  // past_postcopy_switch: a failure after post-copy moved the guest's execution away.
  void EndCopy(const std::shared_ptr<Copy>& copy, const std::string& state,
               const std::string& error, bool past_postcopy_switch = false);
  // Raises the allowed downtime along `steps` until the copy ends (runs on its own thread).
  void StepDowntime(const std::shared_ptr<Copy>& copy, const std::vector<DowntimeStep>& steps);

  // cold migration, source (libvirt_cold_source.cpp): the copy job's thread
  nlohmann::json CheckColdCopyStart(const JobRecord& job);
  void LaunchColdCopy(const JobRecord& job);
  void RunColdCopy(const std::shared_ptr<Copy>& copy);
  std::optional<wire::LiveMigrationJob> ColdCopyProgress(const JobRecord& job);

  // job monitoring (libvirt_migration_monitor.cpp)
  std::optional<wire::LiveMigrationJob> SampleJob(const JobRecord& job) override;
  void AbortJob(const JobRecord& job) override;
  void ForceCompleteJob(const JobRecord& job, bool post_copy) override;
  // A job recorded running when the agent stopped: libvirt still runs it (adopted, nullopt),
  // or it ended unwatched and where the guest is says how (AdoptedOutcome).
  std::optional<wire::LiveMigrationJob> RecoverJob(const JobRecord& job) override;
  // Where an adopted job's guest is once libvirt's job is gone (SourceGuestOf).
  // kPostcopy: paused by post-copy (running, or failed, past the switch): its execution moved.
  enum class SourceGuest { kRunning, kPostcopy, kStopped, kGone };
  SourceGuest SourceGuestOf(virDomainPtr d, const std::string& uuid);
  // An adopted job whose libvirt job is gone: completed only when the guest's persistent
  // definition left this host (UNDEFINE_SOURCE after a successful copy); cancelled when an
  // abort was asked and it still runs here; else failed (a guest defined but shut off here
  // stopped during the move: host reboot, QEMU died, virsh destroy).
  static wire::LiveMigrationJob AdoptedOutcome(const JobRecord& job, SourceGuest where);
};

}  // namespace ferry::agent::libvirt
