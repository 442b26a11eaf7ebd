#include "controller/conductor/server_placement.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

#include "controller/conductor/host_snapshot.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/hosts_store.hpp"

namespace ferry::controller::conductor {
namespace {

// 2: the first round's candidates all lost their claims (other controllers took the room since
// our snapshot was taken); one more round without them, then report no valid host.
constexpr int kClaimRounds = 2;

std::optional<store::Host> HostById(store::Tx& tx, int64_t id) {
  store::HostFilter f;
  f.id = id;
  return store::FindHost(tx, f);
}

// The snapshot after a refresh of what changed since its last one. A failed refresh (the
// pool exhausted while this transaction holds a connection: bounded by the acquire timeout)
// leaves the view as it was; the caller then reports what that view says.
std::shared_ptr<const scheduler::HostIndex> FresherView(HostSnapshot& snapshot) {
  try {
    snapshot.Tick();
  } catch (const std::exception& e) {
    spdlog::warn("host snapshot refresh before placement failed: {}", e.what());
  }
  return snapshot.Current();
}

}  // namespace

std::map<std::string, std::string> AggregateExtraSpecs(const nlohmann::json& extra_specs) {
  static constexpr std::string_view kScope = "aggregate_instance_extra_specs:";
  std::map<std::string, std::string> out;
  if (!extra_specs.is_object()) return out;
  for (const auto& [key, value] : extra_specs.items()) {
    if (key.rfind(kScope, 0) == 0 && value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

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
  s.free_memory_mb = static_cast<int64_t>(std::floor((h.memory_mb - h.reserved_host_memory_mb) *
                                                     h.ram_allocation_ratio)) -
                     h.memory_mb_used;
  s.free_disk_gb =
      static_cast<int64_t>(std::floor(h.local_gb * h.disk_allocation_ratio)) - h.local_gb_used;
  return s;
}

Placement PlaceAndClaim(store::Tx& tx, const scheduler::Scheduler& scheduler,
                        HostSnapshot& snapshot, const PlacementRequest& request) {
  const store::Resources need{request.spec.vcpus, request.spec.memory_mb, request.spec.disk_gb};
  auto index = snapshot.Current();
  if (request.forced_host) {
    const scheduler::HostState* host = index->Find(*request.forced_host);
    if (host && store::ClaimIfFits(tx, request.consumer_uuid, host->id, need)) {
      if (auto row = HostById(tx, host->id)) return {row, ""};
    }
    return {std::nullopt, "No valid host was found. Forced host " + *request.forced_host +
                              " has no room for the request."};
  }
  scheduler::RequestSpec spec = request.spec;
  scheduler::Selection selection;
  int lost = 0;
  for (int round = 0; round < kClaimRounds; ++round) {
    selection = scheduler.Select(*index, spec);
    if (round == 0 && selection.candidates.empty()) {
      // The view may be behind what the API already shows: a host that registered a few
      // milliseconds ago, room another controller freed. Re-read what changed, once.
      index = FresherView(snapshot);
      selection = scheduler.Select(*index, spec);
    }
    for (const auto& candidate : selection.candidates) {
      if (store::ClaimIfFits(tx, request.consumer_uuid, candidate.id, need)) {
        if (auto row = HostById(tx, candidate.id)) return {row, ""};
      }
      ++lost;
      spec.ignore_hosts.insert(candidate.name);
    }
    if (selection.candidates.empty()) break;
  }
  if (lost > 0) selection.rejected_by.emplace_back("Claim (lost race)", lost);
  return {std::nullopt, scheduler::NoValidHostMessage(selection)};
}

}  // namespace ferry::controller::conductor
