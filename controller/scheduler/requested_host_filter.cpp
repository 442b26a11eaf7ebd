// A requested (not forced) destination is a hint that still has to pass every other filter;
// ignore_hosts removes hosts that already failed or must not be used (the source).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view RequestedHostFilter::Name() const { return "RequestedHostFilter"; }

bool RequestedHostFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  if (spec.ignore_hosts.count(host.name)) return false;
  return !spec.requested_host || host.name == *spec.requested_host;
}

}  // namespace ferry::controller::scheduler
