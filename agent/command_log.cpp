#include "agent/command_log.hpp"

#include <functional>

namespace ferry::agent {

CommandLog::Lookup CommandLog::Begin(const std::string& id, const std::string& fingerprint) {
  const Fingerprint hash = std::hash<std::string>{}(fingerprint);
  std::lock_guard lock(mu_);
  if (auto it = done_.find(id); it != done_.end()) {
    if (it->second.fingerprint != hash) return {Claim::kMismatch, {}};
    return {Claim::kReplay, it->second.result};
  }
  if (auto running = in_flight_.find(id); running != in_flight_.end()) {
    return {running->second == hash ? Claim::kInProgress : Claim::kMismatch, {}};
  }
  in_flight_.emplace(id, hash);
  return {Claim::kExecute, {}};
}

void CommandLog::Finish(const std::string& id, const wire::CommandResult& result) {
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

void CommandLog::Abandon(const std::string& id) {
  std::lock_guard lock(mu_);
  in_flight_.erase(id);
}

size_t CommandLog::SizeForTest() const {
  std::lock_guard lock(mu_);
  return done_.size();
}

}  // namespace ferry::agent
