// Live migration end to end on the sim driver: real controller and agent processes, real
// PostgreSQL. One migration observed through every status with progress rising; aborts in
// queued, preparing and running; force-complete and both timeout actions; a post-copy that
// breaks (error, the server on the destination in ERROR); the per-host limit;
// and 50 concurrent requests racing for a destination with room for 3.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

class LiveMigration : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> controller_args = {},
             std::vector<std::string> source_args = {}, std::vector<std::string> dest_args = {},
             int service_down_time_s = 60) {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn, controller_args, service_down_time_s);
    // 100 MB/s: a 1 GiB guest takes ~11 s to copy, long enough to watch and to interrupt.
    auto has_bandwidth = [](const std::vector<std::string>& args) {
      return std::find(args.begin(), args.end(), "--sim-bandwidth-mbps") != args.end();
    };
    std::vector<std::string> src;
    if (!has_bandwidth(source_args)) src = {"--sim-bandwidth-mbps", "100"};
    src.insert(src.end(), source_args.begin(), source_args.end());
    std::vector<std::string> dst{"--sim-bandwidth-mbps", "100"};
    dst.insert(dst.end(), dest_args.begin(), dest_args.end());
    lm_->StartHosts({{"sim-1", src}, {"sim-2", dst}});
    lm_->stack->EnsureFlavor("1", 1, 512, 1);
    lm_->stack->EnsureFlavor("2", 1, 1024, 1);
  }
  std::unique_ptr<LiveMigrationStack> lm_;
};

TEST_F(LiveMigration, MovesTheServerThroughEveryStatusWithProgressClaimsAndEvents) {
  Start();
  auto id = lm_->ServerOn("sim-1", "web", "2");
  auto r = lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  EXPECT_TRUE(r.raw.empty());

  // Watch the server-migrations resource while it runs, with ferry's progress fields.
  auto admin = lm_->stack->FerryAdmin();
  admin.SetMicroversion("2.80");
  std::vector<int64_t> remaining;
  std::set<std::string> statuses;
  json running;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        auto list = admin.Get("/v2.1/servers/" + id + "/migrations").body["migrations"];
        for (const auto& m : list) {
          statuses.insert(m["status"].get<std::string>());
          if (m["status"] == "running" && m["memory_remaining_bytes"].is_number()) {
            running = m;
            auto rem = m["memory_remaining_bytes"].get<int64_t>();
            if (remaining.empty() || remaining.back() != rem) remaining.push_back(rem);
          }
        }
        return lm_->LatestStatus(id) == "completed";
      },
      60s))
      << lm_->LatestMigration(id).dump();

  EXPECT_TRUE(statuses.count("running")) << "statuses seen: " << json(statuses).dump();
  ASSERT_GE(remaining.size(), 2u) << "progress must be seen rising across two samples";
  EXPECT_LT(remaining.back(), remaining.front());
  ASSERT_FALSE(running.is_null());
  EXPECT_EQ(running["source_compute"], "sim-1");
  EXPECT_EQ(running["dest_compute"], "sim-2");
  EXPECT_EQ(running["memory_total_bytes"], 1024LL * 1024 * 1024);
  EXPECT_TRUE(running["progress_percent"].is_number());
  EXPECT_TRUE(running["transfer_rate_bps"].is_number());
  EXPECT_TRUE(running.contains("eta_seconds"));
  EXPECT_TRUE(running.contains("queue_position"));
  EXPECT_EQ(running["user_id"], "admin");

  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_EQ(server["status"], "ACTIVE");
  EXPECT_TRUE(server["OS-EXT-STS:task_state"].is_null());
  EXPECT_TRUE(lm_->RunsOn("sim-2", id));
  auto on_source = lm_->AgentDomains("sim-1");
  EXPECT_EQ(std::count(on_source.begin(), on_source.end(), id), 0);

  // Claims: only the server's, only on the destination; the migration holds none.
  auto migration = lm_->LatestMigration(id);
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-2"});
  EXPECT_TRUE(lm_->ClaimHosts(migration["uuid"]).empty());
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  EXPECT_EQ(lm_->EventPath(migration["uuid"]),
            (std::vector<std::string>{"accepted", "queued", "preparing", "running",
                                      "post-migrating", "completed"}));
  // Completed migrations leave the in-progress list (Nova 2.23).
  EXPECT_TRUE(admin.Get("/v2.1/servers/" + id + "/migrations").body["migrations"].empty());
}

TEST_F(LiveMigration, IdempotencyKeyMakesARetryReturnTheFirstMigration) {
  Start();
  auto id = lm_->ServerOn("sim-1", "web");
  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.80");
  admin.SetHeader("Idempotency-Key", "drain-sim-1-web");
  const json body = {{"os-migrateLive", {{"host", nullptr}, {"block_migration", "auto"}}}};
  EXPECT_EQ(admin.Post("/v2.1/servers/" + id + "/action", body).status, 202);
  // The retry would be a 409 (task in progress) without the key; with it, the same answer.
  EXPECT_EQ(admin.Post("/v2.1/servers/" + id + "/action", body).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id));
  EXPECT_EQ(admin.Post("/v2.1/servers/" + id + "/action", body).status, 202);
  EXPECT_EQ(lm_->Migrations(id).size(), 1u);
  EXPECT_EQ(lm_->LatestStatus(id), "completed");
}

TEST_F(LiveMigration, AbortWhileRunningCancelsAndLeavesTheServerOnTheSource) {
  Start();
  auto id = lm_->ServerOn("sim-1", "web", "2");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "running"));
  auto mid = lm_->LatestMigration(id)["id"].get<int64_t>();
  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.80");  // the memory_*/disk_* fields
  const auto path = "/v2.1/servers/" + id + "/migrations/" + std::to_string(mid);
  json shown;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        shown = admin.Get(path).body;
        // Block migration copies the local disk before memory.
        auto copied = [&](const char* field) {
          auto v = shown["migration"][field];
          return v.is_number() ? v.get<int64_t>() : int64_t{0};
        };
        return copied("disk_processed_bytes") + copied("memory_processed_bytes") > 0;
      },
      10s))
      << "abort once the copy is under way: " << shown.dump();
  admin.SetMicroversion("2.24");  // the first version that aborts a running migration
  EXPECT_EQ(admin.Delete("/v2.1/servers/" + id + "/migrations/" + std::to_string(mid)).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id));
  EXPECT_EQ(lm_->LatestStatus(id), "cancelled");
  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(server["status"], "ACTIVE");
  EXPECT_TRUE(lm_->RunsOn("sim-1", id));
  auto on_dest = lm_->AgentDomains("sim-2");
  EXPECT_EQ(std::count(on_dest.begin(), on_dest.end(), id), 0) << "destination rolled back";
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-1"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

TEST_F(LiveMigration, AbortWhileQueuedCancelsWithoutTouchingEitherHost) {
  Start();
  auto first = lm_->ServerOn("sim-1", "first", "2");
  auto second = lm_->ServerOn("sim-1", "second");
  ASSERT_EQ(lm_->MigrateLive(first, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(first, "running"));
  // One outbound migration per host (Nova's default): the second waits.
  ASSERT_EQ(lm_->MigrateLive(second, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(second, "queued"));
  auto queued = lm_->LatestMigration(second);
  auto admin = lm_->stack->FerryAdmin();  // queue_position is ferry's
  admin.SetMicroversion("2.80");
  auto shown = admin.Get("/v2.1/servers/" + second + "/migrations/" +
                         std::to_string(queued["id"].get<int64_t>()));
  EXPECT_EQ(shown.body["migration"]["queue_position"], 1) << shown.raw;
  // Nova's body (no X-Ferry-Extensions) has none of ferry's fields, in the list or the show.
  auto nova = lm_->stack->Admin();
  nova.SetMicroversion("2.80");
  const std::string path = "/v2.1/servers/" + second + "/migrations";
  for (const json& m :
       {nova.Get(path).body["migrations"][0],
        nova.Get(path + "/" + std::to_string(queued["id"].get<int64_t>())).body["migration"]}) {
    EXPECT_EQ(m["status"], "queued") << m.dump();
    for (const char* key : {"phase", "progress_percent", "transfer_rate_bps", "dirty_rate_bps",
                            "eta_seconds", "attempt", "queue_position", "error"}) {
      EXPECT_FALSE(m.contains(key)) << key << ": " << m.dump();
    }
  }
  // 2.24-2.64 abort only a running migration: 400, as Nova.
  admin.SetMicroversion("2.64");
  auto too_old = admin.Delete("/v2.1/servers/" + second + "/migrations/" +
                              std::to_string(queued["id"].get<int64_t>()));
  EXPECT_EQ(too_old.status, 400) << too_old.raw;
  admin.SetMicroversion("2.65");
  EXPECT_EQ(admin
                .Delete("/v2.1/servers/" + second + "/migrations/" +
                        std::to_string(queued["id"].get<int64_t>()))
                .status,
            202);
  ASSERT_TRUE(lm_->WaitTerminal(second, 10s));
  EXPECT_EQ(lm_->LatestStatus(second), "cancelled");
  EXPECT_EQ(lm_->EventPath(queued["uuid"]),
            (std::vector<std::string>{"accepted", "queued", "cancelled"}));
  EXPECT_EQ(lm_->Server(second)["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(lm_->ClaimHosts(second), std::set<std::string>{"sim-1"});
  ASSERT_TRUE(lm_->WaitTerminal(first));
  EXPECT_EQ(lm_->LatestStatus(first), "completed");
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

TEST_F(LiveMigration, AbortWhilePreparingCancelsOnceTheDestinationIsRolledBack) {
  Start();
  lm_->stack->StartAgent("sim-3", {"--sim-bandwidth-mbps", "100"});
  ASSERT_TRUE(lm_->stack->WaitUntilUp({"sim-3"}));
  auto first = lm_->ServerOn("sim-1", "first", "2");
  auto id = lm_->ServerOn("sim-1", "web");
  ASSERT_EQ(lm_->MigrateLive(first, {{"host", "sim-3"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(first, "running"));
  // Queued behind `first` (one outbound per host), checked against a live sim-2 ...
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "queued"));
  // ... whose agent then goes away while its host still counts as up: preparing cannot finish.
  lm_->stack->KillAgent("sim-2");
  ASSERT_TRUE(lm_->WaitStatus(id, "preparing", 40s)) << lm_->LatestMigration(id).dump();
  auto m = lm_->LatestMigration(id);
  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.65");
  EXPECT_EQ(
      admin.Delete("/v2.1/servers/" + id + "/migrations/" + std::to_string(m["id"].get<int64_t>()))
          .status,
      202);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(lm_->LatestStatus(id), "preparing")
      << "not cancelled before the destination is rolled back";
  lm_->stack->StartAgent("sim-2", {"--sim-bandwidth-mbps", "100"});
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s)) << lm_->stack->AgentLog("sim-2");
  EXPECT_EQ(lm_->LatestStatus(id), "cancelled");
  EXPECT_EQ(lm_->EventPath(m["uuid"]),
            (std::vector<std::string>{"accepted", "queued", "preparing", "cancelled"}));
  EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_TRUE(lm_->RunsOn("sim-1", id));
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-1"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

TEST_F(LiveMigration, ForceCompleteFinishesAMigrationThatWouldNotConverge) {
  // The guest dirties memory faster than the link copies it: pre-copy never converges.
  Start({}, {"--sim-dirty-rate-mbps", "150"});
  auto id = lm_->ServerOn("sim-1", "busy");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "running"));
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(lm_->LatestStatus(id), "running") << "must not converge on its own";
  auto mid = lm_->LatestMigration(id)["id"].get<int64_t>();
  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.22");
  auto r = admin.Post("/v2.1/servers/" + id + "/migrations/" + std::to_string(mid) + "/action",
                      {{"force_complete", nullptr}});
  EXPECT_EQ(r.status, 202) << r.raw;
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s));
  EXPECT_EQ(lm_->LatestStatus(id), "completed");
  EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_TRUE(lm_->RunsOn("sim-2", id)) << "paused for the switch-over, running again after it";
}

TEST_F(LiveMigration, CompletionTimeoutAbortsByDefault) {
  // 1 s per GiB, at least 2 GiB: a non-converging copy is aborted after ~2 s.
  Start({"--live-migration-completion-timeout", "1"}, {"--sim-dirty-rate-mbps", "150"});
  auto id = lm_->ServerOn("sim-1", "busy");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s));
  auto m = lm_->LatestMigration(id);
  EXPECT_EQ(m["status"], "cancelled");
  EXPECT_NE(m["error"].get<std::string>().find("completion timeout"), std::string::npos)
      << m.dump();
  EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

TEST_F(LiveMigration, TimeoutActionForceCompleteFromAnAggregateOverrideCompletes) {
  Start({"--live-migration-completion-timeout", "1"}, {"--sim-dirty-rate-mbps", "150"});
  auto admin = lm_->stack->Admin();
  auto agg =
      admin.Post("/v2.1/os-aggregates", {{"aggregate", {{"name", "rack-1"}}}}).body["aggregate"];
  auto path = "/v2.1/os-aggregates/" + std::to_string(agg["id"].get<int64_t>()) + "/action";
  ASSERT_EQ(admin.Post(path, {{"add_host", {{"host", "sim-1"}}}}).status, 200);
  ASSERT_EQ(
      admin
          .Post(path,
                {{"set_metadata",
                  {{"metadata", {{"ferry:live_migration_timeout_action", "force_complete"}}}}}})
          .status,
      200);
  auto id = lm_->ServerOn("sim-1", "busy");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s));
  EXPECT_EQ(lm_->LatestStatus(id), "completed");
  EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "sim-2");
}

TEST_F(LiveMigration, PostCopyThatBreaksEndsInErrorWithTheServerOnTheDestination) {
  // Forced into post-copy, then the link breaks (sim scenario): the destination has the guest's
  // CPU state, the source the pages that never came. Nothing can be rolled back.
  Start({"--live-migration-permit-post-copy"},
        {"--sim-dirty-rate-mbps", "150", "--sim-scenario", "postcopy-fails"});
  auto id = lm_->ServerOn("sim-1", "busy");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "running"));
  auto mid = lm_->LatestMigration(id)["id"].get<int64_t>();
  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.22");
  ASSERT_EQ(admin
                .Post("/v2.1/servers/" + id + "/migrations/" + std::to_string(mid) + "/action",
                      {{"force_complete", nullptr}})
                .status,
            202);
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s));
  auto m = lm_->LatestMigration(id);
  EXPECT_EQ(m["status"], "error");
  EXPECT_NE(m["error"].get<std::string>().find("post-copy failed"), std::string::npos) << m.dump();
  auto events = lm_->EventPath(m["uuid"]);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2], "running");
  EXPECT_EQ(events.back(), "error");

  // The record follows the guest: on sim-2, in ERROR with the reason, claims only there.
  auto server = lm_->Server(id);
  EXPECT_EQ(server["status"], "ERROR");
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_NE(server["fault"]["message"].get<std::string>().find("post-copy failed"),
            std::string::npos)
      << server.dump();
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-2"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  // The stale source copy is gone; the destination's is paused, waiting for a restart.
  auto on_source = lm_->AgentDomains("sim-1");
  EXPECT_EQ(std::count(on_source.begin(), on_source.end(), id), 0);
  auto on_dest = lm_->AgentDomains("sim-2");
  EXPECT_EQ(std::count(on_dest.begin(), on_dest.end(), id), 1);
  EXPECT_FALSE(lm_->RunsOn("sim-2", id));
  // An ERROR server cannot be live-migrated again (Nova: 409, vm_state error).
  EXPECT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 409);
}

TEST_F(LiveMigration, PerHostLimitRunsOneOutboundMigrationAtATime) {
  Start({}, {"--sim-bandwidth-mbps", "500"});
  std::vector<std::string> servers;
  for (int i = 0; i < 5; ++i) servers.push_back(lm_->ServerOn("sim-1", "s" + std::to_string(i)));
  for (const auto& id : servers) {
    ASSERT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
  }
  int max_active = 0;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        int active =
            static_cast<int>(lm_->Count("SELECT count(*) FROM migrations WHERE status IN "
                                        "('preparing','running','post-migrating')"));
        max_active = std::max(max_active, active);
        return lm_->Count("SELECT count(*) FROM migrations WHERE status = 'completed'") == 5;
      },
      120s));
  EXPECT_EQ(max_active, 1);
  for (const auto& id : servers) EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

TEST_F(LiveMigration, FiftyConcurrentRequestsForADestinationWithRoomForThreeLandExactlyThree) {
  FERRY_REQUIRE_PG(dsn);
  lm_ = std::make_unique<LiveMigrationStack>(
      dsn, std::vector<std::string>{"--max-concurrent-live-migrations", "50",
                                    "--max-inbound-live-migrations", "50"});
  lm_->StartHosts({{"sim-1", {"--sim-memory-mb", "8192", "--sim-vcpus", "64"}},
                   {"sim-2", {"--sim-memory-mb", "384", "--sim-vcpus", "64"}}});
  lm_->stack->EnsureFlavor("small", 1, 128, 0);
  std::vector<std::string> servers;
  for (int i = 0; i < 50; ++i)
    servers.push_back(lm_->stack->CreateServer("s" + std::to_string(i), "small", "nova:sim-1"));
  for (const auto& id : servers) ASSERT_EQ(lm_->stack->WaitServerSettled(id)["status"], "ACTIVE");
  std::vector<std::future<HttpResult>> requests;
  for (const auto& id : servers) {
    requests.push_back(std::async(std::launch::async, [&, id] {
      return lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}});
    }));
  }
  for (auto& r : requests) {
    auto answer = r.get();
    EXPECT_EQ(answer.status, 202) << answer.raw;
  }
  for (const auto& id : servers) ASSERT_TRUE(lm_->WaitTerminal(id, 120s)) << id;
  int on_dest = 0, completed = 0;
  for (const auto& id : servers) {
    if (lm_->Server(id)["OS-EXT-SRV-ATTR:host"] == "sim-2") ++on_dest;
    if (lm_->LatestStatus(id) == "completed") ++completed;
  }
  EXPECT_EQ(on_dest, 3);
  EXPECT_EQ(completed, 3);
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  int64_t used = 0;
  for (const auto& c : lm_->Claims()) {
    if (c.host == "sim-2" && c.resource == "MEMORY_MB") used += c.amount;
  }
  EXPECT_EQ(used, 384);
}

}  // namespace
}  // namespace ferry::testing
