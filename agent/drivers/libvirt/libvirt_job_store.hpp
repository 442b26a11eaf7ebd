#pragma once
// Outgoing migration jobs on disk (<state_dir>/libvirt-migrations/<migration uuid>.json), so an
// agent restarted during or after a migration can still say how it ended (libvirt forgets an
// ended job's outcome) and keeps watching one libvirt still runs.
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
};

class JobStore {
 public:
  explicit JobStore(std::string state_dir);  // empty: stores nothing
  // Atomic (write + rename); a failure is logged, never thrown: the job itself goes on.
  void Save(const StoredJob& job) const;
  // Every stored job; files of jobs that ended more than kKeepEnded ago are removed.
  std::vector<StoredJob> LoadAll() const;

 private:
  std::string dir_;
};

}  // namespace ferry::agent::libvirt
