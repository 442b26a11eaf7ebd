// Servers are created on a scheduler-chosen or given host through that host's agent, listed
// with Nova's filters, deleted everywhere; unknown domains are reported, not adopted, until an
// admin adopts one; a controller killed mid-build finishes the build after restart.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kForeignUuid = "0e7b3e0a-6a55-4d5e-9f7e-0c1a2b3c4d5e";

class Servers : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    // sim-1 is small (room for two 512 MB servers) so placement is observable.
    stack_->StartAgent("sim-1",
                       {"--sim-vcpus", "4", "--sim-memory-mb", "1024", "--sim-disk-gb", "10"});
    stack_->StartAgent("sim-2", {"--sim-vcpus", "4", "--sim-memory-mb", "4096", "--sim-disk-gb",
                                 "10", "--sim-domain", std::string("legacy-vm:1:512:1:volume")});
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1", "sim-2"}));
    stack_->EnsureFlavor("1", 1, 512, 1);
  }
  std::vector<std::string> AgentDomains(const std::string& host) {
    std::vector<std::string> out;
    auto r = stack_->AgentApi(host).Get("/v1/inventory");
    for (const auto& d : r.body["domains"]) out.push_back(d["uuid"]);
    return out;
  }
  // The unmanaged domains once sim-2's legacy-vm is among them (10 s at most): one, normally.
  json OneUnmanagedDomain() {
    json domains;
    Stack::WaitFor(
        [&] {
          domains = stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"];
          return domains.size() == 1;
        },
        10s);
    return domains;
  }
  static bool Contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(Servers, CreatedServerBecomesActiveOnTheHostWithMostFreeRamAndExistsThere) {
  std::string id = stack_->CreateServer("web-1");
  auto s = stack_->WaitServerSettled(id);
  EXPECT_EQ(s["status"], "ACTIVE");
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_EQ(s["OS-EXT-STS:power_state"], 1);
  EXPECT_TRUE(Contains(AgentDomains("sim-2"), id));
  auto hyp = stack_->Admin().Get("/v2.1/os-hypervisors/detail").body["hypervisors"];
  for (const auto& h : hyp) {
    if (h["hypervisor_hostname"] == "sim-2") {
      EXPECT_EQ(h["memory_mb_used"], 512);
    }
  }
}

TEST_F(Servers, ForcedHostPlacesThereAndFullHostGivesErrorWithNoValidHost) {
  std::string a = stack_->CreateServer("a", "1", "nova:sim-1");
  std::string b = stack_->CreateServer("b", "1", "nova:sim-1");
  EXPECT_EQ(stack_->WaitServerSettled(a)["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(stack_->WaitServerSettled(b)["OS-EXT-SRV-ATTR:host"], "sim-1");
  std::string c = stack_->CreateServer("c", "1", "nova:sim-1");
  auto s = stack_->WaitServerSettled(c);
  EXPECT_EQ(s["status"], "ERROR");
  EXPECT_NE(s["fault"]["message"].get<std::string>().find("No valid host"), std::string::npos);
  EXPECT_TRUE(s["OS-EXT-SRV-ATTR:host"].is_null());
  EXPECT_EQ(AgentDomains("sim-1").size(), 2u);
}

TEST_F(Servers, ListFiltersByHostNameAndStatus) {
  std::string a = stack_->CreateServer("alpha", "1", "nova:sim-1");
  std::string b = stack_->CreateServer("beta", "1", "nova:sim-2");
  stack_->WaitServerSettled(a);
  stack_->WaitServerSettled(b);
  auto by_host = stack_->Admin().Get("/v2.1/servers/detail?host=sim-1").body["servers"];
  ASSERT_EQ(by_host.size(), 1u);
  EXPECT_EQ(by_host[0]["id"], a);
  auto by_name = stack_->Admin().Get("/v2.1/servers?name=^bet").body["servers"];
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0]["id"], b);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/servers?status=ACTIVE").body["servers"].size(), 2u);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/servers?status=SHUTOFF").body["servers"].size(), 0u);
  auto page = stack_->Admin().Get("/v2.1/servers?limit=1");
  ASSERT_EQ(page.body["servers"].size(), 1u);
  EXPECT_EQ(page.body["servers"][0]["id"], b) << "newest first";
  auto next = stack_->Admin().Get("/v2.1/servers?limit=1&marker=" + b.substr(0));
  ASSERT_EQ(next.body["servers"].size(), 1u);
  EXPECT_EQ(next.body["servers"][0]["id"], a);
}

TEST_F(Servers, DeleteRemovesServerFromApiClaimsAndHypervisor) {
  std::string id = stack_->CreateServer("doomed", "1", "nova:sim-1");
  ASSERT_EQ(stack_->WaitServerSettled(id)["status"], "ACTIVE");
  auto r = stack_->Admin().Delete("/v2.1/servers/" + id);
  EXPECT_EQ(r.status, 204);
  ASSERT_TRUE(Stack::WaitFor(
      [&] { return stack_->Admin().Get("/v2.1/servers/" + id).status == 404; }, 20s));
  EXPECT_FALSE(Contains(AgentDomains("sim-1"), id));
  auto hyp = stack_->Admin().Get("/v2.1/os-hypervisors/detail").body["hypervisors"];
  for (const auto& h : hyp) {
    if (h["hypervisor_hostname"] == "sim-1") {
      EXPECT_EQ(h["memory_mb_used"], 0);
    }
  }
}

TEST_F(Servers, UnknownDomainIsReportedNotAdoptedUntilAnAdminAdoptsIt) {
  const json domains = OneUnmanagedDomain();
  ASSERT_EQ(domains.size(), 1u) << "sim-2's legacy-vm never reported: " << domains.dump();
  EXPECT_EQ(domains[0]["name"], "legacy-vm");
  EXPECT_EQ(domains[0]["host"], "sim-2");
  std::string uuid = domains[0]["uuid"];
  EXPECT_EQ(stack_->Admin().Get("/v2.1/servers/" + uuid).status, 404) << "not silently adopted";
  // A flavor that does not match the domain is refused and nothing changes.
  stack_->EnsureFlavor("big", 2, 2048, 1);
  auto bad = stack_->Admin().Post("/v2.1/ferry/unmanaged-domains/" + uuid + "/action",
                                  {{"adopt", {{"flavorRef", "big"}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"].size(),
            1u);
  auto ok = stack_->Admin().Post("/v2.1/ferry/unmanaged-domains/" + uuid + "/action",
                                 {{"adopt", {{"flavorRef", "1"}}}});
  ASSERT_EQ(ok.status, 202) << ok.raw;
  auto s = stack_->FerryAdmin().Get("/v2.1/servers/" + uuid);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.body["server"]["status"], "ACTIVE");
  EXPECT_EQ(s.body["server"]["OS-EXT-SRV-ATTR:host"], "sim-2");
  // Its root disk is a volume (the sim reports one, "legacy-vm:...:volume"): so is the server,
  // and block_migration "auto" will not copy it.
  EXPECT_EQ(s.body["server"]["ferry:storage_kind"], "volume");
  // Nova's server body has no such field: only X-Ferry-Extensions: true (above) brings it.
  auto nova = stack_->Admin().Get("/v2.1/servers/" + uuid);
  EXPECT_FALSE(nova.body["server"].contains("ferry:storage_kind")) << nova.raw;
  const auto detail = stack_->Admin().Get("/v2.1/servers/detail");
  ASSERT_FALSE(detail.body["servers"].empty()) << detail.raw;
  for (const auto& listed : detail.body["servers"]) {
    EXPECT_FALSE(listed.contains("ferry:storage_kind")) << listed.dump();
  }
  ASSERT_EQ(s.body["server"]["os-extended-volumes:volumes_attached"].size(), 1u);
  EXPECT_EQ(s.body["server"]["os-extended-volumes:volumes_attached"][0]["id"],
            "/shared/volumes/legacy-vm.img");
  EXPECT_EQ(stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"].size(),
            0u);
  // Further heartbeats must not report it again.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"].size(),
            0u);
}

TEST_F(Servers, AnAdoptedDomainKeepsItsReportedDisksEvenIfItsHostNeverHeartbeatsAgain) {
  const json domains = OneUnmanagedDomain();
  ASSERT_EQ(domains.size(), 1u) << "sim-2's legacy-vm never reported: " << domains.dump();
  const std::string uuid = domains[0]["uuid"];
  // sim-2 is lost before its next heartbeat: what an evacuation will be given (the disks its
  // host reported) must come from the adoption itself.
  stack_->KillAgent("sim-2");
  auto ok = stack_->Admin().Post("/v2.1/ferry/unmanaged-domains/" + uuid + "/action",
                                 {{"adopt", {{"flavorRef", "1"}}}});
  ASSERT_EQ(ok.status, 202) << ok.raw;
  pqxx::connection c(stack_->dsn());
  pqxx::work w(c);
  const json disks =
      json::parse(w.exec_params1("SELECT coalesce(reported_disks, 'null')::text FROM servers "
                                 "WHERE uuid = $1::uuid",
                                 uuid)[0]
                      .as<std::string>());
  ASSERT_TRUE(disks.is_array()) << disks.dump();
  ASSERT_EQ(disks.size(), 1u) << disks.dump();
  EXPECT_EQ(disks[0]["kind"], "volume") << disks.dump();
  EXPECT_EQ(disks[0]["path"], "/shared/volumes/legacy-vm.img") << disks.dump();
}

TEST_F(Servers, ControllerKilledRightAfterCreateFinishesTheBuildAfterRestart) {
  stack_->KillAgent("sim-1");  // the build command cannot reach sim-1 yet
  std::string id = stack_->CreateServer("survivor", "1", "nova:sim-1");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/servers/" + id).body["server"]["status"], "BUILD");
  stack_->KillController();
  stack_->StartAgent("sim-1",
                     {"--sim-vcpus", "4", "--sim-memory-mb", "1024", "--sim-disk-gb", "10"});
  stack_->StartController();
  auto s = stack_->WaitServerSettled(id, 30s);
  EXPECT_EQ(s["status"], "ACTIVE") << stack_->ControllerLog();
  EXPECT_TRUE(Contains(AgentDomains("sim-1"), id));
}

}  // namespace
}  // namespace ferry::testing
