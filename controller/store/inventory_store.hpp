#pragma once
// What a host's inventory (the domains its hypervisor reports with each heartbeat) means for the
// database: domains ferry does not manage, managed servers reported where they should not be or
// missing where they should be, and power states that follow the hypervisor. Each step is one
// statement whatever the number of domains (the inventory travels as one jsonb parameter).
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

class Tx;

struct ReportedDomain {
  std::string uuid;
  std::string name;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  int power_state = 0;
  nlohmann::json disks = nlohmann::json::array();  // wire::Disk objects as the agent sent them
};

// Records reported domains that are not ferry servers; forgets ones no longer reported. Rows
// whose content did not change are not written. Returns the uuids newly seen, as reported (for
// a log line each). Uuids must be unique within `domains` (HostRegistry rejects duplicates).
std::vector<std::string> SyncUnmanagedDomains(Tx& tx, int64_t host_id,
                                              const std::vector<ReportedDomain>& domains,
                                              TimePoint now);

// A managed server the inventory of `host_id` contradicts. kind "elsewhere": that host reports a
// server recorded on another host (or on none); "missing": the server's own host does not
// report it. Servers in a move involving that host are never flagged: their guest legitimately
// exists on both ends, or on neither for a moment.
struct MisplacedFlag {
  std::string server_uuid;
  std::string kind;
  int power_state = 0;                       // as reported; 0 (NOSTATE) when missing
  std::optional<std::string> recorded_host;  // the server's host in the database
};
// Adds the discrepancies this inventory shows, drops the ones it no longer shows, and appends an
// instance action (server_observations) for each new one. Returns only the new ones. `settle`:
// servers whose record changed more recently than this are not judged "missing" (the inventory
// may have been listed before the change), nor are moves that ended more recently.
std::vector<MisplacedFlag> SyncMisplacedDomains(Tx& tx, int64_t host_id,
                                                const std::vector<ReportedDomain>& domains,
                                                TimePoint now, std::chrono::seconds settle);

// A managed server whose power state (and possibly vm_state) now follows its own host.
struct PowerStateChange {
  std::string server_uuid;
  int old_power_state = 0;
  int new_power_state = 0;
  std::string old_vm_state;
  std::string new_vm_state;
};
// For servers on `host_id` with no task in progress and settled (see above): power_state becomes
// what the host reports (NOSTATE when it reports nothing). vm_state active becomes stopped when
// the guest is shut down or crashed, stopped becomes active when it runs again; that change is
// also an instance action. Nothing is ever done on the host.
std::vector<PowerStateChange> SyncPowerStates(Tx& tx, int64_t host_id,
                                              const std::vector<ReportedDomain>& domains,
                                              TimePoint now, std::chrono::seconds settle);

// Records, for the servers that live on `host_id`, the disks it reports for them
// (servers.reported_disks), writing only those that changed.
void SyncReportedDisks(Tx& tx, int64_t host_id, const std::vector<ReportedDomain>& domains);

// Per server on `host` whose disks it reported: their local disks' virtual size in bytes.
std::map<std::string, int64_t> ReportedLocalDiskBytes(Tx& tx, const std::string& host);

struct MisplacedDomain {
  std::string server_uuid;
  std::string kind;
  std::string host;                          // the host whose inventory shows it
  std::optional<std::string> recorded_host;  // the server's host in the database
  int power_state = 0;
  TimePoint first_seen_at;
  TimePoint last_seen_at;
};
// Ordered by server, then host.
std::vector<MisplacedDomain> ListMisplacedDomains(Tx& tx);

}  // namespace ferry::controller::store
