// Prefers a destination that sees the source's shared datastores: the disks then stay where
// they are and only memory moves (no block migration). Raw weight is the fraction of the
// source's shared datastores the host sees; a request without any weighs every host equally.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view SharedStorageWeigher::Name() const { return "SharedStorageWeigher"; }
WeigherShape SharedStorageWeigher::Shape() const { return WeigherShape::kProfile; }

double SharedStorageWeigher::RawWeight(const HostState& host, const RequestSpec& spec) const {
  if (spec.source_shared_datastores.empty()) return 0.0;
  size_t seen = 0;
  for (const auto& ds : spec.source_shared_datastores) seen += host.shared_datastores.count(ds);
  return static_cast<double>(seen) / static_cast<double>(spec.source_shared_datastores.size());
}

}  // namespace ferry::controller::scheduler
