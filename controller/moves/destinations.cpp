#include "controller/moves/destinations.hpp"

#include <spdlog/spdlog.h>

#include "controller/conductor/server_placement.hpp"
#include "controller/store/server_groups_store.hpp"

namespace ferry::controller::moves {

Destinations FindDestinations(store::Database& db, conductor::HostSnapshot& hosts,
                              const scheduler::Scheduler& scheduler, const DestinationQuery& q) {
  scheduler::RequestSpec spec;
  spec.vcpus = q.vcpus;
  spec.memory_mb = q.memory_mb;
  spec.disk_gb = q.disk_gb;
  spec.requested_host = q.requested_host;
  spec.source_host = q.source.name;
  spec.cell = q.source.cell;
  spec.hypervisor_type = q.source.hypervisor_type;
  spec.min_hypervisor_version = q.source.hypervisor_version;
  spec.ignore_hosts = q.ignore_hosts;
  spec.ignore_hosts.insert(q.source.name);
  spec.max_inbound_migrations = q.max_inbound_migrations;
  // What changed since the last periodic refresh (a host disabled or moved to another zone a
  // moment ago) is read first: the view must not be older than the request.
  try {
    hosts.Tick();
  } catch (const std::exception& e) {
    spdlog::warn("host snapshot refresh before scheduling {} failed: {}", q.server.uuid, e.what());
  }
  const auto index = hosts.Current();
  if (const auto* seen = index->Find(q.source.name)) {
    // The guest runs with the source's CPU model (host-model): the destination must offer all
    // of it. Datastores the source sees make a destination that sees them cheaper.
    spec.guest_cpu = seen->cpu;
    spec.source_shared_datastores = seen->shared_datastores;
  }
  spec.availability_zone = q.server.availability_zone;
  if (q.server.storage_kind == "shared") spec.required_datastore = q.server.datastore;
  spec.required_aggregate_metadata = conductor::AggregateExtraSpecs(q.flavor_extra_specs);
  db.Transact([&](store::Tx& tx) {
    spec.anti_affinity_hosts = store::AntiAffinityHosts(tx, q.server.uuid);
  });
  auto selection = scheduler.Select(*index, spec);
  if (selection.candidates.empty() && spec.max_inbound_migrations > 0) {
    // Inbound headroom is a preference, not a refusal: when every destination that fits is
    // already receiving its maximum, the move queues for one (admission enforces the limit)
    // instead of failing a drain with "No valid host".
    auto without_headroom = spec;
    without_headroom.max_inbound_migrations = 0;
    auto queued_for = scheduler.Select(*index, without_headroom);
    if (!queued_for.candidates.empty()) selection = std::move(queued_for);
  }
  Destinations out;
  for (const auto& c : selection.candidates) out.names.push_back(c.name);
  out.nothing_fits = scheduler::NoValidHostMessage(selection);
  return out;
}

}  // namespace ferry::controller::moves
