#pragma once
// Where a server can move: the scheduler's candidates for a move of any kind, from a view of
// the hosts no older than the request. A move keeps what placed the server (its availability
// zone, its flavor's aggregate extra specs, its server group's anti-affinity), goes only where
// its shared datastore is seen, never leaves its cell, and prefers destinations with inbound
// headroom without refusing for lack of it (admission enforces the limit; a move then queues).
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/conductor/host_snapshot.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::moves {

struct DestinationQuery {
  const store::Server& server;
  const store::Host& source;
  // What the server needs there (its flavor, or the new one of a resize; no disk when its
  // disks are not local to the host).
  int64_t vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  // The extra specs of the flavor it will run with there.
  nlohmann::json flavor_extra_specs = nlohmann::json::object();
  std::optional<std::string> requested_host{};  // a hint the filters validate
  std::set<std::string> ignore_hosts{};         // e.g. hosts whose pre-check already failed
  int max_inbound_migrations = 0;               // 0 = no limit
};

struct Destinations {
  std::vector<std::string> names;  // best first
  std::string nothing_fits;        // Nova's NoValidHost text, naming what filtered them out
};

Destinations FindDestinations(store::Database& db, conductor::HostSnapshot& hosts,
                              const scheduler::Scheduler& scheduler, const DestinationQuery& q);

}  // namespace ferry::controller::moves
