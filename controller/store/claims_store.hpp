#pragma once
// Resource claims: (consumer, host, resource, amount). Made real atomically: the host row is
// locked, usage summed and compared with capacity x allocation ratio in one transaction, so two
// controllers racing for the last slot cannot both win.
#include <cstdint>
#include <string>

namespace ferry::controller::store {

class Tx;

struct Resources {
  int64_t vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
};

// Returns false (and claims nothing) if the host lacks room.
bool ClaimIfFits(Tx& tx, const std::string& consumer_uuid, int64_t host_id, const Resources& r);
// Records what is already consumed on a host (adopting an existing domain), fit or not.
void ClaimUnconditionally(Tx& tx, const std::string& consumer_uuid, int64_t host_id,
                          const Resources& r);
void ReleaseClaims(Tx& tx, const std::string& consumer_uuid);
Resources ClaimedBy(Tx& tx, const std::string& consumer_uuid);

}  // namespace ferry::controller::store
