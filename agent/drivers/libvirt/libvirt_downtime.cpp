#include "agent/drivers/libvirt/libvirt_downtime.hpp"

#include <algorithm>

namespace ferry::agent::libvirt {

std::vector<DowntimeStep> DowntimeSteps(int64_t max_ms, int steps, double delay_s_per_gib,
                                        double data_gib) {
  std::vector<DowntimeStep> out;
  if (max_ms <= 0) return out;
  steps = std::max(steps, 1);
  const auto delay = static_cast<double>(static_cast<int64_t>(delay_s_per_gib * data_gib));
  const double base = static_cast<double>(max_ms) / steps;
  const double offset = (static_cast<double>(max_ms) - base) / steps;
  for (int i = 0; i <= steps; ++i) {
    out.push_back({delay * i, static_cast<int64_t>(base + offset * i)});
  }
  out.back().downtime_ms = max_ms;  // no rounding short of the configured maximum
  return out;
}

double MigrationDataGib(const wire::LiveMigrationSpec& spec,
                        const std::vector<int64_t>& copied_disk_bytes) {
  constexpr double kGib = 1024.0 * 1024.0 * 1024.0;
  constexpr double kFloorGib = 2.0;  // Nova: "if ram_gb < 2: ram_gb = 2", the same per disk
  double total = std::max(kFloorGib, static_cast<double>(spec.domain.memory_mb) / 1024.0);
  for (int64_t bytes : copied_disk_bytes) {
    total += std::max(kFloorGib, static_cast<double>(bytes) / kGib);
  }
  return total;
}

}  // namespace ferry::agent::libvirt
