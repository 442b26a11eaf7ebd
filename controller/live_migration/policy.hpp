#pragma once
// How a live migration is run: Nova's [libvirt] live_migration_* knobs plus ferry's own. The
// deployment sets defaults (controller options); an aggregate overrides any of them for its
// hosts with metadata "ferry:live_migration_<name>". The effective policy is resolved once, when
// the migration is accepted, and stored with it (migrations.policy), so changing a default
// never changes a migration already under way.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace ferry::controller::live_migration {

struct Policy {
  // Nova live_migration_completion_timeout: seconds per GiB of RAM (+ disk when copied),
  // each counted as at least 2 GiB; 0 = no timeout.
  int64_t completion_timeout_per_gib_s = 800;
  std::string timeout_action = "abort";  // "abort" | "force_complete"
  // Not in Nova (it removed its progress timeout): no new low of memory remaining for this
  // long triggers the timeout action. 0 = off.
  int64_t progress_timeout_s = 0;
  bool permit_post_copy = false;
  bool permit_auto_converge = false;
  // MiB/s, always sent: leaving it to QEMU would cap the copy at its default of 128 MiB/s.
  int64_t bandwidth_mibps = 10240;
  int64_t max_downtime_ms = 500;  // Nova live_migration_downtime (min 100)
  int downtime_steps = 10;        // Nova live_migration_downtime_steps (min 3)
  int64_t downtime_delay_s = 75;  // Nova live_migration_downtime_delay, per GiB (min 3)
  int monitor_interval_s = 5;     // Nova live_migration_monitor_interval

  // Seconds the copy may run for a guest of this size; 0 = unlimited.
  int64_t CompletionTimeoutSeconds(int64_t memory_mb, int64_t copied_disk_gb) const;
};

// Applies "ferry:live_migration_<name>" keys over `base`. Throws ferry::Error(kBadRequest)
// naming the key when a value does not parse or is out of range.
Policy WithOverrides(Policy base, const std::map<std::string, std::string>& metadata);
// Rejects values out of Nova's ranges (kBadRequest); used for the deployment defaults too.
void Validate(const Policy& p);

void to_json(nlohmann::json& j, const Policy& p);
void from_json(const nlohmann::json& j, Policy& p);

}  // namespace ferry::controller::live_migration
