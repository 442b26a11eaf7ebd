// Agents register and heartbeat; the controller shows their hosts up, marks a silent host down
// within the configured silence and up again when it returns; services can be disabled and
// forced down through the API.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

class HostsLiveness : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    StackOptions options;
    options.service_down_time_s = 2;
    options.heartbeat_interval_s = 1;
    stack_ = std::make_unique<Stack>(dsn, options);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    stack_->StartAgent("sim-2");
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1", "sim-2"})) << stack_->ControllerLog();
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(HostsLiveness, BothSimHostsListedUpAndLabelledSimulatedWhenAsked) {
  auto r = stack_->FerryAdmin().Get("/v2.1/os-hypervisors/detail");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body["hypervisors"].size(), 2u);
  for (const auto& h : r.body["hypervisors"]) {
    EXPECT_EQ(h["state"], "up");
    EXPECT_EQ(h["status"], "enabled");
    EXPECT_EQ(h["hypervisor_type"], "ferry-sim");
    EXPECT_EQ(h["ferry:simulated"], true);
    EXPECT_GT(h["vcpus"].get<int>(), 0);
  }
}

// Nova's hypervisor schemas allow no other field: ferry's label needs X-Ferry-Extensions.
TEST_F(HostsLiveness, HypervisorsCarryNoFerryFieldUnlessAsked) {
  auto admin = stack_->Admin();
  for (const char* path : {"/v2.1/os-hypervisors", "/v2.1/os-hypervisors/detail"}) {
    auto r = admin.Get(path);
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const auto& h : r.body["hypervisors"])
      EXPECT_FALSE(h.contains("ferry:simulated")) << h.dump();
  }
  auto listed = admin.Get("/v2.1/os-hypervisors").body["hypervisors"][0];
  auto shown = admin.Get("/v2.1/os-hypervisors/" + listed["id"].dump());
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_FALSE(shown.body["hypervisor"].contains("ferry:simulated")) << shown.raw;
  auto asked = stack_->FerryAdmin().Get("/v2.1/os-hypervisors/" + listed["id"].dump());
  EXPECT_EQ(asked.body["hypervisor"]["ferry:simulated"], true) << asked.raw;
}

TEST_F(HostsLiveness, EachHostHasItsOwnLocalDatastore) {
  pqxx::connection c(stack_->dsn());
  pqxx::work w(c);
  auto rows = w.exec(
      "SELECT h.name || '=' || d.name || ':' || d.kind FROM host_datastores hd "
      "JOIN hosts h ON h.id = hd.host_id JOIN datastores d ON d.id = hd.datastore_id ORDER BY 1");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0].as<std::string>(), "sim-1=sim-1/sim-local:local");
  EXPECT_EQ(rows[1][0].as<std::string>(), "sim-2=sim-2/sim-local:local");
}

TEST_F(HostsLiveness, SilentAgentTurnsHostDownWithinServiceDownTimeAndBackUpOnReturn) {
  stack_->KillAgent("sim-2");
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(Stack::WaitFor([&] { return stack_->HostState("sim-2") == "down"; }, 10s));
  auto took = std::chrono::steady_clock::now() - killed;
  // Down after 2 s of silence, checked every 0.5 s; one heartbeat (1 s) may have been in flight.
  EXPECT_LT(took, 4s) << "host went down only after "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  EXPECT_EQ(stack_->HostState("sim-1"), "up");
  stack_->StartAgent("sim-2");
  EXPECT_TRUE(Stack::WaitFor([&] { return stack_->HostState("sim-2") == "up"; }, 10s));
}

TEST_F(HostsLiveness, DisableWithReasonAndForcedDownShowInServicesAndHypervisors) {
  auto services = stack_->Admin().Get("/v2.1/os-services?host=sim-1");
  ASSERT_EQ(services.status, 200);
  ASSERT_EQ(services.body["services"].size(), 1u);
  auto admin = stack_->Admin();
  admin.SetMicroversion("2.53");
  std::string id = admin.Get("/v2.1/os-services?host=sim-1").body["services"][0]["id"];
  auto r = admin.Put("/v2.1/os-services/" + id,
                     {{"status", "disabled"}, {"disabled_reason", "maintenance"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["service"]["status"], "disabled");
  EXPECT_EQ(r.body["service"]["disabled_reason"], "maintenance");
  auto hyp = admin.Get("/v2.1/os-hypervisors/detail").body["hypervisors"];
  for (const auto& h : hyp) {
    if (h["hypervisor_hostname"] == "sim-1") {
      EXPECT_EQ(h["status"], "disabled");
      EXPECT_EQ(h["service"]["disabled_reason"], "maintenance");
    }
  }
  r = admin.Put("/v2.1/os-services/" + id, {{"forced_down", true}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["service"]["forced_down"], true);
  EXPECT_EQ(r.body["service"]["state"], "down");
  EXPECT_EQ(stack_->HostState("sim-1"), "down") << "forced down wins over fresh heartbeats";
  r = admin.Put("/v2.1/os-services/" + id, {{"status", "enabled"}, {"forced_down", false}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["service"]["status"], "enabled");
  EXPECT_TRUE(r.body["service"]["disabled_reason"].is_null());
  EXPECT_EQ(stack_->HostState("sim-1"), "up");
}

TEST_F(HostsLiveness, LegacyServiceActionsBefore253) {
  auto admin = stack_->Admin();
  admin.SetMicroversion("2.11");
  auto r =
      admin.Put("/v2.1/os-services/disable-log-reason",
                {{"host", "sim-2"}, {"binary", "nova-compute"}, {"disabled_reason", "rack swap"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["service"]["status"], "disabled");
  EXPECT_EQ(r.body["service"]["disabled_reason"], "rack swap");
  r = admin.Put("/v2.1/os-services/enable", {{"host", "sim-2"}, {"binary", "nova-compute"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["service"]["status"], "enabled");
  r = admin.Put("/v2.1/os-services/enable", {{"host", "no-such-host"}, {"binary", "nova-compute"}});
  EXPECT_EQ(r.status, 404);
}

}  // namespace
}  // namespace ferry::testing
