#pragma once
// Hosts (compute service + hypervisor node), their liveness and the domains they report that
// ferry does not manage.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/store/inventory_store.hpp"  // ReportedDomain, SyncUnmanagedDomains
#include "controller/store/models.hpp"

namespace ferry::controller::store {

class Tx;

struct HostFilter {
  std::optional<int64_t> id;
  std::optional<std::string> name;
  std::optional<std::string> service_uuid;
  std::optional<std::string> node_uuid;
  std::optional<std::string> name_pattern;  // substring, as Nova's hypervisor_hostname_pattern
};

std::vector<Host> ListHosts(Tx& tx, const HostFilter& filter = {});
std::optional<Host> FindHost(Tx& tx, const HostFilter& filter);
// The host of that name (a move's source or destination); nullopt for none or no name.
std::optional<Host> FindHostNamed(Tx& tx, const std::optional<std::string>& name);

// Creates or refreshes a host from an agent's registration; keeps the admin's enable/disable,
// forced_down and allocation ratios. Marks it up; its last heartbeat is PostgreSQL's now().
Host RegisterHost(Tx& tx, const HostRegistration& reg, TimePoint now);
// Returns the host id, or nullopt if no host has this name (the agent must register).
// `was_down` tells whether this heartbeat brought the host back.
struct HeartbeatOutcome {
  int64_t host_id;
  bool was_down;
};
// The heartbeat's time is PostgreSQL's now(), the clock MarkSilentHostsDown compares with.
std::optional<HeartbeatOutcome> RecordHeartbeat(Tx& tx, const std::string& name);
// Hosts silent for longer than `silence` by PostgreSQL's clock go down (so controllers' clocks
// never mix with heartbeat times); returns their names. `now` stamps updated_at.
std::vector<std::string> MarkSilentHostsDown(Tx& tx, std::chrono::seconds silence, TimePoint now);

struct ServiceUpdate {
  std::optional<bool> disabled;
  std::optional<std::optional<std::string>> disabled_reason;
  std::optional<bool> forced_down;
};
void UpdateService(Tx& tx, int64_t host_id, const ServiceUpdate& update, TimePoint now);

std::vector<UnmanagedDomain> ListUnmanagedDomains(Tx& tx);
std::optional<UnmanagedDomain> FindUnmanagedDomain(Tx& tx, const std::string& uuid);
void DeleteUnmanagedDomain(Tx& tx, int64_t host_id, const std::string& uuid);

}  // namespace ferry::controller::store
