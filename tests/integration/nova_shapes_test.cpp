// Nova resources answer Nova's bodies, key for key, and accept what Nova accepts: aggregate
// create's short body, flavors created with numeric ids (as Tempest creates them),
// GET /os-hypervisors/statistics until 2.88, and os-availability-zone.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::set<std::string> Keys(const json& object) {
  std::set<std::string> out;
  for (auto it = object.begin(); it != object.end(); ++it) out.insert(it.key());
  return out;
}

class NovaShapes : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"})) << stack_->ControllerLog();
  }
  HttpClient Admin(const std::string& mv) const {
    auto admin = stack_->Admin();
    admin.SetMicroversion(mv);
    return admin;
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(NovaShapes, AggregateCreateAnswersWithoutHostsAndMetadata) {
  const std::set<std::string> created = {
      "id", "name", "availability_zone", "created_at", "updated_at", "deleted_at", "deleted"};
  auto at1 = Admin("2.1").Post("/v2.1/os-aggregates", {{"aggregate", {{"name", "a1"}}}});
  ASSERT_EQ(at1.status, 200) << at1.raw;
  EXPECT_EQ(Keys(at1.body["aggregate"]), created) << at1.raw;

  auto with_uuid = created;
  with_uuid.insert("uuid");
  auto at41 = Admin("2.41").Post("/v2.1/os-aggregates",
                                 {{"aggregate", {{"name", "a2"}, {"availability_zone", "az1"}}}});
  ASSERT_EQ(at41.status, 200) << at41.raw;
  EXPECT_EQ(Keys(at41.body["aggregate"]), with_uuid) << at41.raw;
  EXPECT_EQ(at41.body["aggregate"]["availability_zone"], "az1");

  // Every other answer is the whole aggregate, hosts and metadata included.
  auto full = with_uuid;
  full.insert({"hosts", "metadata"});
  const std::string path = "/v2.1/os-aggregates/" + at41.body["aggregate"]["id"].dump();
  auto admin = Admin("2.41");
  auto shown = admin.Get(path);
  EXPECT_EQ(Keys(shown.body["aggregate"]), full) << shown.raw;
  EXPECT_EQ(shown.body["aggregate"]["metadata"], (json{{"availability_zone", "az1"}}));
  auto added = admin.Post(path + "/action", {{"add_host", {{"host", "sim-1"}}}});
  ASSERT_EQ(added.status, 200) << added.raw;
  EXPECT_EQ(Keys(added.body["aggregate"]), full) << added.raw;
  EXPECT_EQ(added.body["aggregate"]["hosts"], json::array({"sim-1"}));
  auto updated = admin.Put(path, {{"aggregate", {{"name", "a2-renamed"}}}});
  EXPECT_EQ(Keys(updated.body["aggregate"]), full) << updated.raw;
  auto metadata = admin.Post(path + "/action", {{"set_metadata", {{"metadata", {{"k", "v"}}}}}});
  EXPECT_EQ(Keys(metadata.body["aggregate"]), full) << metadata.raw;
  const auto listed = admin.Get("/v2.1/os-aggregates");  // named: the loop must not dangle
  ASSERT_EQ(listed.body["aggregates"].size(), 2u) << listed.raw;
  for (const auto& a : listed.body["aggregates"]) {
    EXPECT_EQ(Keys(a), full) << a.dump();
  }
}

TEST_F(NovaShapes, FlavorCreateTakesANumericIdAndStoresItAsText) {
  auto admin = Admin("2.1");
  json body = {{"flavor",
                {{"name", "numeric"},
                 {"id", 837465},
                 {"ram", 512},
                 {"vcpus", 1},
                 {"disk", 1},
                 {"rxtx_factor", 1.5},
                 {"os-flavor-access:is_public", "False"}}}};
  auto created = admin.Post("/v2.1/flavors", body);
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.body["flavor"]["id"], "837465");
  EXPECT_EQ(created.body["flavor"]["rxtx_factor"], 1.5);
  EXPECT_EQ(created.body["flavor"]["os-flavor-access:is_public"], false);
  auto shown = admin.Get("/v2.1/flavors/837465");
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["flavor"]["name"], "numeric");
  // The same number again is the same id: Nova's 409.
  body["flavor"]["name"] = "numeric-2";
  auto again = admin.Post("/v2.1/flavors", body);
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(again.body["conflictingRequest"]["message"], "Flavor with ID 837465 already exists.");

  // A float id is Python's text of it; a null id gets a uuid; both are listed.
  body["flavor"]["id"] = 2.5;
  auto floating = admin.Post("/v2.1/flavors", body);
  ASSERT_EQ(floating.status, 200) << floating.raw;
  EXPECT_EQ(floating.body["flavor"]["id"], "2.5");
  body["flavor"]["id"] = nullptr;
  body["flavor"]["name"] = "numeric-3";
  auto generated = admin.Post("/v2.1/flavors", body);
  ASSERT_EQ(generated.status, 200) << generated.raw;
  EXPECT_EQ(generated.body["flavor"]["id"].get<std::string>().size(), 36u) << generated.raw;
  EXPECT_EQ(admin.Get("/v2.1/flavors/2.5").status, 200);
}

TEST_F(NovaShapes, FlavorExtraSpecsAreSetShownUpdatedAndDeleted) {
  auto admin = Admin("2.61");
  ASSERT_EQ(
      admin
          .Post("/v2.1/flavors",
                {{"flavor",
                  {{"name", "specs"}, {"id", "sp"}, {"ram", 512}, {"vcpus", 1}, {"disk", 1}}}})
          .status,
      200);
  const std::string path = "/v2.1/flavors/sp/os-extra_specs";
  json specs = {{"extra_specs", {{"hw:cpu_policy", "shared"}, {"quota:cpu_shares", 2048}}}};
  auto created = admin.Post(path, specs);
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.body, specs) << "the body as sent";
  // Numbers are kept as text; the flavor's view carries them from 2.61.
  const json stored = {{"hw:cpu_policy", "shared"}, {"quota:cpu_shares", "2048"}};
  EXPECT_EQ(stack_->Member().Get(path).body, (json{{"extra_specs", stored}}));
  EXPECT_EQ(admin.Get("/v2.1/flavors/sp").body["flavor"]["extra_specs"], stored);
  EXPECT_EQ(admin.Get(path + "/hw:cpu_policy").body, (json{{"hw:cpu_policy", "shared"}}));

  auto updated = admin.Put(path + "/hw:cpu_policy", {{"hw:cpu_policy", "dedicated"}});
  ASSERT_EQ(updated.status, 200) << updated.raw;
  EXPECT_EQ(updated.body, (json{{"hw:cpu_policy", "dedicated"}}));
  EXPECT_EQ(admin.Put(path + "/hw:cpu_policy", {{"other", "x"}}).status, 400);
  EXPECT_EQ(admin.Post(path, {{"extra_specs", {{"bad/key", "x"}}}}).status, 400);
  EXPECT_EQ(admin.Post(path, {{"extra_specs", {{"k", json::array()}}}}).status, 400);
  EXPECT_EQ(stack_->Member().Post(path, specs).status, 403);

  EXPECT_EQ(admin.Delete(path + "/hw:cpu_policy").status, 200);  // Nova: 200, no body
  auto missing = admin.Get(path + "/hw:cpu_policy");
  EXPECT_EQ(missing.status, 404) << missing.raw;
  EXPECT_EQ(missing.body["itemNotFound"]["message"],
            "Flavor sp has no extra specs with key hw:cpu_policy.");
  EXPECT_EQ(admin.Delete(path + "/hw:cpu_policy").status, 404);
  EXPECT_EQ(admin.Get(path).body["extra_specs"], (json{{"quota:cpu_shares", "2048"}}));
}

TEST_F(NovaShapes, FlavorDescriptionIsUpdatedFrom255) {
  auto admin = Admin("2.55");
  ASSERT_EQ(
      admin
          .Post("/v2.1/flavors",
                {{"flavor",
                  {{"name", "described"}, {"id", "d1"}, {"ram", 512}, {"vcpus", 1}, {"disk", 1}}}})
          .status,
      200);
  auto r = admin.Put("/v2.1/flavors/d1", {{"flavor", {{"description", "for tests"}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["flavor"]["description"], "for tests");
  EXPECT_EQ(r.body["flavor"]["ram"], 512);
  EXPECT_EQ(admin.Get("/v2.1/flavors/d1").body["flavor"]["description"], "for tests");
  EXPECT_EQ(admin.Put("/v2.1/flavors/d1", {{"flavor", {{"name", "x"}}}}).status, 400);
  EXPECT_EQ(admin.Put("/v2.1/flavors/nope", {{"flavor", {{"description", nullptr}}}}).status, 404);
  EXPECT_EQ(Admin("2.54").Put("/v2.1/flavors/d1", {{"flavor", {{"description", "x"}}}}).status,
            404);
}

TEST_F(NovaShapes, PrivateFlavorsAreSharedWithProjectsThroughFlavorAccess) {
  auto admin = Admin("2.1");
  auto member = stack_->Member();  // project "alice" (the test token file)
  ASSERT_EQ(admin
                .Post("/v2.1/flavors", {{"flavor",
                                         {{"name", "private"},
                                          {"id", "priv"},
                                          {"ram", 512},
                                          {"vcpus", 1},
                                          {"disk", 1},
                                          {"os-flavor-access:is_public", false}}}})
                .status,
            200);
  EXPECT_EQ(member.Get("/v2.1/flavors/priv").status, 404);
  const json server = {{"server", {{"name", "on-private"}, {"flavorRef", "priv"}}}};
  EXPECT_EQ(member.Post("/v2.1/servers", server).status, 400) << "not shared yet";
  const std::string access = "/v2.1/flavors/priv/os-flavor-access";
  EXPECT_EQ(admin.Get(access).body, (json{{"flavor_access", json::array()}}));

  auto added =
      admin.Post("/v2.1/flavors/priv/action", {{"addTenantAccess", {{"tenant", "alice"}}}});
  ASSERT_EQ(added.status, 200) << added.raw;
  const json shared = {{"flavor_access", {{{"flavor_id", "priv"}, {"tenant_id", "alice"}}}}};
  EXPECT_EQ(added.body, shared);
  EXPECT_EQ(admin.Get(access).body, shared);
  auto again =
      admin.Post("/v2.1/flavors/priv/action", {{"addTenantAccess", {{"tenant", "alice"}}}});
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(member.Get("/v2.1/flavors/priv").status, 200) << "shared with alice's project";
  EXPECT_EQ(member.Get("/v2.1/flavors/priv/os-extra_specs").status, 200);
  auto created = member.Post("/v2.1/servers", server);
  EXPECT_EQ(created.status, 202) << created.raw;
  const auto flavors = member.Get("/v2.1/flavors");
  bool listed = false;
  for (const auto& f : flavors.body["flavors"]) listed |= f["id"] == "priv";
  EXPECT_TRUE(listed) << flavors.raw;
  EXPECT_EQ(
      member.Post("/v2.1/flavors/priv/action", {{"removeTenantAccess", {{"tenant", "alice"}}}})
          .status,
      403);

  auto removed =
      admin.Post("/v2.1/flavors/priv/action", {{"removeTenantAccess", {{"tenant", "alice"}}}});
  ASSERT_EQ(removed.status, 200) << removed.raw;
  EXPECT_EQ(removed.body, (json{{"flavor_access", json::array()}}));
  auto missing =
      admin.Post("/v2.1/flavors/priv/action", {{"removeTenantAccess", {{"tenant", "alice"}}}});
  EXPECT_EQ(missing.status, 404) << missing.raw;
  EXPECT_EQ(missing.body["itemNotFound"]["message"],
            "Flavor access not found for priv / alice combination.");
  EXPECT_EQ(member.Get("/v2.1/flavors/priv").status, 404);

  // A public flavor has no access list, and none can be added.
  stack_->EnsureFlavor();
  auto public_list = admin.Get("/v2.1/flavors/1/os-flavor-access");
  EXPECT_EQ(public_list.status, 404) << public_list.raw;
  EXPECT_EQ(public_list.body["itemNotFound"]["message"],
            "Access list not available for public flavors.");
  EXPECT_EQ(
      admin.Post("/v2.1/flavors/1/action", {{"addTenantAccess", {{"tenant", "alice"}}}}).status,
      409);
  EXPECT_EQ(admin.Post("/v2.1/flavors/priv/action", {{"addTenantAccess", {{"tenant", ""}}}}).status,
            400);
  EXPECT_EQ(
      admin.Post("/v2.1/flavors/priv/action", {{"grantEverything", {{"tenant", "x"}}}}).status,
      400);
}

TEST_F(NovaShapes, HypervisorStatisticsSumEnabledHostsUntil287) {
  auto r = Admin("2.87").Get("/v2.1/os-hypervisors/statistics");
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& s = r.body["hypervisor_statistics"];
  EXPECT_EQ(Keys(s),
            (std::set<std::string>{"count", "vcpus", "memory_mb", "local_gb", "vcpus_used",
                                   "memory_mb_used", "local_gb_used", "free_ram_mb", "free_disk_gb",
                                   "current_workload", "running_vms", "disk_available_least"}))
      << r.raw;
  EXPECT_EQ(s["count"], 1);
  auto host = Admin("2.87").Get("/v2.1/os-hypervisors/detail").body["hypervisors"][0];
  for (const char* key : {"vcpus", "memory_mb", "local_gb", "running_vms", "free_ram_mb"}) {
    EXPECT_EQ(s[key], host[key]) << key;
  }
  EXPECT_EQ(Keys(r.body), std::set<std::string>{"hypervisor_statistics"});

  // Before 2.53: search and servers by name pattern, and uptime (null: agents report none).
  const std::string id =
      Admin("2.1").Get("/v2.1/os-hypervisors").body["hypervisors"][0]["id"].dump();
  auto uptime = Admin("2.1").Get("/v2.1/os-hypervisors/" + id + "/uptime");
  ASSERT_EQ(uptime.status, 200) << uptime.raw;
  EXPECT_EQ(Keys(uptime.body["hypervisor"]),
            (std::set<std::string>{"id", "hypervisor_hostname", "state", "status", "uptime"}));
  EXPECT_TRUE(uptime.body["hypervisor"]["uptime"].is_null());
  EXPECT_EQ(Admin("2.88").Get("/v2.1/os-hypervisors/" + id + "/uptime").status, 404);
  auto search = Admin("2.1").Get("/v2.1/os-hypervisors/sim/search");
  ASSERT_EQ(search.status, 200) << search.raw;
  EXPECT_EQ(Keys(search.body["hypervisors"][0]),
            (std::set<std::string>{"id", "hypervisor_hostname", "state", "status"}));
  EXPECT_EQ(Admin("2.1").Get("/v2.1/os-hypervisors/nothing-like-it/search").status, 404);
  auto servers = Admin("2.1").Get("/v2.1/os-hypervisors/sim/servers");
  ASSERT_EQ(servers.status, 200) << servers.raw;
  EXPECT_FALSE(servers.body["hypervisors"][0].contains("servers"))
      << "none run: no key before 2.75";
  EXPECT_EQ(Admin("2.53").Get("/v2.1/os-hypervisors/sim/search").status, 404);

  // A disabled host's service is left out, as Nova's compute_node_statistics does.
  ASSERT_EQ(Admin("2.1")
                .Put("/v2.1/os-services/disable", {{"host", "sim-1"}, {"binary", "nova-compute"}})
                .status,
            200);
  EXPECT_EQ(
      Admin("2.1").Get("/v2.1/os-hypervisors/statistics").body["hypervisor_statistics"]["count"],
      0);

  auto gone = Admin("2.88").Get("/v2.1/os-hypervisors/statistics");
  EXPECT_EQ(gone.status, 404) << gone.raw;
  EXPECT_EQ(gone.body["itemNotFound"]["code"], 404);
  EXPECT_EQ(stack_->Member().Get("/v2.1/os-hypervisors/statistics").status, 403);
}

TEST_F(NovaShapes, HypervisorCpuInfoAndPagingFollowTheMicroversion) {
  auto at1 = Admin("2.1").Get("/v2.1/os-hypervisors/detail").body["hypervisors"][0];
  EXPECT_TRUE(at1["cpu_info"].is_string()) << at1.dump();
  auto at28 = Admin("2.28").Get("/v2.1/os-hypervisors/detail").body["hypervisors"][0];
  EXPECT_TRUE(at28["cpu_info"].is_object()) << at28.dump();
  // 2.33: a full page links to the next one (Nova links whenever the page is full).
  auto page = Admin("2.33").Get("/v2.1/os-hypervisors?limit=1");
  ASSERT_EQ(page.status, 200) << page.raw;
  ASSERT_EQ(page.body["hypervisors"].size(), 1u);
  const std::string marker = page.body["hypervisors"][0]["id"].dump();
  ASSERT_EQ(page.body["hypervisors_links"].size(), 1u) << page.raw;
  EXPECT_EQ(page.body["hypervisors_links"][0]["rel"], "next");
  const std::string href = page.body["hypervisors_links"][0]["href"];
  EXPECT_NE(href.find("/v2.1/os-hypervisors?limit=1&marker=" + marker), std::string::npos) << href;
  auto next = Admin("2.33").Get("/v2.1/os-hypervisors?limit=1&marker=" + marker);
  EXPECT_EQ(next.body, (json{{"hypervisors", json::array()}})) << next.raw;
}

TEST_F(NovaShapes, AdminsSeeTheServersHostStatusFrom216) {
  stack_->EnsureFlavor();
  const std::string id = stack_->CreateServer("hs");
  ASSERT_EQ(stack_->WaitServerSettled(id)["status"], "ACTIVE");
  const std::string path = "/v2.1/servers/" + id;
  EXPECT_EQ(Admin("2.16").Get(path).body["server"]["host_status"], "UP");
  EXPECT_FALSE(Admin("2.15").Get(path).body["server"].contains("host_status"));
  EXPECT_EQ(Admin("2.16").Get("/v2.1/servers/detail").body["servers"][0]["host_status"], "UP");
  EXPECT_FALSE(Admin("2.16").Get("/v2.1/servers").body["servers"][0].contains("host_status"));
  ASSERT_EQ(Admin("2.1")
                .Put("/v2.1/os-services/disable", {{"host", "sim-1"}, {"binary", "nova-compute"}})
                .status,
            200);
  EXPECT_EQ(Admin("2.16").Get(path).body["server"]["host_status"], "MAINTENANCE");
  // A member sees no host_status on their own server, shown or listed; another project's
  // server is not found, its host state with it.
  auto member = stack_->Member();
  member.SetMicroversion("2.16");
  const auto mine = member.Post("/v2.1/servers", {{"server", {{"name", "m"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(mine.status, 202) << mine.raw;
  const std::string mine_path = "/v2.1/servers/" + mine.body["server"]["id"].get<std::string>();
  const auto shown = member.Get(mine_path);
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_FALSE(shown.body["server"].contains("host_status")) << shown.raw;
  const auto listed = member.Get("/v2.1/servers/detail");
  ASSERT_EQ(listed.body["servers"].size(), 1u) << listed.raw;
  EXPECT_FALSE(listed.body["servers"][0].contains("host_status")) << listed.raw;
  EXPECT_EQ(member.Get(path).status, 404);
}

TEST_F(NovaShapes, AvailabilityZonesListTheHostsZonesAndTheirServices) {
  auto list = stack_->Member().Get("/v2.1/os-availability-zone");
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(
      list.body,
      (json{{"availabilityZoneInfo",
             {{{"zoneName", "nova"}, {"zoneState", {{"available", true}}}, {"hosts", nullptr}}}}}));
  auto detail = Admin("2.1").Get("/v2.1/os-availability-zone/detail");
  ASSERT_EQ(detail.status, 200) << detail.raw;
  const json& zone = detail.body["availabilityZoneInfo"][0];
  EXPECT_EQ(zone["zoneName"], "nova");
  const json& service = zone["hosts"]["sim-1"]["nova-compute"];
  EXPECT_EQ(Keys(service), (std::set<std::string>{"available", "active", "updated_at"}))
      << detail.raw;
  EXPECT_EQ(service["available"], true);
  EXPECT_EQ(service["active"], true);
  EXPECT_TRUE(service["updated_at"].is_string());
  EXPECT_EQ(stack_->Member().Get("/v2.1/os-availability-zone/detail").status, 403);

  // A zone whose every host is disabled is listed as unavailable, without hosts.
  ASSERT_EQ(Admin("2.1")
                .Put("/v2.1/os-services/disable", {{"host", "sim-1"}, {"binary", "nova-compute"}})
                .status,
            200);
  auto disabled = Admin("2.1").Get("/v2.1/os-availability-zone/detail");
  EXPECT_EQ(
      disabled.body["availabilityZoneInfo"][0],
      (json{{"zoneName", "nova"}, {"zoneState", {{"available", false}}}, {"hosts", nullptr}}));
}

}  // namespace
}  // namespace ferry::testing
