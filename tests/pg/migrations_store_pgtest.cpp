// migrations_store against a real PostgreSQL: each filter of GET /os-migrations narrows the
// list, the order is created_at desc with id desc breaking ties, a marker continues after its
// row, and changes-since / changes-before bound updated_at inclusively.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "controller/store/migrations_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Strings = std::vector<std::string>;

const std::string kServerA = "aaaaaaaa-0000-4000-8000-00000000000a";
const std::string kServerB = "bbbbbbbb-0000-4000-8000-00000000000b";

// uuid of the n-th test migration
std::string Mid(int n) {
  return "00000000-0000-4000-8000-" + std::string(10, '0') + std::to_string(10 + n);
}

struct Row {
  int n = 0;
  std::string instance = kServerA;
  std::string type = "live-migration";
  std::string status = "completed";
  std::optional<std::string> source = "src-1";
  std::optional<std::string> dest = "dst-1";
  int64_t created = 0;             // seconds after StoreTest's epoch
  std::optional<int64_t> updated;  // likewise
  std::optional<std::string> user = "u1";
  std::optional<std::string> project = "p1";
};

class MigrationsStoreTest : public StoreTest {
 protected:
  void Insert(const Row& r) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    std::optional<double> updated;
    if (r.updated) updated = EpochSeconds(T(*r.updated));
    w.exec_params(
        "INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
        "dest_compute, created_at, updated_at, user_id, project_id) VALUES ($1, $2, $3, $4, $5, "
        "$6, to_timestamp($7), to_timestamp($8), $9, $10)",
        Mid(r.n), r.instance, r.type, r.status, r.source, r.dest, EpochSeconds(T(r.created)),
        updated, r.user, r.project);
    w.commit();
  }
  static double EpochSeconds(TimePoint t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  }
  Strings List(const MigrationFilter& f) {
    Strings out;
    db_->Transact([&](Tx& tx) {
      for (const auto& m : ListMigrations(tx, f)) out.push_back(m.uuid);
    });
    return out;
  }
  // Six records: ids ascend with n; 2 and 3 share created_at.
  void InsertSix() {
    Insert({.n = 1, .created = 10, .updated = 10});
    Insert({.n = 2,
            .instance = kServerB,
            .type = "resize",
            .status = "finished",
            .source = "src-2",
            .dest = "src-2",
            .created = 20,
            .updated = 25});
    Insert({.n = 3,
            .type = "migration",
            .status = "error",
            .source = "dst-1",
            .dest = "dst-2",
            .created = 20,
            .updated = 30,
            .user = "u2",
            .project = "p2"});
    Insert({.n = 4,
            .status = "running",
            .source = "src-2",
            .dest = "dst-1",
            .created = 40,
            .updated = std::nullopt});
    Insert({.n = 5,
            .type = "evacuation",
            .status = "done",
            .source = "src-1",
            .dest = "dst-3",
            .created = 50,
            .updated = 50,
            .user = "u2"});
    Insert({.n = 6,
            .instance = kServerB,
            .status = "failed",
            .source = "src-3",
            .dest = std::nullopt,
            .created = 5,
            .updated = 60,
            .project = "p2"});
  }
};

TEST_F(MigrationsStoreTest, NewestFirstWithEqualCreatedAtBrokenByHigherIdFirst) {
  InsertSix();
  EXPECT_EQ(List({}), (Strings{Mid(5), Mid(4), Mid(3), Mid(2), Mid(1), Mid(6)}));
}

TEST_F(MigrationsStoreTest, RowCarriesColumnsAndInProgressFlagOfItsStatus) {
  InsertSix();
  std::vector<Migration> all;
  db_->Transact([&](Tx& tx) { all = ListMigrations(tx, {}); });
  ASSERT_EQ(all.size(), 6u);
  const Migration& running = all[1];
  EXPECT_EQ(running.uuid, Mid(4));
  EXPECT_EQ(running.status, "running");
  EXPECT_TRUE(running.api_in_progress);
  EXPECT_EQ(running.migration_type, "live-migration");
  EXPECT_EQ(running.source_compute, "src-2");
  EXPECT_EQ(running.created_at, T(40));
  EXPECT_FALSE(running.updated_at);
  EXPECT_EQ(running.attempt, 0);
  EXPECT_FALSE(all[0].api_in_progress);  // done: an evacuation step, not a live copy
  EXPECT_EQ(all[0].updated_at, T(50));
  EXPECT_FALSE(all[5].dest_compute);
}

TEST_F(MigrationsStoreTest, HostMatchesSourceOrDestination) {
  InsertSix();
  MigrationFilter f;
  f.host = "dst-1";
  EXPECT_EQ(List(f), (Strings{Mid(4), Mid(3), Mid(1)}));
  f.host = "src-2";
  EXPECT_EQ(List(f), (Strings{Mid(4), Mid(2)}));
  f.host = "nowhere";
  EXPECT_EQ(List(f), Strings{});
}

TEST_F(MigrationsStoreTest, SourceComputeMatchesOnlyTheSource) {
  InsertSix();
  MigrationFilter f;
  f.source_compute = "dst-1";
  EXPECT_EQ(List(f), (Strings{Mid(3)}));
  f.source_compute = "src-1";
  EXPECT_EQ(List(f), (Strings{Mid(5), Mid(1)}));
}

TEST_F(MigrationsStoreTest, StatusFilterAcceptsAnyOfAList) {
  InsertSix();
  MigrationFilter f;
  f.statuses = Strings{"error"};
  EXPECT_EQ(List(f), (Strings{Mid(3)}));
  f.statuses = Strings{"failed", "running", "no-such-status"};
  EXPECT_EQ(List(f), (Strings{Mid(4), Mid(6)}));
  f.statuses = Strings{"a\"b", "c\\d,{e}"};  // user text is quoted, not parsed as an array
  EXPECT_EQ(List(f), Strings{});
}

TEST_F(MigrationsStoreTest, InstanceTypeUserAndProjectFilters) {
  InsertSix();
  MigrationFilter f;
  f.instance_uuid = kServerB;
  EXPECT_EQ(List(f), (Strings{Mid(2), Mid(6)}));
  f = {};
  f.migration_type = "live-migration";
  EXPECT_EQ(List(f), (Strings{Mid(4), Mid(1), Mid(6)}));
  f = {};
  f.user_id = "u2";
  EXPECT_EQ(List(f), (Strings{Mid(5), Mid(3)}));
  f = {};
  f.project_id = "p2";
  EXPECT_EQ(List(f), (Strings{Mid(3), Mid(6)}));
  f.user_id = "u2";
  f.migration_type = "migration";
  EXPECT_EQ(List(f), (Strings{Mid(3)}));
}

TEST_F(MigrationsStoreTest, LimitAndMarkerWalkPagesAcrossATieInCreatedAt) {
  InsertSix();
  MigrationFilter f;
  f.limit = 2;
  EXPECT_EQ(List(f), (Strings{Mid(5), Mid(4)}));
  f.marker = Mid(4);
  EXPECT_EQ(List(f), (Strings{Mid(3), Mid(2)}));
  f.marker = Mid(3);  // its twin in created_at (2) still follows
  EXPECT_EQ(List(f), (Strings{Mid(2), Mid(1)}));
  f.marker = Mid(1);
  EXPECT_EQ(List(f), (Strings{Mid(6)}));
  f.marker = Mid(6);
  EXPECT_EQ(List(f), Strings{});
}

TEST_F(MigrationsStoreTest, MarkerCombinesWithFilters) {
  InsertSix();
  MigrationFilter f;
  f.migration_type = "live-migration";
  f.marker = Mid(5);  // the marker itself need not match the filters
  EXPECT_EQ(List(f), (Strings{Mid(4), Mid(1), Mid(6)}));
}

TEST_F(MigrationsStoreTest, MigrationExistsKnowsOnlyStoredUuids) {
  InsertSix();
  bool known = false, unknown = true;
  db_->Transact([&](Tx& tx) {
    known = MigrationExists(tx, Mid(3));
    unknown = MigrationExists(tx, "ffffffff-0000-4000-8000-000000000000");
  });
  EXPECT_TRUE(known);
  EXPECT_FALSE(unknown);
}

TEST_F(MigrationsStoreTest, ChangesSinceAndBeforeBoundUpdatedAtInclusively) {
  InsertSix();
  MigrationFilter f;
  f.changes_since = T(30);
  EXPECT_EQ(List(f), (Strings{Mid(5), Mid(3), Mid(6)}));  // never-updated 4 is left out
  f.changes_before = T(50);
  EXPECT_EQ(List(f), (Strings{Mid(5), Mid(3)}));
  f = {};
  f.changes_before = T(25);
  EXPECT_EQ(List(f), (Strings{Mid(2), Mid(1)}));
  f.changes_since = T(25);
  EXPECT_EQ(List(f), (Strings{Mid(2)}));
}

}  // namespace
}  // namespace ferry::controller::store
