// A requested (not forced) destination is a hint that still has to pass every other filter
// (Nova's requested_destination).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view RequestedHostFilter::Name() const { return "RequestedHostFilter"; }
FilterShape RequestedHostFilter::Shape() const { return FilterShape::kNames; }

NameRule RequestedHostFilter::Names(const RequestSpec& spec) const {
  if (!spec.requested_host) return {};
  return {true, true, {*spec.requested_host}};
}

bool RequestedHostFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return !spec.requested_host || host.name == *spec.requested_host;
}

}  // namespace ferry::controller::scheduler
