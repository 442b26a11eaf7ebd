// GET /servers(/detail) pages newest first: over 20,000 servers the list statement the store
// sends (its generic plan, as a pooled connection runs it after a few calls) walks
// servers_created_idx in order and stops at the page, for the first page and for one after a
// marker, instead of sorting every server.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>

#include "controller/store/servers_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class ServersListPlanTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec(R"sql(
      INSERT INTO servers (uuid, name, flavorid, flavor_name, vcpus, memory_mb, root_gb,
                           vm_state, user_id, project_id, created_at)
      SELECT gen_random_uuid(), 'vm-' || g, '1', 'm1', 1, 512, 1, 'active', 'u',
             'project-' || (g % 50), now() - g * interval '1 minute'
      FROM generate_series(1, 20000) g)sql");
    w.commit();
    pqxx::nontransaction n(c);
    n.exec("ANALYZE servers");
  }
};

TEST_F(ServersListPlanTest, APageWalksTheCreatedIndexInsteadOfSortingEveryServer) {
  Database db(schema_->dsn(), 1);  // one connection: the statement prepared below is on it
  std::string marker;
  ServerFilter f;
  f.limit = 100;
  // Six calls: from then on PostgreSQL may run the prepared statement's generic plan.
  for (int i = 0; i < 6; ++i) {
    db.Transact([&](Tx& tx) {
      auto page = ListServers(tx, f);
      ASSERT_EQ(page.size(), 100u);
      marker = page.back().uuid;
    });
  }
  for (const std::string& args : {std::string("NULL"), "'" + marker + "'"}) {
    std::string plan;
    db.Transact([&](Tx& tx) {
      for (const auto& row : tx.work().exec(
               "EXPLAIN EXECUTE servers_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, " + args +
               ", 100, NULL, NULL, NULL, false)")) {
        plan += row[0].as<std::string>() + "\n";
      }
    });
    EXPECT_NE(plan.find("servers_created_idx"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Sort"), std::string::npos) << "no sort of every server\n" << plan;
  }
}

}  // namespace
}  // namespace ferry::controller::store
