// Nova's ComputeFilter: only enabled hosts whose service is up take new work. Disabling a
// host is how an operator starts a drain.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view ComputeFilter::Name() const { return "ComputeFilter"; }
FilterShape ComputeFilter::Shape() const { return FilterShape::kUpAndEnabled; }
NameRule ComputeFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool ComputeFilter::Passes(const HostState& host, const RequestSpec& /*spec*/) const {
  return host.enabled && host.up;
}

}  // namespace ferry::controller::scheduler
