// A running guest keeps its CPU: the destination must be the same architecture and vendor and
// offer every feature the guest was started with (what libvirt's compareCPU checks before a
// live migration; Nova runs it in the destination pre-check, we filter earlier).
#include <algorithm>

#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view CpuCompatibilityFilter::Name() const { return "CpuCompatibilityFilter"; }
FilterShape CpuCompatibilityFilter::Shape() const { return FilterShape::kProfile; }
NameRule CpuCompatibilityFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool CpuCompatibilityFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  if (!spec.guest_cpu) return true;
  const CpuModel& guest = *spec.guest_cpu;
  if (host.cpu.arch != guest.arch || host.cpu.vendor != guest.vendor) return false;
  // Both sets are ordered, so inclusion is one merge pass.
  return std::includes(host.cpu.features.begin(), host.cpu.features.end(), guest.features.begin(),
                       guest.features.end());
}

}  // namespace ferry::controller::scheduler
