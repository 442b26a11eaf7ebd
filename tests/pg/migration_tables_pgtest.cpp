// migration_statuses (the single list of statuses and their flags) and migration_events (the
// append-only audit trail) as 0001_foundation creates them.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <tuple>

#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Names = std::set<std::string>;

class MigrationTablesTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    conn_ = std::make_unique<pqxx::connection>(schema_->dsn());
  }
  Names Select(const std::string& query) {
    pqxx::work w(*conn_);
    Names out;
    for (const auto& r : w.exec(query)) out.insert(r[0].as<std::string>());
    return out;
  }
  // A server and a live migration of it; returns the migration id.
  int64_t InsertMigration() {
    pqxx::work w(*conn_);
    w.exec(
        "INSERT INTO servers (uuid, name, flavorid, flavor_name, vcpus, memory_mb, root_gb, "
        "vm_state, user_id, project_id) VALUES ('6f1c2a52-0000-4000-8000-000000000001', 'vm', "
        "'1', 'm1.tiny', 1, 512, 1, 'active', 'u', 'p')");
    auto id =
        w.exec(
             "INSERT INTO migrations (uuid, instance_uuid, migration_type, status) VALUES "
             "('6f1c2a52-0000-4000-8000-0000000000aa', '6f1c2a52-0000-4000-8000-000000000001', "
             "'live-migration', 'queued') RETURNING id")[0][0]
            .as<int64_t>();
    w.commit();
    return id;
  }
  int64_t InsertEvent(int64_t migration_id) {
    pqxx::work w(*conn_);
    auto id = w.exec_params1(
                   "INSERT INTO migration_events (migration_id, from_status, to_status, "
                   "event, actor) VALUES ($1, 'accepted', 'queued', 'enqueue', 'test') "
                   "RETURNING id",
                   migration_id)[0]
                  .as<int64_t>();
    w.commit();
    return id;
  }

  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(MigrationTablesTest, TerminalStatusesAreExactlyTheFinalOnes) {
  EXPECT_EQ(Select("SELECT status FROM migration_statuses WHERE is_terminal"),
            (Names{"completed", "confirmed", "reverted", "failed", "error", "cancelled"}));
}

TEST_F(MigrationTablesTest, ApiInProgressStatusesAreTheLiveMigrationRunningOnes) {
  EXPECT_EQ(Select("SELECT status FROM migration_statuses WHERE api_in_progress"),
            (Names{"queued", "preparing", "running", "post-migrating"}));
}

TEST_F(MigrationTablesTest, EveryStatusIsListedWithConsistentFlags) {
  EXPECT_EQ(Select("SELECT status FROM migration_statuses"),
            (Names{"accepted", "queued", "preparing", "running", "post-migrating", "pre-migrating",
                   "migrating", "finished", "confirming", "reverting", "done", "completed",
                   "confirmed", "reverted", "failed", "error", "cancelled"}));
  // A terminal migration holds nothing and is not in progress; a live one holds its claims.
  EXPECT_EQ(Select("SELECT status FROM migration_statuses WHERE is_terminal AND (holds_resources "
                   "OR api_in_progress)"),
            Names{});
  EXPECT_EQ(
      Select("SELECT status FROM migration_statuses WHERE NOT is_terminal AND NOT holds_resources"),
      Names{});
  EXPECT_EQ(Select("SELECT status FROM migration_statuses WHERE description = ''"), Names{});
}

// The lease index must cover exactly the non-terminal migrations, or the reconciler's queue
// query stops using it (or misses rows) the day someone adds a status to one list only.
TEST_F(MigrationTablesTest, LeaseIndexPredicateExcludesExactlyTheTerminalStatuses) {
  pqxx::work w(*conn_);
  auto def = w.exec_params1(
                  "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND "
                  "indexname = 'migrations_lease_idx'",
                  schema_->name())[0]
                 .as<std::string>();
  w.commit();
  Names in_predicate;
  std::regex quoted("'([a-z-]+)'");
  for (auto it = std::sregex_iterator(def.begin(), def.end(), quoted); it != std::sregex_iterator();
       ++it) {
    in_predicate.insert((*it)[1]);
  }
  EXPECT_EQ(in_predicate, Select("SELECT status FROM migration_statuses WHERE is_terminal")) << def;
}

TEST_F(MigrationTablesTest, MigrationStatusMustBeAListedStatus) {
  InsertMigration();
  pqxx::work w(*conn_);
  EXPECT_THROW(w.exec("UPDATE migrations SET status = 'half-done'"), pqxx::foreign_key_violation);
}

TEST_F(MigrationTablesTest, EventsCanBeAppended) {
  auto migration = InsertMigration();
  InsertEvent(migration);
  InsertEvent(migration);
  pqxx::work w(*conn_);
  EXPECT_EQ(
      w.exec_params1("SELECT count(*) FROM migration_events WHERE migration_id = $1", migration)[0]
          .as<int>(),
      2);
}

TEST_F(MigrationTablesTest, UpdatingAnEventRaises) {
  auto event = InsertEvent(InsertMigration());
  {
    pqxx::work w(*conn_);
    try {
      w.exec_params("UPDATE migration_events SET reason = 'rewritten' WHERE id = $1", event);
      FAIL() << "UPDATE of migration_events succeeded";
    } catch (const pqxx::sql_error& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
    }
  }
  pqxx::work w(*conn_);
  EXPECT_TRUE(w.exec_params1("SELECT reason IS NULL FROM migration_events WHERE id = $1", event)[0]
                  .as<bool>());
}

TEST_F(MigrationTablesTest, DeletingAnEventRaises) {
  auto event = InsertEvent(InsertMigration());
  {
    pqxx::work w(*conn_);
    try {
      w.exec_params("DELETE FROM migration_events WHERE id = $1", event);
      FAIL() << "DELETE from migration_events succeeded";
    } catch (const pqxx::sql_error& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
    }
  }
  pqxx::work w(*conn_);
  EXPECT_EQ(
      w.exec_params1("SELECT count(*) FROM migration_events WHERE id = $1", event)[0].as<int>(), 1);
}

TEST_F(MigrationTablesTest, MigrationHistoryOutlivesItsServer) {
  auto migration = InsertMigration();
  InsertEvent(migration);
  pqxx::work w(*conn_);
  w.exec("DELETE FROM servers");
  EXPECT_EQ(w.exec_params1("SELECT count(*) FROM migrations WHERE id = $1", migration)[0].as<int>(),
            1);
  EXPECT_EQ(
      w.exec_params1("SELECT count(*) FROM migration_events WHERE migration_id = $1", migration)[0]
          .as<int>(),
      1);
}

TEST_F(MigrationTablesTest, UpdatingEveryEventAtOnceRaisesToo) {
  auto migration = InsertMigration();
  InsertEvent(migration);
  InsertEvent(migration);
  pqxx::work w(*conn_);
  EXPECT_THROW(w.exec("UPDATE migration_events SET actor = 'someone-else'"), pqxx::sql_error);
}

}  // namespace
}  // namespace ferry::controller::store
