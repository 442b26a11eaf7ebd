#include "api/wire/cold_migration_messages.hpp"

#include "api/wire/json_numbers.hpp"

namespace ferry::wire {

using nlohmann::json;

void to_json(json& j, const ColdMigrationSpec& s) {
  j = json{{"migration_uuid", s.migration_uuid},
           {"domain", s.domain},
           {"new_vcpus", s.new_vcpus},
           {"new_memory_mb", s.new_memory_mb},
           {"new_disk_gb", s.new_disk_gb},
           {"source_host", s.source_host},
           {"dest_host", s.dest_host},
           {"dest_migration_address", s.dest_migration_address},
           {"receive_uri", s.receive_uri},
           {"transfer_token", s.transfer_token},
           {"shared_storage", s.shared_storage},
           {"power_on", s.power_on},
           {"bandwidth_mibps", s.bandwidth_mibps},
           {"shutdown_timeout_s", s.shutdown_timeout_s},
           {"monitor_interval_s", s.monitor_interval_s}};
}

void from_json(const json& j, ColdMigrationSpec& s) {
  const ColdMigrationSpec d;
  j.at("migration_uuid").get_to(s.migration_uuid);
  j.at("domain").get_to(s.domain);
  s.new_vcpus = static_cast<int>(IntOr(j, "new_vcpus", s.domain.vcpus));
  s.new_memory_mb = IntOr(j, "new_memory_mb", s.domain.memory_mb);
  s.new_disk_gb = IntOr(j, "new_disk_gb", s.domain.disk_gb);
  s.source_host = j.value("source_host", d.source_host);
  s.dest_host = j.value("dest_host", d.dest_host);
  s.dest_migration_address = j.value("dest_migration_address", d.dest_migration_address);
  s.receive_uri = j.value("receive_uri", d.receive_uri);
  s.transfer_token = j.value("transfer_token", d.transfer_token);
  s.shared_storage = j.value("shared_storage", d.shared_storage);
  s.power_on = j.value("power_on", d.power_on);
  s.bandwidth_mibps = IntOr(j, "bandwidth_mibps", d.bandwidth_mibps);
  s.shutdown_timeout_s = static_cast<int>(IntOr(j, "shutdown_timeout_s", d.shutdown_timeout_s));
  s.monitor_interval_s = static_cast<int>(IntOr(j, "monitor_interval_s", d.monitor_interval_s));
}

}  // namespace ferry::wire
