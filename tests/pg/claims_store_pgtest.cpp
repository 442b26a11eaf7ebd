// Resource claims against a real PostgreSQL: capacity is (total - reserved) x allocation ratio
// per resource, and racing claimants never overcommit a host.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

// Hosts here always get ratios and reservation set as an admin would (1.0 and 0 unless given).
using Admin = HostAdminSettings;

class ClaimsStoreTest : public StoreTest {
 protected:
  bool Claim(const std::string& consumer, int64_t host, Resources r) {
    bool ok = false;
    db_->Transact([&](Tx& tx) { ok = ClaimIfFits(tx, consumer, host, r); });
    return ok;
  }
  Resources Claimed(const std::string& consumer) {
    Resources r;
    db_->Transact([&](Tx& tx) { r = ClaimedBy(tx, consumer); });
    return r;
  }
  int64_t Sum(int64_t host, const std::string& resource) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    return w
        .exec_params1(
            "SELECT coalesce(sum(amount), 0) FROM claims WHERE host_id = $1 AND "
            "resource = $2",
            host, resource)[0]
        .as<int64_t>();
  }
};

void ExpectResources(const Resources& got, int64_t vcpus, int64_t memory_mb, int64_t disk_gb) {
  EXPECT_EQ(got.vcpus, vcpus);
  EXPECT_EQ(got.memory_mb, memory_mb);
  EXPECT_EQ(got.disk_gb, disk_gb);
}

// 4 vCPU x 2.0 = 8; (10000 - 2000) MB x 1.5 = 12000; 100 GB x 0.5 = 50.
class RatioHost : public ClaimsStoreTest {
 protected:
  void SetUp() override {
    ClaimsStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    host_ = AddHost("ratios", {4, 10000, 100, Admin{2.0, 1.5, 0.5, 2000}});
  }
  int64_t host_ = 0;
};

TEST_F(RatioHost, ClaimOfExactlyTheCapacityFits) {
  auto c = NewUuid();
  EXPECT_TRUE(Claim(c, host_, {8, 12000, 50}));
  ExpectResources(Claimed(c), 8, 12000, 50);
}

TEST_F(RatioHost, VcpusBeyondTotalTimesRatioDoNotFit) {
  auto c = NewUuid();
  EXPECT_FALSE(Claim(c, host_, {9, 1, 1}));
  ExpectResources(Claimed(c), 0, 0, 0);
}

TEST_F(RatioHost, MemoryBeyondTotalMinusReservedTimesRatioDoesNotFit) {
  EXPECT_FALSE(Claim(NewUuid(), host_, {1, 12001, 1}));
  // The reservation counts: 10000 x 1.5 = 15000 would fit without it.
  EXPECT_FALSE(Claim(NewUuid(), host_, {1, 15000, 1}));
}

TEST_F(RatioHost, DiskBeyondTotalTimesRatioDoesNotFit) {
  EXPECT_FALSE(Claim(NewUuid(), host_, {1, 1, 51}));
  EXPECT_TRUE(Claim(NewUuid(), host_, {1, 1, 50}));
}

TEST_F(RatioHost, ExistingClaimsCountAgainstEachResource) {
  ASSERT_TRUE(Claim(NewUuid(), host_, {6, 9000, 40}));
  EXPECT_FALSE(Claim(NewUuid(), host_, {3, 1, 1}));
  EXPECT_FALSE(Claim(NewUuid(), host_, {1, 3001, 1}));
  EXPECT_FALSE(Claim(NewUuid(), host_, {1, 1, 11}));
  auto last = NewUuid();
  EXPECT_TRUE(Claim(last, host_, {2, 3000, 10}));
  EXPECT_EQ(Sum(host_, "VCPU"), 8);
  EXPECT_EQ(Sum(host_, "MEMORY_MB"), 12000);
  EXPECT_EQ(Sum(host_, "DISK_GB"), 50);
}

TEST_F(RatioHost, AFailedClaimLeavesNoRows) {
  auto c = NewUuid();
  EXPECT_FALSE(Claim(c, host_, {100, 100, 100}));
  EXPECT_EQ(Sum(host_, "VCPU") + Sum(host_, "MEMORY_MB") + Sum(host_, "DISK_GB"), 0);
}

TEST_F(RatioHost, ClaimsOnOtherHostsDoNotCount) {
  auto other = AddHost("other", {4, 10000, 100, Admin{}});
  ASSERT_TRUE(Claim(NewUuid(), other, {4, 10000, 100}));
  EXPECT_TRUE(Claim(NewUuid(), host_, {8, 12000, 50}));
}

TEST_F(RatioHost, ReleaseClaimsFreesTheRoom) {
  auto c = NewUuid();
  ASSERT_TRUE(Claim(c, host_, {8, 12000, 50}));
  EXPECT_FALSE(Claim(NewUuid(), host_, {1, 1, 1}));
  db_->Transact([&](Tx& tx) { ReleaseClaims(tx, c); });
  ExpectResources(Claimed(c), 0, 0, 0);
  EXPECT_TRUE(Claim(NewUuid(), host_, {8, 12000, 50}));
}

TEST_F(RatioHost, ReleaseClaimsTouchesOnlyThatConsumer) {
  auto keep = NewUuid();
  auto drop = NewUuid();
  ASSERT_TRUE(Claim(keep, host_, {1, 100, 1}));
  ASSERT_TRUE(Claim(drop, host_, {2, 200, 2}));
  db_->Transact([&](Tx& tx) { ReleaseClaims(tx, drop); });
  ExpectResources(Claimed(keep), 1, 100, 1);
  ExpectResources(Claimed(drop), 0, 0, 0);
}

TEST_F(RatioHost, ClaimRolledBackWithItsTransactionLeavesNothing) {
  auto c = NewUuid();
  EXPECT_THROW(db_->Transact([&](Tx& tx) {
    ASSERT_TRUE(ClaimIfFits(tx, c, host_, {1, 1, 1}));
    throw Error(Errc::kConflict, "caller changed its mind");
  }),
               Error);
  ExpectResources(Claimed(c), 0, 0, 0);
}

TEST_F(RatioHost, ClaimUnconditionallyRecordsEvenAnOvercommit) {
  auto c = NewUuid();
  db_->Transact([&](Tx& tx) { ClaimUnconditionally(tx, c, host_, {20, 20000, 200}); });
  ExpectResources(Claimed(c), 20, 20000, 200);
  EXPECT_FALSE(Claim(NewUuid(), host_, {0, 0, 0})) << "an overcommitted host takes nothing more";
}

TEST_F(ClaimsStoreTest, ClaimOnAnUnknownHostFails) {
  EXPECT_FALSE(Claim(NewUuid(), 987654, {1, 1, 1}));
}

// Two placements that each found their first choice full and move on to the other's first
// choice: a host that did not fit must not stay locked, or they wait for each other until
// PostgreSQL kills one with a deadlock error (and its request fails although it did no harm).
TEST_F(ClaimsStoreTest, FailedClaimsDoNotKeepTheHostLockedSoCrossedClaimantsDoNotDeadlock) {
  auto x = AddHost("x", {1, 1024, 10, Admin{}});
  auto y = AddHost("y", {1, 1024, 10, Admin{}});
  ASSERT_TRUE(Claim(NewUuid(), x, {1, 1024, 10}));
  ASSERT_TRUE(Claim(NewUuid(), y, {1, 1024, 10}));
  Database one(schema_->dsn(), 1), two(schema_->dsn(), 1);
  std::latch first_tried(2);
  std::string errors;
  std::mutex mu;
  auto placement = [&](Database& db, int64_t first, int64_t second) {
    try {
      db.Transact([&](Tx& tx) {
        EXPECT_FALSE(ClaimIfFits(tx, NewUuid(), first, {1, 512, 1}));
        first_tried.arrive_and_wait();
        EXPECT_FALSE(ClaimIfFits(tx, NewUuid(), second, {1, 512, 1}));
      });
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      errors += e.what();
    }
  };
  std::thread a(placement, std::ref(one), x, y);
  std::thread b(placement, std::ref(two), y, x);
  a.join();
  b.join();
  EXPECT_EQ(errors, "");
}

// 20 controllers race for a host with room for exactly 3 servers: 3 win, the sum is exact.
TEST_F(ClaimsStoreTest, ConcurrentClaimsNeverOvercommitAHost) {
  constexpr int kThreads = 20;
  const Resources server{2, 2048, 20};
  // Memory is the binding limit: 3 x 2048 = 6144 <= 7000 < 4 x 2048; CPU and disk have room for 4.
  auto host = AddHost("contested", {8, 7000, 80, Admin{}});
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kThreads; ++i) {
    dbs.push_back(std::make_unique<Database>(schema_->dsn(), 1));
    dbs.back()->Transact([&](Tx& tx) { ClaimedBy(tx, NewUuid()); });  // connect before the race
  }
  std::latch start(kThreads);
  std::atomic<int> won{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::string consumer = NewUuid();
      start.arrive_and_wait();
      try {
        bool ok = false;
        dbs[i]->Transact([&](Tx& tx) { ok = ClaimIfFits(tx, consumer, host, server); });
        if (ok) ++won;
      } catch (const std::exception&) {
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(won.load(), 3);
  EXPECT_EQ(Sum(host, "VCPU"), 3 * server.vcpus);
  EXPECT_EQ(Sum(host, "MEMORY_MB"), 3 * server.memory_mb);
  EXPECT_EQ(Sum(host, "DISK_GB"), 3 * server.disk_gb);
}

}  // namespace
}  // namespace ferry::controller::store
