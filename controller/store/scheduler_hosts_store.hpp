#pragma once
// What the scheduler's in-memory host snapshot reads: every host with its capacity and claims,
// aggregate metadata, shared datastores and live migrations in flight; and which hosts changed
// since a watermark, so a periodic refresh re-reads only those.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/store/models.hpp"

namespace ferry::controller::store {

class Tx;

struct SchedulerHostView {
  Host host;  // capacity, ratios, claims summed into *_used, state, zone, cpu_info
  std::vector<std::pair<std::string, std::string>>
      aggregate_metadata;                      // (key, value) per aggregate
  std::vector<std::string> shared_datastores;  // names, kind 'shared'
  int inbound_live_migrations = 0;             // status queued/preparing/running/post-migrating
  int outbound_live_migrations = 0;
};

// All hosts (ids = nullopt) or just these, ordered by id.
std::vector<SchedulerHostView> LoadSchedulerHosts(Tx& tx,
                                                  const std::optional<std::vector<int64_t>>& ids);

struct HostChanges {
  std::vector<int64_t> host_ids;  // hosts to re-read (may include deleted ones: absent on re-read)
  TimePoint database_now;         // the database's clock when the question was asked
};

// Hosts whose row, claims (new ones), aggregates or live migrations changed after `since`, plus
// those in `believed_down` that are up again (a heartbeat does not touch updated_at). Claims
// released by another controller leave no trace here: the periodic full reload catches them.
// The database's clock (watermarks compare with timestamps other controllers wrote).
TimePoint DatabaseNow(Tx& tx);

HostChanges HostsChangedSince(Tx& tx, TimePoint since, const std::vector<int64_t>& believed_down);

}  // namespace ferry::controller::store
