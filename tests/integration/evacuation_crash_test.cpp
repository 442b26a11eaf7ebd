// Crash torture for the evacuation state table (evacuation::Transitions()): the shared fixture and
// what it asserts are tests/support/crash_torture.hpp; here are evacuation's requests and one
// scenario per edge of its table. An evacuation ends with its guest on the destination once it
// was rebuilt there (done, then completed when the source is back and clean); every other end
// leaves it recorded on its (dead) source.
#include <gtest/gtest.h>

#include <csignal>
#include <functional>
#include <map>

#include "controller/evacuation/states.hpp"
#include "tests/support/crash_torture.hpp"

namespace ferry::testing {
namespace {

namespace evac = ferry::controller::evacuation;

const std::vector<std::string> kFastBudget = {"--step-retry-budget", "3", "--step-retry-window",
                                              "0"};

class EvacuationCrashTorture : public CrashTorture {
 public:
  EvacuationCrashTorture()
      : CrashTorture({"('evacuation')", [](const std::vector<EventRow>& events) {
                        return std::ranges::any_of(
                            events, [](const EventRow& e) { return e.to == "done"; });
                      }}) {}

  // A server on `host` booted from an image: its local disks can be rebuilt elsewhere.
  std::string ImageServerOn(const std::string& host, const std::string& name) {
    auto id = ServerOn(host, name);
    lm_->Sql("UPDATE servers SET image_ref = 'img' WHERE uuid = '" + id + "'::uuid");
    return id;
  }
  // The host dies: its agent is killed and an admin forces it down.
  void HostDies(const std::string& host) {
    KillAgent(host);
    lm_->Sql("UPDATE hosts SET forced_down = true WHERE name = '" + host + "'");
  }
  void Evacuate(const std::string& server, const std::optional<std::string>& host) {
    auto admin = lm_->stack->Admin();
    admin.SetMicroversion("2.68");
    json body = json::object();
    if (host) body["host"] = *host;
    auto r = admin.Post("/v2.1/servers/" + server + "/action", {{"evacuate", body}});
    if (r.status == 0) {
      EXPECT_TRUE(Stack::WaitFor([&] { return !lm_->stack->ControllerRunning(); }, 5s))
          << "no answer, yet the controller still runs";
      return;
    }
    EXPECT_EQ(r.status, 200) << r.raw;
  }
  // An evacuation of `server` from `host` written straight into the table, accepted, leased to
  // no one, with a flavor no step can read; the server's task says it is rebuilding.
  void InsertUnreadableEvacuation(const std::string& server, const std::string& host) {
    lm_->Sql("UPDATE servers SET task_state = 'rebuilding' WHERE uuid = '" + server + "'::uuid");
    lm_->Sql(
        "WITH m AS (INSERT INTO migrations (uuid, instance_uuid, migration_type, status, "
        "source_compute, source_node, user_id, project_id, step, old_flavor, new_flavor, "
        "created_at, updated_at) VALUES (gen_random_uuid(), '" +
        server + "'::uuid, 'evacuation', 'accepted', '" + host + "', '" + host +
        "', 'admin', 'admin', 'scheduling', '[]'::jsonb, '[]'::jsonb, now(), now()) "
        "RETURNING id) INSERT INTO migration_events (migration_id, to_status, event, actor) "
        "SELECT id, 'accepted', 'requested', 'test' FROM m");
  }
  void CorruptFlavor(const std::string& server) {
    lm_->Sql("UPDATE migrations SET old_flavor = '[]'::jsonb WHERE uuid = '" +
             lm_->LatestMigration(server)["uuid"].get<std::string>() + "'::uuid");
  }
  void Signal(const std::string& host, int signal) { lm_->stack->SignalAgent(host, signal); }
  // The dead host's agent starts again. With two controllers it reports to the second (the
  // first is about to die): a source must be heard from to be cleaned up, as it would through
  // a real deployment's controller address.
  void SourceComesBack(const std::string& host) {
    if (!two_controllers_) return RestartAgent(host);
    lm_->stack->StartAgent(host, {"--controller-url", lm_->stack->SecondUrl()});
    live_hosts_.insert(host);
  }
  // From the table, not the API: the controller may have died on this very transition.
  void WaitRecorded(const std::string& server, const std::string& status) {
    ASSERT_TRUE(Stack::WaitFor(
        [&] {
          return lm_->Count("SELECT count(*) FROM migrations WHERE instance_uuid = '" + server +
                            "'::uuid AND status = '" + status + "'") > 0;
        },
        kCrashWithin))
        << server << " never reached " << status;
  }
  void DisableHost(const std::string& host) {
    lm_->Sql("UPDATE hosts SET disabled = true WHERE name = '" + host + "'");
  }
};

using Scenario = std::function<void(EvacuationCrashTorture&, const std::string& edge)>;

struct Scenarios {
  // sim-1 dies, its server is rebuilt on sim-2, and sim-1 comes back (told at once that the
  // guest was evacuated): every edge of the happy path, completed once sim-1 is clean.
  static void Evacuated(EvacuationCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", {}}, {"sim-2", {}}});
    auto id = t.ImageServerOn("sim-1", "web");
    t.HostDies("sim-1");
    t.ArmCrash(edge);
    t.Evacuate(id, "sim-2");
    t.SourceComesBack("sim-1");
    t.Expect(id, "completed");
  }

  // The only other host is disabled: no valid host, nothing claimed or sent.
  static void NothingFits(EvacuationCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", {}}, {"sim-2", {}}});
    auto id = t.ImageServerOn("sim-1", "web");
    t.HostDies("sim-1");
    t.DisableHost("sim-2");
    t.ArmCrash(edge);
    t.Evacuate(id, std::nullopt);
    t.Expect(id, "error");
  }

  // The destination refuses the rebuild: undone there, failed, the server in ERROR on sim-1.
  static void RebuildRefused(EvacuationCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", {}}, {"sim-2", {"--sim-scenario", "rebuild-fails"}}});
    auto id = t.ImageServerOn("sim-1", "web");
    t.HostDies("sim-1");
    t.ArmCrash(edge);
    t.Evacuate(id, "sim-2");
    t.Expect(id, "failed", "error");
  }

  // An unreadable record waiting to be scheduled: after the retry budget, error, nothing sent.
  static void UnreadableWhileAccepted(EvacuationCrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", {}}, {"sim-2", {}}}, 60, kFastBudget);
    auto id = t.ImageServerOn("sim-1", "web");
    t.HostDies("sim-1");
    t.ArmCrash(edge);
    t.InsertUnreadableEvacuation(id, "sim-1");
    t.Expect(id, "error");
  }

  // `id` queued for sim-2 (one inbound move per host) behind `blocker`, whose rebuild waits on
  // sim-2's stopped agent.
  static std::pair<std::string, std::string> QueuedBehindAHungRebuild(
      EvacuationCrashTorture& t, const std::string& edge, int service_down_time_s,
      std::vector<std::string> args) {
    args.insert(args.end(), {"--max-inbound-live-migrations", "1"});
    t.StartHosts({{"sim-1", {}}, {"sim-2", {}}}, service_down_time_s, args);
    auto blocker = t.ImageServerOn("sim-1", "blocker");
    auto id = t.ImageServerOn("sim-1", "web");
    t.HostDies("sim-1");
    t.ArmCrash(edge);
    t.Signal("sim-2", SIGSTOP);
    t.Evacuate(blocker, "sim-2");
    EXPECT_NO_FATAL_FAILURE(t.WaitStatus(blocker, "pre-migrating"));
    t.Evacuate(id, "sim-2");
    EXPECT_NO_FATAL_FAILURE(t.WaitStatus(id, "queued"));
    return {blocker, id};
  }

  // Queued, then its record made unreadable: error after the retry budget, claims back.
  static void UnreadableWhileQueued(EvacuationCrashTorture& t, const std::string& edge) {
    auto [blocker, id] = QueuedBehindAHungRebuild(t, edge, 60, kFastBudget);
    t.CorruptFlavor(id);
    ASSERT_NO_FATAL_FAILURE(t.WaitRecorded(id, "error"));
    t.Signal("sim-2", SIGCONT);
    t.RestartAgent("sim-1");
    t.Expect(id, "error");
    t.Expect(blocker, "completed");
  }

  // Queued when its destination's agent dies and the host goes down (4 s): error; the blocker
  // completes once sim-2's agent is back.
  static void DestinationDownWhileQueued(EvacuationCrashTorture& t, const std::string& edge) {
    auto [blocker, id] = QueuedBehindAHungRebuild(t, edge, 4, {});
    t.KillAgent("sim-2");
    ASSERT_NO_FATAL_FAILURE(t.WaitRecorded(id, "error"));
    t.RestartAgent("sim-2");
    t.RestartAgent("sim-1");
    t.Expect(id, "error");
    t.Expect(blocker, "completed");
  }

  static const std::map<std::string, Scenario>& ByEdge() {
    static const std::map<std::string, Scenario> scenarios = {
        {"accepted>queued:queued", Evacuated},
        {"queued>pre-migrating:slot_acquired", Evacuated},
        {"pre-migrating>done:rebuilt", Evacuated},
        {"done>completed:source_cleaned_up", Evacuated},
        {"accepted>error:precheck_failed", NothingFits},
        {"queued>error:start_failed", DestinationDownWhileQueued},
        {"pre-migrating>failed:rebuild_failed", RebuildRefused},
        {"accepted>error:step_failed", UnreadableWhileAccepted},
        {"queued>error:step_failed", UnreadableWhileQueued},
    };
    return scenarios;
  }
};

class EvacuationControllerKilledAfter : public EvacuationCrashTorture,
                                        public ::testing::WithParamInterface<std::string> {};

TEST_P(EvacuationControllerKilledAfter, RestartsAndEndsEveryEvacuationConsistently) {
  RunCrashTorture(*this, GetParam(), Scenarios::ByEdge());
}

INSTANTIATE_TEST_SUITE_P(EvacuationStateTable, EvacuationControllerKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(evac::Transitions(), false)),
                         EdgeTestName);

class EvacuationOneOfTwoControllersKilledAfter : public EvacuationCrashTorture,
                                                 public ::testing::WithParamInterface<std::string> {
 protected:
  EvacuationOneOfTwoControllersKilledAfter() { two_controllers_ = true; }
};

TEST_P(EvacuationOneOfTwoControllersKilledAfter, TheOtherTakesOverAndEndsEveryEvacuation) {
  RunCrashTorture(*this, GetParam(), Scenarios::ByEdge());
}

INSTANTIATE_TEST_SUITE_P(EvacuationStateTable, EvacuationOneOfTwoControllersKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(evac::Transitions(), true)), EdgeTestName);

TEST(EvacuationCrashTortureCoverage, EveryEdgeOfTheTableIsCrashedOn) {
  ExpectOneScenarioPerEdge(evac::Transitions(), Scenarios::ByEdge());
}

}  // namespace
}  // namespace ferry::testing
