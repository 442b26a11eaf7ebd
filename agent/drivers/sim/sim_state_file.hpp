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
  // The migration that brought this domain here ("" for one created here): a live or cold
  // migration, or the evacuation that rebuilt it (its mark: only that evacuation's revert
  // removes it); and whether it is still incoming (prepared, paused, not switched over yet).
  std::string migration_uuid;
  bool incoming = false;
  // Arrived by post-copy whose link broke before the last page: paused, and only a restart
  // (not finishing the migration) can run it again.
  bool postcopy_failed = false;
  // What the guest's disks hold, as a number the sim bumps every time the guest starts (a
  // running guest writes): the content a cold migration's digest covers (sim_cold_disks.hpp).
  int64_t content_generation = 0;
  // How the guest last stopped for a cold migration: "graceful" or "destroyed" (the graceful
  // shutdown timed out). Empty when it never was.
  std::string last_shutdown{};
};

// One disk a destination receives for a cold migration, and how many of its bytes are here.
struct SimReceivedDisk {
  std::string target;
  int64_t bytes = 0;
  int64_t received = 0;
};

// A cold migration this destination prepared: what it expects, what it has, and what the
// source says it sent. Kept until finish defines the guest or revert removes it, so an agent
// restart on either side resumes the copy where this host's bytes end.
struct SimColdReceive {
  std::string migration_uuid;
  std::string domain_uuid;
  std::string token_sha256;  // the transfer token is a credential: only its digest is kept
  bool shared_storage = false;
  int64_t reserved_gb = 0;  // the new flavor's disk, held on this host's local disk
  int port = 0;             // where its listener was, reopened there after a restart
  std::vector<SimReceivedDisk> disks;
  int64_t generation = -1;     // the content the chunks carried (sim_cold_disks.hpp)
  std::string claimed_digest;  // what the source says it sent, once it sent everything
  bool complete = false;
};

// Everything the sim must remember across agent restarts: its domains and the cold migrations it
// receives. (Its outgoing jobs are
// in the shared job registry's journal; `jobs` is only read, from files written before it.)
struct SimState {
  std::vector<SimDomain> domains;
  std::vector<SimColdReceive> cold_receives;
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
