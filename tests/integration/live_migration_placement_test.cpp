// A move keeps what placed the server: its availability zone and its flavor's aggregate extra
// specs ("aggregate_instance_extra_specs:<key>"). Three sim hosts; the only other host that
// fits the server's capacity is made one the server may not go to, so a move that ignored the
// rule would go there, and one that keeps it ends "No valid host" with the server untouched
// until a host that keeps the rule is enabled.
#include <gtest/gtest.h>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

class LiveMigrationPlacement : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn);
    lm_->StartHosts({{"sim-1", {}}, {"sim-2", {}}, {"sim-3", {}}});
    lm_->stack->EnsureFlavor("1");
    admin_ = lm_->stack->Admin();
    admin_.SetMicroversion("2.53");
  }

  // An aggregate holding `hosts`, with `zone` (may be "") and `metadata`.
  void Aggregate(const std::string& name, const std::string& zone,
                 const std::vector<std::string>& hosts, const json& metadata) {
    json body = {{"name", name}};
    if (!zone.empty()) body["availability_zone"] = zone;
    auto r = admin_.Post("/v2.1/os-aggregates", {{"aggregate", body}});
    ASSERT_EQ(r.status, 200) << r.raw;
    const std::string id = std::to_string(r.body["aggregate"]["id"].get<int64_t>());
    for (const auto& h : hosts) {
      auto added =
          admin_.Post("/v2.1/os-aggregates/" + id + "/action", {{"add_host", {{"host", h}}}});
      ASSERT_EQ(added.status, 200) << added.raw;
    }
    if (!metadata.empty()) {
      auto set = admin_.Post("/v2.1/os-aggregates/" + id + "/action",
                             {{"set_metadata", {{"metadata", metadata}}}});
      ASSERT_EQ(set.status, 200) << set.raw;
    }
  }
  void SetEnabled(const std::string& host, bool enabled) {
    std::string id = admin_.Get("/v2.1/os-services?host=" + host).body["services"][0]["id"];
    auto r = admin_.Put("/v2.1/os-services/" + id,
                        enabled ? json{{"status", "enabled"}}
                                : json{{"status", "disabled"}, {"disabled_reason", "test"}});
    ASSERT_EQ(r.status, 200) << r.raw;
  }
  std::string HostOf(const std::string& server) {
    return lm_->Server(server)["OS-EXT-SRV-ATTR:host"].get<std::string>();
  }
  // Migrates without a host; the migration's end status.
  std::string MigrateAnywhere(const std::string& server) {
    const size_t before = lm_->Migrations(server).size();
    EXPECT_EQ(lm_->MigrateLive(server, {{"host", nullptr}, {"block_migration", "auto"}}).status,
              202);
    EXPECT_TRUE(Stack::WaitFor([&] { return lm_->Migrations(server).size() > before; }, 10s));
    EXPECT_TRUE(lm_->WaitTerminal(server));
    return lm_->LatestStatus(server);
  }

  std::unique_ptr<LiveMigrationStack> lm_;
  HttpClient admin_{"", ""};
};

TEST_F(LiveMigrationPlacement, AMoveStaysInTheServersAvailabilityZone) {
  Aggregate("elsewhere", "az-b", {"sim-2"}, json::object());
  auto id = lm_->ServerOn("sim-1", "zoned");  // created in zone "nova"
  SetEnabled("sim-3", false);                 // left: sim-2, in another zone
  EXPECT_EQ(MigrateAnywhere(id), "error");
  EXPECT_NE(lm_->LatestMigration(id).dump().find("No valid host"), std::string::npos)
      << lm_->LatestMigration(id).dump();
  EXPECT_EQ(HostOf(id), "sim-1");
  EXPECT_EQ(lm_->Server(id)["OS-EXT-AZ:availability_zone"], "nova");
  SetEnabled("sim-3", true);
  EXPECT_EQ(MigrateAnywhere(id), "completed");
  EXPECT_EQ(HostOf(id), "sim-3");
  // Asking for a host of another zone is refused the same way (no force: the filters run).
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  EXPECT_TRUE(Stack::WaitFor([&] { return lm_->Migrations(id).size() == 3; }, 10s));
  EXPECT_TRUE(lm_->WaitTerminal(id));
  EXPECT_EQ(lm_->LatestStatus(id), "error");
  EXPECT_EQ(HostOf(id), "sim-3");
}

TEST_F(LiveMigrationPlacement, ServersAndTheirMovesKeepTheFlavorsAggregateExtraSpecs) {
  lm_->stack->EnsureFlavor("2", 1, 512, 1);
  auto specs = admin_.Post("/v2.1/flavors/2/os-extra_specs",
                           {{"extra_specs", {{"aggregate_instance_extra_specs:ssd", "true"}}}});
  ASSERT_EQ(specs.status, 200) << specs.raw;
  Aggregate("fast", "", {"sim-1", "sim-3"}, {{"ssd", "true"}});
  // Placed by the scheduler: never on sim-2, whose aggregates have no ssd.
  for (int i = 0; i < 3; ++i) {
    auto created = lm_->stack->CreateServer("ssd-" + std::to_string(i), "2");
    auto s = lm_->stack->WaitServerSettled(created);
    EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
    EXPECT_NE(s["OS-EXT-SRV-ATTR:host"], "sim-2") << s.dump();
  }
  auto id = lm_->ServerOn("sim-1", "ssd-mover", "2");
  SetEnabled("sim-3", false);  // left: sim-2, without ssd
  EXPECT_EQ(MigrateAnywhere(id), "error");
  EXPECT_EQ(HostOf(id), "sim-1");
  SetEnabled("sim-3", true);
  EXPECT_EQ(MigrateAnywhere(id), "completed");
  EXPECT_EQ(HostOf(id), "sim-3");
}

TEST_F(LiveMigrationPlacement, UnscopedExtraSpecsDoNotRestrictPlacement) {
  // Tempest's extra-spec tests set keys like "key1": they are no aggregate requirement.
  lm_->stack->EnsureFlavor("3", 1, 512, 1);
  auto specs =
      admin_.Post("/v2.1/flavors/3/os-extra_specs", {{"extra_specs", {{"key1", "value1"}}}});
  ASSERT_EQ(specs.status, 200) << specs.raw;
  auto s = lm_->stack->WaitServerSettled(lm_->stack->CreateServer("plain", "3"));
  EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
}

}  // namespace
}  // namespace ferry::testing
