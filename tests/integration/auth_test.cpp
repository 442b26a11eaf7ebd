// Every API but version discovery needs a token; members are refused admin APIs; the agent
// endpoints on both sides refuse callers without their credentials.
#include <gtest/gtest.h>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"}));
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(Auth, VersionDiscoveryIsOpenAndAdvertisesMicroversionRange) {
  for (const char* path : {"/v2.1", "/v2.1/"}) {
    auto r = stack_->Anonymous().Get(path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body["version"]["id"], "v2.1");
    EXPECT_EQ(r.body["version"]["min_version"], "2.1");
    EXPECT_EQ(r.body["version"]["version"], "2.95");
  }
}

TEST_F(Auth, MicroversionIsNegotiatedAndEchoed) {
  auto admin = stack_->Admin();
  admin.SetMicroversion("2.60");
  auto r = admin.Get("/v2.1/flavors");
  EXPECT_EQ(r.Header("OpenStack-API-Version"), "compute 2.60");
  EXPECT_EQ(r.Header("X-OpenStack-Nova-API-Version"), "2.60");
  admin.SetMicroversion("latest");
  EXPECT_EQ(admin.Get("/v2.1/flavors").Header("OpenStack-API-Version"), "compute 2.95");
  EXPECT_EQ(stack_->Admin().Get("/v2.1/flavors").Header("OpenStack-API-Version"), "compute 2.1");
}

TEST_F(Auth, MissingOrUnknownTokenIs401) {
  auto r = stack_->Anonymous().Get("/v2.1/servers");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["unauthorized"]["code"], 401);
  HttpClient bad(stack_->url(), "not-a-token");
  EXPECT_EQ(bad.Get("/v2.1/os-hypervisors").status, 401);
}

TEST_F(Auth, MemberIsRefusedAdminApisButMayUseServersAndFlavors) {
  auto member = stack_->Member();
  for (const char* path : {"/v2.1/os-hypervisors", "/v2.1/os-services", "/v2.1/os-aggregates",
                           "/v2.1/ferry/unmanaged-domains"}) {
    auto r = member.Get(path);
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(r.body["forbidden"]["code"], 403) << path;
  }
  EXPECT_EQ(member
                .Post("/v2.1/flavors",
                      {{"flavor", {{"name", "x"}, {"ram", 1}, {"vcpus", 1}, {"disk", 1}}}})
                .status,
            403);
  EXPECT_EQ(member.Get("/v2.1/flavors").status, 200);
  EXPECT_EQ(member.Get("/v2.1/servers").status, 200);
}

TEST_F(Auth, MemberSeesOnlyOwnServers) {
  stack_->EnsureFlavor();
  std::string admins = stack_->CreateServer("admins-server");
  auto r = stack_->Member().Post("/v2.1/servers",
                                 {{"server", {{"name", "alices"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  std::string alices = r.body["server"]["id"];
  auto list = stack_->Member().Get("/v2.1/servers").body["servers"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], alices);
  EXPECT_EQ(stack_->Member().Get("/v2.1/servers/" + admins).status, 404);
  auto forced = stack_->Member().Post(
      "/v2.1/servers",
      {{"server", {{"name", "f"}, {"flavorRef", "1"}, {"availability_zone", "nova:sim-1"}}}});
  EXPECT_EQ(forced.status, 403) << "forcing a host is for admins";
}

TEST_F(Auth, AgentEndpointsRequireAgentCredentials) {
  auto anonymous = stack_->Anonymous();
  EXPECT_EQ(
      anonymous
          .Post("/agent/v1/heartbeat", {{"host", "sim-1"}, {"domains", nlohmann::json::array()}})
          .status,
      401);
  EXPECT_EQ(
      stack_->Admin()
          .Post("/agent/v1/heartbeat", {{"host", "sim-1"}, {"domains", nlohmann::json::array()}})
          .status,
      403);
  HttpClient agent(stack_->url(), kAgentToken);
  EXPECT_EQ(
      agent.Post("/agent/v1/heartbeat", {{"host", "sim-1"}, {"domains", nlohmann::json::array()}})
          .status,
      200);
  EXPECT_EQ(agent
                .Post("/agent/v1/heartbeat",
                      {{"host", "never-registered"}, {"domains", nlohmann::json::array()}})
                .status,
            404);
  EXPECT_EQ(agent.Get("/v2.1/servers").status, 403) << "agent tokens are not user tokens";
}

TEST_F(Auth, AgentCommandEndpointRequiresTheCommandToken) {
  HttpClient no_token("http://127.0.0.1:" + std::to_string(stack_->AgentPort("sim-1")), "");
  EXPECT_EQ(no_token.Get("/v1/inventory").status, 401);
  HttpClient wrong("http://127.0.0.1:" + std::to_string(stack_->AgentPort("sim-1")), kAdminToken);
  EXPECT_EQ(wrong
                .Post("/v1/commands", {{"id", "x:create:1"},
                                       {"kind", "create_domain"},
                                       {"args", nlohmann::json::object()}})
                .status,
            401);
  EXPECT_EQ(stack_->AgentApi("sim-1").Get("/v1/inventory").status, 200);
}

}  // namespace
}  // namespace ferry::testing
