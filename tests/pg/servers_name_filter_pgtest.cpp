// The member's `name` filter (a PostgreSQL regular expression, as in Nova) only ever runs over
// rows the other filters admit — the member's own project — and for at most a second (H5).
#include <chrono>
#include <sstream>

#include "common/errors.hpp"
#include "controller/store/servers_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Back-references make PostgreSQL's engine backtrack: on 254 'a's and a 'c' this runs for far
// more than a second per name; on a short name it fails at once.
constexpr const char* kPathological = R"(^((a+)\2)*a*\2c$)";

class ServersNameFilterTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    const std::string insert =
        "INSERT INTO servers (uuid, name, flavorid, flavor_name, vcpus, memory_mb, root_gb, "
        "vm_state, user_id, project_id) SELECT gen_random_uuid(), $1, '1', 'm1', 1, 512, 1, "
        "'active', 'u', $2 FROM generate_series(1, $3)";
    w.exec_params(insert, std::string(254, 'a') + "c", "them", 20);
    w.exec_params(insert, "web", "me", 3);
    w.commit();
  }

  std::vector<Server> List(std::optional<std::string> project, std::string regex, Database& db) {
    ServerFilter f;
    f.project_id = std::move(project);
    f.name_regex = std::move(regex);
    std::vector<Server> out;
    db.Transact([&](Tx& tx) { out = ListServers(tx, f); });
    return out;
  }
};

TEST_F(ServersNameFilterTest, TheRegexNeverSeesOtherProjectsRows) {
  auto start = Clock::now();
  auto mine = List("me", kPathological, *db_);
  EXPECT_TRUE(mine.empty());
  // Over "them"'s 20 names the same regex runs into its timeout; over "me"'s it is instant.
  EXPECT_LT(Clock::now() - start, 500ms);
  EXPECT_EQ(List("me", "^we", *db_).size(), 3u);
  EXPECT_EQ(List("me", "^a", *db_).size(), 0u);
}

TEST_F(ServersNameFilterTest, ThePlanFiltersByProjectBeforeTheRegex) {
  Database db(schema_->dsn(), 1);  // one connection: the statement prepared above is on it
  List("me", "^we", db);
  std::string plan;
  db.Transact([&](Tx& tx) {
    for (const auto& row : tx.work().exec(
             "EXPLAIN (VERBOSE, COSTS OFF) EXECUTE servers_list_by_name(NULL, NULL, 'x', NULL, "
             "NULL, 'me', NULL, NULL, 1000, NULL, NULL, NULL, false)")) {
      plan += row[0].as<std::string>() + "\n";
    }
  });
  // Every line that applies `~` belongs to the scan of the materialised candidates, and the
  // project filter sits inside the CTE, below that scan.
  std::istringstream lines(plan);
  std::string line, node;
  int regex_lines = 0;
  for (; std::getline(lines, line);) {
    if (line.find("->") != std::string::npos || line.find("CTE ") != std::string::npos) node = line;
    if (line.find(" ~ ") != std::string::npos) {
      ++regex_lines;
      EXPECT_NE(node.find("CTE Scan on candidates"), std::string::npos) << plan;
    }
  }
  EXPECT_EQ(regex_lines, 1) << plan;
  const auto cte = plan.find("CTE candidates");
  const auto project = plan.find("project_id = 'me'");
  ASSERT_NE(cte, std::string::npos) << plan;
  ASSERT_NE(project, std::string::npos) << plan;
  EXPECT_LT(cte, project) << plan;
}

TEST_F(ServersNameFilterTest, AnExpensiveRegexIsRefusedWithinABound) {
  auto start = Clock::now();
  try {
    List(std::nullopt, kPathological, *db_);  // an admin's list over every project
    ADD_FAILURE() << "the pathological regex finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
    EXPECT_NE(std::string(e.what()).find("too expensive"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 3s);
  // The session's own timeout is back after a successful filtered list.
  List("me", "^we", *db_);
  std::string after;
  db_->Transact(
      [&](Tx& tx) { after = tx.work().exec1("SHOW statement_timeout")[0].as<std::string>(); });
  EXPECT_EQ(after, "10s");
}

}  // namespace
}  // namespace ferry::controller::store
