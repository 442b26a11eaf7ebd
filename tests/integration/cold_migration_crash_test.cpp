// Crash torture for the cold-migration and resize state table (cold_migration::Transitions()):
// the shared fixture and what it asserts are tests/support/crash_torture.hpp; here are cold
// moves' requests and one scenario per edge of their table. A cold move ends with its guest on
// the destination only when confirmed; every other end (reverted, rolled back, cancelled) leaves
// it on its source, running as before.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <thread>

#include "controller/cold_migration/states.hpp"
#include "tests/support/crash_torture.hpp"

namespace ferry::testing {
namespace {

namespace cold = ferry::controller::cold_migration;

// Flavors with a local disk, so there is something to copy: 1 GB is ~2 s at 500 MB/s.
const std::string kDiskFlavor = "disk1";    // 1 vCPU, 256 MB, 1 GB
const std::string kBiggerFlavor = "disk2";  // 2 vCPU, 512 MB, 2 GB: what a resize grows to
const std::string kHugeFlavor = "huge";     // fits no host

class ColdCrashTorture : public CrashTorture {
 public:
  ColdCrashTorture()
      : CrashTorture({"('migration', 'resize')", [](const std::vector<EventRow>& events) {
                        return !events.empty() && events.back().to == "confirmed";
                      }}) {}

  void StartColdHosts(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts,
                      int service_down_time_s = 60, std::vector<std::string> controller_args = {}) {
    StartHosts(hosts, service_down_time_s, std::move(controller_args));
    lm_->stack->EnsureFlavor(kDiskFlavor, 1, 256, 1);
    lm_->stack->EnsureFlavor(kBiggerFlavor, 2, 512, 2);
    lm_->stack->EnsureFlavor(kHugeFlavor, 512, 4 << 20, 1);
  }

  // A cold migration to `dest` (Nova 2.56: a host the scheduler validates).
  void Migrate(const std::string& server, const std::string& dest) {
    auto admin = lm_->stack->Admin();
    admin.SetMicroversion("2.56");
    ExpectAcceptedOrCrashed(
        admin.Post("/v2.1/servers/" + server + "/action", {{"migrate", {{"host", dest}}}}),
        "migrate " + server);
  }
  void Resize(const std::string& server, const std::string& flavor) {
    ExpectAcceptedOrCrashed(lm_->stack->Admin().Post("/v2.1/servers/" + server + "/action",
                                                     {{"resize", {{"flavorRef", flavor}}}}),
                            "resize " + server);
  }
  void Revert(const std::string& server) {
    ExpectAcceptedOrCrashed(lm_->stack->Admin().Post("/v2.1/servers/" + server + "/action",
                                                     {{"revertResize", nullptr}}),
                            "revert " + server);
  }
  // DELETE of a cold move not yet started: ferry's extension, on Nova's route (2.24+; 2.65 is
  // where Nova aborts what has not started).
  void Abort(const std::string& server) {
    auto m = lm_->LatestMigration(server);
    ASSERT_FALSE(m.is_null()) << server;
    auto admin = lm_->stack->Admin();
    admin.SetMicroversion("2.65");
    ExpectAcceptedOrCrashed(admin.Delete("/v2.1/servers/" + server + "/migrations/" +
                                         std::to_string(m["id"].get<int64_t>())),
                            "abort " + server);
  }

  // `id`'s move to `dest` queued behind `blocker`'s to `blocker_dest`, which copies (one
  // outbound move per host, whatever its kind).
  void QueueBehind(const std::string& blocker, const std::string& blocker_dest,
                   const std::string& id, const std::string& dest) {
    Migrate(blocker, blocker_dest);
    ASSERT_NO_FATAL_FAILURE(WaitStatus(blocker, "migrating"));
    Migrate(id, dest);
    ASSERT_NO_FATAL_FAILURE(WaitStatus(id, "queued"));
  }

  // Makes the server's latest move a record no step can read (its old flavor not a snapshot).
  void CorruptOldFlavor(const std::string& server) {
    lm_->Sql("UPDATE migrations SET old_flavor = '[]'::jsonb WHERE uuid = '" +
             lm_->LatestMigration(server)["uuid"].get<std::string>() + "'::uuid");
  }
  // A resize of `server` written straight into the table, accepted, leased to no one, with an
  // old flavor no step can read; the server's task says it is resizing.
  void InsertUnreadableAcceptedResize(const std::string& server, const std::string& host) {
    lm_->Sql("UPDATE servers SET task_state = 'resize_prep' WHERE uuid = '" + server + "'::uuid");
    lm_->Sql(
        "WITH m AS (INSERT INTO migrations (uuid, instance_uuid, migration_type, status, "
        "source_compute, source_node, user_id, project_id, step, old_flavor, new_flavor, "
        "transfer_token, created_at, updated_at) VALUES (gen_random_uuid(), '" +
        server + "'::uuid, 'resize', 'accepted', '" + host + "', '" + host +
        "', 'admin', 'admin', 'scheduling', '[]'::jsonb, '[]'::jsonb, 'x', now(), now()) "
        "RETURNING id) INSERT INTO migration_events (migration_id, to_status, event, actor) "
        "SELECT id, 'accepted', 'requested', 'test' FROM m");
  }
};

using Scenario = std::function<void(ColdCrashTorture&, const std::string& edge)>;

std::vector<std::string> Bandwidth(int mbps) {
  return {"--sim-bandwidth-mbps", std::to_string(mbps)};
}
std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
// Confirmed by the controller a second after VERIFY_RESIZE: the happy path ends by itself.
const std::vector<std::string> kAutoConfirm = {
    "--resize-confirm-window", "1", "--step-retry-budget", "3", "--step-retry-window", "0"};

struct Scenarios {
  // A resize sim-1 -> sim-2, confirmed by the window: every edge of the happy path.
  static void ResizeConfirmed(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(500)}, {"sim-2", Bandwidth(500)}}, 60, kAutoConfirm);
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.Resize(id, kBiggerFlavor);
    t.Expect(id, "confirmed");
  }

  // A resize reverted from VERIFY_RESIZE: the guest back on its source with its old flavor.
  static void ResizeReverted(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(500)}, {"sim-2", Bandwidth(500)}});
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.Resize(id, kBiggerFlavor);
    ASSERT_NO_FATAL_FAILURE(t.WaitStatus(id, "finished"));
    t.Revert(id);
    t.Expect(id, "reverted");
  }

  // No host can take the new flavor: nothing claimed, nothing sent.
  static void NothingFits(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(500)}, {"sim-2", Bandwidth(500)}});
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.Resize(id, kHugeFlavor);
    t.Expect(id, "error");
  }

  // Queued behind a blocker that copies 1 GB at 50 MB/s (~20 s), then aborted.
  static void AbortQueued(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(50)}, {"sim-2", Bandwidth(50)}}, 60, kAutoConfirm);
    auto blocker = t.ServerOn("sim-1", "blocker", kDiskFlavor);
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-2", id, "sim-2"));
    t.Abort(id);
    t.Expect(id, "cancelled");
    t.Expect(blocker, "confirmed");
  }

  // Admitted while its destination's agent is gone (the host still counts as up): the prepare
  // waits for it. Aborted there, and cancelled once the restarted agent rolls back.
  static void AbortPreMigrating(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts(
        {{"sim-1", Bandwidth(200)}, {"sim-2", Bandwidth(200)}, {"sim-3", Bandwidth(200)}}, 60,
        kAutoConfirm);
    auto blocker = t.ServerOn("sim-1", "blocker", kDiskFlavor);
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-3", id, "sim-2"));
    t.KillAgent("sim-2");
    ASSERT_NO_FATAL_FAILURE(t.WaitStatus(id, "pre-migrating"));
    t.Abort(id);
    t.RestartAgent("sim-2");
    t.Expect(id, "cancelled");
    t.Expect(blocker, "confirmed");
  }

  // Queued behind a blocker when its destination's agent dies and the host goes down (4 s).
  static void DestinationDownWhileQueued(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(50)}, {"sim-2", Bandwidth(50)}, {"sim-3", Bandwidth(50)}},
                     4, kAutoConfirm);
    auto blocker = t.ServerOn("sim-1", "blocker", kDiskFlavor);
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-2", id, "sim-3"));
    t.KillAgent("sim-3");
    t.Expect(id, "error");
    t.Expect(blocker, "confirmed");
  }

  // The destination refuses to prepare: nothing touched on the source.
  static void PrepareFails(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(500)},
                      {"sim-2", With(Bandwidth(500), {"--sim-scenario", "prepare-fails"})}});
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // The copy breaks half-way: the destination's partial copy removed, the guest restarted.
  static void CopyBreaks(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", With(Bandwidth(500), {"--sim-scenario", "cold-copy-breaks"})},
                      {"sim-2", Bandwidth(500)}});
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // The disks arrive but do not verify: nothing defined there, the guest back on its source.
  static void ChecksumMismatch(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts(
        {{"sim-1", Bandwidth(500)},
         {"sim-2", With(Bandwidth(500), {"--sim-scenario", "cold-checksum-mismatch"})}});
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // A record no step can read waiting to be scheduled: after the retry budget it ends in error
  // with nothing claimed or sent, the server's task cleared.
  static void UnreadableWhileAccepted(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}}, 60, kAutoConfirm);
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    t.InsertUnreadableAcceptedResize(id, "sim-1");
    t.Expect(id, "error");
  }

  // The same while queued behind a blocker: its claims go back to the server.
  static void UnreadableWhileQueued(ColdCrashTorture& t, const std::string& edge) {
    t.StartColdHosts({{"sim-1", Bandwidth(50)}, {"sim-2", Bandwidth(50)}}, 60, kAutoConfirm);
    auto blocker = t.ServerOn("sim-1", "blocker", kDiskFlavor);
    auto id = t.ServerOn("sim-1", "web", kDiskFlavor);
    t.ArmCrash(edge);
    ASSERT_NO_FATAL_FAILURE(t.QueueBehind(blocker, "sim-2", id, "sim-2"));
    t.CorruptOldFlavor(id);
    t.Expect(id, "error");
    t.Expect(blocker, "confirmed");
  }

  static const std::map<std::string, Scenario>& ByEdge() {
    static const std::map<std::string, Scenario> scenarios = {
        {"accepted>queued:queued", ResizeConfirmed},
        {"queued>pre-migrating:slot_acquired", ResizeConfirmed},
        {"pre-migrating>migrating:destination_ready", ResizeConfirmed},
        {"migrating>post-migrating:disks_copied", ResizeConfirmed},
        {"post-migrating>finished:finished_on_destination", ResizeConfirmed},
        {"finished>confirming:confirm_requested", ResizeConfirmed},
        {"confirming>confirmed:source_deleted", ResizeConfirmed},
        {"finished>reverting:revert_requested", ResizeReverted},
        {"reverting>reverted:reverted", ResizeReverted},
        {"queued>cancelled:aborted", AbortQueued},
        {"pre-migrating>cancelled:aborted", AbortPreMigrating},
        {"accepted>error:precheck_failed", NothingFits},
        {"queued>error:start_failed", DestinationDownWhileQueued},
        {"pre-migrating>error:prepare_failed", PrepareFails},
        {"migrating>error:copy_failed", CopyBreaks},
        {"post-migrating>error:finish_failed", ChecksumMismatch},
        {"accepted>error:step_failed", UnreadableWhileAccepted},
        {"queued>error:step_failed", UnreadableWhileQueued},
    };
    return scenarios;
  }
};

class ColdControllerKilledAfter : public ColdCrashTorture,
                                  public ::testing::WithParamInterface<std::string> {};

TEST_P(ColdControllerKilledAfter, RestartsAndEndsEveryMoveConsistently) {
  RunCrashTorture(*this, GetParam(), Scenarios::ByEdge());
}

INSTANTIATE_TEST_SUITE_P(ColdStateTable, ColdControllerKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(cold::Transitions(), false)),
                         EdgeTestName);

class ColdOneOfTwoControllersKilledAfter : public ColdCrashTorture,
                                           public ::testing::WithParamInterface<std::string> {
 protected:
  ColdOneOfTwoControllersKilledAfter() { two_controllers_ = true; }
};

TEST_P(ColdOneOfTwoControllersKilledAfter, TheOtherTakesOverAndEndsEveryMoveConsistently) {
  RunCrashTorture(*this, GetParam(), Scenarios::ByEdge());
}

INSTANTIATE_TEST_SUITE_P(ColdStateTable, ColdOneOfTwoControllersKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(cold::Transitions(), true)), EdgeTestName);

TEST(ColdCrashTortureCoverage, EveryEdgeOfTheTableIsCrashedOn) {
  ExpectOneScenarioPerEdge(cold::Transitions(), Scenarios::ByEdge());
}

}  // namespace
}  // namespace ferry::testing
