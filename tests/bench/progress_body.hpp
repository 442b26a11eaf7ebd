#pragma once
// The body of one agent's progress post, written straight into a string: the same JSON as
// nlohmann::json(batch).dump() (each bench checks it before its run), without building a JSON
// tree per post. The benches' load generators share this machine's cores with the controller and
// PostgreSQL, where real agents run on their own hosts: a generator costlier than that would
// charge the endpoint for work that is not the controller's.
#include <charconv>
#include <string>

#include "api/wire/live_migration_messages.hpp"

namespace ferry::bench {

inline void AppendBody(std::string& out, const ferry::wire::MigrationProgressBatch& b) {
  auto num = [&out](auto v) {
    char buf[32];
    out.append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
  };
  // Every string here is a uuid, a host name or a fixed word: nothing needs escaping.
  auto str = [&out](const char* key, const std::string& v) {
    out += '"';
    out += key;
    out += "\":\"";
    out += v;
    out += "\",";
  };
  out += "{\"host\":\"" + b.host + "\",\"reports\":[";
  for (size_t i = 0; i < b.reports.size(); ++i) {
    const auto& j = b.reports[i];
    out += i ? ",{" : "{";
    str("migration_uuid", j.migration_uuid);
    str("domain_uuid", j.domain_uuid);
    str("state", j.state);
    str("phase", j.phase);
    str("error", j.error);
    const std::pair<const char*, int64_t> ints[] = {{"iteration", j.iteration},
                                                    {"memory_total", j.memory_total},
                                                    {"memory_processed", j.memory_processed},
                                                    {"memory_remaining", j.memory_remaining},
                                                    {"disk_total", j.disk_total},
                                                    {"disk_processed", j.disk_processed},
                                                    {"disk_remaining", j.disk_remaining},
                                                    {"transfer_rate_bps", j.transfer_rate_bps},
                                                    {"dirty_rate_bps", j.dirty_rate_bps},
                                                    {"downtime_ms", j.downtime_ms},
                                                    {"throttle_percent", j.throttle_percent}};
    for (const auto& [key, v] : ints) {
      out += '"';
      out += key;
      out += "\":";
      num(v);
      out += ',';
    }
    out += "\"sampled_at\":";
    num(j.sampled_at);
    out += '}';
  }
  out += "]}";
}

}  // namespace ferry::bench
