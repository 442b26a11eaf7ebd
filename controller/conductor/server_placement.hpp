#pragma once
// Choosing a host for a new server and making the choice real: the scheduler ranks hosts from
// the in-memory snapshot, then the claim in PostgreSQL decides; a lost race moves on to the next
// candidate.
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
