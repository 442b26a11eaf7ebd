#pragma once
// What the agent remembers of one outgoing job, in memory and in its journal (job_journal.hpp):
// a live migration, or the disk copy of a cold migration. Hypervisor-agnostic: a driver keeps
// its own facts in `driver_facts`.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/wire/cold_migration_messages.hpp"
#include "api/wire/live_migration_messages.hpp"

namespace ferry::agent {

// JobRecord::kind. A record without one was written before cold migration: a live migration.
inline constexpr const char* kJobKindLive = "live-migration";
inline constexpr const char* kJobKindColdCopy = "cold-copy";

struct JobRecord {
  std::string kind = kJobKindLive;
  // The migration as started. A tombstone (aborted before it started) has only migration_uuid.
  // For a cold copy, the fields both kinds share (migration and domain, hosts, bandwidth,
  // monitor interval), so every registry rule reads one place; the rest is in `cold`.
  wire::LiveMigrationSpec spec;
  std::optional<wire::ColdMigrationSpec> cold;  // set exactly when kind is cold-copy
  wire::LiveMigrationJob last;                  // the latest sample; the outcome once ended
  bool abort_requested = false;
  bool forcing = false;    // force-complete was applied
  bool post_copy = false;  // ... by post-copy (else by pausing the guest)
  bool reported = false;   // the controller acknowledged the outcome (JobRegistry::Acknowledge)
  double ended_at = 0;     // epoch seconds (agent clock): when to forget the outcome
  // What the driver needs to answer later (libvirt: the disks block migration copied, whether
  // the source definition was persistent). Opaque here.
  nlohmann::json driver_facts = nlohmann::json::object();

  bool Ended() const { return last.state != "running"; }
  bool IsColdCopy() const { return kind == kJobKindColdCopy; }
};

void to_json(nlohmann::json& j, const JobRecord& r);
void from_json(const nlohmann::json& j, JobRecord& r);

}  // namespace ferry::agent
