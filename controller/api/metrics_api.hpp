#pragma once
// GET /metrics: Prometheus' text format 0.0.4. What this process counts (API latency, database
// pool, moves that ended here, progress rows, scheduler) plus what PostgreSQL knows for the
// whole cluster (moves in flight by kind and status, queue, stuck moves, hosts, orphaned
// claims), read through a connection pool of its own and cached, so scrapes from several
// Prometheus servers every second cost the database one set of cheap reads per `cache`. One
// scrape reads at a time; the others answer what the last read published at once, so a slow
// database holds at most one API worker, and the orphaned-claims count (a transaction of its
// own) failing holds back no other gauge (ferry_metrics_db_up says it failed).
//
// Who may scrape (Access::kMetrics): an admin, or a token of the token file's role "metrics"
// (with --auth keystone too: Prometheus holds no Keystone token); that role may call nothing
// else.
#include <chrono>

#include "common/clock.hpp"
#include "controller/store/metrics_store.hpp"

namespace ferry::controller::store {
class Database;
}

namespace ferry::controller::api {

class ApiServer;

struct MetricsOptions {
  // 5 s: a third of Prometheus' default scrape interval (15 s); a scrape at most 5 s stale.
  std::chrono::seconds cache{5};
  // 60 s for the orphaned-claims count, the one read that joins every claim: an orphan is a
  // leak to clean up, not an emergency, and its alert waits minutes anyway.
  std::chrono::seconds orphans_cache{60};
  store::MetricsQuery query;
};

void RegisterMetricsRoutes(ApiServer& api, store::Database& metrics_db, const Clock& clock,
                           MetricsOptions options = {});

}  // namespace ferry::controller::api
