// Host drains (/v2.1/ferry/drains) against a real controller and sim agents: the plan (a dry run
// changes nothing), a drain that empties its host as planned (live where it can, cold where it
// must, the cold moves confirmed), a cron re-run attaching to the running drain, a host where
// not everything fits (who is left and why; nothing moved that should not be), pause, resume and
// cancel, a drain of a dead host evacuating, a controller killed mid-drain, a destination that
// stops fitting after the plan, and an admin's single move beside a drain (fair share).
#include <gtest/gtest.h>

#include <csignal>
#include <pqxx/pqxx>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

class Drains : public ::testing::Test {
 protected:
  void Start(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts) {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn);
    lm_->StartHosts(hosts);
    lm_->stack->EnsureFlavor("1", 1, 512, 1);
  }
  HttpClient Admin() const { return lm_->stack->Admin(); }
  HttpResult Post(const json& drain, const std::string& key = "") {
    auto c = Admin();
    if (!key.empty()) c.SetHeader("Idempotency-Key", key);
    return c.Post("/v2.1/ferry/drains", {{"drain", drain}});
  }
  json Get(const std::string& id) { return Admin().Get("/v2.1/ferry/drains/" + id).body["drain"]; }
  bool WaitDrain(const std::string& id, const std::string& status,
                 std::chrono::milliseconds t = 90s) {
    return Stack::WaitFor([&] { return Get(id)["status"] == status; }, t);
  }
  std::string Host(const std::string& server) {
    return lm_->Server(server)["OS-EXT-SRV-ATTR:host"].get<std::string>();
  }
  std::string Status(const std::string& server) {
    return lm_->Server(server)["status"].get<std::string>();
  }
  // Every move in the order the engine admitted it: who asked, when, its status.
  std::string Admissions() {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    std::string out;
    for (const auto& r :
         w.exec("SELECT coalesce(m.drain_uuid::text, m.user_id), m.created_at::text, m.status, "
                "coalesce(e.at::text, '') FROM migrations m LEFT JOIN migration_events e "
                "ON e.migration_id = m.id AND e.event = 'slot_acquired' ORDER BY e.id")) {
      out += r[0].c_str() + std::string(" asked ") + r[1].c_str() + ", " + r[2].c_str() +
             ", admitted " + r[3].c_str() + "\n";
    }
    return out;
  }
  std::unique_ptr<LiveMigrationStack> lm_;
};

TEST_F(Drains, ThePlanIsADryRunThatChangesNothingAndWhatRunsIsThePlan) {
  Start({{"sim-1", {}}, {"sim-2", {}}, {"sim-3", {}}});
  auto a = lm_->ServerOn("sim-1", "web-a", "1");
  auto b = lm_->ServerOn("sim-1", "web-b", "1");
  auto c = lm_->ServerOn("sim-1", "db-c", "1");
  // Mode cold plans every server cold; auto (the default) live where it can.
  auto r = Post({{"host", "sim-1"}, {"dry_run", true}, {"mode", "cold"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  for (const auto& s : r.body["drain"]["servers"]) EXPECT_EQ(s["kind"], "cold") << s.dump();
  r = Post({{"host", "sim-1"}, {"dry_run", true}, {"max_parallel", 2}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const json plan = r.body["drain"];
  EXPECT_TRUE(plan["id"].is_null());
  EXPECT_EQ(plan["status"], "planned");
  EXPECT_EQ(plan["verdict"]["fits"], true) << plan.dump();
  ASSERT_EQ(plan["servers"].size(), 3u);
  std::map<std::string, std::string> planned;
  for (const auto& s : plan["servers"]) {
    EXPECT_EQ(s["kind"], "live") << s.dump();
    ASSERT_TRUE(s["planned_destination"].is_string()) << s.dump();
    EXPECT_NE(s["planned_destination"], "sim-1");
    EXPECT_GT(s["bytes"].get<int64_t>(), 0);
    planned[s["server"]] = s["planned_destination"];
  }
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM drains"), 0) << "a dry run stored a drain";
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations"), 0) << "a dry run started a move";
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM hosts WHERE disabled"), 0);

  r = Post({{"host", "sim-1"}, {"max_parallel", 2}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM hosts WHERE name = 'sim-1' AND disabled AND "
                       "disabled_reason = 'drain " +
                       id + "'"),
            1)
      << "the drained host's service is disabled with the drain as its reason";
  // A cron re-run, and the same Idempotency-Key, attach to the running drain.
  r = Post({{"host", "sim-1"}});
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["drain"]["id"], id);
  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  const json done = Get(id);
  EXPECT_EQ(done["progress"]["moved"], 3);
  for (const auto& [server, dest] : planned) {
    EXPECT_EQ(Host(server), dest) << "nothing changed, so what ran is the plan";
  }
  EXPECT_EQ(Status(a), "ACTIVE");
  EXPECT_EQ(Status(b), "ACTIVE");
  EXPECT_EQ(Status(c), "ACTIVE");
  for (const auto& s : done["servers"]) {
    EXPECT_EQ(s["state"], "moved") << s.dump();
    EXPECT_TRUE(s["seconds"].is_number()) << s.dump();
  }
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE drain_uuid = '" + id + "'"), 3);
}

TEST_F(Drains, WhatCannotFitIsNamedAndStaysWhileTheRestMoves) {
  // sim-2 can hold one 512 MB server: of two, one is left.
  Start({{"sim-1", {}}, {"sim-2", {"--sim-memory-mb", "700"}}});
  auto a = lm_->ServerOn("sim-1", "a", "1");
  auto b = lm_->ServerOn("sim-1", "b", "1");
  auto r = Post({{"host", "sim-1"}, {"dry_run", true}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["drain"]["verdict"]["fits"], false);
  ASSERT_EQ(r.body["drain"]["verdict"]["left"].size(), 1u) << r.raw;
  EXPECT_NE(
      r.body["drain"]["verdict"]["left"][0]["reason"].get<std::string>().find("No valid host"),
      std::string::npos)
      << r.raw;
  r = Post({{"host", "sim-1"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  ASSERT_TRUE(WaitDrain(id, "partial")) << Get(id).dump();
  const std::set<std::string> hosts = {Host(a), Host(b)};
  EXPECT_EQ(hosts, (std::set<std::string>{"sim-1", "sim-2"})) << "exactly one moved";
  const json d = Get(id);
  EXPECT_EQ(d["progress"]["moved"], 1);
  EXPECT_EQ(d["progress"]["skipped"], 1);
}

TEST_F(Drains, PauseHoldsNewMovesResumeGoesOnCancelStopsCleanly) {
  // 1 GB disks at 50 MB/s: each live move (512 MB + 1 GB) takes ~30 s.
  Start({{"sim-1", {"--sim-bandwidth-mbps", "50"}}, {"sim-2", {}}});
  std::vector<std::string> servers;
  for (int i = 0; i < 3; ++i)
    servers.push_back(lm_->ServerOn("sim-1", "s" + std::to_string(i), "1"));
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 1}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  ASSERT_TRUE(Stack::WaitFor([&] { return Get(id)["progress"]["moving"] == 1; }, 30s));
  r = Admin().Post("/v2.1/ferry/drains/" + id + "/action", {{"pause", nullptr}});
  ASSERT_EQ(r.status, 202) << r.raw;
  EXPECT_EQ(r.body["drain"]["status"], "paused");
  r = Admin().Post("/v2.1/ferry/drains/" + id + "/action", {{"pause", nullptr}});
  EXPECT_EQ(r.status, 409) << "pausing a paused drain";
  // The move under way ends; nothing new starts while paused.
  ASSERT_TRUE(Stack::WaitFor([&] { return Get(id)["progress"]["moved"] == 1; }, 90s))
      << Get(id).dump();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(Get(id)["progress"]["moving"], 0) << "a paused drain started a move";
  EXPECT_EQ(Get(id)["progress"]["pending"], 2);
  r = Admin().Post("/v2.1/ferry/drains/" + id + "/action", {{"resume", nullptr}});
  ASSERT_EQ(r.status, 202) << r.raw;
  // Cancel once the move has left the engine's queue: a cancel aborts a move still queued
  // (its own case below) and lets one under way finish.
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        return lm_->Count("SELECT count(*) FROM migrations WHERE drain_uuid = '" + id +
                          "' AND status = 'running'") == 1;
      },
      30s));
  r = Admin().Post("/v2.1/ferry/drains/" + id + "/action", {{"cancel", nullptr}});
  ASSERT_EQ(r.status, 202) << r.raw;
  ASSERT_TRUE(WaitDrain(id, "cancelled", 120s)) << Get(id).dump();
  const json d = Get(id);
  EXPECT_EQ(d["progress"]["moved"], 2) << "the move under way when cancelled finished";
  EXPECT_EQ(d["progress"]["cancelled"], 1);
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE status NOT IN (SELECT status FROM "
                       "migration_statuses WHERE is_terminal)"),
            0)
      << "nothing half-done";
}

TEST_F(Drains, ADrainOfADeadHostEvacuatesAndSurvivesAControllerKill) {
  Start({{"sim-1", {}}, {"sim-2", {}}});
  std::vector<std::string> servers;
  for (int i = 0; i < 2; ++i) {
    servers.push_back(lm_->ServerOn("sim-1", "e" + std::to_string(i), "1"));
    lm_->Sql("UPDATE servers SET image_ref = 'img' WHERE uuid = '" + servers.back() + "'");
  }
  lm_->stack->KillAgent("sim-1");
  lm_->Sql("UPDATE hosts SET forced_down = true WHERE name = 'sim-1'");
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 1}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  EXPECT_EQ(r.body["drain"]["host_down"], true);
  for (const auto& s : r.body["drain"]["servers"]) EXPECT_EQ(s["kind"], "evacuate");
  lm_->stack->KillController();
  lm_->stack->StartController();
  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  for (const auto& s : servers) EXPECT_EQ(Host(s), "sim-2");
}

// More moves than the source's outbound slots: the rest wait in the engine's queue. A cancel
// aborts those (they never started) and lets the one under way finish.
TEST_F(Drains, CancelAbortsTheMovesStillQueuedAndLetsTheRunningOneEnd) {
  Start({{"sim-1", {"--sim-bandwidth-mbps", "50"}}, {"sim-2", {}}});
  lm_->stack->EnsureFlavor("m", 1, 512, 0);  // 512 MB at 50 MB/s: ~10 s a move
  std::vector<std::string> servers;
  for (int i = 0; i < 3; ++i)
    servers.push_back(lm_->ServerOn("sim-1", "q" + std::to_string(i), "m"));
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 3}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  // One outbound slot per host (the default): one runs, two wait queued. Both counts at once:
  // two queued alone may be seen before the first move has its slot.
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        return lm_->Count(
                   "SELECT count(*) FILTER (WHERE status = 'queued') * 10 + "
                   "count(*) FILTER (WHERE status = ANY (migration_status_list("
                   "'occupies_slot'))) FROM migrations WHERE drain_uuid = '" +
                   id + "'") == 21;
      },
      30s))
      << Get(id).dump();
  r = Admin().Post("/v2.1/ferry/drains/" + id + "/action", {{"cancel", nullptr}});
  ASSERT_EQ(r.status, 202) << r.raw;
  ASSERT_TRUE(WaitDrain(id, "cancelled", 60s)) << Get(id).dump();
  const json d = Get(id);
  EXPECT_EQ(d["progress"]["moved"], 1) << d.dump();
  EXPECT_EQ(d["progress"]["cancelled"], 2) << d.dump();
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE drain_uuid = '" + id +
                       "' AND status = 'cancelled'"),
            2);
  int on_sim1 = 0;
  for (const auto& s : servers) on_sim1 += Host(s) == "sim-1" ? 1 : 0;
  EXPECT_EQ(on_sim1, 2) << "the cancelled ones never left";
}

// A cold drain ends with every server confirmed on its destination (not left in VERIFY_RESIZE):
// the host really is empty.
TEST_F(Drains, AColdDrainConfirmsItsMovesSoTheHostEmpties) {
  Start({{"sim-1", {}}, {"sim-2", {}}});
  auto a = lm_->ServerOn("sim-1", "cold-a", "1");
  auto r = Post({{"host", "sim-1"}, {"mode", "cold"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  EXPECT_EQ(Host(a), "sim-2");
  EXPECT_EQ(Status(a), "ACTIVE");
  EXPECT_EQ(lm_->LatestMigration(a)["status"], "confirmed");
  EXPECT_TRUE(lm_->AgentDomains("sim-1").empty()) << "the source's copy is gone";
}

// The plan sends both servers to sim-2; while the big one moves there, sim-2 fills up (a server
// created on it) and sim-3 joins: the small one's move to sim-2 no longer fits, so its retry goes
// where there is room now, and the drain still ends done, its report saying where each went.
TEST_F(Drains, ADestinationThatStopsFittingAfterThePlanIsReplannedAndTheDrainEndsDone) {
  // sim-2 holds 1024 + 256 MB (the plan), not another 256 MB. 1 GiB at 100 MB/s: ~10 s to act.
  Start({{"sim-1", {"--sim-bandwidth-mbps", "100"}}, {"sim-2", {"--sim-memory-mb", "1400"}}});
  lm_->stack->EnsureFlavor("big", 1, 1024, 0);
  lm_->stack->EnsureFlavor("small", 1, 256, 0);
  auto big = lm_->ServerOn("sim-1", "big", "big");
  auto small = lm_->ServerOn("sim-1", "small", "small");
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 1}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  ASSERT_EQ(r.body["drain"]["servers"].size(), 2u) << r.raw;
  for (const auto& s : r.body["drain"]["servers"]) {
    EXPECT_EQ(s["planned_destination"], "sim-2") << s.dump();
  }
  ASSERT_EQ(r.body["drain"]["servers"][0]["server"], big) << "biggest first";
  lm_->stack->StartAgent("sim-3");
  ASSERT_TRUE(lm_->stack->WaitUntilUp({"sim-3"}));
  lm_->ServerOn("sim-2", "filler", "small");
  EXPECT_EQ(Get(id)["servers"][0]["state"], "moving") << "the big one still moves";
  EXPECT_EQ(Get(id)["servers"][1]["state"], "pending") << "the small one not started yet";

  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  const json d = Get(id);
  EXPECT_EQ(d["progress"]["moved"], 2) << d.dump();
  EXPECT_EQ(Host(big), "sim-2");
  EXPECT_EQ(Host(small), "sim-3");
  EXPECT_EQ(Status(small), "ACTIVE");
  const json report = d["servers"][1];
  EXPECT_EQ(report["server"], small);
  EXPECT_EQ(report["state"], "moved") << report.dump();
  EXPECT_EQ(report["planned_destination"], "sim-2") << report.dump();
  EXPECT_EQ(report["destination"], "sim-3") << report.dump();
  EXPECT_EQ(report["attempts"], 2) << "the planned host tried, then another" << report.dump();
  EXPECT_EQ(d["servers"][0]["destination"], "sim-2");
}

// A task that never ends (a move waiting on a host that never returns) is not waited for for
// ever: past --drain-busy-wait the drain asks, is refused, and ends partial naming the task.
TEST_F(Drains, AServerBusyForeverIsGivenUpAfterTheBusyWait) {
  FERRY_REQUIRE_PG(dsn);
  lm_ =
      std::make_unique<LiveMigrationStack>(dsn, std::vector<std::string>{"--drain-busy-wait", "2"});
  lm_->StartHosts({{"sim-1", {}}, {"sim-2", {}}});
  lm_->stack->EnsureFlavor("1", 1, 512, 1);
  auto a = lm_->ServerOn("sim-1", "a", "1");
  auto stuck = lm_->ServerOn("sim-1", "stuck", "1");
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 1}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  lm_->Sql("UPDATE servers SET task_state = 'migrating' WHERE uuid = '" + stuck + "'");
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        const json d = Get(id);
        for (const auto& s : d["servers"]) {
          if (s["server"] == stuck && s["reason"].is_string() &&
              s["reason"].get<std::string>().find("waiting for its task migrating") !=
                  std::string::npos) {
            return true;
          }
        }
        return false;
      },
      30s))
      << "the drain never waited: " << Get(id).dump();
  ASSERT_TRUE(WaitDrain(id, "partial", 60s)) << Get(id).dump();
  const json d = Get(id);
  for (const auto& s : d["servers"]) {
    if (s["server"] != stuck) {
      EXPECT_EQ(s["state"], "moved") << s.dump();
      continue;
    }
    EXPECT_EQ(s["state"], "failed") << s.dump();
    EXPECT_NE(s["reason"].get<std::string>().find("task_state migrating"), std::string::npos)
        << s.dump();
  }
  EXPECT_EQ(Host(a), "sim-2");
  EXPECT_EQ(Host(stuck), "sim-1");
  lm_->Sql("UPDATE servers SET task_state = NULL WHERE uuid = '" + stuck + "'");
}

// A cold drain's move reached its destination (VERIFY_RESIZE, the drain asked for its confirm) and
// then the drained host died before the confirm reached it: the drain counts the server moved and
// ends, rather than wait for a host that may never return; when sim-1 is back the confirm
// completes and its copy goes.
TEST_F(Drains, AColdMoveWhoseSourceDiesBeforeItsConfirmCountsAsMoved) {
  Start({{"sim-1", {}}, {"sim-2", {}}});
  auto a = lm_->ServerOn("sim-1", "a", "1");
  // The controller stops itself right before it sends the confirm to sim-1.
  lm_->stack->StopController();
  lm_->stack->StartController({"FERRY_TEST_PAUSE_BEFORE_SEND=confirm_cold_migration_source"});
  auto r = Post({{"host", "sim-1"}, {"mode", "cold"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  const pid_t controller = lm_->stack->ControllerPid();
  ASSERT_TRUE(Stack::WaitFor([&] { return StoppedBySignal(controller); }, 60s))
      << "the controller never came to the confirm";
  lm_->stack->KillAgent("sim-1");
  lm_->Sql("UPDATE hosts SET forced_down = true WHERE name = 'sim-1'");
  ASSERT_EQ(::kill(controller, SIGCONT), 0);
  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  const json s = Get(id)["servers"][0];
  EXPECT_EQ(s["state"], "moved") << s.dump();
  EXPECT_EQ(s["destination"], "sim-2") << s.dump();
  EXPECT_NE(s["reason"].get<std::string>().find("removed when sim-1 returns"), std::string::npos)
      << s.dump();
  EXPECT_EQ(Host(a), "sim-2");
  EXPECT_TRUE(lm_->RunsOn("sim-2", a));
  // sim-1 returns: the confirm goes through, its copy goes, the server is ACTIVE.
  lm_->Sql("UPDATE hosts SET forced_down = false WHERE name = 'sim-1'");
  lm_->stack->StartAgent("sim-1");
  ASSERT_TRUE(lm_->WaitStatus(a, "confirmed", 60s)) << lm_->LatestMigration(a).dump();
  EXPECT_EQ(Status(a), "ACTIVE");
  auto on_sim1 = lm_->AgentDomains("sim-1");
  EXPECT_EQ(std::count(on_sim1.begin(), on_sim1.end(), a), 0) << "sim-1 keeps its copy";
}

// A failed move is placed again as the plan was made: within target_hosts, never where it
// failed. sim-4 has the most room (the scheduler's first choice when asked for any host) but is
// no target; sim-2 (the planned one) refuses the move.
TEST_F(Drains, ARetryIsReplannedWithinTheTargetsAndNeverWhereItFailed) {
  Start({{"sim-1", {}},
         {"sim-2", {"--sim-memory-mb", "16000", "--sim-scenario", "prepare-fails"}},
         {"sim-3", {"--sim-memory-mb", "4000"}},
         {"sim-4", {"--sim-memory-mb", "64000"}}});
  auto a = lm_->ServerOn("sim-1", "a", "1");
  auto r = Post({{"host", "sim-1"}, {"target_hosts", {"sim-2", "sim-3"}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  ASSERT_EQ(r.body["drain"]["servers"][0]["planned_destination"], "sim-2") << r.raw;
  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  const json s = Get(id)["servers"][0];
  EXPECT_EQ(s["attempts"], 2) << s.dump();
  EXPECT_EQ(s["destination"], "sim-3") << s.dump();
  EXPECT_EQ(Host(a), "sim-3") << "the retry left the targets or went back where it failed";
  EXPECT_EQ(Status(a), "ACTIVE");
}

// A server busy with someone else's move when its turn comes is waited for, not given up on:
// the admin's move takes it off the host, and the drain counts it moved.
TEST_F(Drains, AServerAnAdminIsMovingIsWaitedForNotFailed) {
  // 1 GiB at 100 MB/s: the drain's first move takes ~10 s; the admin's waits for sim-1's one
  // outbound slot meanwhile, its server in task "migrating".
  Start({{"sim-1", {"--sim-bandwidth-mbps", "100"}}, {"sim-2", {}}, {"sim-3", {}}});
  lm_->stack->EnsureFlavor("big", 1, 1024, 0);
  lm_->stack->EnsureFlavor("small", 1, 256, 0);
  auto big = lm_->ServerOn("sim-1", "big", "big");
  auto small = lm_->ServerOn("sim-1", "small", "small");
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 1}, {"target_hosts", {"sim-2"}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  ASSERT_TRUE(Stack::WaitFor([&] { return Get(id)["servers"][0]["state"] == "moving"; }, 30s));
  r = lm_->MigrateLive(small, {{"host", "sim-3"}, {"block_migration", "auto"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  ASSERT_TRUE(WaitDrain(id, "done")) << Get(id).dump();
  const json d = Get(id);
  EXPECT_EQ(Host(big), "sim-2");
  EXPECT_EQ(Host(small), "sim-3") << "the admin's move, not a drain's";
  const json s = d["servers"][1];
  EXPECT_EQ(s["server"], small);
  EXPECT_EQ(s["state"], "moved") << s.dump();
  EXPECT_EQ(s["attempts"], 0) << "no attempt spent on a refusal" << s.dump();
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE drain_uuid = '" + id + "'"), 1);
}

// Fair share end to end: one move at a time in the whole cluster, and a drain of four servers
// asking for all of them at once. An admin's single live migration of a server on another host,
// asked while the drain's first move copies and three more wait, takes the next turn (the drain
// had its first), not the one after all of them.
TEST_F(Drains, AnAdminsSingleMoveIsNotStarvedByADrainHoldingTheSlots) {
  FERRY_REQUIRE_PG(dsn);
  lm_ = std::make_unique<LiveMigrationStack>(
      dsn, std::vector<std::string>{"--max-cluster-live-migrations", "1",
                                    "--max-concurrent-live-migrations", "4"});
  // 256 MB at 100 MB/s: ~3 s a move, 5 moves one after another.
  lm_->StartHosts({{"sim-1", {"--sim-bandwidth-mbps", "100"}},
                   {"sim-2", {}},
                   {"sim-3", {"--sim-bandwidth-mbps", "100"}}});
  lm_->stack->EnsureFlavor("small", 1, 256, 0);
  for (int i = 0; i < 4; ++i) lm_->ServerOn("sim-1", "d" + std::to_string(i), "small");
  auto single = lm_->ServerOn("sim-3", "single", "small");
  auto r = Post({{"host", "sim-1"}, {"max_parallel", 4}, {"target_hosts", {"sim-2"}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["drain"]["id"];
  const std::string drain_moves = "FROM migrations WHERE drain_uuid = '" + id + "'::uuid";
  ASSERT_TRUE(Stack::WaitFor(
      [&] { return lm_->Count("SELECT count(*) " + drain_moves + " AND status = 'queued'") == 3; },
      30s))
      << Get(id).dump();
  r = lm_->MigrateLive(single, {{"host", "sim-2"}, {"block_migration", "auto"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  ASSERT_TRUE(WaitDrain(id, "done", 60s)) << Get(id).dump();
  ASSERT_TRUE(lm_->WaitTerminal(single));
  EXPECT_EQ(lm_->LatestStatus(single), "completed");
  EXPECT_EQ(Host(single), "sim-2");
  const std::string admitted =
      "SELECT e.id FROM migration_events e JOIN migrations m ON m.id = e.migration_id "
      "WHERE e.event = 'slot_acquired' AND ";
  const auto single_admitted = lm_->Count(admitted + "m.instance_uuid = '" + single + "'::uuid");
  // In plain arrival order it would come after all three; with turns, before them.
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM (" + admitted + "m.drain_uuid = '" + id +
                       "'::uuid) a WHERE a.id > " + std::to_string(single_admitted)),
            3)
      << "the drain's moves admitted after the admin's single one\n"
      << Admissions();
}

TEST_F(Drains, BadRequestsAreRefusedAndChangeNothing) {
  Start({{"sim-1", {}}});
  EXPECT_EQ(Post({{"host", "nowhere"}}).status, 404);
  EXPECT_EQ(Post({{"host", "sim-1"}, {"mode", "fast"}}).status, 400);
  EXPECT_EQ(Post({{"host", "sim-1"}, {"max_parallel", 0}}).status, 400);
  EXPECT_EQ(Post({{"host", "sim-1"}, {"max_parallel", 65}}).status, 400);
  EXPECT_EQ(Post({{"host", "sim-1"}, {"surprise", 1}}).status, 400);
  EXPECT_EQ(Post({{"host", "../etc"}}).status, 400);
  EXPECT_EQ(Post({{"host", "sim-1"}, {"deadline", "tomorrow"}}).status, 400);
  EXPECT_EQ(Post({{"host", "sim-1"}, {"target_hosts", {"nowhere"}}}).status, 400);
  auto member = lm_->stack->Member();
  EXPECT_EQ(member.Post("/v2.1/ferry/drains", {{"drain", {{"host", "sim-1"}}}}).status, 403);
  EXPECT_EQ(Admin().Get("/v2.1/ferry/drains/not-a-uuid").status, 404);
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM drains"), 0);
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM hosts WHERE disabled"), 0);
}

}  // namespace
}  // namespace ferry::testing
