// Per-host inbound concurrency: a host already receiving max_inbound_migrations live
// migrations takes no more until one ends (vCenter's per-host vMotion cost limit, KubeVirt's
// per-node limit). 0 means no limit.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view InboundHeadroomFilter::Name() const { return "InboundHeadroomFilter"; }
FilterShape InboundHeadroomFilter::Shape() const { return FilterShape::kInboundHeadroom; }
NameRule InboundHeadroomFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool InboundHeadroomFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return spec.max_inbound_migrations <= 0 || host.inbound_migrations < spec.max_inbound_migrations;
}

}  // namespace ferry::controller::scheduler
