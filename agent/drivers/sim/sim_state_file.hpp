#pragma once
// Durable state of the simulated hypervisor. A real hypervisor's guests outlive the agent
// process, so the sim's must too: an agent restart has to see the same domains, or the
// controller would believe guests vanished. One JSON file, replaced atomically.
#include <cstdint>
#include <string>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent::sim {

struct SimDomain {
  wire::Domain domain;
  int64_t dirty_rate_bytes_per_s = 0;  // memory pages dirtied per second, for pre-copy modelling
  // The live migration that brought this domain here ("" for one created here), and whether it
  // is still incoming (prepared, paused, not switched over yet).
  std::string migration_uuid;
  bool incoming = false;
  // Arrived by post-copy whose link broke before the last page: paused, and only a restart
  // (not finishing the migration) can run it again.
  bool postcopy_failed = false;
};

// Everything the sim must remember across agent restarts: its domains. (Its outgoing jobs are
// in the shared job registry's journal; `jobs` is only read, from files written before it.)
struct SimState {
  std::vector<SimDomain> domains;
  std::vector<wire::LiveMigrationJob> jobs;
};

class SimStateFile {
 public:
  // Creates the directory if needed and takes an exclusive lock on it: two agents sharing one
  // state dir would overwrite each other's domains. Throws ferry::Error (kConflict when locked).
  explicit SimStateFile(std::string state_dir);
  ~SimStateFile();
  SimStateFile(const SimStateFile&) = delete;
  SimStateFile& operator=(const SimStateFile&) = delete;

  // False on first start (no state file yet).
  bool Exists() const;
  // Throws ferry::Error(kInternal) on an unreadable or corrupt file. Deliberately no fallback to
  // "empty": reporting zero domains when guests exist is the worst lie an agent can tell.
  SimState Load() const;
  // Write temp + fsync + rename + fsync dir: a crash leaves the old or the new file, never half.
  void Save(const SimState& state) const;

  std::string Path() const;

 private:
  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace ferry::agent::sim
