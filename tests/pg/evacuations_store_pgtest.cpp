// An evacuation a drain asked for is the drain's from its insert: drain_uuid is written by the
// INSERT (so the fair queue takes the drain's turn for it from the first admission pass) and
// kept by the engine's saves, which never write it; one no drain asked for has none.
#include <gtest/gtest.h>

#include "common/uuid.hpp"
#include "controller/store/evacuations_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class EvacuationsStoreTest : public StoreTest {
 protected:
  Evacuation Insert(const std::optional<std::string>& drain) {
    Evacuation e;
    e.uuid = NewUuid();
    e.instance_uuid = NewUuid();
    e.source_compute = "dead-host";
    e.source_node = "dead-host";
    e.user_id = "admin";
    e.project_id = "admin";
    e.drain_uuid = drain;
    db_->Transact([&](Tx& tx) {
      InsertEvacuation(
          tx, e,
          MigrationEvent{std::nullopt, e.status, "requested", std::nullopt, "test", std::nullopt},
          "controller-1", std::chrono::seconds(60));
    });
    return e;
  }
  std::optional<std::string> TagOf(const std::string& uuid) {
    auto r = Sql("SELECT drain_uuid::text FROM migrations WHERE uuid = $1::uuid", uuid);
    if (r[0][0].is_null()) return std::nullopt;
    return r[0][0].as<std::string>();
  }
};

TEST_F(EvacuationsStoreTest, ADrainsEvacuationIsTaggedAtItsInsertAndKeepsItsTag) {
  const std::string drain = "33333333-3333-4333-8333-333333333333";
  Evacuation e = Insert(drain);
  EXPECT_EQ(TagOf(e.uuid), drain);

  std::optional<Evacuation> found;
  db_->Transact([&](Tx& tx) { found = FindEvacuation(tx, e.uuid); });
  ASSERT_TRUE(found);

  // The engine's save (scheduled: queued for a slot) writes its columns, not the tag.
  found->status = MigrationStatus::kQueued;
  found->step = EvacuationStep::kWaitingForSlot;
  found->dest_compute = "host-b";
  bool saved = false;
  db_->Transact([&](Tx& tx) {
    saved = SaveEvacuation(tx, *found, "controller-1",
                           MigrationEvent{MigrationStatus::kAccepted, MigrationStatus::kQueued,
                                          "scheduled", std::nullopt, "test", std::nullopt});
  });
  ASSERT_TRUE(saved);
  EXPECT_EQ(TagOf(e.uuid), drain);

  EXPECT_EQ(TagOf(Insert(std::nullopt).uuid), std::nullopt) << "no drain asked: no tag";
}

}  // namespace
}  // namespace ferry::controller::store
