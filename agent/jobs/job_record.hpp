#pragma once
// What the agent remembers of one outgoing live-migration job, in memory and in its journal
// (job_journal.hpp). Hypervisor-agnostic: a driver keeps its own facts in `driver_facts`.
#include <nlohmann/json.hpp>
#include <string>

#include "api/wire/live_migration_messages.hpp"

namespace ferry::agent {

struct JobRecord {
  // The migration as started. A tombstone (aborted before it started) has only migration_uuid.
  wire::LiveMigrationSpec spec;
  wire::LiveMigrationJob last;  // the latest sample; the outcome once ended
  bool abort_requested = false;
  bool forcing = false;    // force-complete was applied
  bool post_copy = false;  // ... by post-copy (else by pausing the guest)
  bool reported = false;   // the controller acknowledged the outcome (JobRegistry::Acknowledge)
  double ended_at = 0;     // epoch seconds (agent clock): when to forget the outcome
  // What the driver needs to answer later (libvirt: the disks block migration copied, whether
  // the source definition was persistent). Opaque here.
  nlohmann::json driver_facts = nlohmann::json::object();

  bool Ended() const { return last.state != "running"; }
};

void to_json(nlohmann::json& j, const JobRecord& r);
void from_json(const nlohmann::json& j, JobRecord& r);

}  // namespace ferry::agent
