#pragma once
// Cold migration and resize between controller and agents. The guest is shut down on the
// source, its disks are copied to the destination (nothing is copied when they are on shared
// storage), the destination defines it with the new flavor and starts it if it ran before; the
// source keeps its definition and disks untouched until confirm (deleted) or revert (the guest
// starts there again, byte-identical). Every command is idempotent by Command.id and fenced by
// the sender's lease exactly as live migration's are (live_migration_messages.hpp).
//
// Controller -> agent, POST /v1/commands, Command.kind and Command.args = ColdMigrationSpec:
//   "prepare_cold_migration_destination" (dest)   room for the new flavor and a place for the
//                                                 disks; refuses (failed, with the reason) when
//                                                 the host cannot run it;
//                                                 CommandResult.data = {"receive_uri": ...}
//   "power_off_for_cold_migration"       (source) graceful shutdown, destroy after
//                                                 spec.shutdown_timeout_s; definition and disks
//                                                 kept. Success when already off.
//   "start_cold_migration_copy"          (source) starts the disk copy to spec.receive_uri and
//                                                 returns at once; progress and the outcome come
//                                                 as reports, like a live migration's job
//                                                 (phase "copying", disk_* bytes)
//   "abort_cold_migration_copy"          (source) the copy ends "cancelled"; the guest stays
//                                                 off on the source, nothing lost
//   "finish_cold_migration_destination"  (dest)   the copied disks verified (SHA-256 of what
//                                                 the source sent), grown to spec.new_disk_gb,
//                                                 the guest defined with the new flavor and
//                                                 started if spec.power_on; result
//                                                 CommandResult.domain
//   "confirm_cold_migration_source"      (source) the guest's definition and disks deleted
//                                                 here. Success when already gone.
//   "revert_cold_migration_destination"  (dest)   whatever prepare, the copy and finish made is
//                                                 gone (the rollback of a failed move too).
//                                                 Success when nothing is left.
//   "revert_cold_migration_source"       (source) the guest as it was before the move, started
//                                                 if spec.power_on; result CommandResult.domain
// The copy job is read like a live migration's: GET /v1/migrations/{uuid} -> LiveMigrationJob
// and MigrationProgressBatch reports (the shared job registry, agent/jobs).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "api/wire/messages.hpp"

namespace ferry::wire {

struct ColdMigrationSpec {
  std::string migration_uuid;
  Domain domain;  // the guest as it is on the source (the old flavor, its disks)
  // The flavor it gets on the destination (a cold migration: the same as the old one).
  int new_vcpus = 0;
  int64_t new_memory_mb = 0;
  int64_t new_disk_gb = 0;
  std::string source_host;
  std::string dest_host;
  std::string dest_migration_address;  // where the destination receives disks
  // Where the source sends the disks: CommandResult.data["receive_uri"] of
  // "prepare_cold_migration_destination". Empty in the commands before it.
  std::string receive_uri;
  // The per-move credential: the destination takes disks for this migration only from a sender
  // that presents it. Random, made by the controller when the move was accepted.
  std::string transfer_token;
  bool shared_storage = false;  // the disks stay where they are: nothing is copied
  bool power_on = true;         // the guest ran before the move: start it where it ends up
  int64_t bandwidth_mibps = 0;  // 0 = unlimited
  int shutdown_timeout_s = 60;  // graceful shutdown, then destroy
  int monitor_interval_s = 5;   // how often copy progress is reported
};

void to_json(nlohmann::json& j, const ColdMigrationSpec& s);
void from_json(const nlohmann::json& j, ColdMigrationSpec& s);

}  // namespace ferry::wire
