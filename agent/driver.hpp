#pragma once
// The Driver: the agent's only seam with a hypervisor, and the only place a fake (the sim
// driver) may stand in for a real peer. Everything above it (command server, reporter) is
// hypervisor-agnostic and must not include a driver's headers.
//
// Error style for the agent layer: drivers throw ferry::Error (common/errors.hpp); the command
// server is the one boundary that turns it into a CommandResult or an HTTP status.
//   kBadRequest  the request itself is invalid (not acted on; never cached as a result)
//   kConflict    the request contradicts what the hypervisor has (e.g. uuid reused)
//   kUnavailable the hypervisor cannot be reached right now
//   kInternal    anything else
//
// Thread safety: every method may be called concurrently (command server pool + reporter).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/wire/cold_migration_messages.hpp"
#include "api/wire/evacuation_messages.hpp"
#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent {

// What the host is, as reported at registration. Capacity is the physical amount; allocation
// ratios are controller policy, not the driver's business.
struct DriverInfo {
  std::string hypervisor_type;     // "QEMU", "VMware vCenter Server", "XenServer", "ferry-sim"
  int64_t hypervisor_version = 0;  // Nova's integer form: major*1000000 + minor*1000 + micro
  bool simulated = false;          // true only for drivers that run no real guests
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t local_gb = 0;
  wire::CpuInfo cpu;
  std::vector<wire::Datastore> datastores;
};

class Driver {
 public:
  virtual ~Driver() = default;

  virtual DriverInfo Info() = 0;

  // Every domain the hypervisor has, including ones ferry did not create ("foreign"): the
  // controller must see the truth to report them. Throws rather than return a partial list.
  virtual std::vector<wire::Domain> ListDomains() = 0;

  // Idempotent: an existing domain with the same uuid and the same parameters is success and
  // returns it; the same uuid with different parameters throws kConflict. Returns the domain
  // as the hypervisor now has it (power state filled in).
  virtual wire::Domain CreateDomain(const wire::Domain& domain) = 0;

  // Idempotent: deleting a uuid the hypervisor does not have is success.
  virtual void DeleteDomain(const std::string& uuid) = 0;

  // ---- Live migration (api/wire/live_migration_messages.hpp) --------------------------------
  // Every method is idempotent: the controller re-sends a command after its own crash, and the
  // agent's command log does not survive an agent restart. Methods take the migration's spec,
  // so a driver needs no memory of earlier steps to answer a repeat.

  // Destination: can this host run spec.domain? Returns normally when it can; throws
  // ferry::Error(kConflict) with the reason (capacity, CPU, guest already here) when it cannot.
  virtual void CheckLiveMigrationDestination(const wire::LiveMigrationSpec& spec) = 0;

  // Destination: get ready to receive (Nova's pre_live_migration). The guest appears here as an
  // incoming domain, paused, until switch-over. Returns the URI the source must send to (for
  // libvirt the migration URI on --migration-address; for the sim "tcp:<addr>:<port>").
  virtual std::string PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& spec) = 0;

  // Source: starts the copy job and returns at once; progress comes from LiveMigrationJobStats.
  // A repeat for a migration whose job exists (running or ended) changes nothing.
  virtual void StartLiveMigration(const wire::LiveMigrationSpec& spec) = 0;

  // Source: the job's current state, including ended jobs (their outcome is kept, across agent
  // restarts where the hypervisor allows). nullopt when this host knows no such migration.
  virtual std::optional<wire::LiveMigrationJob> LiveMigrationJobStats(
      const std::string& migration_uuid) = 0;

  // Source: what the job monitor must report when it starts: every job still running, plus jobs
  // that ended and whose final state the controller has not acknowledged (e.g. interrupted by
  // an agent restart, or ended while a report could not be delivered).
  virtual std::vector<wire::LiveMigrationJob> LiveMigrationJobsToReport() = 0;

  // Source: `listener` is called (on a driver thread) when a job ends, so its outcome is pushed
  // at once rather than at the monitor's next poll. nullptr removes it; once that returns, no
  // call of the previous listener is running.
  virtual void SetLiveMigrationJobEndListener(
      std::function<void(const std::string& migration_uuid)> listener) = 0;

  // Source: the controller acknowledged this job's final state; it leaves
  // LiveMigrationJobsToReport (its outcome is still answered by LiveMigrationJobStats).
  virtual void LiveMigrationJobReported(const std::string& migration_uuid) = 0;

  // Source: the job ends "cancelled" and the guest keeps running here. Success when the job has
  // already ended cancelled or failed; kConflict when it completed (the guest has moved);
  // a job not started yet is recorded as cancelled, so a late start does nothing.
  virtual void AbortLiveMigration(const std::string& migration_uuid) = 0;

  // Source: make a running job finish: post-copy when permit_post_copy (the guest runs on the
  // destination at once and pulls the rest), else pause the guest so the copy converges.
  // Success when already forcing or completed; kConflict when it failed or was cancelled;
  // kNotFound when unknown.
  virtual void ForceCompleteLiveMigration(const std::string& migration_uuid,
                                          bool permit_post_copy) = 0;

  // Destination: after switch-over, the guest is defined, persistent and running here; returns
  // it. kConflict while the guest has not switched over to this host.
  virtual wire::Domain FinishLiveMigrationDestination(const wire::LiveMigrationSpec& spec) = 0;

  // Source: the guest is no longer defined here. Success when already gone; kConflict while
  // it still runs here and no job of this migration completed (deleting it would lose it).
  virtual void CleanupLiveMigrationSource(const wire::LiveMigrationSpec& spec) = 0;

  // Destination: whatever prepare made is gone. Success when nothing is left; kConflict when
  // the guest has switched over and runs here (removing it would lose it).
  virtual void RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& spec) = 0;

  // ---- Cold migration and resize (api/wire/cold_migration_messages.hpp) ---------------------
  // Idempotent like the live-migration methods, for the same reasons. The copy is a job of the
  // shared registry (agent/jobs): read through LiveMigrationJobStats / LiveMigrationJobsToReport
  // and acknowledged through LiveMigrationJobReported like a live migration's job.

  // Destination: room for the new flavor and a place to receive the disks; returns where the
  // source sends them. kConflict with the reason when this host cannot take the guest.
  virtual std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec& spec) = 0;

  // Source: the guest is off here (graceful shutdown, destroyed after spec.shutdown_timeout_s),
  // its definition and disks untouched. Success when already off; kNotFound when the guest is
  // not here.
  virtual void PowerOffForColdMigration(const wire::ColdMigrationSpec& spec) = 0;

  // Source: starts copying the guest's disks to spec.receive_uri and returns at once; a repeat
  // changes nothing (the registry's idempotent start). kConflict while the guest runs.
  virtual void StartColdMigrationCopy(const wire::ColdMigrationSpec& spec) = 0;

  // Source: the copy ends "cancelled"; the guest stays off here with its disks. Success when
  // the copy has already ended other than completed; kConflict when it completed.
  virtual void AbortColdMigrationCopy(const std::string& migration_uuid) = 0;

  // Destination: the disks received are verified against what the source sent (or, on shared
  // storage, found), grown to spec.new_disk_gb, and the guest defined with the new flavor and
  // started when spec.power_on; returns it. A repeat returns the guest as it is. kConflict when
  // the disks are missing or do not verify (nothing defined).
  virtual wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& spec) = 0;

  // Source: after confirm, the guest's definition and its local disks are deleted here. Success
  // when already gone; kConflict when the guest runs here (it would be lost).
  virtual void ConfirmColdMigrationSource(const wire::ColdMigrationSpec& spec) = 0;

  // Destination: whatever this move made here is gone (received disks, the definition, the
  // running guest). Success when nothing is left. On shared storage the disks are the source's
  // and are never deleted.
  virtual void RevertColdMigrationDestination(const wire::ColdMigrationSpec& spec) = 0;

  // Source: the guest is back as it was before the move (it never left its disks), running when
  // spec.power_on; returns it. kNotFound when its definition is gone (confirmed).
  virtual wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& spec) = 0;

  // ---- Evacuation (api/wire/evacuation_messages.hpp) ----------------------------------------
  // Idempotent like the methods above. The source of an evacuation is a host that was down: it
  // is asked nothing until it comes back, and then only to fence and clean up its stale copy.

  // Destination: spec.domain defined here, marked with spec.migration_uuid: its shared disks
  // and volumes as listed (kConflict when one is not on storage this host sees; a path is never
  // trusted: it must resolve inside this host's shared storage), or with
  // spec.rebuild_from_image a fresh root disk; started when spec.power_on; returns it. A repeat
  // returns the guest as it is. kConflict when a guest with this uuid is here and is not marked
  // with this migration (it is never replaced).
  virtual wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec& spec) = 0;

  // Destination: what rebuild made is gone (a guest marked with this migration, a root disk it
  // made). Never a shared disk or a volume. Success when nothing is left.
  virtual void RevertEvacuationDestination(const wire::EvacuationSpec& spec) = 0;

  // Source (back after the evacuation): the stale copy is destroyed and undefined; its local
  // disks deleted only when spec.delete_local_disks; shared disks and volumes never. Success
  // when already gone.
  virtual void CleanUpEvacuatedSource(const wire::EvacuationSpec& spec) = 0;

  // Source: a guest evacuated from this host (RegisterResponse.fenced_domains) is powered off
  // at once if it runs (destroyed: no graceful shutdown, the destination may run it already),
  // its definition and disks kept, libvirt autostart off. Success when it is not here or off.
  virtual void FenceEvacuatedDomain(const std::string& uuid) = 0;
};

}  // namespace ferry::agent
