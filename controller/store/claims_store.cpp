#include "controller/store/claims_store.hpp"

#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kLockHost{"claims_lock_host", "SELECT 1 FROM hosts WHERE id = $1 FOR UPDATE"};

// Capacity as Nova's placement computes it: (total - reserved) x allocation_ratio.
constexpr Statement kFits{"claims_fits", R"sql(
SELECT coalesce(sum(c.amount) FILTER (WHERE c.resource = 'VCPU'), 0) + $2
           <= floor(h.vcpus * h.cpu_allocation_ratio)
   AND coalesce(sum(c.amount) FILTER (WHERE c.resource = 'MEMORY_MB'), 0) + $3
           <= floor((h.memory_mb - h.reserved_host_memory_mb) * h.ram_allocation_ratio)
   AND coalesce(sum(c.amount) FILTER (WHERE c.resource = 'DISK_GB'), 0) + $4
           <= floor(h.local_gb * h.disk_allocation_ratio)
FROM hosts h LEFT JOIN claims c ON c.host_id = h.id
WHERE h.id = $1
GROUP BY h.id)sql"};

constexpr Statement kInsertClaim{"claims_insert", R"sql(
INSERT INTO claims (consumer_uuid, host_id, resource, amount) VALUES ($1, $2, $3, $4)
ON CONFLICT (consumer_uuid, host_id, resource) DO UPDATE SET amount = EXCLUDED.amount)sql"};

constexpr Statement kRelease{"claims_release", "DELETE FROM claims WHERE consumer_uuid = $1"};

constexpr Statement kClaimedBy{"claims_by_consumer", R"sql(
SELECT coalesce(sum(amount) FILTER (WHERE resource = 'VCPU'), 0),
       coalesce(sum(amount) FILTER (WHERE resource = 'MEMORY_MB'), 0),
       coalesce(sum(amount) FILTER (WHERE resource = 'DISK_GB'), 0)
FROM claims WHERE consumer_uuid = $1)sql"};

}  // namespace

bool ClaimIfFits(Tx& tx, const std::string& consumer_uuid, int64_t host_id, const Resources& r) {
  // A host that does not fit must not stay locked until the caller's transaction ends: the
  // caller goes on to its next candidate, and another claimant holding that one may be waiting
  // for this host (a deadlock). Rolling back to a savepoint releases the row lock.
  tx.work().exec("SAVEPOINT claim_if_fits");
  auto fits = tx.Exec(kLockHost, host_id).empty()
                  ? pqxx::result()
                  : tx.Exec(kFits, host_id, r.vcpus, r.memory_mb, r.disk_gb);
  if (fits.empty() || !fits[0][0].as<bool>()) {
    tx.work().exec("ROLLBACK TO SAVEPOINT claim_if_fits");
    tx.work().exec("RELEASE SAVEPOINT claim_if_fits");
    return false;
  }
  ClaimUnconditionally(tx, consumer_uuid, host_id, r);
  tx.work().exec("RELEASE SAVEPOINT claim_if_fits");
  return true;
}

void ClaimUnconditionally(Tx& tx, const std::string& consumer_uuid, int64_t host_id,
                          const Resources& r) {
  tx.Exec(kInsertClaim, consumer_uuid, host_id, std::string("VCPU"), r.vcpus);
  tx.Exec(kInsertClaim, consumer_uuid, host_id, std::string("MEMORY_MB"), r.memory_mb);
  tx.Exec(kInsertClaim, consumer_uuid, host_id, std::string("DISK_GB"), r.disk_gb);
}

void ReleaseClaims(Tx& tx, const std::string& consumer_uuid) { tx.Exec(kRelease, consumer_uuid); }

Resources ClaimedBy(Tx& tx, const std::string& consumer_uuid) {
  auto r = tx.Exec(kClaimedBy, consumer_uuid)[0];
  return Resources{r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<int64_t>()};
}

}  // namespace ferry::controller::store
