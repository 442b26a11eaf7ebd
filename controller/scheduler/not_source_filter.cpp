// A move never lands where it starts: the source host is not a destination, whatever its
// free capacity says (its own claim for the server is still on it).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view NotSourceFilter::Name() const { return "NotSourceFilter"; }
FilterShape NotSourceFilter::Shape() const { return FilterShape::kNames; }

NameRule NotSourceFilter::Names(const RequestSpec& spec) const {
  if (!spec.source_host) return {};
  return {true, false, {*spec.source_host}};
}

bool NotSourceFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return !spec.source_host || host.name != *spec.source_host;
}

}  // namespace ferry::controller::scheduler
