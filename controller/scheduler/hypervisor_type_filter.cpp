// A guest moves only to the same hypervisor type at the same or a newer version: hypervisors
// accept an incoming migration from older releases, not from newer ones (Nova's
// _check_compatible_with_source_hypervisor).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view HypervisorTypeFilter::Name() const { return "HypervisorTypeFilter"; }
FilterShape HypervisorTypeFilter::Shape() const { return FilterShape::kProfile; }
NameRule HypervisorTypeFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool HypervisorTypeFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  if (spec.hypervisor_type && host.hypervisor_type != *spec.hypervisor_type) return false;
  return host.hypervisor_version >= spec.min_hypervisor_version;
}

}  // namespace ferry::controller::scheduler
