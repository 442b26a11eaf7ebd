#pragma once
// Choosing a host for a new server and making the choice real: the scheduler ranks hosts from
// the in-memory snapshot, then the claim in PostgreSQL decides; a lost race moves on to the next
// candidate.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/scheduler/scheduler.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::store {
class Tx;
}

namespace ferry::controller::conductor {

class HostSnapshot;

// Free capacity as store::ClaimIfFits computes it: floor((total - reserved) x ratio) - claims.
scheduler::HostState ToHostState(const store::Host& h);

// The flavor extra specs AggregateInstanceExtraSpecsFilter enforces, for a new server and for
// every move of it: those scoped "aggregate_instance_extra_specs:". Unscoped keys are not taken
// as aggregate keys (Nova's ComputeCapabilitiesFilter owns those; a flavor with "key1" from
// Tempest's extra-spec tests must not make its servers unplaceable).
std::map<std::string, std::string> AggregateExtraSpecs(const nlohmann::json& extra_specs);

struct PlacementRequest {
  std::string consumer_uuid;
  scheduler::RequestSpec spec;
  std::optional<std::string> forced_host;  // Nova's "zone:host": skips the filters, not the claim
};

struct Placement {
  std::optional<store::Host> host;  // nullopt: nothing fits
  std::string failure;              // Nova's "No valid host was found. ..." when nothing fits
};

// Runs inside the caller's transaction so the claim commits together with what it is for.
// After that transaction commits, the caller marks placement.host dirty in the snapshot.
Placement PlaceAndClaim(store::Tx& tx, const scheduler::Scheduler& scheduler,
                        HostSnapshot& snapshot, const PlacementRequest& request);

}  // namespace ferry::controller::conductor
