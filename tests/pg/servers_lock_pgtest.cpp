// LockServer: PUT /servers/{id} reads, changes and writes a server's fields under the row's
// lock, so a delete (or another update) that arrives meanwhile waits for it, and one that
// committed first makes the lock fail (a 404) instead of an update of a row that is gone.
#include <chrono>
#include <future>
#include <thread>

#include "controller/store/servers_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using namespace std::chrono_literals;

class ServersLockTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    uuid_ = Sql("INSERT INTO servers (uuid, name, flavorid, flavor_name, vcpus, memory_mb, "
                "root_gb, vm_state, user_id, project_id) VALUES (gen_random_uuid(), 'web', '1', "
                "'m1', 1, 512, 1, 'active', 'u', 'p') RETURNING uuid::text")[0][0]
                .as<std::string>();
  }
  void Delete() { Sql("DELETE FROM servers WHERE uuid = $1::uuid", uuid_); }
  std::string uuid_;
};

TEST_F(ServersLockTest, ADeleteWaitsForTheUpdateHoldingTheLock) {
  std::future<void> deleted;
  db_->Transact([&](Tx& tx) {
    ASSERT_TRUE(LockServer(tx, uuid_));
    deleted = std::async(std::launch::async, [this] { Delete(); });
    EXPECT_EQ(deleted.wait_for(300ms), std::future_status::timeout) << "the delete did not wait";
    auto s = FindServer(tx, uuid_);
    ASSERT_TRUE(s.has_value()) << "the row vanished under the lock";
    s->name = "renamed";
    UpdateServerUserFields(tx, *s, T(5));
  });
  deleted.get();  // goes through once the update committed
  db_->Transact([&](Tx& tx) { EXPECT_FALSE(FindServer(tx, uuid_).has_value()); });
}

TEST_F(ServersLockTest, AServerDeletedFirstCannotBeLocked) {
  Delete();
  db_->Transact([&](Tx& tx) { EXPECT_FALSE(LockServer(tx, uuid_)); });
}

}  // namespace
}  // namespace ferry::controller::store
