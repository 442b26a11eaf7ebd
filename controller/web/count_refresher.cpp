#include "controller/web/count_refresher.hpp"

#include <stdexcept>
#include <utility>

namespace ferry::controller::web {

CountRefresher::~CountRefresher() { Stop(); }

std::shared_ptr<RefreshedCount> CountRefresher::Add(RefreshedCount::Timing timing,
                                                    RefreshedCount::Fetch fetch,
                                                    RefreshedCount::OnError on_error) {
  if (thread_.joinable()) throw std::logic_error("CountRefresher::Add after Start");
  auto count = std::make_shared<RefreshedCount>(timing, std::move(fetch), std::move(on_error));
  counts_.push_back(count);
  return count;
}

void CountRefresher::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void CountRefresher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void CountRefresher::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, tick_, [this] { return stop_; })) {
    lock.unlock();
    // RefreshIfDue catches what a read throws: the loop outlives any failure.
    for (const auto& count : counts_) count->RefreshIfDue();
    lock.lock();
  }
}

}  // namespace ferry::controller::web
