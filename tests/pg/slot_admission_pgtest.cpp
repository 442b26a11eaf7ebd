// An admission pass (store::LockSlots) reads what its queued moves need and nothing more, and
// what it reads is exact: the slots in use on the hosts its queued moves go from and to (an
// evacuation takes no outbound slot), the cluster's total only when a limit needs it, and the
// fair order. With one requester queued the order needs no turns: the count of every move in a
// slot is not read at all (EXPLAIN ANALYZE: no node returns them), and the order is the same as
// when it is.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>

#include "controller/store/moves_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class SlotAdmissionTest : public StoreTest {
 protected:
  // One move: `kind`, `status`, from `source` to `dest` (empty: NULL), asked by `user`.
  void Move(const std::string& kind, const std::string& status, const std::string& source,
            const std::string& dest, const std::string& user, int age_s = 0) {
    Sql(R"sql(
      INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                              dest_compute, user_id, project_id, created_at, updated_at)
      VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, $3, nullif($4, ''), $5, 'p',
              now() - $6 * interval '1 second', now() - $6 * interval '1 second'))sql",
        kind, status, source, dest, user, age_s);
  }

  SlotView Lock(bool with_total) {
    SlotView view;
    db_->Transact([&](Tx& tx) { view = LockSlots(tx, with_total); });
    return view;
  }
};

TEST_F(SlotAdmissionTest, CountsTheSlotsOfTheQueuedMovesHostsExactly) {
  // In slots: two from a, one to b, one from c to d, an evacuation from a (no outbound slot)
  // to b; a finished move and a queued one hold no slot.
  Move("live-migration", "running", "a", "x", "u1");
  Move("migration", "migrating", "a", "y", "u1");
  Move("live-migration", "preparing", "z", "b", "u2");
  Move("live-migration", "running", "c", "d", "u2");
  Move("evacuation", "pre-migrating", "a", "b", "u3");
  Move("live-migration", "completed", "a", "b", "u1");
  // Queued: from a to b, and from e with no destination yet.
  Move("live-migration", "queued", "a", "b", "u1", 10);
  Move("migration", "queued", "e", "", "u2", 5);

  const SlotView view = Lock(true);
  ASSERT_EQ(view.queued.size(), 2u);
  EXPECT_EQ(view.outbound.at("a"), 2) << "the evacuation from a takes no outbound slot";
  EXPECT_EQ(view.outbound.at("e"), 0);
  EXPECT_EQ(view.inbound.at("b"), 2) << "the preparing move and the evacuation head to b";
  EXPECT_EQ(view.outbound.count("c"), 0u) << "c is no queued move's host: not read";
  EXPECT_EQ(view.inbound.count("d"), 0u);
  EXPECT_EQ(view.total, 5);

  EXPECT_EQ(Lock(false).total, 0) << "no cluster limit: the total is not counted";

  // Nothing queued: nothing else is read.
  Sql("UPDATE migrations SET status = 'cancelled' WHERE status = 'queued'");
  const SlotView idle = Lock(true);
  EXPECT_TRUE(idle.queued.empty());
  EXPECT_TRUE(idle.outbound.empty());
  EXPECT_TRUE(idle.inbound.empty());
}

TEST_F(SlotAdmissionTest, OneRequesterQueuedIsOrderedWithoutCountingEveryMoveInASlot) {
  for (int i = 0; i < 50; ++i) Move("live-migration", "running", "h" + std::to_string(i), "", "u1");
  // u2's three queued moves, not in the order they were inserted.
  Move("live-migration", "queued", "q", "", "u2", 20);
  Move("live-migration", "queued", "q", "", "u2", 40);
  Move("live-migration", "queued", "q", "", "u2", 30);
  std::vector<std::string> order;
  for (const auto& q : Lock(false).queued) order.push_back(q.move.uuid);
  const auto oldest_first =
      Sql("SELECT uuid::text FROM migrations WHERE status = 'queued' ORDER BY created_at, id");
  ASSERT_EQ(order.size(), 3u);
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], oldest_first[i][0].c_str());

  std::string plan;
  db_->Transact([&](Tx& tx) { plan = ExplainFairQueueForTest(tx, /*analyze=*/true); });
  // The moves in slots are counted under the gate; with one requester it stays closed.
  // PostgreSQL 15's format (Debian 12): "(actual rows=N loops=M)".
  ASSERT_NE(plan.find("actual rows="), std::string::npos) << plan;
  EXPECT_EQ(plan.find("actual rows=50 "), std::string::npos) << "the 50 moves in slots were read\n"
                                                             << plan;

  // Two more requesters: turns count again. u1 has taken 50 slots, so its move goes last.
  Move("live-migration", "queued", "r", "", "u1", 100);
  Move("live-migration", "queued", "r", "", "u3", 1);
  const SlotView two = Lock(false);
  ASSERT_EQ(two.queued.size(), 5u);
  EXPECT_EQ(Sql("SELECT user_id FROM migrations WHERE uuid = $1::uuid",
                two.queued.front().move.uuid)[0][0]
                .as<std::string>(),
            "u2")
      << "u2's oldest and u3's both have turn 1 and took no slot; u2's is older";
  EXPECT_EQ(
      Sql("SELECT user_id FROM migrations WHERE uuid = $1::uuid", two.queued.back().move.uuid)[0][0]
          .as<std::string>(),
      "u1")
      << "u1 has 50 slots taken: its move waits behind everyone's";
}

}  // namespace
}  // namespace ferry::controller::store
