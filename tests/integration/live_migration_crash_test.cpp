// Crash torture for the live-migration state table (conductor::Transitions()): the shared
// fixture and what it asserts are tests/support/crash_torture.hpp; here are live migration's
// requests and one scenario per edge of its table.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "controller/conductor/live_migration_states.hpp"
#include "tests/support/crash_torture.hpp"

namespace ferry::testing {
namespace {

namespace conductor = ferry::controller::conductor;

class LiveCrashTorture : public CrashTorture {
 public:
  LiveCrashTorture() : CrashTorture({"('live-migration')", SwitchedOver}) {}

  void Migrate(const std::string& server, const std::string& dest) {
    ExpectAcceptedOrCrashed(lm_->MigrateLive(server, {{"host", dest}, {"block_migration", "auto"}}),
                            "migrate " + server);
  }

  // DELETE at 2.65, the first microversion that aborts queued and preparing migrations.
  void Abort(const std::string& server) {
    auto m = lm_->LatestMigration(server);
    ASSERT_FALSE(m.is_null()) << server;
    auto admin = lm_->stack->Admin();
    admin.SetMicroversion("2.65");
    ExpectAcceptedOrCrashed(admin.Delete("/v2.1/servers/" + server + "/migrations/" +
                                         std::to_string(m["id"].get<int64_t>())),
                            "abort " + server);
  }

  // A live migration of `server` written straight into the table, accepted and leased to no
  // one, with a policy no step can read; the server's task says it is migrating.
  void InsertUnreadableAcceptedMigration(const std::string& server, const std::string& host) {
    lm_->Sql("UPDATE servers SET task_state = 'migrating' WHERE uuid = '" + server + "'::uuid");
    lm_->Sql(
        "WITH m AS (INSERT INTO migrations (uuid, instance_uuid, migration_type, status, "
        "source_compute, source_node, user_id, project_id, step, policy, created_at, updated_at) "
        "VALUES (gen_random_uuid(), '" +
        server + "'::uuid, 'live-migration', 'accepted', '" + host + "', '" + host +
        "', 'admin', 'admin', 'scheduling', '[]'::jsonb, now(), now()) RETURNING id) "
        "INSERT INTO migration_events (migration_id, to_status, event, actor) "
        "SELECT id, 'accepted', 'requested', 'test' FROM m");
  }

  // `id`'s migration to `dest` queued behind `blocker`'s to `blocker_dest`, which runs (one
  // outbound migration per host, Nova's default).
  void QueueBehind(const std::string& blocker, const std::string& blocker_dest,
                   const std::string& id, const std::string& dest) {
    Migrate(blocker, blocker_dest);
    ASSERT_NO_FATAL_FAILURE(WaitStatus(blocker, "running"));
    Migrate(id, dest);
    ASSERT_NO_FATAL_FAILURE(WaitStatus(id, "queued"));
  }

  // Makes the server's latest migration a record no step can read.
  void CorruptPolicy(const std::string& server) {
    lm_->Sql("UPDATE migrations SET policy = '[]'::jsonb WHERE uuid = '" +
             lm_->LatestMigration(server)["uuid"].get<std::string>() + "'::uuid");
  }

  // After switch-over the guest runs on the destination, whatever the migration ends in; a
  // post-copy that broke (running -> error on switchover_failed) had moved it there too. (A
  // running migration given up by the retry budget was rolled back: on the source.)
  static bool SwitchedOver(const std::vector<EventRow>& events) {
    return std::ranges::any_of(events, [](const EventRow& e) {
      return e.to == "post-migrating" ||
             (e.from == "running" && e.to == "error" && e.event == "switchover_failed");
    });
  }
};

// One way from the outside across each edge; each ends with the controller crossing it.
using Scenario = std::function<void(LiveCrashTorture&, const std::string& edge)>;

std::vector<std::string> Bandwidth(int mbps) {
  return {"--sim-bandwidth-mbps", std::to_string(mbps)};
}

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Scenarios {
  // A plain move sim-1 -> sim-2: every edge of the happy path.
  static void HappyPath(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "completed");
  }

  // The destination's pre-check refuses: nothing moved.
  static void PrecheckFails(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(500)},
                  {"sim-2", With(Bandwidth(500), {"--sim-scenario", "precheck-fails"})}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // The destination cannot be prepared: rolled back.
  static void PrepareFails(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(500)},
                  {"sim-2", With(Bandwidth(500), {"--sim-scenario", "prepare-fails"})}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "failed");
  }

  // The copy fails at switch-over: the guest stays on the source.
  static void SwitchoverFails(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", With(Bandwidth(500), {"--sim-scenario", "switchover-fails"})},
                  {"sim-2", Bandwidth(500)}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "failed");
  }

  // A copy that cannot converge hits its completion timeout (1 s/GiB, 2 GiB floor: 2 s), is
  // forced into post-copy, and the link breaks there: neither host can run the guest. The
  // record follows it to the destination, in error.
  static void PostcopyFails(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", With(Bandwidth(100), {"--sim-dirty-rate-mbps", "150", "--sim-scenario",
                                                  "postcopy-fails"})},
                  {"sim-2", Bandwidth(100)}},
                 60,
                 {"--live-migration-permit-post-copy", "--live-migration-completion-timeout", "1",
                  "--live-migration-timeout-action", "force_complete"});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error", "error");
  }

  // The guest switched over but the destination refuses to finish: error, the guest runs there.
  static void FinishFails(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(500)},
                  {"sim-2", With(Bandwidth(500), {"--sim-scenario", "finish-fails"})}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // Aborted mid-copy of a 1 GiB guest (~11 s at 100 MB/s).
  static void AbortRunning(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}});
    auto id = t.ServerOn("sim-1", "web", kBigFlavor);
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    ASSERT_NO_FATAL_FAILURE(t.WaitStatus(id, "running"));
    std::this_thread::sleep_for(1s);  // the copy under way, not just started
    t.Abort(id);
    t.Expect(id, "cancelled");
  }

  // Queued behind a blocker (one outbound migration per host, Nova's default), then aborted.
  static void AbortQueued(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}});
    auto blocker = t.ServerOn("sim-1", "blocker", kBigFlavor);
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-2", id, "sim-2"));
    t.Abort(id);
    t.Expect(id, "cancelled");
    t.Expect(blocker, "completed");
  }

  // Queued behind a blocker when its destination's agent dies and the host goes down.
  static void DestinationDownWhileQueued(LiveCrashTorture& t, const std::string& edge) {
    // 4 s without a heartbeat (sent every 1 s) marks the host down; the blocker (1 GiB at
    // 60 MB/s, ~18 s) keeps the victim queued that long.
    t.StartHosts({{"sim-1", Bandwidth(60)}, {"sim-2", Bandwidth(60)}, {"sim-3", Bandwidth(60)}}, 4);
    auto blocker = t.ServerOn("sim-1", "blocker", kBigFlavor);
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-2", id, "sim-3"));
    t.KillAgent("sim-3");
    t.Expect(id, "failed");
    t.Expect(blocker, "completed");
  }

  // Admitted while its destination's agent is gone (the host still counts as up): preparing
  // waits for it. Aborted there, and cancelled once the restarted agent rolls back.
  static void AbortPreparing(LiveCrashTorture& t, const std::string& edge) {
    // The blocker (1 GiB at 200 MB/s, ~5 s) keeps the victim queued while sim-2's agent dies.
    t.StartHosts({{"sim-1", Bandwidth(200)}, {"sim-2", Bandwidth(200)}, {"sim-3", Bandwidth(200)}});
    auto blocker = t.ServerOn("sim-1", "blocker", kBigFlavor);
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-3", id, "sim-2"));
    t.KillAgent("sim-2");
    ASSERT_NO_FATAL_FAILURE(t.WaitStatus(id, "preparing"));
    t.Abort(id);
    t.RestartAgent("sim-2");
    t.Expect(id, "cancelled");
    t.Expect(blocker, "completed");
  }

  // A record no step can read (its policy is not a JSON object, as another build or a bug may
  // leave it) waiting to be scheduled: every step throws, and after the retry budget it ends
  // in error with nothing claimed or sent, the server's task cleared.
  static void UnreadableWhileAccepted(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}}, 60,
                 {"--step-retry-budget", "3", "--step-retry-window", "0"});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.InsertUnreadableAcceptedMigration(id, "sim-1");
    t.Expect(id, "error");
  }

  // The same while the copy runs (sim-1 dirties memory faster than it copies, so it does not
  // end by itself): given up through the destination's rollback, the guest on the source.
  static void UnreadableWhileRunning(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", With(Bandwidth(100), {"--sim-dirty-rate-mbps", "150"})},
                  {"sim-2", Bandwidth(100)}},
                 60, {"--step-retry-budget", "3", "--step-retry-window", "0"});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    ASSERT_NO_FATAL_FAILURE(t.WaitStatus(id, "running"));
    t.CorruptPolicy(id);
    t.Expect(id, "error");
  }

  // A queued migration's record becomes one no step can read (its policy not a JSON object:
  // what a bug writing it would leave): each look at it throws, and after the retry budget
  // (3) it ends in error on the source, its claims back with the server.
  static void UnreadableWhileQueued(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(60)}, {"sim-2", Bandwidth(60)}}, 60,
                 {"--step-retry-budget", "3", "--step-retry-window", "0"});
    auto blocker = t.ServerOn("sim-1", "blocker", kBigFlavor);
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-2", id, "sim-2"));
    t.CorruptPolicy(id);
    t.Expect(id, "error");
    t.Expect(blocker, "completed");
  }

  // The same while preparing: admitted while its destination's agent is gone (preparing waits
  // for it), then unreadable. Given up only through the destination's rollback, once its agent
  // is back (a destination that may be prepared is never written off from the database).
  static void UnreadableWhilePreparing(LiveCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(200)}, {"sim-2", Bandwidth(200)}, {"sim-3", Bandwidth(200)}},
                 60, {"--step-retry-budget", "3", "--step-retry-window", "0"});
    auto blocker = t.ServerOn("sim-1", "blocker", kBigFlavor);
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-3", id, "sim-2"));
    t.KillAgent("sim-2");
    ASSERT_NO_FATAL_FAILURE(t.WaitStatus(id, "preparing"));
    t.CorruptPolicy(id);
    std::this_thread::sleep_for(3s);  // the budget spent: the destination is what it waits on
    ASSERT_EQ(t.LatestStatus(id), "preparing") << "given up without the destination's word";
    t.RestartAgent("sim-2");
    t.Expect(id, "error");
    t.Expect(blocker, "completed");
  }

  static const std::map<std::string, Scenario>& ByEdge() {
    static const std::map<std::string, Scenario> scenarios = {
        {"accepted>queued:queued", HappyPath},
        {"queued>preparing:slot_acquired", HappyPath},
        {"preparing>running:destination_ready", HappyPath},
        {"running>post-migrating:switched_over", HappyPath},
        {"post-migrating>completed:cleaned_up", HappyPath},
        {"queued>cancelled:aborted", AbortQueued},
        {"preparing>cancelled:aborted", AbortPreparing},
        {"running>cancelled:aborted", AbortRunning},
        {"accepted>error:precheck_failed", PrecheckFails},
        {"queued>failed:start_failed", DestinationDownWhileQueued},
        {"preparing>failed:pre_live_migration_failed", PrepareFails},
        {"running>failed:copy_failed", SwitchoverFails},
        {"running>error:switchover_failed", PostcopyFails},
        {"post-migrating>error:cleanup_failed", FinishFails},
        {"accepted>error:step_failed", UnreadableWhileAccepted},
        {"queued>error:step_failed", UnreadableWhileQueued},
        {"preparing>error:step_failed", UnreadableWhilePreparing},
        {"running>error:step_failed", UnreadableWhileRunning},
    };
    return scenarios;
  }
};

class ControllerKilledAfter : public LiveCrashTorture,
                              public ::testing::WithParamInterface<std::string> {};

TEST_P(ControllerKilledAfter, RestartsAndEndsEveryMigrationConsistently) {
  RunCrashTorture(*this, GetParam(), Scenarios::ByEdge());
}

INSTANTIATE_TEST_SUITE_P(StateTable, ControllerKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(conductor::Transitions(), false)),
                         EdgeTestName);

class OneOfTwoControllersKilledAfter : public LiveCrashTorture,
                                       public ::testing::WithParamInterface<std::string> {
 protected:
  OneOfTwoControllersKilledAfter() { two_controllers_ = true; }
};

// Edges into a non-terminal status leave work behind: the survivor must finish it.
TEST_P(OneOfTwoControllersKilledAfter, TheOtherTakesOverAndEndsEveryMigrationConsistently) {
  RunCrashTorture(*this, GetParam(), Scenarios::ByEdge());
}

INSTANTIATE_TEST_SUITE_P(StateTable, OneOfTwoControllersKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(conductor::Transitions(), true)),
                         EdgeTestName);

TEST(CrashTortureCoverage, EveryEdgeOfTheTableIsCrashedOn) {
  ExpectOneScenarioPerEdge(conductor::Transitions(), Scenarios::ByEdge());
}

}  // namespace
}  // namespace ferry::testing
