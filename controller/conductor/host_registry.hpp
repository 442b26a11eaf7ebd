#pragma once
// Agents' registrations and heartbeats: host rows, liveness and the inventory of domains.
#include <chrono>
#include <functional>

#include "api/wire/messages.hpp"
#include "common/clock.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::conductor {

// 1,024: vSphere's configuration maximum of VMs per host (7.0 and 8.0), the densest hypervisor
// ferry models; KVM hosts run far fewer. A bound on what one heartbeat can make the database do.
inline constexpr int kDefaultMaxDomainsPerHost = 1024;

class HostRegistry {
 public:
  HostRegistry(store::Database& db, const Clock& clock, std::chrono::seconds heartbeat_interval,
               int max_domains_per_host = kDefaultMaxDomainsPerHost)
      : db_(db),
        clock_(clock),
        heartbeat_interval_(heartbeat_interval),
        max_domains_per_host_(max_domains_per_host) {}

  // Called after a registration commits, or a heartbeat of a host that was down: work waiting
  // for this host (builds and deletes whose agent was unreachable, possibly at an old address,
  // domains of deleted servers to reap) can be retried at once.
  void OnRegistered(std::function<void()> hook) { on_registered_ = std::move(hook); }

  // Throws ferry::Error(kBadRequest) on invalid content (names, uuids, negative sizes, a uuid
  // twice, more than max_domains_per_host domains), before anything is written.
  wire::RegisterResponse Register(const wire::RegisterRequest& req);
  // Throws ferry::Error(kNotFound) when the host never registered.
  wire::HeartbeatResponse Heartbeat(const wire::Heartbeat& hb);

 private:
  void ValidateDomains(const std::vector<wire::Domain>& domains) const;
  // A log line per guest its host is told to keep off (evacuated from it).
  static void LogFenced(const std::string& host, const std::vector<std::string>& fenced);
  void SyncInventory(store::Tx& tx, int64_t host_id, const std::string& host,
                     const std::vector<wire::Domain>& domains);
  store::Database& db_;
  const Clock& clock_;
  std::chrono::seconds heartbeat_interval_;
  int max_domains_per_host_;
  std::function<void()> on_registered_;
};

}  // namespace ferry::controller::conductor
