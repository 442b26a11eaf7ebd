#include "controller/api/metrics_api.hpp"

#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "common/metrics/metrics.hpp"
#include "controller/api/api_server.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::api {
namespace {

using metrics::Labels;
using Values = std::vector<std::pair<Labels, double>>;

// The families read from PostgreSQL: every series is replaced on each read.
struct DbFamilies {
  metrics::GaugeFamily& active;
  metrics::GaugeFamily& in_flight;
  metrics::GaugeFamily& queued;
  metrics::GaugeFamily& stuck;
  metrics::GaugeFamily& host_up;
  metrics::GaugeFamily& heartbeat_age;
  metrics::GaugeFamily& hosts;
  metrics::GaugeFamily& orphans;
  metrics::GaugeFamily& db_up;
};

DbFamilies& Families(const MetricsOptions& o) {
  static DbFamilies f = [&o] {
    auto& r = metrics::DefaultRegistry();
    return DbFamilies{
        r.AddGauge("ferry_moves_active",
                   "Moves that are not terminal, by kind and status (from the database: every "
                   "controller's).",
                   {"kind", "status"}),
        r.AddGauge("ferry_moves_in_flight",
                   "Moves in flight: every move not yet terminal (accepted and queued "
                   "included), by kind.",
                   {"kind"}),
        r.AddGauge("ferry_moves_queued", "Moves waiting for a slot (status queued), by kind.",
                   {"kind"}),
        r.AddGauge("ferry_moves_stuck",
                   "Moves that are not terminal and stuck, by kind and reason. lease_expired: no "
                   "controller has held its lease for " +
                       std::to_string(o.query.lease_grace.count()) +
                       " s (lease_until, or the last change of a move never leased, more than " +
                       std::to_string(o.query.lease_grace.count()) +
                       " s ago), with or without a lease owner. Not the dashboard's "
                       "v_migrations_in_progress.lease_expired, which is true the moment an owned "
                       "move's lease runs out (no grace) and never for a move without an owner. "
                       "no_progress: no status change and no progress report for " +
                       std::to_string(o.query.stuck_after.count()) +
                       " s (--metrics-stuck-after), except a resize waiting for its confirm "
                       "(finished) and an evacuation waiting for its dead source (done).",
                   {"kind", "reason"}),
        r.AddGauge("ferry_host_up",
                   "1 when the host's agent heartbeats (state up) and it is not forced down.",
                   {"host"}, metrics::kMaxSeriesPerHostFamily),
        r.AddGauge("ferry_host_heartbeat_age_seconds",
                   "Seconds since the host's agent last heartbeated (absent: never).", {"host"},
                   metrics::kMaxSeriesPerHostFamily),
        r.AddGauge("ferry_hosts", "Hosts by state: up or down (forced down counts as down).",
                   {"state"}),
        r.AddGauge("ferry_orphaned_claims",
                   "The rows of the view v_orphaned_claims: claims whose consumer is a move "
                   "that ended, a deleted server, a server on another host that no move "
                   "holding resources names, or unknown."),
        r.AddGauge("ferry_metrics_db_up",
                   "1 when the last reads of the database-derived metrics succeeded; 0: one "
                   "failed and its metrics show their last values (the orphaned-claims count "
                   "is read on its own, so its failure holds back no other metric)."),
    };
  }();
  return f;
}

Values KindZeros() {
  Values v;
  for (const char* kind : store::kMoveKinds) v.push_back({{kind}, 0});
  return v;
}

void Add(Values& values, const Labels& labels, double by) {
  for (auto& [l, v] : values) {
    if (l == labels) {
      v += by;
      return;
    }
  }
  values.push_back({labels, by});
}

void Publish(DbFamilies& f, const store::MetricsSnapshot& s) {
  Values active, in_flight = KindZeros(), queued = KindZeros(), stuck;
  for (const char* kind : store::kMoveKinds) {
    stuck.push_back({{kind, "lease_expired"}, 0});
    stuck.push_back({{kind, "no_progress"}, 0});
  }
  for (const auto& m : s.moves) {
    const auto n = static_cast<double>(m.count);
    active.push_back({{m.kind, m.status}, n});
    Add(in_flight, {m.kind}, n);
    if (m.status == "queued") Add(queued, {m.kind}, n);
  }
  for (const auto& st : s.stuck) {
    Add(stuck, {st.kind, "lease_expired"}, static_cast<double>(st.lease_expired));
    Add(stuck, {st.kind, "no_progress"}, static_cast<double>(st.no_progress));
  }
  Values up, age, hosts = {{{"up"}, 0}, {{"down"}, 0}};
  for (const auto& h : s.hosts) {
    up.push_back({{h.host}, h.up ? 1.0 : 0.0});
    if (h.heartbeat_age_s) age.push_back({{h.host}, *h.heartbeat_age_s});
    Add(hosts, {h.up ? "up" : "down"}, 1);
  }
  f.active.Replace(active);
  f.in_flight.Replace(in_flight);
  f.queued.Replace(queued);
  f.stuck.Replace(stuck);
  f.host_up.Replace(up);
  f.heartbeat_age.Replace(age);
  f.hosts.Replace(hosts);
}

// Reads the database at most once per `cache` (and the orphans once per `orphans_cache`),
// whatever the number of scrapes. One scrape at a time reads; a scrape that finds a read under
// way answers at once with what the last read published, so a slow database holds at most one
// API worker, for at most the metrics' statement and lock timeouts (store::kMetrics*Timeout)
// per read. The pool is the metrics' own and only the reading scrape takes from it, so it never
// waits for a connection.
class MetricsCache {
 public:
  MetricsCache(store::Database& db, const Clock& clock, MetricsOptions o)
      : db_(db), clock_(clock), options_(o), families_(Families(options_)) {
    store::RegisterMoveMetrics();
    Publish(families_, {});
  }

  std::string Render() {
    {
      std::unique_lock lock(mu_, std::try_to_lock);
      if (lock.owns_lock()) Refresh();
    }
    return metrics::DefaultRegistry().Render();
  }

 private:
  void Refresh() {
    const TimePoint now = clock_.Now();
    const bool snapshot_due = !read_ || now - *read_ >= options_.cache;
    // After a failed count, try again after `cache`, not `orphans_cache`.
    const bool orphans_due =
        !orphans_read_ ||
        now - *orphans_read_ >= (orphans_ok_ ? options_.orphans_cache : options_.cache);
    if (snapshot_due) {
      read_ = now;  // a failed read is tried again after `cache` too, not on every scrape
      store::MetricsSnapshot snapshot;
      snapshot_ok_ = Read("snapshot", [&](store::Tx& tx) {
        snapshot = store::ReadMetricsSnapshot(tx, options_.query);
      });
      if (snapshot_ok_) Publish(families_, snapshot);
    }
    // A transaction of its own: the snapshot above is published whatever this one does. Not
    // after a failed snapshot: a database that cannot answer the cheap reads would only make
    // this scrape wait a second time (a connect timeout, a statement timeout).
    if (orphans_due && snapshot_ok_) {
      orphans_read_ = now;
      int64_t orphans = 0;
      orphans_ok_ =
          Read("orphaned claims", [&](store::Tx& tx) { orphans = store::CountOrphanedClaims(tx); });
      if (orphans_ok_) families_.orphans.Get().Set(static_cast<double>(orphans));
    }
    families_.db_up.Get().Set(snapshot_ok_ && orphans_ok_ ? 1 : 0);
  }

  bool Read(const char* what, const std::function<void(store::Tx&)>& fn) {
    try {
      db_.Transact(fn);
      return true;
    } catch (const std::exception& e) {
      spdlog::warn("metrics: database read ({}) failed: {}", what, e.what());
      return false;
    }
  }

  store::Database& db_;
  const Clock& clock_;
  const MetricsOptions options_;
  DbFamilies& families_;
  std::mutex mu_;  // held by the one scrape that reads
  std::optional<TimePoint> read_;
  std::optional<TimePoint> orphans_read_;
  bool snapshot_ok_ = true;
  bool orphans_ok_ = true;
};

}  // namespace

void RegisterMetricsRoutes(ApiServer& api, store::Database& metrics_db, const Clock& clock,
                           MetricsOptions options) {
  auto cache = std::make_shared<MetricsCache>(metrics_db, clock, options);
  api.Route("GET", "/metrics", Access::kMetrics, [cache](Request&) {
    Response r;
    r.raw_body = cache->Render();
    r.content_type = metrics::kContentType;
    return r;
  });
}

}  // namespace ferry::controller::api
