// The seed of migration_statuses equals store::MigrationStatus: the same statuses, each with
// the same five flags and the same outcome (0014). Views and SQL read the seed; code reads the
// enum; this test keeps them one list (a status added to either alone fails here).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "controller/conductor/live_migration_states.hpp"
#include "controller/store/migration_status.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class MigrationStatusTest : public StoreTest {
 protected:
  std::map<std::string, StatusFlags> Rows() {
    std::map<std::string, StatusFlags> out;
    for (const auto& r :
         Sql("SELECT status, is_terminal, holds_resources, api_in_progress, occupies_slot, "
             "heads_to_destination FROM migration_statuses")) {
      out[r[0].as<std::string>()] = {r[1].as<bool>(), r[2].as<bool>(), r[3].as<bool>(),
                                     r[4].as<bool>(), r[5].as<bool>()};
    }
    return out;
  }
  // status -> outcome ("" for NULL).
  std::map<std::string, std::string> Outcomes() {
    std::map<std::string, std::string> out;
    for (const auto& r : Sql("SELECT status, coalesce(outcome, '') FROM migration_statuses")) {
      out[r[0].as<std::string>()] = r[1].as<std::string>();
    }
    return out;
  }
};

TEST_F(MigrationStatusTest, EverySeededStatusIsTheEnumsWithTheSameFlags) {
  const auto rows = Rows();
  ASSERT_EQ(rows.size(), kAllMigrationStatuses.size());
  for (const auto& [name, seeded] : rows) {
    auto s = ParseMigrationStatus(name);
    ASSERT_TRUE(s.has_value()) << name << " is seeded but not in the enum";
    const auto flags = FlagsOf(*s);
    EXPECT_EQ(flags.is_terminal, seeded.is_terminal) << name;
    EXPECT_EQ(flags.holds_resources, seeded.holds_resources) << name;
    EXPECT_EQ(flags.api_in_progress, seeded.api_in_progress) << name;
    EXPECT_EQ(flags.occupies_slot, seeded.occupies_slot) << name;
    EXPECT_EQ(flags.heads_to_destination, seeded.heads_to_destination) << name;
    EXPECT_EQ(ToString(*s), name);
  }
}

TEST_F(MigrationStatusTest, EverySeededOutcomeIsTheEnums) {
  const auto outcomes = Outcomes();
  ASSERT_EQ(outcomes.size(), kAllMigrationStatuses.size());
  for (const auto& [name, seeded] : outcomes) {
    auto s = ParseMigrationStatus(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(std::string(ToString(OutcomeOf(*s))), seeded) << name;
    EXPECT_EQ(seeded.empty(), !IsTerminal(*s)) << name;
  }
  // The seed refuses an outcome on a status that has not ended, and none on one that has.
  EXPECT_THROW(Sql("UPDATE migration_statuses SET outcome = 'failed' WHERE status = 'queued'"),
               pqxx::check_violation);
  EXPECT_THROW(Sql("UPDATE migration_statuses SET outcome = NULL WHERE status = 'error'"),
               pqxx::check_violation);
  EXPECT_THROW(Sql("UPDATE migration_statuses SET outcome = 'moved' WHERE status = 'completed'"),
               pqxx::check_violation);
}

TEST_F(MigrationStatusTest, EveryLiveStatusIsSeededAndOnlyThoseParseAsLive) {
  const auto rows = Rows();
  std::set<std::string> live;
  for (auto s : conductor::kAllLiveMigrationStatuses) {
    live.insert(std::string(ToString(s)));
    EXPECT_TRUE(rows.count(std::string(ToString(s)))) << ToString(s);
  }
  for (const auto& [name, flags] : rows) {
    EXPECT_EQ(conductor::FromString(name).has_value(), live.count(name) == 1) << name;
  }
}

TEST(MigrationStatusCodec, JsonIsTheStatusStringAndNothingElseParses) {
  EXPECT_EQ(nlohmann::json(MigrationStatus::kPostMigrating), "post-migrating");
  EXPECT_EQ(nlohmann::json("finished").get<MigrationStatus>(), MigrationStatus::kFinished);
  EXPECT_THROW(nlohmann::json("Finished").get<MigrationStatus>(), std::exception);
  EXPECT_THROW(nlohmann::json(3).get<MigrationStatus>(), std::exception);
  EXPECT_EQ(fmt::format("{}", MigrationStatus::kCancelled), "cancelled");
}

}  // namespace
}  // namespace ferry::controller::store
