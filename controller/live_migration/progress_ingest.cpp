#include "controller/live_migration/progress_ingest.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include "common/errors.hpp"
#include "common/metrics/metrics.hpp"

namespace ferry::controller::live_migration {
namespace {

struct IngestMetrics {
  metrics::CounterFamily& rows;
  metrics::CounterFamily& statements;
  metrics::CounterFamily& failures;
};

IngestMetrics& Metrics() {
  static IngestMetrics m{
      metrics::DefaultRegistry().AddCounter(
          "ferry_progress_rows_total",
          "Progress reports from agents written to the database in a batch that committed "
          "(rate() gives rows per second)."),
      metrics::DefaultRegistry().AddCounter(
          "ferry_progress_writes_total",
          "Batched progress statements committed (group commit: many posts per statement)."),
      metrics::DefaultRegistry().AddCounter(
          "ferry_progress_write_failures_total",
          "Batched progress statements that failed; their posts were answered 503 and are "
          "sent again by the agents."),
  };
  return m;
}

}  // namespace

ProgressIngest::ProgressIngest(store::Database& db,
                               std::function<void(const store::MoveRef&)> on_finished, int writers,
                               std::chrono::milliseconds submit_timeout)
    : on_finished_(std::move(on_finished)), submit_timeout_(submit_timeout) {
  for (int i = 0; i < std::max(1, writers); ++i) {
    writer_dbs_.push_back(std::make_unique<store::ProgressWriter>(db.dsn()));
  }
}

ProgressIngest::~ProgressIngest() { Stop(); }

void ProgressIngest::Start() {
  Metrics();  // the families show from the start
  for (auto& db : writer_dbs_) writers_.emplace_back([this, &db] { WriterLoop(*db); });
}

void ProgressIngest::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  // The writers drain what was accepted before they return; without writers (never started)
  // the posts still waiting are answered "unavailable".
  for (auto& w : writers_) {
    if (w.joinable()) w.join();
  }
  std::lock_guard lock(mu_);
  if (!next_.rows.empty()) {
    next_ = Post{};
    Finish(*next_generation_, "controller stopping");
  }
}

void ProgressIngest::Finish(Generation& g, std::string failure) {
  {
    std::lock_guard lock(g.mu);
    g.failure = std::move(failure);
    g.done = true;
  }
  g.cv.notify_all();
}

uint64_t ProgressIngest::statements() const {
  std::lock_guard lock(mu_);
  return statements_;
}

std::optional<std::string> ProgressIngest::Normalize(wire::LiveMigrationJob& r) {
  if (!store::IsUuidText(r.migration_uuid)) {
    return "migration_uuid is not a uuid: " + r.migration_uuid.substr(0, 64);
  }
  for (const auto* text : {&r.state, &r.domain_uuid, &r.phase}) {
    if (store::HasControlCharacters(*text)) {
      return "a report of migration " + r.migration_uuid +
             " holds a control character in a text field";
    }
  }
  // Error texts from hypervisors may span lines; anything else below 0x20 is refused.
  if (store::HasControlCharacters(r.error, /*allow_line_breaks=*/true)) {
    return "a report of migration " + r.migration_uuid + " holds a control character in 'error'";
  }
  // Checked here, not by the table's constraints: one report the database refuses would fail
  // the whole batch it is written with, every other agent's reports included.
  if (!wire::ParseJobState(r.state)) {
    return "a report of migration " + r.migration_uuid + " has an unknown job state";
  }
  if (!r.phase.empty() && !wire::ParseJobPhase(r.phase)) {
    spdlog::warn("migration {}: job phase '{}' unknown to this controller; ignored",
                 r.migration_uuid, r.phase.substr(0, 32));
    r.phase.clear();
  }
  // 10^11 s: the year 5138. A sample time beyond it (or not a number) is no time at all.
  if (!std::isfinite(r.sampled_at) || r.sampled_at < 0 || r.sampled_at > 1e11) {
    return "a report of migration " + r.migration_uuid + " has no usable sample time";
  }
  // Byte counts and rates up to 2^56 (64 PiB): their sums and percentages stay in int8.
  constexpr int64_t kMaxBytes = int64_t{1} << 56;
  for (auto* n : {&r.memory_total, &r.memory_processed, &r.memory_remaining, &r.disk_total,
                  &r.disk_processed, &r.disk_remaining, &r.transfer_rate_bps, &r.dirty_rate_bps}) {
    *n = std::clamp<int64_t>(*n, 0, kMaxBytes);
  }
  r.downtime_ms = std::clamp<int64_t>(r.downtime_ms, 0, std::numeric_limits<int32_t>::max());
  r.iteration = std::clamp(r.iteration, 0, std::numeric_limits<int32_t>::max());
  r.throttle_percent = std::clamp(r.throttle_percent, 0, 100);
  return std::nullopt;
}

ProgressIngest::Post ProgressIngest::Prepare(const wire::MigrationProgressBatch& batch) {
  Post post;
  if (store::HasControlCharacters(batch.host)) {
    throw Error(Errc::kBadRequest, "the post's host holds a control character");
  }
  for (auto r : batch.reports) {
    if (auto problem = Normalize(r)) throw Error(Errc::kBadRequest, *problem);
    post.rows.Add(batch.host, r);
  }
  return post;
}

void ProgressIngest::Submit(Post post) {
  if (post.rows.empty()) return;
  std::shared_ptr<Generation> mine;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (stop_) throw Error(Errc::kUnavailable, "controller stopping");
    // Appending a post's formatted columns is a few hundred bytes of copying under the lock.
    first = next_.rows.empty();
    next_.rows.Append(post.rows);
    mine = next_generation_;
  }
  // Writers wait only while next_ is empty: only the first post of a write wakes one.
  if (first) work_cv_.notify_one();
  std::unique_lock wait(mine->mu);
  if (!mine->cv.wait_for(wait, submit_timeout_, [&] { return mine->done; })) {
    // The reports may still land with their write; the agent's next post repeats them anyway.
    throw Error(Errc::kUnavailable, "progress write did not finish in time");
  }
  if (!mine->failure.empty()) throw Error(Errc::kUnavailable, mine->failure);
}

void ProgressIngest::WriterLoop(store::ProgressWriter& db) {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !next_.rows.empty(); });
    if (next_.rows.empty() && stop_) return;
    Post batch;
    std::swap(batch, next_);
    auto generation = std::exchange(next_generation_, std::make_shared<Generation>());
    lock.unlock();

    // The whole batch is one statement, in which the store keeps only reports from the
    // migration's source host, and of several reports of one migration from one host (an agent
    // that posted again before the previous write ended) only the newest.
    std::string failure;
    std::vector<store::MoveRef> ended;  // only migrations this write updated: no wake for a
                                        // report that landed nowhere (unknown uuid, wrong host)
    try {
      db.Write(batch.rows, &ended);
    } catch (const std::exception& e) {
      failure = e.what();
      ended.clear();
    }
    for (const auto& move : ended) on_finished_(move);
    if (failure.empty()) {
      Metrics().rows.Get().Inc(static_cast<double>(batch.rows.size()));
      Metrics().statements.Get().Inc();
    } else {
      Metrics().failures.Get().Inc();
    }
    {
      std::lock_guard count(mu_);
      if (failure.empty()) ++statements_;
    }
    Finish(*generation, std::move(failure));
    lock.lock();
  }
}

}  // namespace ferry::controller::live_migration
