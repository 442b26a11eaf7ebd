// Review M2: the agent refuses a live-migration command whose lease epoch is older than the
// highest it has seen for that migration (409, X-Ferry-Fence: stale, Nova body, nothing done),
// runs equal and newer ones, remembers the epoch across a restart (a new CommandServer on the
// same directory), and leaves commands without a fence alone.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "agent/command_server.hpp"
#include "agent/drivers/sim/sim_driver.hpp"
#include "api/wire/live_migration_messages.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

constexpr const char* kToken = "fence-command-token";
constexpr const char* kMigration = "44444444-4444-4444-8444-444444444444";
constexpr const char* kOther = "55555555-5555-4555-8555-555555555555";
constexpr const char* kDomain = "66666666-6666-4666-8666-666666666666";

class LeaseFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "ferry-fence-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    sim::SimConfig config;
    config.state_dir = dir_ + "/state";
    driver_ = std::make_unique<sim::SimDriver>(config);
    StartServer();
  }
  void TearDown() override {
    server_->Stop();
    server_.reset();
    driver_.reset();
    std::filesystem::remove_all(dir_);
  }
  void StartServer() {
    CommandServerOptions options;
    options.lease_epochs_dir = dir_ + "/lease-epochs";
    server_ = std::make_unique<CommandServer>(*driver_, "sim-2", kToken, nullptr, options);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->Start("127.0.0.1", 0));
  }
  // An agent restart: the command log (memory) is gone, the epochs on disk are not.
  void RestartServer() {
    server_->Stop();
    server_.reset();
    StartServer();
  }

  static json Spec(const std::string& migration = kMigration) {
    wire::LiveMigrationSpec spec;
    spec.migration_uuid = migration;
    spec.domain.uuid = kDomain;
    spec.domain.name = "web";
    spec.domain.vcpus = 1;
    spec.domain.memory_mb = 512;
    spec.source_host = "sim-1";
    spec.dest_host = "sim-2";
    spec.dest_migration_address = "127.0.0.1";
    return spec;
  }
  httplib::Result Send(const std::string& id, const std::string& kind, std::optional<int64_t> epoch,
                       json args = Spec()) {
    json body{{"id", id}, {"kind", kind}, {"args", std::move(args)}};
    if (epoch) body["fence"] = {{"migration_uuid", kMigration}, {"lease_epoch", *epoch}};
    return client_->Post("/v1/commands", {{"X-Auth-Token", kToken}}, body.dump(),
                         "application/json");
  }
  bool HasIncomingDomain() {
    for (const auto& d : driver_->ListDomains()) {
      if (d.uuid == kDomain) return true;
    }
    return false;
  }
  static void ExpectStale(const httplib::Result& r, int64_t sent, int64_t highest) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << r->body;
    EXPECT_EQ(r->get_header_value("X-Ferry-Fence"), "stale");
    auto body = json::parse(r->body);
    ASSERT_TRUE(body.contains("conflictingRequest")) << r->body;
    EXPECT_EQ(body["conflictingRequest"]["code"], 409);
    EXPECT_EQ(body["conflictingRequest"]["message"].get<std::string>().rfind(
                  "stale lease epoch " + std::to_string(sent) + " < " + std::to_string(highest) +
                      " for migration " + kMigration,
                  0),
              0u)
        << r->body;
  }

  std::string dir_;
  std::unique_ptr<sim::SimDriver> driver_;
  std::unique_ptr<CommandServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(LeaseFenceTest, AnOlderEpochIsRefusedAndDoesNothingWhileEqualAndNewerRun) {
  // The new owner (epoch 2) prepares the destination: an incoming domain appears.
  auto prepared =
      Send(std::string(kMigration) + ":prepare:0", "prepare_live_migration_destination", 2);
  ASSERT_TRUE(prepared);
  ASSERT_EQ(prepared->status, 200) << prepared->body;
  ASSERT_EQ(json::parse(prepared->body)["status"], "done") << prepared->body;
  ASSERT_TRUE(HasIncomingDomain());

  // The stalled old owner (epoch 1) wakes up and rolls the destination back: refused, kept.
  ExpectStale(
      Send(std::string(kMigration) + ":rollback:0", "rollback_live_migration_destination", 1), 1,
      2);
  EXPECT_TRUE(HasIncomingDomain()) << "a stale command must not act";
  // Even a command id the new owner already ran is refused, not replayed, to the stale sender.
  ExpectStale(Send(std::string(kMigration) + ":prepare:0", "prepare_live_migration_destination", 1),
              1, 2);

  // The same epoch runs; so does a newer one (a third controller), after which 2 is stale.
  auto same = Send(std::string(kMigration) + ":check:0", "check_live_migration_destination", 2);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200) << same->body;
  auto rollback =
      Send(std::string(kMigration) + ":rollback:0", "rollback_live_migration_destination", 3);
  ASSERT_TRUE(rollback);
  EXPECT_EQ(rollback->status, 200) << rollback->body;
  EXPECT_EQ(json::parse(rollback->body)["status"], "done") << rollback->body;
  EXPECT_FALSE(HasIncomingDomain());
  ExpectStale(Send(std::string(kMigration) + ":check:1", "check_live_migration_destination", 2), 2,
              3);
}

TEST_F(LeaseFenceTest, TheHighestEpochSurvivesAnAgentRestart) {
  auto first =
      Send(std::string(kMigration) + ":prepare:0", "prepare_live_migration_destination", 5);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/lease-epochs/" + kMigration));
  RestartServer();
  ExpectStale(
      Send(std::string(kMigration) + ":rollback:0", "rollback_live_migration_destination", 4), 4,
      5);
  EXPECT_TRUE(HasIncomingDomain());
  auto current =
      Send(std::string(kMigration) + ":rollback:0", "rollback_live_migration_destination", 5);
  ASSERT_TRUE(current);
  EXPECT_EQ(current->status, 200) << current->body;
  EXPECT_FALSE(HasIncomingDomain());
}

TEST_F(LeaseFenceTest, CommandsWithoutAFenceAreNotChecked) {
  ASSERT_EQ(Send("a:prepare:0", "prepare_live_migration_destination", 7)->status, 200);
  // An older controller sends no fence: the command runs as before (backward compatible).
  auto unfenced = Send("a:rollback:0", "rollback_live_migration_destination", std::nullopt);
  ASSERT_TRUE(unfenced);
  EXPECT_EQ(unfenced->status, 200) << unfenced->body;
  EXPECT_FALSE(HasIncomingDomain());
}

TEST_F(LeaseFenceTest, AFenceForAnotherMigrationOrANegativeEpochIsABadRequest) {
  auto other = Send("b:check:0", "check_live_migration_destination", 1, Spec(kOther));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400) << other->body;
  EXPECT_TRUE(json::parse(other->body).contains("badRequest")) << other->body;
  auto negative = Send("b:check:1", "check_live_migration_destination", -1);
  ASSERT_TRUE(negative);
  EXPECT_EQ(negative->status, 400) << negative->body;
  // Neither left an epoch behind: epoch 0 still runs.
  auto zero = Send("b:check:2", "check_live_migration_destination", 0);
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->status, 200) << zero->body;
}

}  // namespace
}  // namespace ferry::agent
