#pragma once
// Migration records (live, cold, resize, evacuation) as GET /os-migrations lists them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

class Tx;

struct Migration {
  int64_t id = 0;
  std::string uuid;
  std::string instance_uuid;
  std::string migration_type;    // live-migration | migration | resize | evacuation
  std::string status;            // a row of migration_statuses
  bool api_in_progress = false;  // migration_statuses.api_in_progress of `status`
  std::optional<std::string> source_compute;
  std::optional<std::string> source_node;
  std::optional<std::string> dest_compute;
  std::optional<std::string> dest_node;
  std::optional<std::string> dest_host;
  std::optional<int64_t> old_instance_type_id;
  std::optional<int64_t> new_instance_type_id;
  std::optional<int64_t> memory_total;
  std::optional<int64_t> memory_processed;
  std::optional<int64_t> memory_remaining;
  std::optional<int64_t> disk_total;  // a cold move's copy (a live one counts memory)
  std::optional<int64_t> disk_remaining;
  std::optional<std::string> user_id;
  std::optional<std::string> project_id;
  TimePoint created_at;
  std::optional<TimePoint> updated_at;
  std::optional<std::string> phase;
  int attempt = 0;
  std::optional<std::string> error_reason;
};

// Every member narrows the list when set (Nova's migration_get_all_by_filters).
struct MigrationFilter {
  std::optional<std::string> host;  // source OR destination compute
  std::optional<std::string> source_compute;
  std::optional<std::vector<std::string>> statuses;  // any of these
  std::optional<std::string> instance_uuid;          // a well-formed uuid
  std::optional<std::string> migration_type;
  std::optional<std::string> user_id;
  std::optional<std::string> project_id;
  std::optional<TimePoint> changes_since;   // updated_at >= this
  std::optional<TimePoint> changes_before;  // updated_at <= this
  std::optional<std::string> marker;        // an existing migration's uuid: rows after it
  int64_t limit = 1000;                     // Nova's [api] max_limit default
};

// Newest first (created_at desc, id desc), as Nova lists migrations.
std::vector<Migration> ListMigrations(Tx& tx, const MigrationFilter& filter);
// The plan PostgreSQL picks for ListMigrations with this filter (EXPLAIN text), for the test
// that proves each filter and each page is served by an index.
std::string ExplainListMigrationsForTest(Tx& tx, const MigrationFilter& filter);
// False if no migration has this uuid (Nova: 400 "Marker ... could not be found.").
// `uuid` must be well-formed.
bool MigrationExists(Tx& tx, const std::string& uuid);

}  // namespace ferry::controller::store
