// What the hypervisors report about managed servers reaches the operator (sim driver, real
// controller and agents, real PostgreSQL): a server's guest also reported by another host is
// listed under /v2.1/ferry/misplaced-domains with an instance action and a warning, and the
// listing empties when that host stops reporting it; a live migration under way is no false
// flag; a guest shut down out of band shows SHUTOFF, one gone missing shows NOSTATE and is
// flagged; an inventory larger than --max-domains-per-host gets 400 and writes nothing.
#include <gtest/gtest.h>

#include <fstream>

#include "api/wire/messages.hpp"
#include "common/uuid.hpp"
#include "tests/support/live_migration_stack.hpp"
#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kMaxDomains = 3;

class MisplacedDomains : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    StackOptions options;
    options.heartbeat_interval_s = 1;  // settled after 2 s: the tests wait seconds, not minutes
    options.controller_args = {"--max-domains-per-host", std::to_string(kMaxDomains)};
    stack_ = std::make_unique<Stack>(dsn, options);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"}));
    stack_->EnsureFlavor();
  }
  std::string ActiveServerOnSim1() {
    auto id = stack_->CreateServer("web");
    auto s = stack_->WaitServerSettled(id);
    EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
    EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-1");
    return id;
  }
  json Misplaced() const {
    return stack_->Admin().Get("/v2.1/ferry/misplaced-domains").body["misplaced_domains"];
  }
  std::vector<std::string> ActionNames(const std::string& id) const {
    std::vector<std::string> out;
    auto r = stack_->Admin().Get("/v2.1/servers/" + id + "/os-instance-actions");
    for (const auto& a : r.body["instanceActions"]) out.push_back(a["action"]);
    return out;
  }
  json Server(const std::string& id) const {
    return stack_->Admin().Get("/v2.1/servers/" + id).body["server"];
  }
  // Rewrites sim-1's domains.json with the agent stopped: the hypervisor changed behind ferry.
  void EditSim1Domains(const std::function<void(json& domains)>& edit) {
    stack_->KillAgent("sim-1");
    std::string path = stack_->AgentStateDir("sim-1") + "/domains.json";
    json state;
    std::ifstream(path) >> state;
    edit(state["domains"]);
    std::ofstream(path) << state.dump();
    stack_->StartAgent("sim-1");
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(MisplacedDomains, AGuestAlsoReportedByAnotherHostIsListedWithAnInstanceActionAndAWarning) {
  auto id = ActiveServerOnSim1();
  stack_->StartAgent("sim-2", {"--sim-domain", "twin:1:512:0:" + id});
  ASSERT_TRUE(Stack::WaitFor([&] { return Misplaced().size() == 1; }, 20s))
      << stack_->ControllerLog();
  auto m = Misplaced()[0];
  EXPECT_EQ(m["server_uuid"], id);
  EXPECT_EQ(m["kind"], "elsewhere");
  EXPECT_EQ(m["host"], "sim-2");
  EXPECT_EQ(m["recorded_host"], "sim-1");
  EXPECT_EQ(m["power_state"], 1);
  EXPECT_TRUE(m["first_seen_at"].is_string());
  EXPECT_TRUE(m["last_seen_at"].is_string());
  auto actions = ActionNames(id);
  EXPECT_NE(std::find(actions.begin(), actions.end(), "ferry-running-elsewhere"), actions.end());
  EXPECT_NE(stack_->ControllerLog().find("server running elsewhere server=" + id),
            std::string::npos);
  // Flagged, not acted on, and not mistaken for an unmanaged domain.
  EXPECT_EQ(Server(id)["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(Server(id)["status"], "ACTIVE");
  EXPECT_TRUE(
      stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"].empty());
  EXPECT_EQ(stack_->Member().Get("/v2.1/ferry/misplaced-domains").status, 403);

  // sim-2 comes back without that guest: the flag goes.
  stack_->KillAgent("sim-2");
  std::system(("rm -rf '" + stack_->AgentStateDir("sim-2") + "'").c_str());
  stack_->StartAgent("sim-2");
  EXPECT_TRUE(Stack::WaitFor([&] { return Misplaced().empty(); }, 20s)) << Misplaced().dump();
}

TEST_F(MisplacedDomains, AGuestShutDownOutOfBandShowsShutoffAndAGuestGoneMissingIsFlagged) {
  auto id = ActiveServerOnSim1();
  EditSim1Domains([&](json& domains) {
    for (auto& d : domains) {
      if (d["uuid"] == id) d["power_state"] = 4;  // SHUTDOWN
    }
  });
  ASSERT_TRUE(Stack::WaitFor([&] { return Server(id)["status"] == "SHUTOFF"; }, 20s))
      << Server(id).dump() << stack_->ControllerLog();
  EXPECT_EQ(Server(id)["OS-EXT-STS:power_state"], 4);
  auto actions = ActionNames(id);
  EXPECT_NE(std::find(actions.begin(), actions.end(), "stop"), actions.end());
  EXPECT_TRUE(Misplaced().empty()) << "a shut-off guest is not missing";

  EditSim1Domains([&](json& domains) {
    json kept = json::array();
    for (auto& d : domains) {
      if (d["uuid"] != id) kept.push_back(d);
    }
    domains = kept;
  });
  ASSERT_TRUE(Stack::WaitFor([&] { return Misplaced().size() == 1; }, 20s))
      << stack_->ControllerLog();
  EXPECT_EQ(Misplaced()[0]["kind"], "missing");
  EXPECT_EQ(Misplaced()[0]["host"], "sim-1");
  EXPECT_EQ(Server(id)["OS-EXT-STS:power_state"], 0);
  EXPECT_NE(stack_->ControllerLog().find("server missing server=" + id), std::string::npos);
}

TEST_F(MisplacedDomains, AnInventoryLargerThanTheCapGets400AndWritesNothing) {
  wire::Heartbeat hb;
  hb.host = "sim-1";
  for (int i = 0; i <= kMaxDomains; ++i) {
    wire::Domain d;
    d.uuid = NewUuid();
    d.name = "vm-" + std::to_string(i);
    d.vcpus = 1;
    d.memory_mb = 512;
    hb.domains.push_back(d);
  }
  HttpClient agent(stack_->url(), kAgentToken);
  auto r = agent.Post("/agent/v1/heartbeat", json(hb));
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["badRequest"]["code"], 400) << r.raw;
  EXPECT_NE(r.raw.find("--max-domains-per-host"), std::string::npos) << r.raw;
  EXPECT_TRUE(
      stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"].empty());
  // At the cap it is accepted.
  hb.domains.pop_back();
  EXPECT_EQ(agent.Post("/agent/v1/heartbeat", json(hb)).status, 200);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"].size(),
            static_cast<size_t>(kMaxDomains));
}

// The guest exists on both ends while it is copied: neither end is flagged, during or after.
TEST(MisplacedDomainsDuringMigration, ALiveMigrationUnderWayIsNoFalseFlag) {
  FERRY_REQUIRE_PG(dsn);
  LiveMigrationStack lm(dsn);
  // 200 MB/s: the 1 GiB guest copies for ~5 s, several heartbeats (1 s) on both hosts.
  lm.StartHosts({{"sim-1", {"--sim-bandwidth-mbps", "200"}}, {"sim-2", {}}});
  lm.stack->EnsureFlavor("2", 1, 1024, 1);
  auto id = lm.ServerOn("sim-1", "web", "2");
  ASSERT_EQ(lm.MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  auto misplaced = [&] {
    return lm.stack->Admin().Get("/v2.1/ferry/misplaced-domains").body["misplaced_domains"];
  };
  bool saw_running = false;
  json flagged = json::array();
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        saw_running = saw_running || lm.LatestStatus(id) == "running";
        if (flagged.empty()) flagged = misplaced();
        return lm.LatestStatus(id) == "completed";
      },
      60s))
      << lm.LatestMigration(id).dump();
  EXPECT_TRUE(saw_running);
  EXPECT_TRUE(flagged.empty()) << flagged.dump();
  std::this_thread::sleep_for(4s);  // past the settle time (2 heartbeats) and a few heartbeats
  EXPECT_TRUE(misplaced().empty()) << misplaced().dump();
  EXPECT_EQ(lm.Server(id)["status"], "ACTIVE");
}

}  // namespace
}  // namespace ferry::testing
