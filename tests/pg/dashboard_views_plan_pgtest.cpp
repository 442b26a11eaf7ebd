// The dashboard views stay cheap at scale: over 1,000,000 moves (a year of a busy cloud) and
// their events, EXPLAIN of the queries a dashboard runs shows that migrations and
// migration_events are read through indexes, never scanned whole: the in-progress list, a
// history page of the last 24 h with kind, outcome and project filters, a move's event trail, a
// time range of events, host load, drain status and the orphaned-claims count.
// The seed drops the secondary indexes of the two tables, fills them with one INSERT ... SELECT
// each (foreign keys unchecked) and builds the indexes again from their own definitions
// (building an index over sorted rows costs a fraction of a million index insertions).
#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <string>

#include "controller/store/dashboard_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

constexpr int kMoves = 1'000'000;
constexpr int kActive = 200;  // the newest moves have not ended

class DashboardViewsPlanTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec(R"sql(
      INSERT INTO hosts (service_uuid, node_uuid, name, hypervisor_type, state, last_heartbeat_at,
                         vcpus, memory_mb, local_gb)
      SELECT gen_random_uuid(), gen_random_uuid(), 'host-' || g, 'QEMU',
             CASE WHEN g % 50 = 0 THEN 'down' ELSE 'up' END, now(), 64, 262144, 2000
      FROM generate_series(0, 499) g)sql");
    w.exec(R"sql(
      INSERT INTO servers (uuid, name, host_id, flavorid, flavor_name, vcpus, memory_mb, root_gb,
                           vm_state, user_id, project_id)
      SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'vm-' || g,
             (SELECT id FROM hosts WHERE name = 'host-' || (g % 500)), 'f1', 'm1.small', 2, 4096,
             20, 'active', 'user-' || (g % 2000), 'project-' || (g % 300)
      FROM generate_series(0, 9999) g)sql");
    w.exec(R"sql(
      INSERT INTO claims (consumer_uuid, host_id, resource, amount)
      SELECT s.uuid, s.host_id, r.res, r.amt FROM servers s,
             (VALUES ('VCPU', 2), ('MEMORY_MB', 4096), ('DISK_GB', 20)) r(res, amt))sql");
    // Foreign keys are not checked while seeding (replica mode skips their triggers): every
    // row refers to what exists, and a million lookups would double the seed's time.
    w.exec("SET LOCAL session_replication_role = replica");
    w.exec(R"sql(
      CREATE TEMP TABLE saved_indexes ON COMMIT DROP AS
      SELECT indexname, indexdef FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename IN ('migrations', 'migration_events')
        AND indexname NOT IN (SELECT conname FROM pg_constraint
                              WHERE connamespace = current_schema()::regnamespace))sql");
    w.exec(R"sql(
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT indexname FROM saved_indexes LOOP
          EXECUTE format('DROP INDEX %I', r.indexname);
        END LOOP;
      END $$)sql");
    // Mostly completed moves of every kind over 500 hosts, 2,000 users and 300 projects; 1 %
    // errors, some failed or cancelled; the newest kActive not ended (queued, running, ...).
    w.exec_params(R"sql(
      INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                              dest_compute, user_id, project_id, created_at, updated_at,
                              started_at, finished_at, memory_total, memory_processed,
                              memory_remaining, disk_total, disk_processed, disk_remaining,
                              downtime_ms)
      SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
             ('00000000-0000-4000-8000-' || lpad(to_hex(g % 10000), 12, '0'))::uuid,
             CASE WHEN g % 97 = 0 THEN 'evacuation' WHEN g % 11 = 0 THEN 'resize'
                  WHEN g % 5 = 0 THEN 'migration' ELSE 'live-migration' END,
             CASE WHEN g > $1 - $2
                  THEN (ARRAY['queued', 'running', 'migrating', 'preparing', 'accepted'])[1 + g % 5]
                  WHEN g % 100 = 0 THEN 'error' WHEN g % 101 = 0 THEN 'failed'
                  WHEN g % 103 = 0 THEN 'cancelled' WHEN g % 11 = 0 THEN 'confirmed'
                  ELSE 'completed' END,
             'host-' || (g % 500), 'host-' || ((g * 7 + 1) % 500), 'user-' || (g % 2000),
             'project-' || (g % 300), t, t + interval '3 minutes', t + interval '10 seconds',
             CASE WHEN g > $1 - $2 THEN NULL ELSE t + interval '3 minutes' END,
             4294967296, 4294967296, 0, 0, 0, 0, 50
      FROM generate_series(1, $1) g,
           LATERAL (SELECT now() - interval '365 days' + g * (interval '365 days' / $1) AS t) t)sql",
                  kMoves, kActive);
    // One event per move (its slot), three for every tenth.
    w.exec(R"sql(
      INSERT INTO migration_events (migration_id, from_status, to_status, event, actor, at)
      SELECT m.id, e.f, e.t, e.ev, 'test', m.created_at + e.d
      FROM migrations m
      JOIN (VALUES (0, 'accepted', 'queued', 'scheduled', interval '0'),
                   (1, 'queued', 'running', 'slot_acquired', interval '10 seconds'),
                   (0, 'running', 'completed', 'done', interval '3 minutes')) e(every, f, t, ev, d)
        ON e.every = 1 OR m.id % 10 = 0)sql");
    w.exec(R"sql(
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT indexdef FROM saved_indexes LOOP EXECUTE r.indexdef; END LOOP;
      END $$)sql");
    // 200 drains (4 live) of 20 servers each.
    w.exec(R"sql(
      INSERT INTO drains (uuid, host, mode, status, max_parallel, plan, created_at)
      SELECT gen_random_uuid(), 'host-' || g, 'live',
             CASE WHEN g < 4 THEN 'running' ELSE 'done' END, 2, '{}',
             now() - g * interval '1 day'
      FROM generate_series(0, 199) g)sql");
    w.exec(R"sql(
      INSERT INTO drain_servers (drain_id, server_uuid, name, position, kind, state, bytes,
                                 predicted_seconds)
      SELECT d.id, gen_random_uuid(), 'vm-' || d.id || '-' || p, p, 'live',
             CASE WHEN d.status = 'done' OR p < 5 THEN 'moved' ELSE 'pending' END, 1 << 30, 60
      FROM drains d, generate_series(0, 19) p)sql");
    w.commit();
    pqxx::nontransaction n(c);
    n.exec("ANALYZE");
    seed_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::string Explain(const std::string& query) {
    std::string plan;
    for (const auto& r : Sql("EXPLAIN " + query)) plan += r[0].as<std::string>() + "\n";
    return plan;
  }
  static bool Has(const std::string& plan, const std::string& what) {
    return plan.find(what) != std::string::npos;
  }
  // No whole-table read of the big two; the plan is printed on failure.
  void ExpectIndexed(const std::string& query, const std::string& index = "") {
    const std::string plan = Explain(query);
    EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << query << "\n" << plan;
    EXPECT_FALSE(Has(plan, "Seq Scan on migration_events")) << query << "\n" << plan;
    if (!index.empty()) {
      EXPECT_TRUE(Has(plan, index)) << query << "\n" << plan;
    }
    // And it answers quickly (printed: the bench measures; this machine is shared).
    const auto start = std::chrono::steady_clock::now();
    Sql(query);
    std::printf(
        "%.1f ms  %s\n",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
        query.c_str());
  }

  double seed_seconds_ = 0;
};

TEST_F(DashboardViewsPlanTest, EveryDashboardQueryReadsTheBigTablesThroughIndexes) {
  std::printf("seeded %d moves in %.1f s\n", kMoves, seed_seconds_);
  ASSERT_EQ(Sql("SELECT count(*) FROM v_migrations_in_progress")[0][0].as<int>(), kActive);

  // Live moves, every kind, with their queue positions.
  ExpectIndexed("SELECT * FROM v_migrations_in_progress ORDER BY created_at");
  ExpectIndexed(
      "SELECT * FROM v_migrations_in_progress WHERE kind = 'live-migration' "
      "AND source_host = 'host-7'");

  // The dashboard's live moves, as its store sends them: the page's moves picked through the
  // partial index, oldest first, for an admin (no project) and a member. An admin's read is
  // planned once: its statement has no parameter, and PostgreSQL keeps its generic plan.
  {
    pqxx::connection c(schema_->dsn());
    pqxx::nontransaction n(c);
    n.exec(std::string("PREPARE dashboard_moves AS ") + DashboardMovesSql(false));
    n.exec(std::string("PREPARE dashboard_moves_of(text) AS ") + DashboardMovesSql(true));
    // Six runs first: from then on PostgreSQL may use the generic plan, as a pooled connection
    // of the controller does.
    for (int i = 0; i < 6; ++i) {
      n.exec("EXECUTE dashboard_moves");
      n.exec("EXECUTE dashboard_moves_of('project-5')");
    }
    for (const char* execute : {"dashboard_moves", "dashboard_moves_of('project-5')"}) {
      std::string plan;
      for (const auto& r : n.exec(std::string("EXPLAIN EXECUTE ") + execute)) {
        plan += r[0].as<std::string>() + "\n";
      }
      EXPECT_FALSE(Has(plan, "Seq Scan on migrations")) << execute << "\n" << plan;
      if (std::string(execute) == "dashboard_moves") {
        // Either partial index of unfinished moves walks them oldest first; which one the
        // planner takes can change with each ANALYZE (autovacuum's included).
        EXPECT_TRUE(Has(plan, "migrations_active_created_idx") ||
                    Has(plan, "migrations_active_idx"))
            << plan;
      }
      EXPECT_EQ(n.exec(std::string("EXECUTE ") + execute).size(), 1u);
    }
    EXPECT_EQ(n.exec("SELECT custom_plans FROM pg_prepared_statements "
                     "WHERE name = 'dashboard_moves'")[0][0]
                  .as<int>(),
              0)
        << "an admin's page is never planned again";
  }

  // The dashboard's next page of hosts, as a pooled connection runs it once PostgreSQL keeps
  // the generic plan: the keyset bounds the index scan (a filter would walk every host before
  // the page), and each host's sums come from the indexes alone.
  {
    pqxx::connection c(schema_->dsn());
    pqxx::nontransaction n(c);
    // As autovacuum leaves them: pages marked all-visible, without which an index-only scan
    // costs a heap visit per row (and a near-tie between two plans depends on whether
    // autovacuum happened to run during the test).
    n.exec("VACUUM (ANALYZE) claims, servers, hosts, migrations");
    n.exec("SET plan_cache_mode = force_generic_plan");  // as the dashboard's pool runs it
    n.exec(std::string("PREPARE hosts_after(text, boolean, integer) AS ") +
           DashboardHostsAfterSql());
    std::string plan;
    for (const auto& r : n.exec("EXPLAIN EXECUTE hosts_after('host-2', false, 100)")) {
      plan += r[0].as<std::string>() + "\n";
    }
    EXPECT_TRUE(Has(plan, "Index Cond: (name > $1)")) << plan;
    EXPECT_TRUE(Has(plan, "Index Only Scan using claims_host_idx")) << plan;
    EXPECT_TRUE(Has(plan, "Index Only Scan using servers_host_idx")) << plan;
    EXPECT_EQ(n.exec("EXECUTE hosts_after('host-2', false, 100)")[0][1].as<std::string>(),
              "host-29")
        << "100 hosts by name after host-2: host-20, host-200 .. host-29";
  }

  // The hosts' tiles count every host without reading a claim or a move: v_host_load's per-host
  // sums are left out of the plan when no column of theirs is read.
  {
    const std::string plan = Explain(DashboardHostsSummarySql());
    EXPECT_FALSE(Has(plan, "claims")) << plan;
    EXPECT_FALSE(Has(plan, "migrations")) << plan;
  }

  // History: the newest page, a day's page with filters (Grafana's $__timeFilter expands to a
  // BETWEEN of two timestamps), and counts per outcome over a day.
  ExpectIndexed("SELECT * FROM v_migration_history ORDER BY finished_at DESC LIMIT 50",
                "migrations_finished_idx");
  ExpectIndexed(
      "SELECT * FROM v_migration_history WHERE finished_at BETWEEN now() - interval '24 hours' "
      "AND now() AND kind = 'migration' AND outcome = 'failed' AND project_id = 'project-5' "
      "ORDER BY finished_at DESC LIMIT 50");
  ExpectIndexed(
      "SELECT * FROM v_migration_history WHERE finished_at BETWEEN now() - interval '24 hours' "
      "AND now() AND kind = 'live-migration' ORDER BY finished_at DESC LIMIT 50",
      "migrations_finished_idx");
  ExpectIndexed(
      "SELECT outcome, count(*), avg(duration_seconds) FROM v_migration_history "
      "WHERE finished_at > now() - interval '24 hours' GROUP BY outcome",
      "migrations_finished_idx");

  // One move's trail, and the trail of the last hour.
  const auto uuid =
      Sql("SELECT uuid::text FROM migrations WHERE id = $1", kMoves / 2)[0][0].as<std::string>();
  ExpectIndexed(
      "SELECT * FROM v_migration_events WHERE migration_uuid = '" + uuid + "' ORDER BY event_id",
      "migration_events_migration_idx");
  ExpectIndexed(
      "SELECT * FROM v_migration_events WHERE at > now() - interval '1 hour' "
      "ORDER BY at DESC LIMIT 100",
      "migration_events_at_idx");

  // Hosts, drains, orphaned claims.
  ExpectIndexed("SELECT * FROM v_host_load ORDER BY host");
  // A page of hosts and one host read only their own moves (a descent per host and end).
  ExpectIndexed("SELECT * FROM v_host_load ORDER BY host LIMIT 100",
                "migrations_active_source_idx");
  ExpectIndexed("SELECT * FROM v_host_load WHERE host = 'host-7'", "migrations_active_dest_idx");
  ExpectIndexed(
      "SELECT * FROM v_host_drain_status WHERE status IN ('running', 'paused') "
      "ORDER BY created_at DESC");
  ExpectIndexed("SELECT * FROM v_host_drain_status ORDER BY created_at DESC LIMIT 20");
  ExpectIndexed(
      "SELECT * FROM v_drain_servers WHERE drain_uuid = (SELECT uuid FROM drains "
      "WHERE host = 'host-1') ORDER BY position",
      "drain_servers_pkey");
  ExpectIndexed("SELECT count(*) FROM v_orphaned_claims");

  // The dashboard's drains: the page's 20 drains are picked first and only theirs are counted,
  // not each of the 200 before a sort (a cloud's drain history grows without bound).
  {
    pqxx::connection c(schema_->dsn());
    pqxx::nontransaction n(c);
    // Half of the drains finished, and those the newest: the live ones still come first.
    n.exec(
        "UPDATE drains SET finished_at = now(), created_at = now() - id * interval '1 minute' "
        "WHERE id % 2 = 0");
    n.exec("SET plan_cache_mode = force_generic_plan");  // as the dashboard's pool runs it
    n.exec(std::string("PREPARE dashboard_drains(int, int) AS ") + DashboardDrainsSql());
    std::string plan;
    for (const auto& r :
         n.exec("EXPLAIN (ANALYZE, TIMING OFF) EXECUTE dashboard_drains(20, 500)")) {
      plan += r[0].as<std::string>() + "\n";
    }
    EXPECT_TRUE(Has(plan, "loops=20)")) << plan;
    EXPECT_FALSE(Has(plan, "loops=200)")) << "a drain's counts computed for every drain\n" << plan;
    const auto page =
        nlohmann::json::parse(n.exec("EXECUTE dashboard_drains(20, 500)")[0][0].as<std::string>());
    ASSERT_EQ(page.size(), 20u);
    EXPECT_EQ(page[0]["live"], true) << "live drains first";
    // The same 20 in the same order as the view sorted whole (the statement it replaced).
    nlohmann::json view_order = nlohmann::json::array();
    for (const auto& r :
         n.exec("SELECT drain_id FROM v_host_drain_status "
                "ORDER BY finished_at IS NULL DESC, created_at DESC, drain_id DESC LIMIT 20")) {
      view_order.push_back(r[0].as<int64_t>());
    }
    nlohmann::json page_order = nlohmann::json::array();
    for (const auto& d : page) page_order.push_back(d["drain_id"]);
    EXPECT_EQ(page_order, view_order);
    EXPECT_EQ(page[0]["servers"].size(), 20u);
  }
}

}  // namespace
}  // namespace ferry::controller::store
