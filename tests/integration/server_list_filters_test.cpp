// GET /servers[/detail] filters as Nova's: ?flavor= keeps the servers of that flavor (Tempest's
// test_list_servers[_detailed]_filter_by_flavor), and an admin sees their own project's servers
// unless all_tenants asks for every project, when tenant_id or project_id picks one (Tempest's
// admin test_list_servers_by_admin[_with_specified_tenant]); changes-since (and 2.66's
// changes-before) keep the servers updated in that window.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

class ServerListFilters : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    stack_->EnsureFlavor("1");
    stack_->EnsureFlavor("2", 2, 1024, 2);
    // No agent: the servers go to ERROR ("No valid host") and are listed all the same.
    admin_tiny_ = stack_->CreateServer("admin-tiny", "1");
    admin_small_ = stack_->CreateServer("admin-small", "2");
    auto r = stack_->Member().Post("/v2.1/servers",
                                   {{"server", {{"name", "member-tiny"}, {"flavorRef", "1"}}}});
    ASSERT_EQ(r.status, 202) << r.raw;
    member_tiny_ = r.body["server"]["id"];
    auto shown = stack_->Member().Get("/v2.1/servers/" + member_tiny_);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    member_project_ = shown.body["server"]["tenant_id"];
  }

  std::set<std::string> Ids(const HttpClient& client, const std::string& path) const {
    auto r = client.Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.raw;
    std::set<std::string> ids;
    for (const auto& s : r.body["servers"]) ids.insert(s["id"].get<std::string>());
    return ids;
  }

  std::unique_ptr<Stack> stack_;
  std::string admin_tiny_, admin_small_, member_tiny_, member_project_;
};

TEST_F(ServerListFilters, FlavorFilterKeepsThatFlavorsServers) {
  const auto admin = stack_->Admin();
  for (const std::string list : {"/v2.1/servers", "/v2.1/servers/detail"}) {
    EXPECT_EQ(Ids(admin, list + "?flavor=2"), (std::set<std::string>{admin_small_})) << list;
    EXPECT_EQ(Ids(admin, list + "?flavor=1"), (std::set<std::string>{admin_tiny_})) << list;
    EXPECT_TRUE(Ids(admin, list + "?flavor=no-such-flavor").empty()) << list;
  }
  EXPECT_EQ(Ids(admin, "/v2.1/servers?flavor=1&all_tenants=1"),
            (std::set<std::string>{admin_tiny_, member_tiny_}));
  EXPECT_EQ(Ids(stack_->Member(), "/v2.1/servers?flavor=1"), (std::set<std::string>{member_tiny_}));
  EXPECT_TRUE(Ids(stack_->Member(), "/v2.1/servers?flavor=2").empty());
}

TEST_F(ServerListFilters, AdminSeesOwnProjectUnlessAllTenants) {
  const auto admin = stack_->Admin();
  const std::set<std::string> own{admin_tiny_, admin_small_};
  const std::set<std::string> all{admin_tiny_, admin_small_, member_tiny_};
  EXPECT_EQ(Ids(admin, "/v2.1/servers"), own);
  EXPECT_EQ(Ids(admin, "/v2.1/servers/detail"), own);
  EXPECT_EQ(Ids(admin, "/v2.1/servers?all_tenants=0"), own);
  EXPECT_EQ(Ids(admin, "/v2.1/servers?all_tenants=1"), all);
  EXPECT_EQ(Ids(admin, "/v2.1/servers/detail?all_tenants="), all) << "no value means true";
  // Nova ignores tenant_id without all_tenants (lp:#1185290): still the admin's own project.
  EXPECT_EQ(Ids(admin, "/v2.1/servers?tenant_id=" + member_project_), own);
  EXPECT_EQ(Ids(admin, "/v2.1/servers/detail?all_tenants=1&tenant_id=" + member_project_),
            (std::set<std::string>{member_tiny_}));
  EXPECT_EQ(Ids(admin, "/v2.1/servers?all_tenants=1&project_id=" + member_project_),
            (std::set<std::string>{member_tiny_}));
  // A member may not ask for every project: Nova's policy says 403 (all_tenants=0 is no ask).
  for (const std::string list : {"/v2.1/servers", "/v2.1/servers/detail"}) {
    auto r = stack_->Member().Get(list + "?all_tenants=1");
    EXPECT_EQ(r.status, 403) << list << ": " << r.raw;
    EXPECT_NE(r.raw.find(":get_all_tenants to be performed"), std::string::npos) << r.raw;
  }
  EXPECT_EQ(Ids(stack_->Member(), "/v2.1/servers?all_tenants=0"),
            (std::set<std::string>{member_tiny_}));
  // Show and delete still reach any project's server for an admin.
  EXPECT_EQ(admin.Get("/v2.1/servers/" + member_tiny_).status, 200);
}

TEST_F(ServerListFilters, NextLinkKeepsTheFilters) {
  // Two of the three servers have flavor 1 across projects: pages of one, filters kept.
  auto admin = stack_->Admin();
  auto first = admin.Get("/v2.1/servers?all_tenants=1&flavor=1&limit=1");
  ASSERT_EQ(first.status, 200) << first.raw;
  ASSERT_EQ(first.body["servers"].size(), 1u);
  const std::string next = first.body["servers_links"][0]["href"];
  EXPECT_NE(next.find("all_tenants=1"), std::string::npos) << next;
  EXPECT_NE(next.find("flavor=1"), std::string::npos) << next;
  EXPECT_NE(next.find("marker="), std::string::npos) << next;
  const std::string path = next.substr(next.find("/v2.1/"));
  auto second = admin.Get(path);
  ASSERT_EQ(second.status, 200) << second.raw;
  ASSERT_EQ(second.body["servers"].size(), 1u) << second.raw;
  EXPECT_EQ(
      (std::set<std::string>{first.body["servers"][0]["id"], second.body["servers"][0]["id"]}),
      (std::set<std::string>{admin_tiny_, member_tiny_}));
}

TEST_F(ServerListFilters, ChangesSinceAndBeforeKeepServersUpdatedInThatWindow) {
  auto admin = stack_->Admin();
  // Nova's times have whole seconds: the rename lands at least a second after the creates.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto renamed = admin.Put("/v2.1/servers/" + admin_tiny_, {{"server", {{"name", "renamed"}}}});
  ASSERT_EQ(renamed.status, 200) << renamed.raw;
  const std::string at = renamed.body["server"]["updated"];
  EXPECT_EQ(Ids(admin, "/v2.1/servers?changes-since=" + at), (std::set<std::string>{admin_tiny_}));
  EXPECT_EQ(Ids(admin, "/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z"),
            (std::set<std::string>{admin_tiny_, admin_small_}));
  EXPECT_TRUE(Ids(admin, "/v2.1/servers?changes-since=2200-01-01T00:00:00Z").empty());
  // Past the end of a 64-bit nanosecond clock (2262): still the future, not a wrap to 1700.
  EXPECT_TRUE(Ids(admin, "/v2.1/servers?changes-since=9999-12-31T00:00:00Z").empty());
  auto at266 = stack_->Admin();
  at266.SetMicroversion("2.66");
  EXPECT_EQ(
      Ids(at266,
          "/v2.1/servers?changes-since=2000-01-01T00:00:00Z&changes-before=2200-01-01T00:00:00Z"),
      (std::set<std::string>{admin_tiny_, admin_small_}));
  EXPECT_TRUE(Ids(at266, "/v2.1/servers?changes-before=2000-01-01T00:00:00Z").empty());
  for (const std::string q :
       {"?changes-since=yesterday",
        "?changes-since=2200-01-01T00:00:00Z&changes-before=2000-01-01T00:00:00Z"}) {
    auto r = at266.Get("/v2.1/servers" + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.raw;
    EXPECT_TRUE(r.body.contains("badRequest")) << q << ": " << r.raw;
  }
}

}  // namespace
}  // namespace ferry::testing
