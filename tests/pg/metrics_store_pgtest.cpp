// store::CountOrphanedClaims (ferry_orphaned_claims) counts exactly the rows of v_orphaned_claims:
// one definition of an orphaned claim for the dashboard and the metric.
#include <gtest/gtest.h>

#include <string>

#include "common/uuid.hpp"
#include "controller/store/metrics_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class MetricsStoreTest : public StoreTest {
 protected:
  // A move of `server` from host-a; dest "": none chosen yet.
  std::string AddMove(const std::string& status, const std::string& server,
                      const std::string& dest) {
    const std::string uuid = NewUuid();
    Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, user_id, "
        "project_id, source_compute, dest_compute) VALUES ($1::uuid, $2::uuid, "
        "'live-migration', $3, 'u1', 'p1', 'host-a', nullif($4, ''))",
        uuid, server, status, dest);
    return uuid;
  }
  std::string AddServer(const std::string& name, int64_t host_id,
                        const std::string& vm_state = "active") {
    const std::string uuid = NewUuid();
    Sql("INSERT INTO servers (uuid, name, host_id, flavorid, flavor_name, vcpus, memory_mb, "
        "root_gb, vm_state, user_id, project_id) VALUES ($1::uuid, $2, $3, 'f1', 'small', 1, "
        "512, 1, $4, 'u1', 'p1')",
        uuid, name, host_id, vm_state);
    return uuid;
  }
  void Claim(const std::string& consumer, int64_t host_id) {
    Sql("INSERT INTO claims (consumer_uuid, host_id, resource, amount) VALUES ($1::uuid, $2, "
        "'VCPU', 1)",
        consumer, host_id);
  }
  int64_t StoreCount() {
    int64_t n = -1;
    db_->Transact([&](Tx& tx) { n = CountOrphanedClaims(tx); });
    return n;
  }
  int64_t ViewCount() { return Sql("SELECT count(*) FROM v_orphaned_claims")[0][0].as<int64_t>(); }
};

TEST_F(MetricsStoreTest, OrphanedClaimsCountIsTheViewsRowCount) {
  const int64_t a = AddHost("host-a");
  const int64_t b = AddHost("host-b");
  // Fine: a server's claim on its own host; a running move's server claiming its destination.
  const auto home = AddServer("home", a);
  Claim(home, a);
  const auto moving = AddServer("moving", a);
  AddMove("running", moving, "host-b");
  Claim(moving, b);
  EXPECT_EQ(StoreCount(), 0);
  EXPECT_EQ(ViewCount(), 0);

  // Orphaned: a deleted server's claim on its own host (the old count skipped it) ...
  const auto deleted = AddServer("deleted", a, "deleted");
  Claim(deleted, a);
  // ... a claim on another host whose server has only a queued move with no destination (the
  // old count excused any unfinished move) ...
  const auto waiting = AddServer("waiting", a);
  AddMove("queued", waiting, "");
  Claim(waiting, b);
  // ... and an ended move's claim.
  const auto ended = AddMove("error", NewUuid(), "host-b");
  Claim(ended, b);

  const int64_t view = ViewCount();
  EXPECT_EQ(view, 3);
  EXPECT_EQ(StoreCount(), view);
}

}  // namespace
}  // namespace ferry::controller::store
