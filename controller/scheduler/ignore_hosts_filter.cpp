// Nova's ignore_hosts: hosts a previous attempt ruled out (a failed destination pre-check, a
// lost claim) are not offered again within the same operation.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view IgnoreHostsFilter::Name() const { return "IgnoreHostsFilter"; }
FilterShape IgnoreHostsFilter::Shape() const { return FilterShape::kNames; }

NameRule IgnoreHostsFilter::Names(const RequestSpec& spec) const {
  if (spec.ignore_hosts.empty()) return {};
  return {true, false, {spec.ignore_hosts.begin(), spec.ignore_hosts.end()}};
}

bool IgnoreHostsFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return spec.ignore_hosts.count(host.name) == 0;
}

}  // namespace ferry::controller::scheduler
