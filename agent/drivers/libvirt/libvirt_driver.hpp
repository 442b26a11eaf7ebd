#pragma once
// The libvirt driver: a real QEMU host through libvirtd. Only this directory includes libvirt
// headers; this header does not, so the agent's wiring compiles without them.
//
// Connections: one shared control connection (list, define, stats, abort, post-copy, ...) and,
// for each outgoing live migration, a thread with its OWN connection for the blocking
// virDomainMigrateToURI3: with the libvirt 9.0 client, a control call on the migrating
// connection sometimes hangs until the migration returns.
//
// Disks: created guests get a qcow2 root disk in a libvirt "dir" pool on the images directory
// (paths as libvirtd sees them); domains report their disks as local, shared or volume
// (libvirt_disks.hpp), which decides what block migration copies.
//
// Outgoing jobs follow the shared registry's rules (agent/jobs/job_registry.hpp), journalled in
// <state-dir>/libvirt-migrations: after an agent restart an ended job still answers how it
// ended, and a job libvirt still runs is watched again.
#include <memory>

#include "agent/driver.hpp"
#include "agent/drivers/libvirt/libvirt_config.hpp"

namespace ferry::agent::libvirt {

class LibvirtDriver final : public Driver {
 public:
  // Connects at once; throws ferry::Error(kUnavailable) when libvirtd cannot be reached.
  explicit LibvirtDriver(LibvirtConfig config);
  ~LibvirtDriver() override;  // waits for running migration threads
  LibvirtDriver(const LibvirtDriver&) = delete;
  LibvirtDriver& operator=(const LibvirtDriver&) = delete;

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

  // Cold migration and resize (libvirt_cold_source.cpp, libvirt_cold_destination.cpp): the
  // disks go host to host over agent/disk_transfer (TLS), read and written through libvirt's
  // storage streams.
  std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec& spec) override;
  void PowerOffForColdMigration(const wire::ColdMigrationSpec& spec) override;
  void StartColdMigrationCopy(const wire::ColdMigrationSpec& spec) override;
  void AbortColdMigrationCopy(const std::string& migration_uuid) override;
  wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& spec) override;
  void ConfirmColdMigrationSource(const wire::ColdMigrationSpec& spec) override;
  void RevertColdMigrationDestination(const wire::ColdMigrationSpec& spec) override;
  wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& spec) override;

  // Evacuation (libvirt_evacuation.cpp): the rebuilt guest carries the cold move's mark
  // (libvirt_cold_marks.hpp) with the evacuation's uuid.
  wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec& spec) override;
  void RevertEvacuationDestination(const wire::EvacuationSpec& spec) override;
  void CleanUpEvacuatedSource(const wire::EvacuationSpec& spec) override;
  void FenceEvacuatedDomain(const std::string& uuid) override;

  struct Impl;

 private:
  // The TLS identity and, with a migration address, the receiver of incoming disks.
  void StartDiskTransfers();
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::agent::libvirt
