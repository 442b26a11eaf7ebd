// The command server over real HTTP on 127.0.0.1 (port 0), backed by the sim driver.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "agent/command_server.hpp"
#include "agent/drivers/sim/sim_driver.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

constexpr const char* kToken = "s3cret-command-token";
constexpr const char* kUuid = "33333333-3333-4333-8333-333333333333";

class CommandServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-cs-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    sim::SimConfig config;
    config.state_dir = dir_ + "/state";
    driver_ = std::make_unique<sim::SimDriver>(config);
    server_ = std::make_unique<CommandServer>(*driver_, "host-a", kToken);
    port_ = server_->Start("127.0.0.1", 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }
  void TearDown() override {
    server_->Stop();
    server_.reset();
    driver_.reset();
    std::filesystem::remove_all(dir_);
  }

  httplib::Result PostCommand(const std::string& body, const std::string& token = kToken) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("X-Auth-Token", token);
    return client_->Post("/v1/commands", headers, body, "application/json");
  }
  json Command(const std::string& id, const std::string& kind, json args) {
    return json{{"id", id}, {"kind", kind}, {"args", std::move(args)}};
  }
  json CreateArgs(int memory_mb = 1024) {
    return json{
        {"uuid", kUuid}, {"name", "web"}, {"vcpus", 1}, {"memory_mb", memory_mb}, {"disk_gb", 10}};
  }
  json Inventory() {
    auto res = client_->Get("/v1/inventory", {{"X-Auth-Token", kToken}});
    EXPECT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    return json::parse(res->body);
  }

  std::string dir_;
  std::unique_ptr<sim::SimDriver> driver_;
  std::unique_ptr<CommandServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

void ExpectFault(const httplib::Result& res, int status, const std::string& name) {
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, status);
  json body = json::parse(res->body);
  ASSERT_TRUE(body.contains(name)) << res->body;
  EXPECT_EQ(body[name]["code"], status);
  EXPECT_FALSE(body[name]["message"].get<std::string>().empty());
}

// H3 on the agent: wire::Command's decoder copies `args` and the command log dumps it, both
// recursive; a 200,000-deep value used to overflow the worker's stack and end the agent.
TEST_F(CommandServerTest, DeeplyNestedCommandIsRefusedAndTheAgentKeepsServing) {
  const int kLevels = 200000;
  const std::string body = R"({"id":"c1","kind":"create_domain","args":)" +
                           std::string(kLevels, '[') + std::string(kLevels, ']') + "}";
  ExpectFault(PostCommand(body), 400, "badRequest");
  EXPECT_TRUE(driver_->ListDomains().empty());
  auto health = client_->Get("/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ok = PostCommand(Command("c2", "create_domain", CreateArgs()).dump());
  ASSERT_TRUE(ok);
  EXPECT_EQ(json::parse(ok->body)["status"], "done");
}

TEST_F(CommandServerTest, HealthAnswersWithoutTokenAndSaysSimulated) {
  auto res = client_->Get("/v1/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  json body = json::parse(res->body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["host"], "host-a");
  EXPECT_EQ(body["simulated"], true);
}

TEST_F(CommandServerTest, MissingTokenIsUnauthorized) {
  ExpectFault(client_->Get("/v1/inventory"), 401, "unauthorized");
  ExpectFault(PostCommand(Command("c1", "create_domain", CreateArgs()).dump(), ""), 401,
              "unauthorized");
  EXPECT_TRUE(driver_->ListDomains().empty());
}

TEST_F(CommandServerTest, WrongTokenIsUnauthorized) {
  std::string same_length(std::string(kToken).size(), 'x');
  for (const std::string& token : {same_length, std::string("s3cret"), std::string(kToken) + "x"}) {
    ExpectFault(client_->Get("/v1/inventory", {{"X-Auth-Token", token}}), 401, "unauthorized");
    ExpectFault(PostCommand(Command("c1", "create_domain", CreateArgs()).dump(), token), 401,
                "unauthorized");
  }
  EXPECT_TRUE(driver_->ListDomains().empty());
}

TEST_F(CommandServerTest, MalformedJsonIsBadRequest) {
  ExpectFault(PostCommand("{not json"), 400, "badRequest");
  ExpectFault(PostCommand("[1,2]"), 400, "badRequest");
  ExpectFault(PostCommand(json{{"kind", "create_domain"}}.dump()), 400, "badRequest");
  ExpectFault(PostCommand(Command("", "create_domain", CreateArgs()).dump()), 400, "badRequest");
}

TEST_F(CommandServerTest, UnknownKindIsBadRequest) {
  ExpectFault(PostCommand(Command("c1", "reboot_host", json::object()).dump()), 400, "badRequest");
}

TEST_F(CommandServerTest, InvalidArgsAreBadRequestAndNotRemembered) {
  json bad = CreateArgs();
  bad["uuid"] = "not-a-uuid";
  ExpectFault(PostCommand(Command("c1", "create_domain", bad).dump()), 400, "badRequest");
  ExpectFault(PostCommand(Command("c2", "delete_domain", json::object()).dump()), 400,
              "badRequest");
  // The id was not spent on the invalid request: a corrected retry runs.
  auto res = PostCommand(Command("c2", "delete_domain", {{"uuid", kUuid}}).dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["status"], "done");
}

TEST_F(CommandServerTest, CreateAndDeleteAreReflectedInInventory) {
  auto res = PostCommand(Command("c1", "create_domain", CreateArgs()).dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  auto result = json::parse(res->body).get<wire::CommandResult>();
  EXPECT_EQ(result.id, "c1");
  EXPECT_EQ(result.status, "done");
  ASSERT_TRUE(result.domain.has_value());
  EXPECT_EQ(result.domain->power_state, wire::PowerState::kRunning);
  auto inventory = Inventory().get<wire::Inventory>();
  ASSERT_EQ(inventory.domains.size(), 1u);
  EXPECT_EQ(inventory.domains[0].uuid, kUuid);
  EXPECT_EQ(inventory.domains[0].name, "web");

  res = PostCommand(Command("c2", "delete_domain", {{"uuid", kUuid}}).dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["status"], "done");
  EXPECT_TRUE(Inventory()["domains"].empty());
}

TEST_F(CommandServerTest, RepeatedCommandIdActsOnce) {
  std::string create = Command("c1", "create_domain", CreateArgs()).dump();
  auto first = PostCommand(create);
  ASSERT_TRUE(first);
  // Remove the domain by another command; a replay of c1 must not bring it back.
  ASSERT_TRUE(PostCommand(Command("c2", "delete_domain", {{"uuid", kUuid}}).dump()));
  auto replay = PostCommand(create);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 200);
  EXPECT_EQ(json::parse(replay->body), json::parse(first->body));
  EXPECT_TRUE(Inventory()["domains"].empty());
}

TEST_F(CommandServerTest, ReusedIdForADifferentCommandIsAConflict) {
  ASSERT_TRUE(PostCommand(Command("c1", "create_domain", CreateArgs()).dump()));
  ExpectFault(PostCommand(Command("c1", "delete_domain", {{"uuid", kUuid}}).dump()), 409,
              "conflictingRequest");
  EXPECT_EQ(Inventory()["domains"].size(), 1u);
}

TEST_F(CommandServerTest, DriverRefusalIsAFailedResultAndIsRemembered) {
  ASSERT_TRUE(PostCommand(Command("c1", "create_domain", CreateArgs(1024)).dump()));
  std::string clash = Command("c2", "create_domain", CreateArgs(2048)).dump();
  auto res = PostCommand(clash);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto result = json::parse(res->body).get<wire::CommandResult>();
  EXPECT_EQ(result.status, "failed");
  EXPECT_NE(result.error.find("different parameters"), std::string::npos) << result.error;
  // Even after the obstacle is gone, the same id answers what it answered.
  ASSERT_TRUE(PostCommand(Command("c3", "delete_domain", {{"uuid", kUuid}}).dump()));
  auto replay = PostCommand(clash);
  ASSERT_TRUE(replay);
  EXPECT_EQ(json::parse(replay->body)["status"], "failed");
  EXPECT_TRUE(Inventory()["domains"].empty());
}

// A delete's failure is a passing one (a delete of a missing domain is done): the retry of the
// same id runs again instead of replaying the failure, or the server would never go.
TEST_F(CommandServerTest, AFailedDeleteRunsAgainWhenRetried) {
  ASSERT_TRUE(PostCommand(Command("c1", "create_domain", CreateArgs()).dump()));
  // The sim cannot write its state while its temporary file's name is taken by a directory.
  const auto blocker = std::filesystem::path(dir_) / "state" / "domains.json.tmp";
  ASSERT_TRUE(std::filesystem::create_directory(blocker));
  const std::string del = Command("c2", "delete_domain", {{"uuid", kUuid}}).dump();
  auto res = PostCommand(del);
  ASSERT_TRUE(res);
  ASSERT_EQ(json::parse(res->body)["status"], "failed") << res->body;
  std::filesystem::remove(blocker);
  res = PostCommand(del);
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["status"], "done") << res->body;
  EXPECT_TRUE(Inventory()["domains"].empty());
}

TEST_F(CommandServerTest, DeleteOfUnknownDomainIsDone) {
  auto res = PostCommand(Command("c1", "delete_domain", {{"uuid", kUuid}}).dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["status"], "done");
}

TEST_F(CommandServerTest, UnknownPathIsNotFoundWithNovaBody) {
  ExpectFault(client_->Get("/v2/whatever", {{"X-Auth-Token", kToken}}), 404, "itemNotFound");
}

TEST_F(CommandServerTest, StopIsPromptAndIdempotent) {
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(client_->Get("/v1/health"));
}

}  // namespace
}  // namespace ferry::agent
