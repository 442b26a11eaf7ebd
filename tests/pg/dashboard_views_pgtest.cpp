// The dashboard views of 0014 (schema/views.md): what they show on small, hand-made data, that
// v_migrations_in_progress numbers the queue exactly as store::QueuePositions does, and that the
// role ferry_dashboard reads the seven views and nothing else.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "common/uuid.hpp"
#include "controller/store/dashboard_store.hpp"
#include "controller/store/moves_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

const std::vector<std::string> kViews = {
    "v_migrations_in_progress", "v_migration_history", "v_host_load",       "v_host_drain_status",
    "v_drain_servers",          "v_orphaned_claims",   "v_migration_events"};

class DashboardViewsTest : public StoreTest {
 protected:
  // Inserts a move; returns its uuid. `age_s`: created that many seconds ago.
  std::string AddMove(const std::string& status, const std::string& user, int age_s,
                      const std::string& kind = "live-migration", const std::string& drain = "",
                      const std::string& server = "", const std::string& source = "host-a",
                      const std::string& dest = "host-b") {
    const std::string uuid = NewUuid();
    Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, user_id, "
        "project_id, drain_uuid, source_compute, dest_compute, created_at, updated_at) "
        "VALUES ($1::uuid, $2::uuid, $3, $4, nullif($5, ''), 'p1', nullif($6, '')::uuid, $7, $8, "
        "now() - make_interval(secs => $9), now() - make_interval(secs => $9))",
        uuid, server.empty() ? NewUuid() : server, kind, status, user, drain, source, dest,
        static_cast<double>(age_s));
    return uuid;
  }
  // A queued -> `to` event of the move, now (it was served: given a slot).
  void Served(const std::string& uuid, const std::string& to = "running") {
    Sql("UPDATE migrations SET status = $2, updated_at = now() WHERE uuid = $1::uuid", uuid, to);
    Sql("INSERT INTO migration_events (migration_id, from_status, to_status, event, actor) "
        "SELECT id, 'queued', $2, 'slot_acquired', 'test' FROM migrations WHERE uuid = $1::uuid",
        uuid, to);
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
  void Claim(const std::string& consumer, int64_t host_id, int64_t vcpus = 1) {
    Sql("INSERT INTO claims (consumer_uuid, host_id, resource, amount) VALUES ($1::uuid, $2, "
        "'VCPU', $3)",
        consumer, host_id, vcpus);
  }
};

TEST_F(DashboardViewsTest, QueuePositionsAreTheEnginesFairOrderOnAMixedQueue) {
  const std::string drain1 = NewUuid();
  const std::string drain2 = NewUuid();
  // In slots: u1 holds two, drain1 one (turns already taken).
  AddMove("running", "u1", 600);
  AddMove("migrating", "u1", 600, "migration");
  AddMove("preparing", "admin", 600, "live-migration", drain1);
  // Served a moment ago (queued -> a slot status): u2, then drain2 (later: served last).
  Served(AddMove("queued", "u2", 300));
  Served(AddMove("queued", "admin", 300, "resize", drain2), "pre-migrating");
  // The queue: every kind, two drains, four users, one move without a user.
  std::vector<std::string> queued = {
      AddMove("queued", "u1", 100),
      AddMove("queued", "u1", 90, "migration"),
      AddMove("queued", "u1", 80, "resize"),
      AddMove("queued", "u2", 95),
      AddMove("queued", "u2", 85, "evacuation", "", "", "host-down"),
      AddMove("queued", "u3", 70),
      AddMove("queued", "", 65, "migration"),
      AddMove("queued", "admin", 200, "live-migration", drain1),
      AddMove("queued", "admin", 199, "live-migration", drain1),
      AddMove("queued", "admin", 198, "migration", drain1),
      AddMove("queued", "admin", 197, "live-migration", drain1),
      AddMove("queued", "admin", 150, "resize", drain2),
      AddMove("queued", "admin", 140, "migration", drain2),
      AddMove("queued", "u4", 10),
      AddMove("queued", "u4", 10),  // the same second: the id decides
  };
  AddMove("accepted", "u5", 5);
  AddMove("completed", "u5", 5);

  std::map<std::string, int> engine;
  db_->Transact([&](Tx& tx) { engine = QueuePositions(tx); });
  std::map<std::string, int> view;
  int nulls = 0;
  for (const auto& r : Sql("SELECT migration_uuid::text, queue_position, status "
                           "FROM v_migrations_in_progress")) {
    if (r[1].is_null()) {
      EXPECT_NE(r[2].as<std::string>(), "queued") << r[0].as<std::string>();
      ++nulls;
    } else {
      view[r[0].as<std::string>()] = r[1].as<int>();
    }
  }
  EXPECT_EQ(view.size(), queued.size());
  EXPECT_EQ(view, engine);
  EXPECT_EQ(nulls, 6);  // 3 in slots, 2 served (now in slots), 1 accepted; not the completed
}

TEST_F(DashboardViewsTest, InProgressAndHistorySplitByTheSeedWithOutcomes) {
  std::map<std::string, std::string> outcome_of = {
      {"completed", "succeeded"}, {"confirmed", "succeeded"}, {"reverted", "reverted"},
      {"failed", "failed"},       {"error", "failed"},        {"cancelled", "cancelled"}};
  std::map<std::string, std::string> uuids;  // uuid -> status
  for (const auto& r : Sql("SELECT status FROM migration_statuses")) {
    const auto status = r[0].as<std::string>();
    uuids[AddMove(status, "u1", 60, "migration")] = status;
  }
  Sql("UPDATE migrations SET error_reason = 'disk copy failed', started_at = created_at + "
      "interval '10 seconds', finished_at = created_at + interval '70 seconds', "
      "memory_processed = 100, disk_processed = 50 WHERE status = 'error'");
  std::set<std::string> active, ended;
  for (const auto& r : Sql("SELECT migration_uuid::text FROM v_migrations_in_progress")) {
    active.insert(r[0].as<std::string>());
  }
  for (const auto& r :
       Sql("SELECT migration_uuid::text, status, outcome, reason, duration_seconds, "
           "queued_seconds, bytes_moved FROM v_migration_history")) {
    const auto uuid = r[0].as<std::string>();
    ended.insert(uuid);
    const auto status = r[1].as<std::string>();
    EXPECT_EQ(r[2].as<std::string>(), outcome_of.at(status)) << status;
    if (status == "error") {
      EXPECT_EQ(r[3].as<std::string>(), "disk copy failed");
      EXPECT_DOUBLE_EQ(r[4].as<double>(), 60.0);
      EXPECT_DOUBLE_EQ(r[5].as<double>(), 10.0);
      EXPECT_EQ(r[6].as<int64_t>(), 150);
    }
  }
  EXPECT_EQ(ended.size(), outcome_of.size());
  EXPECT_EQ(active.size() + ended.size(), uuids.size());
  for (const auto& [uuid, status] : uuids) {
    EXPECT_EQ(ended.count(uuid) == 1, outcome_of.count(status) == 1) << status;
    EXPECT_EQ(active.count(uuid) == 1, outcome_of.count(status) == 0) << status;
  }
}

// The dashboard's live moves: a page of the oldest unfinished moves, and counts of them all
// (the tiles), for an admin and for a member (their project's servers' moves only).
TEST_F(DashboardViewsTest, TheDashboardPagesTheOldestMovesAndCountsThemAll) {
  const int64_t host = AddHost("host-a");
  const std::string mine = AddServer("mine", host);
  Sql("UPDATE servers SET project_id = 'p2' WHERE uuid = $1::uuid", mine);
  std::vector<std::string> oldest_first;
  for (int i = 0; i < 120; ++i) oldest_first.push_back(AddMove("running", "u1", 10'000 - i));
  for (int i = 0; i < 10; ++i) oldest_first.push_back(AddMove("queued", "u1", 5'000 - i));
  AddMove("completed", "u1", 20'000);
  const std::string my_move = AddMove("queued", "u2", 100, "live-migration", "", mine);
  oldest_first.push_back(my_move);

  nlohmann::json page, counts, member_page, member_counts;
  db_->Transact([&](Tx& tx) {
    page = nlohmann::json::parse(DashboardMovesInProgress(tx, std::nullopt));
    counts = nlohmann::json::parse(DashboardMovesCounts(tx, std::nullopt));
    member_page = nlohmann::json::parse(DashboardMovesInProgress(tx, std::string("p2")));
    member_counts = nlohmann::json::parse(DashboardMovesCounts(tx, std::string("p2")));
  });
  ASSERT_EQ(page.size(), 100u);
  for (size_t i = 0; i < page.size(); ++i) {
    EXPECT_EQ(page[i]["migration_uuid"], oldest_first[i]) << i;
  }
  EXPECT_EQ(counts["in_progress"], 131) << counts.dump();
  EXPECT_EQ(counts["queued"], 11) << counts.dump();
  ASSERT_EQ(member_page.size(), 1u) << member_page.dump();
  EXPECT_EQ(member_page[0]["migration_uuid"], my_move);
  EXPECT_EQ(member_counts["in_progress"], 1) << member_counts.dump();
  EXPECT_EQ(member_counts["queued"], 1) << member_counts.dump();
}

TEST_F(DashboardViewsTest, ProgressPercentFromRemainingBytesNullWhenUnknown) {
  const auto a = AddMove("running", "u1", 10);
  const auto b = AddMove("running", "u1", 10);
  Sql("UPDATE migrations SET memory_total = 1000, memory_remaining = 250, disk_total = 1000, "
      "disk_remaining = 750, transfer_rate_bps = 5, eta_seconds = 7 WHERE uuid = $1::uuid",
      a);
  auto row =
      Sql("SELECT progress_percent, transfer_rate_bps, eta_seconds FROM "
          "v_migrations_in_progress WHERE migration_uuid = $1::uuid",
          a)[0];
  EXPECT_DOUBLE_EQ(row[0].as<double>(), 50.0);
  EXPECT_EQ(row[1].as<int64_t>(), 5);
  EXPECT_EQ(row[2].as<int>(), 7);
  EXPECT_TRUE(
      Sql("SELECT progress_percent FROM v_migrations_in_progress WHERE migration_uuid = $1::uuid",
          b)[0][0]
          .is_null());
}

TEST_F(DashboardViewsTest, HostLoadCountsServersClaimsAndMovesBySlot) {
  const int64_t a = AddHost("host-a", {16, 4096, 100, std::nullopt});
  AddHost("host-b", {16, 4096, 100, std::nullopt});
  const auto s1 = AddServer("vm1", a);
  AddServer("vm2", a);
  AddServer("gone", a, "deleted");
  Claim(s1, a, 3);
  AddMove("running", "u1", 10, "live-migration", "", s1);
  AddMove("migrating", "u1", 10, "migration");
  AddMove("queued", "u1", 10);
  AddMove("completed", "u1", 10);
  AddMove("running", "u1", 10, "evacuation");  // no outbound slot: its source is down
  auto r =
      Sql("SELECT servers, vcpus, vcpus_used, outbound_moves, inbound_moves, "
          "queued_outbound, is_up FROM v_host_load WHERE host = 'host-a'")[0];
  EXPECT_EQ(r[0].as<int>(), 2);
  EXPECT_EQ(r[1].as<int64_t>(), 16);
  EXPECT_EQ(r[2].as<int64_t>(), 3);
  EXPECT_EQ(r[3].as<int>(), 2);
  EXPECT_EQ(r[4].as<int>(), 0);
  EXPECT_EQ(r[5].as<int>(), 1);
  auto b = Sql("SELECT inbound_moves, vcpus_used FROM v_host_load WHERE host = 'host-b'")[0];
  EXPECT_EQ(b[0].as<int>(), 3);
  EXPECT_EQ(b[1].as<int64_t>(), 0);
}

TEST_F(DashboardViewsTest, DrainStatusCountsProgressEtaAndWhoIsLeft) {
  const std::string uuid = NewUuid();
  Sql("INSERT INTO drains (uuid, host, mode, status, max_parallel, plan) VALUES ($1::uuid, "
      "'host-a', 'live', 'running', 2, '{}')",
      uuid);
  const char* rows[][3] = {{"a", "moved", "10"},   {"b", "moving", "20"}, {"c", "pending", "30"},
                           {"d", "pending", "40"}, {"e", "failed", "50"}, {"f", "starting", "10"}};
  int position = 0;
  for (const auto& row : rows) {
    Sql("INSERT INTO drain_servers (drain_id, server_uuid, name, position, kind, state, "
        "predicted_seconds) SELECT id, $2::uuid, $3, $4, 'live', $5, $6::float8 FROM drains "
        "WHERE uuid = $1::uuid",
        uuid, NewUuid(), std::string(row[0]), position++, std::string(row[1]), std::string(row[2]));
  }
  auto r =
      Sql("SELECT servers_total, servers_pending, servers_moving, servers_moved, "
          "servers_failed, progress_percent, eta_seconds, remaining_servers::text "
          "FROM v_host_drain_status WHERE drain_uuid = $1::uuid",
          uuid)[0];
  EXPECT_EQ(r[0].as<int>(), 6);
  EXPECT_EQ(r[1].as<int>(), 2);
  EXPECT_EQ(r[2].as<int>(), 2);
  EXPECT_EQ(r[3].as<int>(), 1);
  EXPECT_EQ(r[4].as<int>(), 1);
  EXPECT_DOUBLE_EQ(r[5].as<double>(), 100.0 * 2 / 6);
  EXPECT_DOUBLE_EQ(r[6].as<double>(), 50.0);  // (20 + 30 + 40 + 10) s over 2 lanes
  EXPECT_EQ(r[7].as<std::string>(), "{b,c,d,f}");
  EXPECT_EQ(
      Sql("SELECT count(*) FROM v_drain_servers WHERE drain_uuid = $1::uuid", uuid)[0][0].as<int>(),
      6);
}

TEST_F(DashboardViewsTest, OrphanedClaimsAreEndedMovesStrayServersAndUnknownConsumers) {
  const int64_t a = AddHost("host-a");
  const int64_t b = AddHost("host-b");
  const auto home = AddServer("home", a);      // its claims on its host: fine
  const auto moving = AddServer("moving", a);  // claims on b: its move's destination
  const auto stray = AddServer("stray", a);    // claims on b, no move: orphaned
  const auto deleted = AddServer("deleted", a, "deleted");
  Claim(home, a);
  Claim(moving, b);
  const auto live_move = AddMove("running", "u1", 10, "live-migration", "", moving);
  Claim(live_move, a);  // the move holds the source: fine
  Claim(stray, b);
  Claim(deleted, a);
  const auto ended = AddMove("error", "u1", 10);
  Claim(ended, a);
  const auto nobody = NewUuid();
  Claim(nobody, b);
  std::map<std::string, std::string> kinds;
  for (const auto& r : Sql("SELECT consumer_uuid::text, consumer_kind, reason, host "
                           "FROM v_orphaned_claims")) {
    kinds[r[0].as<std::string>()] = r[1].as<std::string>();
    EXPECT_FALSE(r[2].is_null());
  }
  EXPECT_EQ(
      kinds,
      (std::map<std::string, std::string>{
          {stray, "server"}, {deleted, "server"}, {ended, "migration"}, {nobody, "unknown"}}));
}

TEST_F(DashboardViewsTest, TheEventTrailNamesItsMove) {
  const auto uuid = AddMove("queued", "u1", 10);
  Served(uuid);
  auto r =
      Sql("SELECT from_status, to_status, event, actor, kind FROM v_migration_events "
          "WHERE migration_uuid = $1::uuid",
          uuid);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0][0].as<std::string>(), "queued");
  EXPECT_EQ(r[0][1].as<std::string>(), "running");
  EXPECT_EQ(r[0][4].as<std::string>(), "live-migration");
}

TEST_F(DashboardViewsTest, NoViewShowsASecret) {
  for (const auto& r : Sql("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND table_name LIKE 'v\\_%'")) {
    const auto column = r[1].as<std::string>();
    for (const char* secret : {"token", "request_params", "idempotency", "password", "secret",
                               "lease_until", "lease_epoch"}) {
      EXPECT_EQ(column.find(secret), std::string::npos) << r[0].as<std::string>() << "." << column;
    }
    EXPECT_NE(column, "plan") << r[0].as<std::string>();  // a drain's whole plan document
  }
}

// The role reads every view and nothing else: each table of the schema (listed from the
// catalog, so a table added later is covered) refuses it, the secret column too.
TEST_F(DashboardViewsTest, TheDashboardRoleReadsTheViewsAndNoTable) {
  auto one = [](pqxx::connection& c, const std::string& sql) {
    pqxx::nontransaction n(c);
    n.exec(sql);
  };
  ASSERT_EQ(Sql("SELECT count(*) FROM pg_roles WHERE rolname = 'ferry_dashboard' "
                "AND NOT rolcanlogin")[0][0]
                .as<int>(),
            1);
  // A member of ferry_dashboard the way an operator makes one; SET ROLE stands in for logging
  // in (the test cluster admits only its owner). Named per test: roles are cluster-wide.
  const std::string member = "ferry_dash_test_" + schema_->name();
  Sql("CREATE ROLE " + member + " NOLOGIN IN ROLE ferry_dashboard");
  std::vector<std::string> tables;
  for (const auto& r :
       Sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")) {
    tables.push_back(r[0].as<std::string>());
  }
  EXPECT_GE(tables.size(), 20u);
  {
    pqxx::connection c(schema_->dsn());
    one(c, "SET ROLE " + member);
    for (const auto& view : kViews) {
      EXPECT_NO_THROW(one(c, "SELECT * FROM " + view + " LIMIT 1")) << view;
    }
    for (const auto& table : tables) {
      EXPECT_THROW(one(c, "SELECT 1 FROM " + table + " LIMIT 1"), pqxx::insufficient_privilege)
          << table;
      EXPECT_THROW(one(c, "DELETE FROM " + table), pqxx::insufficient_privilege) << table;
    }
    EXPECT_THROW(one(c, "SELECT transfer_token FROM migrations"), pqxx::insufficient_privilege);
    EXPECT_THROW(one(c, "CREATE TABLE dash_probe (x int)"), pqxx::insufficient_privilege);
    // A temporary table of the seed's name (anyone may make one) does not stand in for it in
    // the SECURITY DEFINER function the views call.
    one(c,
        "CREATE TEMP TABLE migration_statuses (status text, is_terminal bool, "
        "occupies_slot bool, holds_resources bool, heads_to_destination bool)");
    one(c, "INSERT INTO pg_temp.migration_statuses VALUES ('pwned', true, true, true, true)");
    pqxx::nontransaction n(c);
    auto terminal = n.exec1("SELECT array_to_string(migration_status_list('terminal'), ',')");
    EXPECT_EQ(terminal[0].as<std::string>(), "cancelled,completed,confirmed,error,failed,reverted");
    // Dropped here, not left to the session's end: a backend cleans its temporary tables after
    // the client is gone, and the role below could not be dropped while one remains.
    n.exec("DROP TABLE pg_temp.migration_statuses");
  }
  Sql("DROP ROLE " + member);
}

TEST_F(DashboardViewsTest, TheRoleIsCreatedOnceAndAnotherSchemasUpgradeKeepsIt) {
  // A second schema (another test, another database) upgrades while the role exists.
  ferry::testing::PgSchema other(schema_->dsn().substr(0, schema_->dsn().find(" options=")));
  EXPECT_NO_THROW(UpgradeSchema(other.dsn()));
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_roles WHERE rolname = 'ferry_dashboard'")[0][0].as<int>(),
            1);
  // Its views are granted too, in its own schema.
  EXPECT_TRUE(Sql("SELECT has_table_privilege('ferry_dashboard', '" + other.name() +
                  ".v_host_load', 'SELECT')")[0][0]
                  .as<bool>());
  EXPECT_TRUE(
      Sql("SELECT has_schema_privilege('ferry_dashboard', '" + other.name() + "', 'USAGE')")[0][0]
          .as<bool>());
}

}  // namespace
}  // namespace ferry::controller::store
