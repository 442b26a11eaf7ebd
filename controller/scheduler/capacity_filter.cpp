// VCPU, MEMORY_MB and DISK_GB with allocation ratios (what Nova delegates to placement). The
// final word is the atomic claim in PostgreSQL; this filter only avoids hopeless candidates.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view CapacityFilter::Name() const { return "CapacityFilter"; }
FilterShape CapacityFilter::Shape() const { return FilterShape::kCapacity; }
NameRule CapacityFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool CapacityFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return host.free_vcpus >= spec.vcpus && host.free_memory_mb >= spec.memory_mb &&
         host.free_disk_gb >= spec.disk_gb;
}

}  // namespace ferry::controller::scheduler
