#pragma once
// Stepwise max downtime, as Nova's libvirt driver does it (nova/virt/libvirt/migration.py
// downtime_steps): start with a small allowed pause and raise it step by step, so a guest that
// converges quickly pauses briefly and one that does not is eventually allowed a longer pause.
#include <cstdint>
#include <vector>

#include "api/wire/live_migration_messages.hpp"

namespace ferry::agent::libvirt {

struct DowntimeStep {
  double after_s = 0;       // seconds after the migration started
  int64_t downtime_ms = 0;  // virDomainMigrateSetMaxDowntime then
};

// Nova: delay = delay_per_gib * data_gib; base = max / steps; offset = (max - base) / steps;
// step i (0..steps) at delay * i with base + offset * i. The last step is max_ms.
std::vector<DowntimeStep> DowntimeSteps(int64_t max_ms, int steps, double delay_s_per_gib,
                                        double data_gib);

// What the steps are scaled by, as Nova's _live_migration_data_gb: RAM plus each disk block
// migration copies, in GiB, each counted as at least 2 GiB (tiny guests would otherwise get
// every step at once).
double MigrationDataGib(const wire::LiveMigrationSpec& spec,
                        const std::vector<int64_t>& copied_disk_bytes);

}  // namespace ferry::agent::libvirt
