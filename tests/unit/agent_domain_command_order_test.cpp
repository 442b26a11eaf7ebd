// DomainCommandOrder (review M4): a create and a delete of one domain never run at once, a
// create after a delete of the same domain is refused, other domains and kinds are not held up.
// Then the command server over real HTTP with the sim driver's create-slow scenario.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <future>

#include "agent/command_server.hpp"
#include "agent/domain_command_order.hpp"
#include "agent/drivers/sim/sim_driver.hpp"

namespace ferry::agent {
namespace {

using Turn = DomainCommandOrder::Turn;

constexpr const char* kUuid = "33333333-3333-4333-8333-333333333333";
constexpr const char* kOther = "44444444-4444-4444-8444-444444444444";

wire::Command Create(const std::string& id, const std::string& uuid = kUuid) {
  return {id, "create_domain", {{"uuid", uuid}, {"name", "web"}, {"vcpus", 1}}};
}
wire::Command Delete(const std::string& id, const std::string& uuid = kUuid) {
  return {id, "delete_domain", {{"uuid", uuid}}};
}

TEST(DomainCommandOrder, DeleteWaitsWhileTheCreateOfTheSameDomainRuns) {
  DomainCommandOrder order;
  auto create = Create("s:create:1");
  ASSERT_EQ(order.Begin(create).turn, Turn::kRun);
  auto busy = order.Begin(Delete("s:delete:1"));
  EXPECT_EQ(busy.turn, Turn::kBusy);
  EXPECT_EQ(busy.other_id, "s:create:1");
  order.End(create);
  EXPECT_EQ(order.Begin(Delete("s:delete:1")).turn, Turn::kRun);
}

TEST(DomainCommandOrder, UuidCaseDoesNotMakeTwoDomains) {
  DomainCommandOrder order;
  ASSERT_EQ(order.Begin(Create("c")).turn, Turn::kRun);
  std::string upper = kUuid;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(order.Begin(Delete("d", upper)).turn, Turn::kBusy);
}

TEST(DomainCommandOrder, CreateAfterADeleteIsRefusedEvenOnceTheDeleteEnded) {
  DomainCommandOrder order;
  auto del = Delete("s:delete:1");
  ASSERT_EQ(order.Begin(del).turn, Turn::kRun);
  EXPECT_EQ(order.Begin(Create("s:create:1")).turn, Turn::kBusy);
  order.End(del);
  auto late = order.Begin(Create("s:create:1"));
  EXPECT_EQ(late.turn, Turn::kDeleted);
  EXPECT_EQ(late.other_id, "s:delete:1");
  // A second delete of the same domain still runs (idempotent on the hypervisor).
  EXPECT_EQ(order.Begin(Delete("s:delete:2")).turn, Turn::kRun);
}

TEST(DomainCommandOrder, OtherDomainsAndKindsAreNotHeldUp) {
  DomainCommandOrder order;
  ASSERT_EQ(order.Begin(Create("a")).turn, Turn::kRun);
  EXPECT_EQ(order.Begin(Delete("b", kOther)).turn, Turn::kRun);
  wire::Command migration{"m", "start_live_migration", {{"uuid", kUuid}}};
  EXPECT_EQ(order.Begin(migration).turn, Turn::kRun);
  // Args without a uuid fail their own validation; they are not this class's business.
  EXPECT_EQ(order.Begin({"x", "delete_domain", nlohmann::json::object()}).turn, Turn::kRun);
}

TEST(DomainCommandOrder, ForgetsTheOldestDeletedDomainsBeyondCapacity) {
  DomainCommandOrder order(1);
  auto first = Delete("d1");
  order.Begin(first);
  order.End(first);
  auto second = Delete("d2", kOther);
  order.Begin(second);
  order.End(second);
  EXPECT_EQ(order.Begin(Create("c1")).turn, Turn::kRun);
  EXPECT_EQ(order.Begin(Create("c2", kOther)).turn, Turn::kDeleted);
}

TEST(DomainCommandOrderServer, DeleteSentDuringASlowCreateRunsAfterItAndALateCreateIsRefused) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-dco-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  sim::SimConfig config;
  config.state_dir = tmpl + "/state";
  config.scenarios.push_back(sim::ParseSimScenario("create-slow"));
  config.create_slow_ms = 1500;  // longer than the 500 ms the client below waits
  sim::SimDriver driver(config);
  CommandServer server(driver, "host-a", "token");
  const int port = server.Start("127.0.0.1", 0);
  auto post = [&](const wire::Command& cmd) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(std::chrono::milliseconds(500));  // gives up like a timed-out controller
    return cli.Post("/v1/commands", {{"X-Auth-Token", "token"}}, nlohmann::json(cmd).dump(),
                    "application/json");
  };
  wire::Command create{
      "s:create:1",
      "create_domain",
      {{"uuid", kUuid}, {"name", "web"}, {"vcpus", 1}, {"memory_mb", 512}, {"disk_gb", 1}}};
  auto original = std::async(std::launch::async, [&] { return post(create); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the create is in the driver
  auto early = post(Delete("s:delete:1"));
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 202) << early->body;
  EXPECT_EQ(nlohmann::json::parse(early->body)["behind"], "s:create:1");
  original.wait();
  // Once the create has finished there, the same delete runs and leaves nothing.
  auto inventory_has_domain = [&] {
    httplib::Client cli("127.0.0.1", port);
    auto res = cli.Get("/v1/inventory", {{"X-Auth-Token", "token"}});
    return res && nlohmann::json::parse(res->body)["domains"].size() == 1;
  };
  for (int i = 0; i < 100 && !inventory_has_domain(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(inventory_has_domain()) << "the slow create never finished";
  auto later = post(Delete("s:delete:1"));
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 200);
  EXPECT_EQ(nlohmann::json::parse(later->body)["status"], "done");
  EXPECT_FALSE(inventory_has_domain());
  // A create of that domain under a new id (a stalled second controller) is refused, not run.
  create.id = "s:create:2";
  auto late = post(create);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 200);
  EXPECT_EQ(nlohmann::json::parse(late->body)["status"], "failed") << late->body;
  EXPECT_FALSE(inventory_has_domain());
  server.Stop();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace ferry::agent
