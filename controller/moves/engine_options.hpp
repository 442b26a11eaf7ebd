#pragma once
// The move engine's options (controller flags), the same for every kind of move.
#include <chrono>
#include <string>

namespace ferry::controller::moves {

// Slots: a move past admission (FERRY_SQL_SLOT_STATUSES) holds one outbound slot on its source,
// one inbound slot on its destination, and one of the cluster's, whatever its kind.
struct Limits {
  int max_outbound_per_host = 1;  // Nova max_concurrent_live_migrations
  int max_inbound_per_host = 2;   // not in Nova: a destination is protected too
  int max_total = 0;              // cluster-wide; 0 = no limit
};

struct EngineOptions {
  std::string owner;                     // this controller's lease identity
  std::chrono::seconds lease{15};        // a crashed owner's moves wait this long
  std::chrono::milliseconds tick{1000};  // lease renewal, admission and monitoring period
  int workers = 4;
  Limits limits;
  // Failures in a row of one move's step at one status (an exception that is not the
  // database's unavailability) before the move ends in error with the last one as its reason.
  int step_retry_budget = 10;
  // ... and the first of them at least this long ago: a burst (wakes by API calls, a flapping
  // dependency) does not exhaust the budget by itself.
  std::chrono::seconds step_retry_window{60};
};

}  // namespace ferry::controller::moves
