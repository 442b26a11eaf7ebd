#include "controller/drains/plan_now.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/errors.hpp"
#include "controller/conductor/server_placement.hpp"
#include "controller/store/drains_store.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/inventory_store.hpp"
#include "controller/store/server_groups_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::drains {

PlanMade PlanNow(const Context& ctx, const PlanScope& scope) {
  PlanRequest request;
  request.host = scope.host;
  request.mode = scope.mode;
  request.target_hosts = scope.target_hosts;
  request.max_parallel = scope.max_parallel;
  request.link_mibps = ctx.options.link_mibps;
  request.live_cap_mibps = ctx.options.live_cap_mibps;
  request.cold_cap_mibps = ctx.options.cold_cap_mibps;
  std::vector<ServerFacts> facts;
  ctx.db.Transact([&](store::Tx& tx) {
    facts.clear();
    request.avoid_hosts = {scope.also_avoid.begin(), scope.also_avoid.end()};
    auto host = store::FindHostNamed(tx, scope.host);
    if (!host) throw Error(Errc::kNotFound, "Compute host " + scope.host + " not found.");
    request.host_down = !host->IsUp();
    for (const auto& target : scope.target_hosts) {
      if (scope.targets_must_exist && !store::FindHostNamed(tx, target)) {
        throw Error(Errc::kBadRequest, "Target host " + target + " not found.");
      }
    }
    // Hosts being drained themselves are no destination (their drains would chase each other).
    for (const auto& h : store::LiveDrainHosts(tx)) {
      if (h != scope.host) request.avoid_hosts.insert(h);
    }
    const auto local_disks = store::ReportedLocalDiskBytes(tx, scope.host);
    store::ServerFilter filter;
    filter.host = scope.host;
    filter.limit = 100000;
    for (const auto& s : store::ListServers(tx, filter)) {
      if (scope.only_server && s.uuid != *scope.only_server) continue;
      ServerFacts f;
      f.uuid = s.uuid;
      f.name = s.name;
      f.vcpus = s.vcpus;
      f.memory_mb = s.memory_mb;
      f.root_gb = s.root_gb;
      if (auto it = local_disks.find(s.uuid); it != local_disks.end()) {
        f.local_disk_bytes = it->second;
      }
      f.vm_state = s.vm_state;
      f.task_state = s.task_state;
      f.storage_kind = s.storage_kind;
      f.datastore = s.datastore;
      f.availability_zone = s.availability_zone;
      f.has_image = s.attributes.image_ref.has_value();
      if (auto flavor = store::FindFlavor(tx, s.flavorid)) {
        f.required_aggregate_metadata = conductor::AggregateExtraSpecs(flavor->extra_specs);
      }
      if (auto group = store::FindServerGroupOfServer(tx, s.uuid);
          group && group->policy == "anti-affinity") {
        f.anti_affinity_group = group->id;
        f.anti_affinity_hosts = store::AntiAffinityHosts(tx, s.uuid);
      }
      facts.push_back(std::move(f));
    }
  });
  try {
    ctx.hosts.Tick();
  } catch (const std::exception& e) {
    spdlog::warn("host snapshot refresh before planning a drain of {} failed: {}", scope.host,
                 e.what());
  }
  // Moves out of a running host also wait for its outbound slots (the engine's
  // max_outbound_per_host): the predictions run on as many lanes as can really be busy. An
  // evacuation sends nothing from its dead host.
  if (!request.host_down) {
    request.max_parallel =
        std::max(1, std::min(request.max_parallel, ctx.engine.limits.max_outbound_per_host));
  }
  const auto index = ctx.hosts.Current();
  scheduler::HostState source;
  if (const auto* seen = index->Find(scope.host)) source = *seen;
  source.name = scope.host;
  Plan plan = MakePlan(ctx.scheduler, *index, source, request, std::move(facts));
  return {std::move(plan), std::move(request)};
}

}  // namespace ferry::controller::drains
