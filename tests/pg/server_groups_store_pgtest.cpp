// store/server_groups_store on a real PostgreSQL: groups and members, listing per project with
// paging, cascade on delete, one group per server, and the hosts a member must avoid
// (AntiAffinityHosts) including where members are moving to.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/store/server_groups_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class ServerGroupsStoreTest : public StoreTest {
 protected:
  ServerGroup Make(const std::string& name, const std::string& policy,
                   const std::string& project = "p1",
                   nlohmann::json rules = nlohmann::json::object()) {
    ServerGroup g;
    g.uuid = NewUuid();
    g.name = name;
    g.policy = policy;
    g.rules = std::move(rules);
    g.user_id = "u1";
    g.project_id = project;
    g.created_at = T(next_++);
    ServerGroup out;
    db_->Transact([&](Tx& tx) { out = InsertServerGroup(tx, g); });
    return out;
  }
  void Sql(const std::string& statement) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec(statement);
    w.commit();
  }
  // A server row on `host` (registered here if needed), as servers_store would write it.
  std::string Server(const std::string& host) {
    if (!hosts_.count(host)) hosts_[host] = AddHost(host);
    const std::string uuid = NewUuid();
    Sql("INSERT INTO servers (uuid, name, host_id, node, flavorid, flavor_name, vcpus, memory_mb, "
        "root_gb, vm_state, power_state, user_id, project_id) VALUES ('" +
        uuid + "', 's', " + std::to_string(hosts_[host]) + ", '" + host +
        "', '1', 'm1', 1, 512, 1, 'active', 1, 'u1', 'p1')");
    return uuid;
  }
  void Join(const ServerGroup& g, const std::string& server) {
    db_->Transact([&](Tx& tx) { AddServerGroupMember(tx, g.id, server); });
  }
  std::set<std::string> Avoid(const std::string& server) {
    std::set<std::string> out;
    db_->Transact([&](Tx& tx) { out = AntiAffinityHosts(tx, server); });
    return out;
  }
  int next_ = 0;
  std::map<std::string, int64_t> hosts_;
};

TEST_F(ServerGroupsStoreTest, InsertFindListAndDeleteWithMembers) {
  auto a = Make("a", "anti-affinity", "p1", {{"max_server_per_host", 2}});
  auto b = Make("b", "soft-affinity", "p2");
  auto c = Make("c", "affinity", "p1");
  Join(a, "11111111-1111-4111-8111-111111111111");
  db_->Transact([&](Tx& tx) {
    auto found = FindServerGroup(tx, a.uuid);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->name, "a");
    EXPECT_EQ(found->rules["max_server_per_host"], 2);
    EXPECT_EQ(found->project_id, "p1");
    EXPECT_EQ(found->created_at, T(0));
    EXPECT_EQ(found->members, std::vector<std::string>{"11111111-1111-4111-8111-111111111111"});
    EXPECT_FALSE(FindServerGroup(tx, NewUuid()));
    auto p1 = ListServerGroups(tx, std::string("p1"), 100, 0);
    ASSERT_EQ(p1.size(), 2u);
    EXPECT_EQ(p1[0].uuid, a.uuid);
    EXPECT_EQ(p1[1].uuid, c.uuid);
    EXPECT_EQ(ListServerGroups(tx, std::nullopt, 100, 0).size(), 3u);
    auto page = ListServerGroups(tx, std::nullopt, 1, 1);
    ASSERT_EQ(page.size(), 1u);
    EXPECT_EQ(page[0].uuid, b.uuid);
    EXPECT_EQ(FindServerGroupOfServer(tx, "11111111-1111-4111-8111-111111111111")->uuid, a.uuid);
    EXPECT_TRUE(DeleteServerGroup(tx, a.uuid));
    EXPECT_FALSE(DeleteServerGroup(tx, a.uuid));
    EXPECT_FALSE(FindServerGroupOfServer(tx, "11111111-1111-4111-8111-111111111111"))
        << "members go with their group";
  });
}

TEST_F(ServerGroupsStoreTest, AServerIsInAtMostOneGroupAndLeavesWhenRemoved) {
  auto a = Make("a", "affinity");
  auto b = Make("b", "affinity");
  const std::string s = "22222222-2222-4222-8222-222222222222";
  Join(a, s);
  try {
    Join(b, s);
    FAIL() << "a second group for one server must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict);
  }
  db_->Transact([&](Tx& tx) { RemoveServerGroupMember(tx, s); });
  Join(b, s);
  db_->Transact([&](Tx& tx) { EXPECT_EQ(FindServerGroupOfServer(tx, s)->uuid, b.uuid); });
}

TEST_F(ServerGroupsStoreTest, AntiAffinityHostsAreTheOtherMembersHostsAndWhereTheyAreMoving) {
  auto g = Make("spread", "anti-affinity");
  const auto me = Server("h1");
  const auto other = Server("h2");
  const auto moving = Server("h3");
  Join(g, me);
  Join(g, other);
  Join(g, moving);
  EXPECT_EQ(Avoid(me), (std::set<std::string>{"h2", "h3"})) << "never its own host";
  Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
      "dest_compute) "
      "VALUES (gen_random_uuid(), '" +
      moving +
      "', 'live-migration', 'running', 'h3', 'h4'), "
      "(gen_random_uuid(), '" +
      moving + "', 'live-migration', 'failed', 'h3', 'h5')");
  EXPECT_EQ(Avoid(me), (std::set<std::string>{"h2", "h3", "h4"}))
      << "a member arriving on h4 counts; a failed move to h5 does not";
  // Every kind of move: a member resized onto h6 and waiting for confirm will run there.
  const auto resized = Server("h5");
  Join(g, resized);
  Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
      "dest_compute) VALUES (gen_random_uuid(), '" +
      resized + "', 'resize', 'finished', 'h5', 'h6')");
  EXPECT_EQ(Avoid(me), (std::set<std::string>{"h2", "h3", "h4", "h5", "h6"}));
  EXPECT_TRUE(Avoid(Server("h9")).empty()) << "a server in no group avoids nothing";
}

TEST_F(ServerGroupsStoreTest, OnlyHardAntiAffinityAvoidsAndMaxServerPerHostRaisesTheBar) {
  auto soft = Make("soft", "soft-anti-affinity");
  auto a = Server("h1"), b = Server("h1");
  Join(soft, a);
  Join(soft, b);
  EXPECT_TRUE(Avoid(a).empty());
  auto two = Make("two", "anti-affinity", "p1", {{"max_server_per_host", 2}});
  auto x = Server("h1"), y = Server("h2"), z = Server("h2"), me = Server("h3");
  for (const auto& s : {x, y, z, me}) Join(two, s);
  EXPECT_EQ(Avoid(me), std::set<std::string>{"h2"}) << "h1 holds one other member, below 2";
}

}  // namespace
}  // namespace ferry::controller::store
