#include "controller/conductor/server_placement.hpp"

#include <cmath>

#include "controller/store/claims_store.hpp"
#include "controller/store/hosts_store.hpp"

namespace ferry::controller::conductor {

scheduler::HostState ToHostState(const store::Host& h) {
  scheduler::HostState s;
  s.id = h.id;
  s.name = h.name;
  s.cell = h.cell;
  s.hypervisor_type = h.hypervisor_type;
  s.hypervisor_version = h.hypervisor_version;
  s.enabled = !h.disabled;
  s.up = h.IsUp();
  s.availability_zone = h.availability_zone;
  s.free_vcpus = static_cast<int64_t>(std::floor(h.vcpus * h.cpu_allocation_ratio)) - h.vcpus_used;
  s.free_memory_mb = static_cast<int64_t>(std::floor(
                         (h.memory_mb - h.reserved_host_memory_mb) * h.ram_allocation_ratio)) -
                     h.memory_mb_used;
  s.free_disk_gb = static_cast<int64_t>(std::floor(h.local_gb * h.disk_allocation_ratio)) - h.local_gb_used;
  return s;
}

Placement PlaceAndClaim(store::Tx& tx, const scheduler::Scheduler& scheduler,
                        const PlacementRequest& request) {
  const auto hosts = store::ListHosts(tx);
  const store::Resources need{request.spec.vcpus, request.spec.memory_mb, request.spec.disk_gb};
  auto find = [&](const std::string& name) -> const store::Host* {
    for (const auto& h : hosts) {
      if (h.name == name) return &h;
    }
    return nullptr;
  };
  if (request.forced_host) {
    const store::Host* host = find(*request.forced_host);
    if (host && store::ClaimIfFits(tx, request.consumer_uuid, host->id, need)) return {*host, ""};
    return {std::nullopt, "No valid host was found. Forced host " + *request.forced_host +
                              " has no room for the request."};
  }
  std::vector<scheduler::HostState> states;
  states.reserve(hosts.size());
  for (const auto& h : hosts) states.push_back(ToHostState(h));
  auto selection = scheduler.Select(states, request.spec);
  for (const auto& candidate : selection.candidates) {
    if (store::ClaimIfFits(tx, request.consumer_uuid, candidate.id, need)) {
      return {*find(candidate.name), ""};
    }
    selection.rejected_by.emplace_back("Claim (lost race)", 1);
  }
  return {std::nullopt, scheduler::NoValidHostMessage(selection)};
}

}  // namespace ferry::controller::conductor
