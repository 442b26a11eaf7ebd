// instance_actions_store against a real PostgreSQL: a migration with events is one action
// (request id and user from its first event, updated_at from its last), actions list newest
// first with id breaking ties, a marker continues after its action, changes-since/-before bound
// updated_at inclusively, and events come back newest first.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "controller/store/instance_actions_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Strings = std::vector<std::string>;

const std::string kServer = "aaaaaaaa-0000-4000-8000-00000000000a";
const std::string kOther = "bbbbbbbb-0000-4000-8000-00000000000b";

class InstanceActionsStoreTest : public StoreTest {
 protected:
  // A migration of `server` whose events happen at the given offsets (seconds after T(0)); the
  // first event carries `request_id` ("" for none) and actor `user`. Returns the migration id.
  int64_t AddMigration(const std::string& server, const std::string& request_id,
                       const std::vector<int64_t>& event_times, const std::string& user = "u1",
                       const std::string& project = "p1") {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    int64_t id = w.exec_params1(
                      "INSERT INTO migrations (uuid, instance_uuid, migration_type, "
                      "status, project_id) VALUES (gen_random_uuid(), $1, "
                      "'live-migration', 'running', $2) RETURNING id",
                      server, project)[0]
                     .as<int64_t>();
    for (size_t i = 0; i < event_times.size(); ++i) {
      const bool first = i == 0;
      w.exec_params(
          "INSERT INTO migration_events (migration_id, from_status, to_status, event, "
          "actor, request_id, at) VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7))",
          id, first ? std::optional<std::string>() : std::optional<std::string>("accepted"),
          first ? "accepted" : "queued", first ? "requested" : "step" + std::to_string(i),
          first ? user : std::string("conductor"),
          first && !request_id.empty() ? std::optional<std::string>(request_id)
                                       : std::optional<std::string>(),
          Epoch(T(event_times[i])));
    }
    w.commit();
    return id;
  }
  static double Epoch(TimePoint t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  }

  Strings List(InstanceActionFilter f) {
    Strings out;
    db_->Transact([&](Tx& tx) {
      for (const auto& a : ListInstanceActions(tx, f)) out.push_back(a.request_id);
    });
    return out;
  }
  static InstanceActionFilter For(const std::string& server) {
    InstanceActionFilter f;
    f.instance_uuid = server;
    return f;
  }
};

TEST_F(InstanceActionsStoreTest, OneActionPerMigrationWithEventsNewestFirstIdBreaksTies) {
  AddMigration(kServer, "req-a", {10, 20});
  AddMigration(kServer, "req-b", {30});
  AddMigration(kServer, "req-c", {30, 31});  // same start as req-b, higher id: first
  AddMigration(kOther, "req-x", {40});
  AddMigration(kServer, "req-none", {});  // no events: no action
  EXPECT_EQ(List(For(kServer)), (Strings{"req-c", "req-b", "req-a"}));
}

TEST_F(InstanceActionsStoreTest, FieldsComeFromFirstAndLastEvent) {
  AddMigration(kServer, "req-a", {10, 20, 25}, "alice-user", "alice");
  std::optional<InstanceAction> a;
  db_->Transact([&](Tx& tx) { a = FindInstanceAction(tx, kServer, "req-a"); });
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user_id, "alice-user");
  EXPECT_EQ(a->project_id, "alice");
  EXPECT_EQ(a->instance_uuid, kServer);
  EXPECT_EQ(a->start_time, T(10));
  EXPECT_EQ(a->updated_at, T(25));
  db_->Transact([&](Tx& tx) {
    EXPECT_FALSE(FindInstanceAction(tx, kOther, "req-a"));  // request of another server
    EXPECT_FALSE(FindInstanceAction(tx, kServer, "req-zzz"));
  });
}

TEST_F(InstanceActionsStoreTest, WithoutARequestIdTheActionIsNamedAfterItsMigration) {
  const int64_t id = AddMigration(kServer, "", {10});
  std::string uuid;
  {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    uuid =
        w.exec_params1("SELECT uuid::text FROM migrations WHERE id = $1", id)[0].as<std::string>();
  }
  EXPECT_EQ(List(For(kServer)), Strings{"req-" + uuid});
  db_->Transact([&](Tx& tx) {
    auto a = FindInstanceAction(tx, kServer, "req-" + uuid);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->migration_id, id);
  });
}

TEST_F(InstanceActionsStoreTest, MarkerLimitAndChangesWindow) {
  AddMigration(kServer, "req-a", {10, 20});
  AddMigration(kServer, "req-b", {30, 40});
  AddMigration(kServer, "req-c", {50, 60});
  auto f = For(kServer);
  f.limit = 2;
  EXPECT_EQ(List(f), (Strings{"req-c", "req-b"}));
  f.marker = "req-b";
  EXPECT_EQ(List(f), (Strings{"req-a"}));
  f = For(kServer);
  f.changes_since = T(40);  // inclusive
  EXPECT_EQ(List(f), (Strings{"req-c", "req-b"}));
  f.changes_before = T(40);
  EXPECT_EQ(List(f), (Strings{"req-b"}));
}

TEST_F(InstanceActionsStoreTest, EventsNewestFirst) {
  int64_t id = AddMigration(kServer, "req-a", {10, 20, 30});
  std::vector<InstanceActionEvent> events;
  db_->Transact([&](Tx& tx) { events = ListInstanceActionEvents(tx, id); });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event, "step2");
  EXPECT_EQ(events[0].at, T(30));
  EXPECT_EQ(events[2].event, "requested");
  EXPECT_FALSE(events[2].from_status);
  EXPECT_EQ(events[2].actor, "u1");
}

TEST_F(InstanceActionsStoreTest, MigratedInstanceKnownByItsNewestRecord) {
  AddMigration(kServer, "req-a", {10}, "u1", "old-project");
  AddMigration(kServer, "req-b", {20}, "u1", "new-project");
  db_->Transact([&](Tx& tx) {
    auto m = FindMigratedInstance(tx, kServer);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->project_id, "new-project");
    EXPECT_FALSE(FindMigratedInstance(tx, kOther));
  });
}

}  // namespace
}  // namespace ferry::controller::store
