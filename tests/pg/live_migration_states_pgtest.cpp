// The SQL seed of migration_statuses equals the C++ live-migration table: same statuses, same
// is_terminal, holds_resources and api_in_progress. Views and code read the SQL; the conductor
// reads the C++; this test keeps them one list.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "controller/conductor/live_migration_states.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::conductor {
namespace {

struct Flags {
  bool is_terminal;
  bool holds_resources;
  bool api_in_progress;
};

class LiveMigrationStatesTest : public store::StoreTest {
 protected:
  // Every row of migration_statuses, by status.
  std::map<std::string, Flags> Rows() {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    std::map<std::string, Flags> out;
    for (const auto& r : w.exec("SELECT status, is_terminal, holds_resources, api_in_progress "
                                "FROM migration_statuses")) {
      out[r[0].as<std::string>()] = {r[1].as<bool>(), r[2].as<bool>(), r[3].as<bool>()};
    }
    return out;
  }
};

TEST_F(LiveMigrationStatesTest, EveryLiveStatusRowHasTheFlagsOfTheCppTable) {
  int live_rows = 0;
  for (const auto& [name, flags] : Rows()) {
    auto s = FromString(name);
    if (!s) continue;  // a cold-move or evacuation status
    ++live_rows;
    EXPECT_EQ(flags.is_terminal, IsTerminal(*s)) << name;
    EXPECT_EQ(flags.holds_resources, HoldsResources(*s)) << name;
    EXPECT_EQ(flags.api_in_progress, ApiInProgress(*s)) << name;
  }
  EXPECT_EQ(live_rows, static_cast<int>(kAllLiveMigrationStatuses.size()));
}

TEST_F(LiveMigrationStatesTest, EveryCppStatusExistsInTheTable) {
  auto rows = Rows();
  for (auto s : kAllLiveMigrationStatuses)
    EXPECT_TRUE(rows.count(std::string(ToString(s)))) << ToString(s) << " missing from SQL";
}

}  // namespace
}  // namespace ferry::controller::conductor
