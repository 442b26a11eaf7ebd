// Nova's ServerGroupAntiAffinityFilter: a member of an anti-affinity group never shares a host
// with another member. The conductor resolves the group to the members' hosts beforehand.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view ServerGroupAntiAffinityFilter::Name() const {
  return "ServerGroupAntiAffinityFilter";
}
FilterShape ServerGroupAntiAffinityFilter::Shape() const { return FilterShape::kNames; }

NameRule ServerGroupAntiAffinityFilter::Names(const RequestSpec& spec) const {
  if (spec.anti_affinity_hosts.empty()) return {};
  return {true, false, {spec.anti_affinity_hosts.begin(), spec.anti_affinity_hosts.end()}};
}

bool ServerGroupAntiAffinityFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return spec.anti_affinity_hosts.count(host.name) == 0;
}

}  // namespace ferry::controller::scheduler
