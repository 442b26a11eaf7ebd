// os-server-groups through the real controller: both request shapes, Nova's 400s and 404s,
// project scoping, and the anti-affinity policy honoured when servers are created with the
// group hint.
#include <gtest/gtest.h>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class ServerGroups : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
  }
  HttpClient Admin(const std::string& mv = "2.64") const {
    auto c = stack_->Admin();
    c.SetMicroversion(mv);
    return c;
  }
  std::string CreateGroup(const std::string& name, const std::string& policy) {
    auto r = Admin().Post("/v2.1/os-server-groups",
                          {{"server_group", {{"name", name}, {"policy", policy}}}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["server_group"]["id"].get<std::string>();
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(ServerGroups, CreateShowListDeleteIn264Shape) {
  auto r = Admin().Post(
      "/v2.1/os-server-groups",
      {{"server_group",
        {{"name", "web"}, {"policy", "anti-affinity"}, {"rules", {{"max_server_per_host", 2}}}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const json g = r.body["server_group"];
  EXPECT_EQ(g["name"], "web");
  EXPECT_EQ(g["policy"], "anti-affinity");
  EXPECT_EQ(g["rules"], json({{"max_server_per_host", 2}}));
  EXPECT_EQ(g["members"], json::array());
  EXPECT_EQ(g["project_id"], "admin");
  EXPECT_FALSE(g.contains("policies"));
  const std::string id = g["id"];
  EXPECT_EQ(Admin().Get("/v2.1/os-server-groups/" + id).body["server_group"], g);
  auto list = Admin().Get("/v2.1/os-server-groups");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["server_groups"].size(), 1u);
  EXPECT_EQ(list.body["server_groups"][0]["id"], id);
  EXPECT_EQ(Admin().Delete("/v2.1/os-server-groups/" + id).status, 204);
  EXPECT_EQ(Admin().Get("/v2.1/os-server-groups/" + id).status, 404);
  EXPECT_EQ(Admin().Delete("/v2.1/os-server-groups/" + id).status, 404);
}

TEST_F(ServerGroups, OlderMicroversionsUseAOnePolicyListAndNoSoftPoliciesBefore215) {
  auto r = Admin("2.1").Post("/v2.1/os-server-groups",
                             {{"server_group", {{"name", "old"}, {"policies", {"affinity"}}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["server_group"]["policies"], json({"affinity"}));
  EXPECT_EQ(r.body["server_group"]["metadata"], json::object());
  EXPECT_FALSE(r.body["server_group"].contains("project_id")) << "2.13 added project_id";
  EXPECT_EQ(Admin("2.13")
                .Get("/v2.1/os-server-groups/" + r.body["server_group"]["id"].get<std::string>())
                .body["server_group"]["project_id"],
            "admin");
  EXPECT_EQ(Admin("2.14")
                .Post("/v2.1/os-server-groups",
                      {{"server_group", {{"name", "s"}, {"policies", {"soft-affinity"}}}}})
                .status,
            400);
  EXPECT_EQ(Admin("2.15")
                .Post("/v2.1/os-server-groups",
                      {{"server_group", {{"name", "s"}, {"policies", {"soft-affinity"}}}}})
                .status,
            200);
  // The 2.64 form is not understood before 2.64, and the old one not from 2.64.
  EXPECT_EQ(Admin("2.63")
                .Post("/v2.1/os-server-groups",
                      {{"server_group", {{"name", "x"}, {"policy", "affinity"}}}})
                .status,
            400);
  EXPECT_EQ(Admin("2.64")
                .Post("/v2.1/os-server-groups",
                      {{"server_group", {{"name", "x"}, {"policies", {"affinity"}}}}})
                .status,
            400);
}

TEST_F(ServerGroups, InvalidRequestsAre400) {
  auto post = [&](const json& g) {
    return Admin().Post("/v2.1/os-server-groups", {{"server_group", g}}).status;
  };
  EXPECT_EQ(post({{"policy", "affinity"}}), 400);  // no name
  EXPECT_EQ(post({{"name", "x"}}), 400);           // no policy
  EXPECT_EQ(post({{"name", "x"}, {"policy", "best-effort"}}), 400);
  EXPECT_EQ(post({{"name", "x"}, {"policy", "affinity"}, {"rules", {{"max_server_per_host", 2}}}}),
            400);
  EXPECT_EQ(
      post({{"name", "x"}, {"policy", "anti-affinity"}, {"rules", {{"max_server_per_host", 0}}}}),
      400);
  EXPECT_EQ(post({{"name", "x"}, {"policy", "anti-affinity"}, {"rules", {{"other", 1}}}}), 400);
  EXPECT_EQ(
      Admin("2.1")
          .Post("/v2.1/os-server-groups",
                {{"server_group", {{"name", "x"}, {"policies", {"affinity", "anti-affinity"}}}}})
          .status,
      400);
  EXPECT_EQ(Admin().Get("/v2.1/os-server-groups/not-a-uuid").status, 404);
  EXPECT_EQ(Admin().Get("/v2.1/os-server-groups?limit=abc").status, 400);
}

TEST_F(ServerGroups, AnotherProjectsGroupIsNotFoundAndOnlyAdminsListAllProjects) {
  const std::string admins = CreateGroup("admins", "affinity");
  auto member = stack_->Member();
  member.SetMicroversion("2.64");
  EXPECT_EQ(member.Get("/v2.1/os-server-groups/" + admins).status, 404);
  EXPECT_EQ(member.Delete("/v2.1/os-server-groups/" + admins).status, 404);
  auto mine = member.Post("/v2.1/os-server-groups",
                          {{"server_group", {{"name", "mine"}, {"policy", "affinity"}}}});
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(mine.body["server_group"]["project_id"], "alice");
  EXPECT_EQ(member.Get("/v2.1/os-server-groups?all_projects=true").body["server_groups"].size(),
            1u);
  EXPECT_EQ(Admin().Get("/v2.1/os-server-groups").body["server_groups"].size(), 1u);
  EXPECT_EQ(Admin().Get("/v2.1/os-server-groups?all_projects=true").body["server_groups"].size(),
            2u);
  EXPECT_EQ(Admin()
                .Get("/v2.1/os-server-groups?all_projects=true&limit=1&offset=1")
                .body["server_groups"]
                .size(),
            1u);
}

TEST_F(ServerGroups, AServerCannotJoinAnotherProjectsGroup) {
  // Joining would place it by that project's policy (beside its servers, or using up its
  // anti-affinity hosts) and list it among that project's members.
  stack_->EnsureFlavor("1");
  const std::string admins = CreateGroup("admins", "affinity");
  auto joined = stack_->Member().Post("/v2.1/servers",
                                      {{"server", {{"name", "intruder"}, {"flavorRef", "1"}}},
                                       {"os:scheduler_hints", {{"group", admins}}}});
  EXPECT_EQ(joined.status, 400) << joined.raw;
  EXPECT_NE(joined.raw.find("could not be found"), std::string::npos) << joined.raw;
  auto shown = Admin().Get("/v2.1/os-server-groups/" + admins);
  ASSERT_EQ(shown.status, 200);
  EXPECT_TRUE(shown.body["server_group"]["members"].empty()) << shown.raw;
  auto listed = stack_->Member().Get("/v2.1/servers");
  EXPECT_TRUE(listed.body["servers"].empty()) << "nothing created: " << listed.raw;
  // An admin may (Nova's admin context sees every project's groups).
  auto member = stack_->Member();
  member.SetMicroversion("2.64");
  auto mine = member.Post("/v2.1/os-server-groups",
                          {{"server_group", {{"name", "m"}, {"policy", "affinity"}}}});
  ASSERT_EQ(mine.status, 200) << mine.raw;
  auto by_admin = Admin().Post(
      "/v2.1/servers", {{"server", {{"name", "admin-in-members-group"}, {"flavorRef", "1"}}},
                        {"os:scheduler_hints", {{"group", mine.body["server_group"]["id"]}}}});
  EXPECT_EQ(by_admin.status, 202) << by_admin.raw;
}

TEST_F(ServerGroups, AntiAffinityMembersLandOnDistinctHostsAndTheThirdHasNoValidHost) {
  stack_->StartAgent("sim-1",
                     {"--sim-vcpus", "4", "--sim-memory-mb", "4096", "--sim-disk-gb", "10"});
  stack_->StartAgent("sim-2",
                     {"--sim-vcpus", "4", "--sim-memory-mb", "2048", "--sim-disk-gb", "10"});
  ASSERT_TRUE(stack_->WaitUntilUp({"sim-1", "sim-2"}));
  stack_->EnsureFlavor("1", 1, 512, 1);
  const std::string group = CreateGroup("spread", "anti-affinity");
  auto create = [&](const std::string& name) {
    auto r = Admin().Post("/v2.1/servers", {{"server", {{"name", name}, {"flavorRef", "1"}}},
                                            {"os:scheduler_hints", {{"group", group}}}});
    EXPECT_EQ(r.status, 202) << r.raw;
    return r.body["server"]["id"].get<std::string>();
  };
  const auto a = stack_->WaitServerSettled(create("a"));
  const auto b = stack_->WaitServerSettled(create("b"));
  EXPECT_EQ(a["status"], "ACTIVE");
  EXPECT_EQ(b["status"], "ACTIVE");
  EXPECT_EQ(a["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(b["OS-EXT-SRV-ATTR:host"], "sim-2") << "sim-1 has more free RAM but holds a member";
  const auto c = stack_->WaitServerSettled(create("c"));
  EXPECT_EQ(c["status"], "ERROR");
  EXPECT_NE(c["fault"]["message"].get<std::string>().find("ServerGroupAntiAffinityFilter"),
            std::string::npos)
      << c["fault"].dump();
  auto members = Admin().Get("/v2.1/os-server-groups/" + group).body["server_group"]["members"];
  EXPECT_EQ(members.size(), 3u);
  // 2.71: a server's show names its group (the detail list does not); before, no such key.
  auto at271 = Admin();
  at271.SetMicroversion("2.71");
  const std::string b_path = "/v2.1/servers/" + b["id"].get<std::string>();
  EXPECT_EQ(at271.Get(b_path).body["server"]["server_groups"], json::array({group}));
  EXPECT_FALSE(Admin().Get(b_path).body["server"].contains("server_groups"));
  const auto detail = at271.Get("/v2.1/servers/detail");
  ASSERT_FALSE(detail.body["servers"].empty()) << detail.raw;
  for (const auto& s : detail.body["servers"]) {
    EXPECT_FALSE(s.contains("server_groups")) << s.dump();
  }
  // From 2.75 an update answers as the show does, the group with it.
  auto at275 = Admin();
  at275.SetMicroversion("2.75");
  const auto renamed = at275.Put(b_path, {{"server", {{"name", "b-renamed"}}}});
  EXPECT_EQ(renamed.status, 200) << renamed.raw;
  EXPECT_EQ(renamed.body["server"]["server_groups"], json::array({group})) << renamed.raw;
  // A deleted member leaves the group.
  ASSERT_EQ(Admin().Delete("/v2.1/servers/" + a["id"].get<std::string>()).status, 204);
  EXPECT_TRUE(Stack::WaitFor(
      [&] {
        return Admin()
                   .Get("/v2.1/os-server-groups/" + group)
                   .body["server_group"]["members"]
                   .size() == 2u;
      },
      20s));
  // Bad hints are 400 and create nothing.
  auto bad = Admin().Post("/v2.1/servers", {{"server", {{"name", "x"}, {"flavorRef", "1"}}},
                                            {"os:scheduler_hints", {{"group", "not-a-uuid"}}}});
  EXPECT_EQ(bad.status, 400);
  auto unknown =
      Admin().Post("/v2.1/servers",
                   {{"server", {{"name", "x"}, {"flavorRef", "1"}}},
                    {"os:scheduler_hints", {{"group", "6b0a9d2e-0000-4000-8000-000000000001"}}}});
  EXPECT_EQ(unknown.status, 400) << unknown.raw;
}

}  // namespace
}  // namespace ferry::testing
