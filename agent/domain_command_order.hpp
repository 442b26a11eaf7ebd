#pragma once
// Create and delete of one domain never overlap, and a domain once deleted is never created
// again (review M4). A retry of the same command id is the command log's business; a delete
// has an id of its own. Without this, a delete sent while a slow create still ran (the
// controller's request had timed out) found nothing, the server was forgotten, and the create
// then defined and started the guest: an orphan running VM. The agent is the one place that
// sees every controller's commands for its domains, whatever restarts them, so the order is
// kept here.
//
// In memory: an agent restart ends every command it was running, so nothing is left to
// overlap; the deleted uuids it forgets only matter to a create sent before the restart and
// delivered after it.
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "api/wire/messages.hpp"

namespace ferry::agent {

// 10,000 deleted uuids (~40 B each, < 1 MB): a create that lost the race to its delete arrives
// within seconds or minutes, while even a busy host deletes far fewer guests per hour.
inline constexpr size_t kDeletedDomainsRemembered = 10000;

class DomainCommandOrder {
 public:
  enum class Turn {
    kRun,      // go ahead; call End() when it finished
    kBusy,     // another command on this domain is running: answer "ask again later"
    kDeleted,  // a create of a domain a delete_domain was sent for: refuse it
  };
  struct Admission {
    Turn turn = Turn::kRun;
    std::string other_id;  // kBusy: the running command; kDeleted: the delete
  };

  explicit DomainCommandOrder(size_t deleted_capacity = kDeletedDomainsRemembered)
      : deleted_capacity_(deleted_capacity) {}

  // Commands other than create_domain and delete_domain (and ones without a uuid, which fail
  // their own validation) always run. A delete admitted to run marks the uuid deleted at once:
  // a create sent after it must not bring the guest back, whether the delete succeeds or not.
  Admission Begin(const wire::Command& cmd);
  void End(const wire::Command& cmd);

 private:
  std::mutex mu_;
  const size_t deleted_capacity_;
  std::unordered_map<std::string, std::string> running_;  // domain uuid -> command id
  std::unordered_map<std::string, std::string> deleted_;  // domain uuid -> delete command id
  std::deque<std::string> deleted_order_;                 // oldest first, for eviction
};

}  // namespace ferry::agent
