#include "agent/command_log.hpp"

namespace ferry::agent {

CommandLog::Lookup CommandLog::Begin(const std::string& id, const std::string& fingerprint) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (auto it = done_.find(id); it != done_.end()) {
      if (it->second.fingerprint != fingerprint) return {Claim::kMismatch, {}};
      return {Claim::kReplay, it->second.result};
    }
    auto running = in_flight_.find(id);
    if (running == in_flight_.end()) break;
    if (running->second != fingerprint) return {Claim::kMismatch, {}};
    changed_.wait(lock);
  }
  in_flight_.emplace(id, fingerprint);
  return {Claim::kExecute, {}};
}

void CommandLog::Finish(const std::string& id, const wire::CommandResult& result) {
  {
    std::lock_guard lock(mu_);
    auto running = in_flight_.find(id);
    if (running == in_flight_.end()) return;  // not claimed through Begin(): nothing to record
    done_[id] = Entry{running->second, result};
    in_flight_.erase(running);
    order_.push_back(id);
    while (order_.size() > capacity_) {
      done_.erase(order_.front());
      order_.pop_front();
    }
  }
  changed_.notify_all();
}

void CommandLog::Abandon(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(id);
  }
  changed_.notify_all();
}

size_t CommandLog::SizeForTest() const {
  std::lock_guard lock(mu_);
  return done_.size();
}

}  // namespace ferry::agent
