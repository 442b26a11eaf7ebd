#include "controller/live_migration/progress_ingest.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/errors.hpp"

namespace ferry::controller::live_migration {

ProgressIngest::ProgressIngest(store::Database& db,
                               std::function<void(const std::string&)> on_finished, int writers,
                               std::chrono::milliseconds submit_timeout)
    : on_finished_(std::move(on_finished)), submit_timeout_(submit_timeout) {
  for (int i = 0; i < std::max(1, writers); ++i) {
    writer_dbs_.push_back(std::make_unique<store::ProgressWriter>(db.dsn()));
  }
}

ProgressIngest::~ProgressIngest() { Stop(); }

void ProgressIngest::Start() {
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

ProgressIngest::Post ProgressIngest::Prepare(const wire::MigrationProgressBatch& batch) {
  Post post;
  for (const auto& r : batch.reports) {
    if (!store::IsUuidText(r.migration_uuid)) {
      throw Error(Errc::kBadRequest,
                  "migration_uuid is not a uuid: " + r.migration_uuid.substr(0, 64));
    }
    for (const auto* text : {&batch.host, &r.state, &r.domain_uuid, &r.phase}) {
      if (store::HasControlCharacters(*text)) {
        throw Error(Errc::kBadRequest, "a report of migration " + r.migration_uuid +
                                           " holds a control character in a text field");
      }
    }
    // Checked here, not by the table's constraints: one report the database refuses would
    // fail the whole batch it is written with, every other agent's reports included.
    if (!wire::ParseJobState(r.state)) {
      throw Error(Errc::kBadRequest,
                  "a report of migration " + r.migration_uuid + " has an unknown job state");
    }
    if (!r.phase.empty() && !wire::ParseJobPhase(r.phase)) {
      throw Error(Errc::kBadRequest,
                  "a report of migration " + r.migration_uuid + " has an unknown job phase");
    }
    // Error texts from hypervisors may span lines; anything else below 0x20 is refused.
    if (store::HasControlCharacters(r.error, /*allow_line_breaks=*/true)) {
      throw Error(Errc::kBadRequest, "a report of migration " + r.migration_uuid +
                                         " holds a control character in 'error'");
    }
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
    std::vector<std::string> ended;  // only migrations this write updated: no wake for a
                                     // report that landed nowhere (unknown uuid, wrong host)
    try {
      db.Write(batch.rows, &ended);
    } catch (const std::exception& e) {
      failure = e.what();
      ended.clear();
    }
    for (const auto& uuid : ended) on_finished_(uuid);
    {
      std::lock_guard count(mu_);
      if (failure.empty()) ++statements_;
    }
    Finish(*generation, std::move(failure));
    lock.lock();
  }
}

}  // namespace ferry::controller::live_migration
