// Fewer live migrations already arriving is better: they share the destination's migration
// link and CPU, and parallel copies of dirtying guests each take longer (performance.md §1.2).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view InboundLoadWeigher::Name() const { return "InboundLoadWeigher"; }
WeigherShape InboundLoadWeigher::Shape() const { return WeigherShape::kInboundLoad; }

double InboundLoadWeigher::RawWeight(const HostState& host, const RequestSpec& /*spec*/) const {
  return -static_cast<double>(host.inbound_migrations);
}

}  // namespace ferry::controller::scheduler
