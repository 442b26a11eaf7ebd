// reap_store against a real PostgreSQL (review M4): a server deleted while its host is down
// keeps its claims, is not taken for an unmanaged domain when its host reports it, is handed to
// the reaper only once its host is up, and releases its claims when reaped.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "common/uuid.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/inventory_store.hpp"
#include "controller/store/reap_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class ReapStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    host_ = AddHost("compute-1", {4, 4096, 100, std::nullopt});
  }
  void SetHostState(const std::string& state) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec_params("UPDATE hosts SET state = $2 WHERE id = $1", host_, state);
    w.commit();
  }
  std::vector<std::string> Unmanaged(const std::string& reported_uuid) {
    std::vector<std::string> fresh;
    db_->Transact([&](Tx& tx) {
      fresh = SyncUnmanagedDomains(tx, host_, {{reported_uuid, "vm", 1, 512, 10, 1}}, T(10));
    });
    return fresh;
  }
  int64_t host_ = 0;
};

TEST_F(ReapStoreTest, ClaimsStayAndTheDomainIsNotUnmanagedUntilReaped) {
  const std::string uuid = NewUuid();
  db_->Transact([&](Tx& tx) {
    ClaimUnconditionally(tx, uuid, host_, {1, 512, 10});
    RecordDomainToReap(tx, uuid, host_, T(5));
  });
  SetHostState("down");
  Resources held;
  std::vector<DomainToReap> up;
  db_->Transact([&](Tx& tx) {
    held = ClaimedBy(tx, uuid);
    up = ListDomainsToReapOnUpHosts(tx, 10);
  });
  EXPECT_EQ(held.memory_mb, 512);
  EXPECT_TRUE(up.empty()) << "a down host's agent cannot be asked";
  // The host reports the guest: it is about to go, not a domain to adopt.
  EXPECT_TRUE(Unmanaged(uuid).empty());

  SetHostState("up");
  std::optional<DomainToReap> found;
  db_->Transact([&](Tx& tx) {
    up = ListDomainsToReapOnUpHosts(tx, 10);
    found = FindDomainToReap(tx, uuid);
  });
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].server_uuid, uuid);
  EXPECT_EQ(up[0].host, "compute-1");
  EXPECT_EQ(up[0].agent_url, "http://127.0.0.1:1");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->host_up);
  EXPECT_EQ(found->deleted_at, T(5));

  db_->Transact([&](Tx& tx) { FinishReap(tx, uuid); });
  db_->Transact([&](Tx& tx) {
    held = ClaimedBy(tx, uuid);
    found = FindDomainToReap(tx, uuid);
    up = ListDomainsToReap(tx);
  });
  EXPECT_EQ(held.memory_mb, 0);
  EXPECT_FALSE(found);
  EXPECT_TRUE(up.empty());
  // Reported after the reap (deleted behind ferry's back and back again): shown as unmanaged.
  EXPECT_EQ(Unmanaged(uuid).size(), 1u);
}

TEST_F(ReapStoreTest, RecordingTwiceKeepsTheFirstDeletionTime) {
  const std::string uuid = NewUuid();
  db_->Transact([&](Tx& tx) {
    RecordDomainToReap(tx, uuid, host_, T(5));
    RecordDomainToReap(tx, uuid, host_, T(9));
  });
  std::vector<DomainToReap> all;
  db_->Transact([&](Tx& tx) { all = ListDomainsToReap(tx); });
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].deleted_at, T(5));
}

}  // namespace
}  // namespace ferry::controller::store
