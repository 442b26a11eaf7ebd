#include "api/wire/live_migration_messages.hpp"

#include <array>

#include "api/wire/json_numbers.hpp"

namespace ferry::wire {
namespace {

constexpr std::array<std::string_view, 4> kJobStates = {"running", "completed", "failed",
                                                        "cancelled"};
constexpr std::array<std::string_view, 6> kJobPhases = {"precopy",    "postcopy", "paused",
                                                        "switchover", "done",     "copying"};

template <typename E, size_t N>
std::optional<E> ParseFrom(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(JobState s) { return kJobStates.at(static_cast<size_t>(s)); }
std::string_view ToString(JobPhase p) { return kJobPhases.at(static_cast<size_t>(p)); }
std::optional<JobState> ParseJobState(std::string_view s) {
  return ParseFrom<JobState>(kJobStates, s);
}
std::optional<JobPhase> ParseJobPhase(std::string_view s) {
  return ParseFrom<JobPhase>(kJobPhases, s);
}

using nlohmann::json;

void to_json(json& j, const LiveMigrationSpec& s) {
  j = json{{"migration_uuid", s.migration_uuid},
           {"domain", s.domain},
           {"source_host", s.source_host},
           {"dest_host", s.dest_host},
           {"dest_migration_address", s.dest_migration_address},
           {"incoming_uri", s.incoming_uri},
           {"block_migration", s.block_migration},
           {"bandwidth_mibps", s.bandwidth_mibps},
           {"max_downtime_ms", s.max_downtime_ms},
           {"downtime_steps", s.downtime_steps},
           {"downtime_delay_s", s.downtime_delay_s},
           {"permit_post_copy", s.permit_post_copy},
           {"permit_auto_converge", s.permit_auto_converge},
           {"monitor_interval_s", s.monitor_interval_s},
           {"source_cpu", s.source_cpu}};
}
void from_json(const json& j, LiveMigrationSpec& s) {
  const LiveMigrationSpec d;
  j.at("migration_uuid").get_to(s.migration_uuid);
  j.at("domain").get_to(s.domain);
  s.source_host = j.value("source_host", d.source_host);
  s.dest_host = j.value("dest_host", d.dest_host);
  s.dest_migration_address = j.value("dest_migration_address", d.dest_migration_address);
  s.incoming_uri = j.value("incoming_uri", d.incoming_uri);
  s.block_migration = j.value("block_migration", d.block_migration);
  s.bandwidth_mibps = IntOr(j, "bandwidth_mibps", d.bandwidth_mibps);
  s.max_downtime_ms = IntOr(j, "max_downtime_ms", d.max_downtime_ms);
  s.downtime_steps = IntOr(j, "downtime_steps", d.downtime_steps);
  s.downtime_delay_s = IntOr(j, "downtime_delay_s", d.downtime_delay_s);
  s.permit_post_copy = j.value("permit_post_copy", d.permit_post_copy);
  s.permit_auto_converge = j.value("permit_auto_converge", d.permit_auto_converge);
  s.monitor_interval_s = IntOr(j, "monitor_interval_s", d.monitor_interval_s);
  if (j.contains("source_cpu") && j.at("source_cpu").is_object())
    j.at("source_cpu").get_to(s.source_cpu);
}

void to_json(json& j, const LiveMigrationJob& r) {
  j = json{{"migration_uuid", r.migration_uuid},
           {"domain_uuid", r.domain_uuid},
           {"state", r.state},
           {"phase", r.phase},
           {"iteration", r.iteration},
           {"memory_total", r.memory_total},
           {"memory_processed", r.memory_processed},
           {"memory_remaining", r.memory_remaining},
           {"disk_total", r.disk_total},
           {"disk_processed", r.disk_processed},
           {"disk_remaining", r.disk_remaining},
           {"transfer_rate_bps", r.transfer_rate_bps},
           {"dirty_rate_bps", r.dirty_rate_bps},
           {"downtime_ms", r.downtime_ms},
           {"throttle_percent", r.throttle_percent},
           {"error", r.error},
           {"sampled_at", r.sampled_at}};
}
void from_json(const json& j, LiveMigrationJob& r) {
  j.at("migration_uuid").get_to(r.migration_uuid);
  j.at("state").get_to(r.state);
  r.domain_uuid = j.value("domain_uuid", "");
  r.phase = j.value("phase", "");
  r.iteration = IntOr<int>(j, "iteration", 0);
  r.memory_total = IntOr<int64_t>(j, "memory_total", 0);
  r.memory_processed = IntOr<int64_t>(j, "memory_processed", 0);
  r.memory_remaining = IntOr<int64_t>(j, "memory_remaining", 0);
  r.disk_total = IntOr<int64_t>(j, "disk_total", 0);
  r.disk_processed = IntOr<int64_t>(j, "disk_processed", 0);
  r.disk_remaining = IntOr<int64_t>(j, "disk_remaining", 0);
  r.transfer_rate_bps = IntOr<int64_t>(j, "transfer_rate_bps", 0);
  r.dirty_rate_bps = IntOr<int64_t>(j, "dirty_rate_bps", 0);
  r.downtime_ms = IntOr<int64_t>(j, "downtime_ms", 0);
  r.throttle_percent = IntOr<int>(j, "throttle_percent", 0);
  r.error = j.value("error", "");
  r.sampled_at = j.value("sampled_at", 0.0);
}

void to_json(json& j, const MigrationProgressBatch& b) {
  j = json{{"host", b.host}, {"reports", b.reports}};
}
void from_json(const json& j, MigrationProgressBatch& b) {
  j.at("host").get_to(b.host);
  j.at("reports").get_to(b.reports);
}

}  // namespace ferry::wire
