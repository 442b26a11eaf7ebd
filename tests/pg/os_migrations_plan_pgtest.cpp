// GET /os-migrations at scale: on a table big enough that PostgreSQL's planner prefers indexes
// to scanning everything, EXPLAIN of ListMigrations shows that every page and every filter is
// served by an index and that plain pages come straight out of the (created_at, id) index in
// order (no seq scan, no sort). The four (column, created_at, id) indexes of 0002 serve the
// status, migration_type, user_id and project_id filters.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "controller/store/migrations_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

// 60k rows: enough that a seq scan + sort costs far more than an index walk; small enough to
// fill in about a second.
constexpr int kRows = 60'000;

class OsMigrationsPlanTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    // Shapes of a long-lived cloud: mostly completed live migrations over 500 hosts, 2,000 users,
    // 300 projects; errors 1 %, evacuations rare, a few hundred running at the newest end.
    w.exec_params(R"sql(
      INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                              dest_compute, user_id, project_id, created_at, updated_at)
      SELECT gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(to_hex(g % 5000), 12, '0'))::uuid,
             CASE WHEN g % 97 = 0 THEN 'evacuation' WHEN g % 5 = 0 THEN 'migration'
                  ELSE 'live-migration' END,
             CASE WHEN g % 100 = 0 THEN 'error' WHEN g > $1 - 300 THEN 'running'
                  ELSE 'completed' END,
             'host-' || (g % 500), 'host-' || ((g * 7) % 500), 'user-' || (g % 2000),
             'project-' || (g % 300), timestamptz '2025-01-01' + g * interval '10 seconds',
             timestamptz '2025-01-01' + g * interval '10 seconds' + interval '5 minutes'
      FROM generate_series(1, $1) g)sql",
                  kRows);
    w.exec("ANALYZE migrations");
    w.commit();
  }

  std::string Plan(const MigrationFilter& f) {
    std::string plan;
    db_->Transact([&](Tx& tx) { plan = ExplainListMigrationsForTest(tx, f); });
    return plan;
  }
  std::string MiddleUuid() {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    return w
        .exec1(
            "SELECT uuid::text FROM migrations ORDER BY created_at DESC, id DESC "
            "OFFSET " +
            std::to_string(kRows / 2) + " LIMIT 1")[0]
        .as<std::string>();
  }
  static bool Has(const std::string& plan, const std::string& what) {
    return plan.find(what) != std::string::npos;
  }
};

TEST_F(OsMigrationsPlanTest, FirstAndDeepPagesWalkTheCreatedIndexInOrder) {
  MigrationFilter f;  // limit 1000, as the API's first page
  std::string plan = Plan(f);
  EXPECT_TRUE(Has(plan, "Index Scan using migrations_created_idx")) << plan;
  EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << plan;
  EXPECT_FALSE(Has(plan, "Sort")) << plan;

  f.marker = MiddleUuid();
  plan = Plan(f);
  EXPECT_TRUE(Has(plan, "Index Scan using migrations_created_idx")) << plan;
  // The marker bounds the scan (an index condition), not a filter over the rows before it.
  EXPECT_TRUE(Has(plan, "Index Cond: (ROW(created_at, id) < ROW(")) << plan;
  EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << plan;
  EXPECT_FALSE(Has(plan, "Sort")) << plan;
}

TEST_F(OsMigrationsPlanTest, IndexesServeHostInstanceActiveStatusAndTimeFilters) {
  auto check = [&](MigrationFilter f, const std::string& index, const char* what) {
    const std::string plan = Plan(f);
    EXPECT_TRUE(Has(plan, index)) << what << "\n" << plan;
    EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << what << "\n" << plan;
  };
  MigrationFilter f;
  f.host = "host-7";
  check(f, "migrations_source_idx", "host (source side)");
  check(f, "migrations_dest_idx", "host (destination side)");
  f = {};
  f.source_compute = "host-7";
  check(f, "migrations_source_idx", "source_compute");
  f = {};
  f.instance_uuid = "00000000-0000-4000-8000-000000000007";
  check(f, "migrations_instance_idx", "instance_uuid");
  f = {};
  f.statuses = std::vector<std::string>{"running"};
  {
    // The partial index of unfinished migrations or the (status, created_at) index: the
    // planner picks by their sizes; either reads only the running rows.
    const std::string plan = Plan(f);
    EXPECT_TRUE(Has(plan, "migrations_active_idx") || Has(plan, "migrations_status_created_idx"))
        << plan;
    EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << plan;
  }
  f = {};
  f.changes_before = TimePoint(std::chrono::hours(24 * 365 * 55));  // early 2025
  check(f, "migrations_updated_idx", "changes-before");
}

TEST_F(OsMigrationsPlanTest, IndexesServeFinishedStatusTypeUserAndProject) {
  auto check = [&](MigrationFilter f, const std::string& index, const char* what) {
    const std::string plan = Plan(f);
    EXPECT_TRUE(Has(plan, index)) << what << "\n" << plan;
    EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << what << "\n" << plan;
  };
  MigrationFilter f;
  f.statuses = std::vector<std::string>{"error"};
  check(f, "migrations_status_created_idx", "status=error");
  f = {};
  f.migration_type = "evacuation";
  check(f, "migrations_type_created_idx", "migration_type=evacuation");
  f = {};
  f.user_id = "user-5";
  check(f, "migrations_user_created_idx", "user_id");
  f = {};
  f.project_id = "project-5";
  check(f, "migrations_project_created_idx", "project_id");
}

TEST_F(OsMigrationsPlanTest, ListUsesCustomPlansEvenWhereTheSessionPrefersGeneric) {
  // A session that would always take the generic plan (PostgreSQL's own choice after five
  // executions, forced here so the test does not depend on its cost guess).
  std::string dsn = schema_->dsn();
  dsn.insert(dsn.rfind('\''), " -c plan_cache_mode=force_generic_plan");
  Database db(dsn, 1);
  MigrationFilter f;
  f.limit = 10;
  std::vector<Migration> page;
  int64_t generic = -1;
  int64_t custom = -1;
  std::string mode;
  db.Transact([&](Tx& tx) {
    page = ListMigrations(tx, f);
    auto r = tx.work().exec1(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE name = 'migrations_list'");
    generic = r[0].as<int64_t>();
    custom = r[1].as<int64_t>();
  });
  db.Transact([&](Tx& tx) { mode = tx.work().exec1("SHOW plan_cache_mode")[0].as<std::string>(); });
  EXPECT_EQ(page.size(), 10u);
  EXPECT_EQ(generic, 0);
  EXPECT_EQ(custom, 1);
  EXPECT_EQ(mode, "force_generic_plan");  // SET LOCAL: the pooled session is left as it was
}

}  // namespace
}  // namespace ferry::controller::store
