#pragma once
// A drain's plan: for every server on the host, where it goes, how (live where it can, cold
// where it must in mode auto; evacuated when the host is down), how many bytes that moves and
// how long it takes over the link, in which order and when it starts under max_parallel; and
// one verdict: everything fits on the remaining hosts, or exactly who is left and why. Pure:
// hosts and servers in, a plan out; nothing is claimed or written. Each server is placed by the
// scheduler's own filters and weighers on a view that already counts the servers placed before
// it, so the plan never overcommits a host.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/scheduler/host_index.hpp"
#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::drains {

// What the plan needs of one server on the host.
struct ServerFacts {
  std::string uuid;
  std::string name;
  int64_t vcpus = 0;
  int64_t memory_mb = 0;
  int64_t root_gb = 0;
  // The local disks' size as the host's agent reports them (virtual sizes); the flavor's root_gb
  // when never reported (an adopted guest's disks need not match its flavor).
  std::optional<int64_t> local_disk_bytes;
  std::string vm_state;
  std::optional<std::string> task_state;
  std::string storage_kind = "local";  // local | shared | volume
  std::optional<std::string> datastore;
  std::optional<std::string> availability_zone;
  bool has_image = false;  // a rebuild of local disks needs one
  std::map<std::string, std::string> required_aggregate_metadata;
  // A hard anti-affinity group: its members never share a host (max one per host).
  std::optional<int64_t> anti_affinity_group;
  std::set<std::string> anti_affinity_hosts;  // hosts its group's other members are on now
};

struct PlanRequest {
  std::string host;
  std::string mode = "auto";              // live | cold | auto
  std::vector<std::string> target_hosts;  // empty: any host the scheduler allows
  std::set<std::string> avoid_hosts;      // e.g. hosts being drained themselves
  int max_parallel = 2;
  bool host_down = false;    // the host is down or forced down: its servers are evacuated
  double link_mibps = 1024;  // what a move's bytes travel at, for the predictions
  // The hypervisor's own caps on a move (--live-migration-bandwidth, --cold-migration-bandwidth;
  // 0: none): a move predicted faster than it is allowed to go would make the ETA a lie.
  double live_cap_mibps = 0;
  double cold_cap_mibps = 0;
};

struct PlannedServer {
  std::string uuid;
  std::string name;
  int position = 0;                 // 1-based order of starting
  std::string kind;                 // live | cold | evacuate
  std::optional<std::string> dest;  // nullopt: left (reason says why)
  int64_t bytes = 0;
  double predicted_seconds = 0;
  double starts_after_seconds = 0;  // under max_parallel, from the drain's start
  std::optional<std::string> reason;
};

struct Plan {
  std::vector<PlannedServer> servers;  // in position order
  bool fits = true;                    // every server has a destination
  double predicted_seconds = 0;        // the whole drain under max_parallel
  int64_t bytes = 0;
};

// `source` is the drained host's own state (cell, hypervisor, CPU); `index` every host.
Plan MakePlan(const scheduler::Scheduler& scheduler, const scheduler::HostIndex& index,
              const scheduler::HostState& source, const PlanRequest& request,
              std::vector<ServerFacts> servers);

}  // namespace ferry::controller::drains
