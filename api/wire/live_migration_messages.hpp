#pragma once
// Live-migration messages between controller and agents. Nova's split of the work is kept:
// the destination is checked and prepared, the source runs the copy and reports it, the
// destination finishes, the source is cleaned up; any failure before switch-over rolls the
// destination back. Every command is idempotent by Command.id = "<migration uuid>:<step>:<attempt>"
// and fenced by the sender's lease: Command.fence = {migration_uuid, lease_epoch} (messages.hpp
// LeaseFence); an agent refuses an epoch older than the highest it has seen for the migration.
//
// Controller -> agent, POST /v1/commands, Command.kind and Command.args = LiveMigrationSpec:
//   "check_live_migration_destination"     (dest)   can this host run the guest? failed = no,
//                                                   with the reason (Nova MigrationPreCheckError)
//   "prepare_live_migration_destination"   (dest)   make ready to receive (Nova
//   pre_live_migration);
//                                                   CommandResult.data = {"incoming_uri": ...}
//   "start_live_migration"                 (source) starts the copy job and returns at once;
//                                                   progress and the outcome come as reports
//   "abort_live_migration"                 (source) the job ends "cancelled", guest on source
//   "force_complete_live_migration"        (source) post-copy if spec.permit_post_copy, else
//                                                   pause the guest so the copy converges
//   "finish_live_migration_destination"    (dest)   guest is defined and running here; result
//                                                   CommandResult.domain
//   "cleanup_live_migration_source"        (source) guest no longer defined on the source
//   "rollback_live_migration_destination"  (dest)   whatever prepare made is gone
// Controller -> agent, GET /v1/migrations/{migration uuid} -> LiveMigrationJob, 404 when the
//   agent (its hypervisor) knows no such job: what the reconciler asks after a crash.
// Agent -> controller, POST /agent/v1/migration-progress  MigrationProgressBatch -> 204
//   every spec.monitor_interval_s while a job runs, and at once when a job ends.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/wire/messages.hpp"

namespace ferry::wire {

struct LiveMigrationSpec {
  std::string migration_uuid;
  Domain domain;  // the guest as the controller knows it
  std::string source_host;
  std::string dest_host;
  std::string dest_migration_address;  // the destination's inbound address (split network)
  // Where the destination listens for this migration: CommandResult.data["incoming_uri"] of
  // "prepare_live_migration_destination", copied into "start_live_migration" (Nova's
  // migrate_data). Empty in the commands before it.
  std::string incoming_uri;
  bool block_migration = false;   // copy local disks too
  int64_t bandwidth_mibps = 0;    // always set by the controller (policy)
  int64_t max_downtime_ms = 500;  // final value of the stepwise increase
  int downtime_steps = 10;
  int64_t downtime_delay_s = 75;  // per GiB between steps
  bool permit_post_copy = false;
  bool permit_auto_converge = false;
  int monitor_interval_s = 5;  // how often progress is reported
  // The source host's CPU as its agent reported it at registration: the destination compares
  // it with its own (libvirt's CPU comparison). Empty model = unknown, the check is skipped.
  CpuInfo source_cpu{};
};

// A job's state and phase as the controller reads them (LiveMigrationJob carries their text;
// anything else is refused where a report arrives).
enum class JobState { kRunning, kCompleted, kFailed, kCancelled };
// kCopying: a cold migration's disk copy (the guest is off), cold_migration_messages.hpp.
enum class JobPhase { kPrecopy, kPostcopy, kPaused, kSwitchover, kDone, kCopying };
std::string_view ToString(JobState s);
std::string_view ToString(JobPhase p);
std::optional<JobState> ParseJobState(std::string_view s);
std::optional<JobPhase> ParseJobPhase(std::string_view s);

// What the hypervisor says about one migration job, from the source's point of view.
struct LiveMigrationJob {
  std::string migration_uuid;
  std::string domain_uuid;
  std::string state;  // "running" | "completed" | "failed" | "cancelled"
  std::string phase;  // "precopy" | "postcopy" | "paused" | "switchover" | "done" | "copying"
  int iteration = 0;  // pre-copy round
  int64_t memory_total = 0;
  int64_t memory_processed = 0;
  int64_t memory_remaining = 0;
  int64_t disk_total = 0;
  int64_t disk_processed = 0;
  int64_t disk_remaining = 0;
  int64_t transfer_rate_bps = 0;  // bytes per second on the wire
  int64_t dirty_rate_bps = 0;     // bytes per second the guest dirties
  int64_t downtime_ms = 0;        // expected (running) or measured (completed)
  int throttle_percent = 0;       // auto-converge CPU throttle
  std::string error;              // set when failed
  double sampled_at = 0;          // agent's epoch seconds
};

struct MigrationProgressBatch {
  std::string host;
  std::vector<LiveMigrationJob> reports;
};

void to_json(nlohmann::json& j, const LiveMigrationSpec& s);
void from_json(const nlohmann::json& j, LiveMigrationSpec& s);
void to_json(nlohmann::json& j, const LiveMigrationJob& r);
void from_json(const nlohmann::json& j, LiveMigrationJob& r);
void to_json(nlohmann::json& j, const MigrationProgressBatch& b);
void from_json(const nlohmann::json& j, MigrationProgressBatch& b);

}  // namespace ferry::wire
