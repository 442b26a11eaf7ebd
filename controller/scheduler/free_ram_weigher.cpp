// Nova's RAMWeigher: spread by default (more free RAM is better).
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view FreeRamWeigher::Name() const { return "FreeRamWeigher"; }
WeigherShape FreeRamWeigher::Shape() const { return WeigherShape::kFreeRam; }

double FreeRamWeigher::RawWeight(const HostState& host, const RequestSpec& /*spec*/) const {
  return static_cast<double>(host.free_memory_mb);
}

}  // namespace ferry::controller::scheduler
