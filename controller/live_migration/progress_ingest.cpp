#include "controller/live_migration/progress_ingest.hpp"

#include <spdlog/spdlog.h>

#include <map>

#include "common/errors.hpp"
#include "controller/store/live_migrations_store.hpp"

namespace ferry::controller::live_migration {

ProgressIngest::ProgressIngest(store::Database& db,
                               std::function<void(const std::string&)> on_finished)
    : db_(db), on_finished_(std::move(on_finished)) {}

ProgressIngest::~ProgressIngest() { Stop(); }

void ProgressIngest::Start() { writer_ = std::thread([this] { WriterLoop(); }); }

void ProgressIngest::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

uint64_t ProgressIngest::statements() const {
  std::lock_guard lock(mu_);
  return statements_;
}

void ProgressIngest::Submit(const wire::MigrationProgressBatch& batch) {
  std::unique_lock lock(mu_);
  if (stop_) throw Error(Errc::kUnavailable, "controller stopping");
  next_.push_back({batch.host, batch.reports});
  const uint64_t mine = next_generation_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return done_generation_ >= mine || stop_; });
  if (done_generation_ < mine) throw Error(Errc::kUnavailable, "controller stopping");
  // Failures are per generation; a later generation may have overwritten it, which only makes
  // this answer optimistic for a write that was retried successfully.
  if (done_generation_ == mine && !failure_.empty()) throw Error(Errc::kUnavailable, failure_);
}

void ProgressIngest::WriterLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !next_.empty(); });
    if (next_.empty() && stop_) return;
    std::vector<Pending> batch;
    batch.swap(next_);
    const uint64_t generation = next_generation_++;
    lock.unlock();

    // The newest report of each migration from each host wins; the whole batch is one
    // statement, in which the store keeps only reports from the migration's source host (keyed
    // by host too, so a stray report from another host can never displace the source's).
    std::map<std::pair<std::string, std::string>, store::HostReport> latest;
    for (auto& p : batch) {
      for (auto& r : p.reports) {
        auto [slot, fresh] = latest.try_emplace({r.migration_uuid, p.host}, store::HostReport{p.host, r});
        if (!fresh && slot->second.job.sampled_at <= r.sampled_at) slot->second.job = r;
      }
    }
    std::vector<store::HostReport> reports;
    std::vector<std::string> finished;
    reports.reserve(latest.size());
    for (auto& [key, r] : latest) {
      if (r.job.state != "running") finished.push_back(key.first);
      reports.push_back(std::move(r));
    }
    std::string failure;
    uint64_t written = 0;
    try {
      db_.Transact([&](store::Tx& tx) { store::ApplyProgress(tx, reports); });
      written = 1;
    } catch (const std::exception& e) {
      failure = e.what();
      finished.clear();
      spdlog::warn("progress ingest: write failed: {}", failure);
    }
    for (const auto& uuid : finished) on_finished_(uuid);

    lock.lock();
    statements_ += written;
    done_generation_ = generation;
    failure_ = failure;
    done_cv_.notify_all();
  }
}

}  // namespace ferry::controller::live_migration
