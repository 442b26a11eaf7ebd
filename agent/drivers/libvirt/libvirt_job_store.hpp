#pragma once
// Outgoing migration jobs on disk (<state_dir>/libvirt-migrations/<migration uuid>.json), so an
// agent restarted during or after a migration can still say how it ended (libvirt forgets an
// ended job's outcome) and keeps watching one libvirt still runs.
#include <atomic>
#include <string>
#include <vector>

#include "api/wire/live_migration_messages.hpp"

namespace ferry::agent::libvirt {

struct StoredJob {
  wire::LiveMigrationSpec spec;
  wire::LiveMigrationJob last;
  bool ended = false;
  bool final_read = false;
  std::vector<std::string> copied_disks;  // paths block migration copied (source cleanup)
  bool source_persistent = false;         // see Job::source_persistent
};

class JobStore {
 public:
  explicit JobStore(std::string state_dir);  // empty: stores nothing
  // Atomic and durable (common/durable_file.hpp): a failed save (full disk) leaves the
  // previous record intact, is logged and counted, and returns false; it never throws, since
  // the job itself goes on (the driver remembers it in memory).
  bool Save(const StoredJob& job) const;
  // Saves that failed since this store was made.
  int failed_saves() const { return failed_saves_.load(); }
  // Every stored job; files of jobs that ended more than kKeepEnded ago are removed.
  std::vector<StoredJob> LoadAll() const;

 private:
  std::string dir_;
  mutable std::atomic<int> failed_saves_{0};
};

}  // namespace ferry::agent::libvirt
