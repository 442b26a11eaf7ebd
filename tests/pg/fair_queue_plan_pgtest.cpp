// The engine's fair order (moves_store kFairQueue) runs on every admission pass, under the slot
// lock, and on every GET of a server's migrations: at scale it must read recent history through
// indexes, not every event ever written. 60k finished moves with their events, one move queued
// for a week (the look-back must not stretch to it) and a few fresh ones: EXPLAIN shows no
// sequential scan of migration_events or migrations, and the fair order still numbers every
// queued move.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "controller/store/moves_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

constexpr int kRows = 60'000;

class FairQueuePlanTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    // A year of finished moves by 2,000 users and 50 drains, each with its queued -> running ->
    // completed events; then one move queued a week ago and 20 queued now.
    w.exec_params(R"sql(
      INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                              dest_compute, user_id, project_id, created_at, updated_at)
      SELECT gen_random_uuid(), gen_random_uuid(), 'live-migration', 'completed',
             'host-' || (g % 500), 'host-' || ((g * 7) % 500), 'user-' || (g % 2000),
             'project-' || (g % 300), now() - interval '1 year' + g * interval '8 minutes',
             now() - interval '1 year' + g * interval '8 minutes' + interval '5 minutes'
      FROM generate_series(1, $1) g)sql",
                  kRows);
    w.exec(R"sql(
      INSERT INTO migration_events (migration_id, from_status, to_status, event, actor, at)
      SELECT m.id, e.f, e.t, e.ev, 'test', m.created_at
      FROM migrations m,
           (VALUES ('accepted', 'queued', 'scheduled'), ('queued', 'running', 'slot_acquired'),
                   ('running', 'completed', 'done')) AS e(f, t, ev))sql");
    w.exec(R"sql(
      INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                              dest_compute, user_id, project_id, created_at, updated_at)
      SELECT gen_random_uuid(), gen_random_uuid(), 'live-migration', 'queued', 'host-1',
             'host-2', 'user-' || g, 'project-1',
             CASE WHEN g = 0 THEN now() - interval '7 days' ELSE now() END,
             CASE WHEN g = 0 THEN now() - interval '7 days' ELSE now() END
      FROM generate_series(0, 20) g)sql");
    w.exec("ANALYZE migrations");
    w.exec("ANALYZE migration_events");
    w.commit();
  }
};

TEST_F(FairQueuePlanTest, ReadsRecentHistoryThroughIndexesWhateverTheOldestQueuedMove) {
  std::string plan;
  std::map<std::string, int> positions;
  db_->Transact([&](Tx& tx) {
    plan = ExplainFairQueueForTest(tx);
    positions = QueuePositions(tx);
  });
  EXPECT_EQ(plan.find("Seq Scan on migration_events"), std::string::npos) << plan;
  EXPECT_EQ(positions.size(), 21u) << "every queued move has its place";
}

}  // namespace
}  // namespace ferry::controller::store
