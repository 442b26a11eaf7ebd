#pragma once
// Agents' registrations and heartbeats: host rows, liveness and the inventory of domains.
#include <chrono>
#include <functional>

#include "api/wire/messages.hpp"
#include "common/clock.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::conductor {

class HostRegistry {
 public:
  HostRegistry(store::Database& db, const Clock& clock, std::chrono::seconds heartbeat_interval)
      : db_(db), clock_(clock), heartbeat_interval_(heartbeat_interval) {}

  // Called after a registration commits: work waiting for this host (builds and deletes whose
  // agent was unreachable, possibly at an old address) can be retried at once.
  void OnRegistered(std::function<void()> hook) { on_registered_ = std::move(hook); }

  // Throws ferry::Error(kBadRequest) on invalid content (names, uuids, negative sizes).
  wire::RegisterResponse Register(const wire::RegisterRequest& req);
  // Throws ferry::Error(kNotFound) when the host never registered.
  wire::HeartbeatResponse Heartbeat(const wire::Heartbeat& hb);

 private:
  void SyncInventory(store::Tx& tx, int64_t host_id, const std::string& host,
                     const std::vector<wire::Domain>& domains);
  store::Database& db_;
  const Clock& clock_;
  std::chrono::seconds heartbeat_interval_;
  std::function<void()> on_registered_;
};

}  // namespace ferry::controller::conductor
