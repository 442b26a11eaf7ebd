#include "controller/live_migration/progress_ingest.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/errors.hpp"

namespace ferry::controller::live_migration {

ProgressIngest::ProgressIngest(store::Database& db,
                               std::function<void(const std::string&)> on_finished, int writers)
    : on_finished_(std::move(on_finished)) {
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
  g.failure = std::move(failure);
  g.done.store(1, std::memory_order_release);
  g.done.notify_all();
}

uint64_t ProgressIngest::statements() const {
  std::lock_guard lock(mu_);
  return statements_;
}

ProgressIngest::Post ProgressIngest::Prepare(const wire::MigrationProgressBatch& batch) {
  Post post;
  for (const auto& r : batch.reports) {
    if (!store::IsUuidText(r.migration_uuid)) {
      throw Error(Errc::kBadRequest, "migration_uuid is not a uuid: " + r.migration_uuid.substr(0, 64));
    }
    post.rows.Add(batch.host, r);
    if (r.state != "running") post.finished.push_back(r.migration_uuid);
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
    next_.finished.insert(next_.finished.end(), std::make_move_iterator(post.finished.begin()),
                          std::make_move_iterator(post.finished.end()));
    mine = next_generation_;
  }
  // Writers wait only while next_ is empty: only the first post of a write wakes one.
  if (first) work_cv_.notify_one();
  mine->done.wait(0, std::memory_order_acquire);
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
    try {
      db.Write(batch.rows);
    } catch (const std::exception& e) {
      failure = e.what();
      batch.finished.clear();
    }
    for (const auto& uuid : batch.finished) on_finished_(uuid);
    {
      std::lock_guard count(mu_);
      if (failure.empty()) ++statements_;
    }
    Finish(*generation, std::move(failure));
    lock.lock();
  }
}

}  // namespace ferry::controller::live_migration
