#pragma once
// Servers deleted while their host was down (migration 0007): the row outlives the server until
// the host's agent has deleted the domain; the server's claims are kept as long.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

class Tx;

struct DomainToReap {
  std::string server_uuid;
  int64_t host_id = 0;
  std::string host;
  std::string agent_url;
  bool host_up = false;
  TimePoint deleted_at;
};

void RecordDomainToReap(Tx& tx, const std::string& server_uuid, int64_t host_id, TimePoint now);
std::optional<DomainToReap> FindDomainToReap(Tx& tx, const std::string& server_uuid);
// Every one, oldest first: what an operator sees (GET /v2.1/ferry/domains-to-reap).
std::vector<DomainToReap> ListDomainsToReap(Tx& tx);
// Those whose host is up again (oldest first, at most `limit`): their agent can be asked now.
std::vector<DomainToReap> ListDomainsToReapOnUpHosts(Tx& tx, int limit);
// The domain is gone: forget it and release the server's claims.
void FinishReap(Tx& tx, const std::string& server_uuid);

}  // namespace ferry::controller::store
