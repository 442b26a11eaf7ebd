// The status lists SQL statements spell out (controller/store/status_lists.hpp) are the seed of
// migration_statuses and the C++ state table, one list each: a status added to the seed or the
// table without its list fails here. The partial index migrations_active_idx carries the same
// terminal list, and the statements that rely on it still use it (a list that drifted from the
// index's would silently fall back to scanning every migration ever made).
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <string>

#include "controller/conductor/live_migration_states.hpp"
#include "controller/store/status_lists.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Set = std::set<std::string>;

// The quoted names of a SQL list: "('a', 'b')" or "ARRAY['a'::text, 'b'::text]".
Set Quoted(const std::string& sql) {
  Set out;
  static const std::regex kQuoted("'([^']*)'");
  for (std::sregex_iterator it(sql.begin(), sql.end(), kQuoted), end; it != end; ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

class StatusListsTest : public StoreTest {
 protected:
  Set Seed(const std::string& where) {
    Set out;
    for (const auto& r : Sql("SELECT status FROM migration_statuses WHERE " + where)) {
      out.insert(r[0].as<std::string>());
    }
    return out;
  }
  static Set LiveWhere(bool (*pred)(conductor::LiveMigrationStatus)) {
    Set out;
    for (auto s : conductor::kAllLiveMigrationStatuses) {
      if (pred(s)) out.insert(std::string(conductor::ToString(s)));
    }
    return out;
  }
};

TEST_F(StatusListsTest, TheTerminalListIsTheSeedsAndThePartialIndexs) {
  EXPECT_EQ(Quoted(FERRY_SQL_TERMINAL_STATUSES), Seed("is_terminal"));
  const auto def =
      Sql("SELECT pg_get_indexdef('migrations_active_idx'::regclass)")[0][0].as<std::string>();
  const auto where = def.substr(def.find(" WHERE "));
  EXPECT_EQ(Quoted(where), Seed("is_terminal")) << def;
}

TEST_F(StatusListsTest, TheLiveListsAreTheSeedsAndTheStateTables) {
  const Set in_progress = Quoted(FERRY_SQL_LIVE_IN_PROGRESS_STATUSES);
  EXPECT_EQ(in_progress, LiveWhere([](auto s) { return conductor::ApiInProgress(s); }));
  Set seeded_live;
  for (const auto& s : Seed("api_in_progress")) {
    if (conductor::FromString(s)) seeded_live.insert(s);
  }
  EXPECT_EQ(in_progress, seeded_live);
  // A live migration's statuses that occupy a slot: in progress and past the queue.
  Set admitted = in_progress;
  admitted.erase(std::string(conductor::ToString(conductor::LiveMigrationStatus::kQueued)));
  Set live_slot;
  for (const auto& s : Quoted(FERRY_SQL_SLOT_STATUSES)) {
    if (conductor::FromString(s)) live_slot.insert(s);
  }
  EXPECT_EQ(live_slot, admitted);
}

TEST_F(StatusListsTest, TheEveryKindListsAreTheSeeds) {
  EXPECT_EQ(Quoted(FERRY_SQL_SLOT_STATUSES), Seed("occupies_slot"));
  EXPECT_EQ(Quoted(FERRY_SQL_HEADS_TO_DESTINATION_STATUSES), Seed("heads_to_destination"));
  // Every status that occupies a slot heads to its destination; none of them is terminal.
  for (const auto& s : Seed("occupies_slot")) {
    EXPECT_TRUE(Seed("heads_to_destination").count(s)) << s;
  }
  EXPECT_TRUE(Seed("is_terminal AND (occupies_slot OR heads_to_destination)").empty());
}

TEST_F(StatusListsTest, TheLeaseQueriesUseThePartialIndex) {
  // 20,000 finished migrations and 20 unfinished ones: the planner picks a partial index on
  // unfinished moves only if it can prove the query's list implies the index's.
  Sql(R"sql(
    INSERT INTO migrations (uuid, instance_uuid, migration_type, status, created_at, updated_at)
    SELECT gen_random_uuid(), gen_random_uuid(), 'live-migration',
           CASE WHEN g <= 20 THEN 'running' ELSE 'completed' END, now(), now()
    FROM generate_series(1, 20000) g)sql");
  Sql("ANALYZE migrations");
  const std::string query =
      "SELECT id FROM migrations WHERE migration_type = ANY('{live-migration,migration,resize}') "
      "AND status NOT IN " FERRY_SQL_TERMINAL_STATUSES
      " AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until < now()) ORDER BY "
      "created_at LIMIT 100";
  std::string plan;
  for (const auto& r : Sql("EXPLAIN " + query)) plan += r[0].as<std::string>() + "\n";
  // migrations_active_idx, or migrations_active_created_idx (0014), which has the same
  // predicate and the query's order.
  EXPECT_TRUE(plan.find("migrations_active_idx") != std::string::npos ||
              plan.find("migrations_active_created_idx") != std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
}

}  // namespace
}  // namespace ferry::controller::store
