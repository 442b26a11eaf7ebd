#include "controller/moves/status_waiters.hpp"

namespace ferry::controller::moves {

StatusWaiters::Watch::Watch(StatusWaiters& board, std::string uuid)
    : board_(board), uuid_(std::move(uuid)) {
  std::lock_guard lock(board_.mu_);
  auto& [watches, changes] = board_.watched_[uuid_];
  ++watches;
  seen_ = changes;
}

StatusWaiters::Watch::~Watch() {
  std::lock_guard lock(board_.mu_);
  auto it = board_.watched_.find(uuid_);
  if (it != board_.watched_.end() && --it->second.first == 0) board_.watched_.erase(it);
}

bool StatusWaiters::Watch::WaitForChange(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(board_.mu_);
  const bool changed = board_.cv_.wait_until(
      lock, deadline, [&] { return board_.watched_.at(uuid_).second != seen_; });
  seen_ = board_.watched_.at(uuid_).second;
  return changed;
}

void StatusWaiters::Changed(const std::string& uuid) {
  std::function<void()> listener;
  bool watched = false;
  {
    std::lock_guard lock(mu_);
    listener = on_every_change_;
    auto it = watched_.find(uuid);
    if (it != watched_.end()) {  // nobody waits: the common case costs one lookup
      ++it->second.second;
      watched = true;
    }
  }
  if (watched) cv_.notify_all();
  if (listener) listener();
}

}  // namespace ferry::controller::moves
