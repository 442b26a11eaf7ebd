#pragma once
// The scheduler's in-memory view of every host (Nova's CachingScheduler idea, made incremental).
// Loaded once, then kept fresh three ways:
//   - MarkDirty(host) after this process commits a claim change: only that host is re-read;
//   - Tick() every second or so: hosts changed since a watermark are re-read (new claims, host
//     rows, aggregates, live migrations), and hosts believed down are checked for a heartbeat;
//   - a full reload every `full_reload_every`, for what leaves no trace (claims released by
//     another controller, a host removed from an aggregate).
// Readers take an immutable shared_ptr (copy-on-write), so Select never waits for a refresh.
// The claim in PostgreSQL (store::ClaimIfFits) stays the only truth: a stale view can only
// cost a lost claim and a try on the next candidate.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/clock.hpp"
#include "controller/scheduler/host_index.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::store {
struct SchedulerHostView;
}

namespace ferry::controller::conductor {

struct HostSnapshotOptions {
  // 60 s: Nova's CachingScheduler refreshed its whole host view once a minute
  // (scheduler_driver_task_period); here it only backs up the incremental refresh.
  std::chrono::seconds full_reload_every{60};
  // 10 s: a transaction that started before a refresh but committed after it wrote timestamps
  // older than that refresh; re-reading this much of the past catches it. It also absorbs the
  // skew between the database's clock (the watermark) and controllers' clocks (hosts.updated_at
  // is stamped by the controller); NTP keeps that far below.
  std::chrono::seconds watermark_overlap{10};
};

class HostSnapshot {
 public:
  HostSnapshot(store::Database& db, const Clock& clock, HostSnapshotOptions options = {});

  // The current view; loads every host on first use. Never blocks on a refresh in progress.
  std::shared_ptr<const scheduler::HostIndex> Current();
  // Re-reads these hosts now (after a commit that changed their claims). A failed re-read is
  // retried by the next Tick().
  void MarkDirty(int64_t host_id);
  void MarkDirty(const std::vector<int64_t>& host_ids);
  // The periodic refresh: hosts changed since the watermark, dirty ones, and a full reload
  // when due.
  void Tick();
  void FullReload();

  // How many hosts the last refresh re-read (tests and the debug log).
  size_t last_refresh_size() const;

 private:
  void RefreshChangedLocked();
  void RefreshDirtyLocked();
  void ApplyLocked(const std::vector<int64_t>& ids,
                   const std::vector<store::SchedulerHostView>& views);
  void PublishLocked();

  store::Database& db_;
  const Clock& clock_;
  HostSnapshotOptions options_;

  std::mutex writer_mu_;  // one refresh at a time
  std::map<int64_t, std::shared_ptr<const scheduler::HostState>> hosts_;
  std::set<int64_t> dirty_;
  // Since the last publish: re-read hosts, and whether any was added or removed (then the
  // index is rebuilt; otherwise the published one is patched, see HostIndex::WithChanged).
  std::vector<std::shared_ptr<const scheduler::HostState>> changed_;
  bool structural_change_ = true;
  std::optional<TimePoint> watermark_;         // database time; nullopt until the first load
  std::optional<TimePoint> last_full_reload_;  // our clock
  std::atomic<size_t> last_refresh_size_{0};

  mutable std::mutex current_mu_;  // guards only the pointer swap
  std::shared_ptr<const scheduler::HostIndex> current_;
};

// A host as the scheduler sees it: capacity with ratios minus claims, CPU from cpu_info,
// aggregate metadata split on commas (as Nova's aggregate_metadata_get_by_host).
scheduler::HostState ToHostState(const store::SchedulerHostView& view);

}  // namespace ferry::controller::conductor
