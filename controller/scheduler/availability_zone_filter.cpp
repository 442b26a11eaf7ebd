// A request for a zone only lands on hosts in that zone (Nova maps zones to aggregates).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view AvailabilityZoneFilter::Name() const { return "AvailabilityZoneFilter"; }
FilterShape AvailabilityZoneFilter::Shape() const { return FilterShape::kProfile; }
NameRule AvailabilityZoneFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool AvailabilityZoneFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return !spec.availability_zone || host.availability_zone == *spec.availability_zone;
}

}  // namespace ferry::controller::scheduler
