// Review M10: retries of a command whose driver call hangs must not take the agent's server
// threads. The command server over real HTTP, backed by a driver whose create never returns
// until the test lets it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "agent/command_server.hpp"
#include "common/errors.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

constexpr const char* kToken = "s3cret-command-token";

// Everything answers at once except CreateDomain, which waits for Release().
class HangingCreateDriver final : public Driver {
 public:
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int Creates() const {
    std::lock_guard lock(mu_);
    return creates_;
  }

  DriverInfo Info() override { return {"test", 1, true, 1, 1, 1, {}, {}}; }
  std::vector<wire::Domain> ListDomains() override { return {}; }
  wire::Domain CreateDomain(const wire::Domain& domain) override {
    std::unique_lock lock(mu_);
    ++creates_;
    cv_.wait(lock, [this] { return released_; });
    return domain;
  }
  void DeleteDomain(const std::string&) override {}
  void CheckLiveMigrationDestination(const wire::LiveMigrationSpec&) override {}
  std::string PrepareLiveMigrationDestination(const wire::LiveMigrationSpec&) override {
    return "";
  }
  void StartLiveMigration(const wire::LiveMigrationSpec&) override {}
  std::optional<wire::LiveMigrationJob> LiveMigrationJobStats(const std::string&) override {
    return std::nullopt;
  }
  std::vector<wire::LiveMigrationJob> LiveMigrationJobsToReport() override { return {}; }
  void LiveMigrationJobReported(const std::string&) override {}
  void SetLiveMigrationJobEndListener(std::function<void(const std::string&)>) override {}
  void AbortLiveMigration(const std::string&) override {}
  void ForceCompleteLiveMigration(const std::string&, bool) override {}
  wire::Domain FinishLiveMigrationDestination(const wire::LiveMigrationSpec& spec) override {
    return spec.domain;
  }
  void CleanupLiveMigrationSource(const wire::LiveMigrationSpec&) override {}
  void RollbackLiveMigrationDestination(const wire::LiveMigrationSpec&) override {}
  std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec&) override {
    return "";
  }
  void PowerOffForColdMigration(const wire::ColdMigrationSpec&) override {}
  void StartColdMigrationCopy(const wire::ColdMigrationSpec&) override {}
  void AbortColdMigrationCopy(const std::string&) override {}
  wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    return s.domain;
  }
  void ConfirmColdMigrationSource(const wire::ColdMigrationSpec&) override {}
  void RevertColdMigrationDestination(const wire::ColdMigrationSpec&) override {}
  wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& s) override {
    return s.domain;
  }
  wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }
  void RevertEvacuationDestination(const wire::EvacuationSpec&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }
  void CleanUpEvacuatedSource(const wire::EvacuationSpec&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }
  void FenceEvacuatedDomain(const std::string&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int creates_ = 0;
};

TEST(CommandRetries, RetriesOfAHungCommandAreAnsweredAtOnceAndTheAgentKeepsServing) {
  HangingCreateDriver driver;
  CommandServer server(driver, "host-a", kToken);
  const int port = server.Start("127.0.0.1", 0);
  const json create = {{"id", "server-1:create:1"},
                       {"kind", "create_domain"},
                       {"args",
                        {{"uuid", "33333333-3333-4333-8333-333333333333"},
                         {"name", "web"},
                         {"vcpus", 1},
                         {"memory_mb", 512},
                         {"disk_gb", 1}}}};
  auto post = [&] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(std::chrono::seconds(1));  // the controller's retry gives up this fast
    return cli.Post("/v1/commands", {{"X-Auth-Token", kToken}}, create.dump(), "application/json");
  };
  // The original hangs in the driver (its client gives up after 1 s)...
  auto original = std::async(std::launch::async, post);
  ASSERT_TRUE([&] {
    for (int i = 0; i < 200 && driver.Creates() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return driver.Creates() == 1;
  }()) << "the create never reached the driver";
  // ... and 9 retries, one more than the server has threads, are each told "in progress".
  for (int i = 0; i < 9; ++i) {
    auto res = post();
    ASSERT_TRUE(res) << "retry " << i << " got no answer: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 202) << res->body;
    EXPECT_EQ(json::parse(res->body)["status"], "in_progress");
  }
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(std::chrono::seconds(1));
  auto inventory = cli.Get("/v1/inventory", {{"X-Auth-Token", kToken}});
  ASSERT_TRUE(inventory) << "the agent stopped answering";
  EXPECT_EQ(inventory->status, 200);
  EXPECT_EQ(driver.Creates(), 1) << "a retry ran the command again";
  driver.Release();
  original.wait();
  // Once done, a retry gets the stored result.
  auto replay = post();
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 200);
  EXPECT_EQ(json::parse(replay->body)["status"], "done");
  server.Stop();
}

}  // namespace
}  // namespace ferry::agent
