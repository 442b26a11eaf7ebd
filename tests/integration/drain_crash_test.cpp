// Crash torture for a host drain's own state table (drains::Transitions(): each server's states
// and the drain's statuses). For every edge, the controller driving the drain is killed right
// after it commits that edge (FERRY_TEST_CRASH_AFTER="drain:from>to:event" for a server's,
// "drain-status:from>to:event" for the drain's; controller/main.cpp), a fresh controller is
// started, and what users rely on must hold: the drain ends as the scenario expects; every server
// on exactly one host, ACTIVE, its task over; every move terminal and unleased; for each server
// one move per attempt (never a second move for one attempt: the intent row and the key
// drain:<drain>:<server>:<attempt>); no leaked claim; the drained host's service disabled with
// the drain as its reason.
//
// A scenario is written straight through: each request or wait in it first starts a fresh
// controller if the armed one died (Revive), so it goes on past its edge. The move kinds' own
// crash tests (tests/support/crash_torture.hpp) also run a takeover by a second controller; for
// a drain that is the restart's path: a drain is stored leased to no one, and a restarted
// controller is a new owner that waits for the dead one's lease to lapse as a peer would.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <sstream>

#include "controller/drains/states.hpp"
#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

namespace drains = ferry::controller::drains;

constexpr auto kCrashWithin = 60s;   // the slowest scenario's path to its edge (~20 s)
constexpr auto kEndWithin = 60s;     // leases 3 s (10 s in one scenario) + the moves left
const std::string kSmall = "small";  // 256 MB, no disk
const std::string kBig = "big";      // 1 GiB, no disk
// sim-1's link: a small server moves in ~1.3 s at 200 MB/s, in ~5 s at 50 MB/s (time to act
// while it moves).
const std::vector<std::string> kQuick = {"--sim-bandwidth-mbps", "200"};
const std::vector<std::string> kSlow = {"--sim-bandwidth-mbps", "50"};
// A destination with room for one small server only.
const std::vector<std::string> kRoomForOne = {"--sim-memory-mb", "400"};

using Hosts = std::vector<std::pair<std::string, std::vector<std::string>>>;

struct DrainServerRow {
  std::string uuid, name, state, dest;
  int attempts = 0;
};

class DrainCrashTorture : public ::testing::Test {
 public:
  void Start(const Hosts& hosts, std::vector<std::string> controller_args = {}) {
    lm_ = std::make_unique<LiveMigrationStack>(dsn_, std::move(controller_args));
    lm_->StartHosts(hosts);
    for (const auto& h : hosts) hosts_.insert(h.first);
    lm_->stack->EnsureFlavor(kSmall, 1, 256, 0);
    lm_->stack->EnsureFlavor(kBig, 1, 1024, 0);
  }
  std::string ServerOn(const std::string& host, const std::string& name,
                       const std::string& flavor = kSmall) {
    return lm_->ServerOn(host, name, flavor);
  }

  // The controller from now on dies right after it commits `edge`.
  void ArmCrash(const std::string& edge) {
    edge_ = edge;
    crashed_ = false;
    lm_->stack->StopController();
    lm_->stack->StartController({"FERRY_TEST_CRASH_AFTER=" + edge});
  }
  // Waits for the armed controller to die at its edge, then arms a fresh one for `next`.
  void ThenArm(const std::string& next) {
    ASSERT_TRUE(Stack::WaitFor([&] { return !lm_->stack->ControllerRunning(); }, kCrashWithin))
        << "the controller never crossed " << edge_;
    ExpectDiedRightAfterTheEdge();
    edge_ = next;
    lm_->stack->StartController({"FERRY_TEST_CRASH_AFTER=" + next});
  }

  // The armed controller died: it must have died right after its edge; a fresh one starts.
  void Revive() {
    if (edge_.empty() || lm_->stack->ControllerRunning()) return;
    if (crashed_) {
      ADD_FAILURE() << "the fresh controller died too\n" << lm_->stack->ControllerLog();
      return;
    }
    crashed_ = true;
    ExpectDiedRightAfterTheEdge();
    if (before_restart_) before_restart_();
    lm_->stack->StartController();
  }
  // Done to the database between the crash and the fresh controller.
  void BeforeRestart(std::function<void()> fn) { before_restart_ = std::move(fn); }
  bool Wait(const std::function<bool()>& done, std::chrono::milliseconds t = kCrashWithin) {
    return Stack::WaitFor(
        [&] {
          Revive();
          return done();
        },
        t);
  }
  HttpClient Admin() {
    Revive();
    return lm_->stack->Admin();
  }
  // The controller may die on the very edge a request takes, before it answers.
  void ExpectAnswered(const HttpResult& r, int status, const std::string& what) {
    if (r.status == 0) {
      EXPECT_TRUE(Stack::WaitFor([&] { return !lm_->stack->ControllerRunning(); }, 5s))
          << what << ": no answer, yet the controller still runs";
      return;
    }
    EXPECT_EQ(r.status, status) << what << ": " << r.raw;
  }

  // Starts the drain of sim-1 through the API; its id from the table (the answer may be lost).
  void DrainSim1(json body) {
    body["host"] = "sim-1";
    ExpectAnswered(Admin().Post("/v2.1/ferry/drains", {{"drain", body}}), 202, "drain");
    ASSERT_TRUE(Wait(
        [&] {
          id_ = Text("SELECT coalesce((SELECT uuid::text FROM drains WHERE host = 'sim-1'), '')");
          return !id_.empty();
        },
        10s));
  }
  void Act(const std::string& action) {
    ExpectAnswered(Admin().Post("/v2.1/ferry/drains/" + id_ + "/action", {{action, nullptr}}), 202,
                   action);
  }
  // An admin aborts the server's move now under way (2.65: queued or preparing too).
  void AbortMoveOf(const std::string& server) {
    auto admin = Admin();
    const auto m = lm_->LatestMigration(server);
    admin.SetMicroversion("2.65");
    ExpectAnswered(admin.Delete("/v2.1/servers/" + server + "/migrations/" +
                                std::to_string(m["id"].get<int64_t>())),
                   202, "abort");
  }
  void DeleteServer(const std::string& server) {
    ExpectAnswered(Admin().Delete("/v2.1/servers/" + server), 204, "delete");
    deleted_.insert(server);
    ASSERT_TRUE(Wait([&] { return lm_->Count(ServerCount(server)) == 0; }, 20s))
        << server << " never went";
  }
  // The drain's move of `server` for `attempt` is copying.
  void WaitCopying(const std::string& server, int attempt) {
    ASSERT_TRUE(Wait([&] {
      return lm_->Count("SELECT count(*) FROM migrations WHERE idempotency_key = '" +
                        Key(server, attempt) + "' AND status = 'running'") == 1;
    })) << server
        << " attempt " << attempt << " never copied";
  }
  int64_t DrainMovesIn(const std::string& status) {
    return lm_->Count("SELECT count(*) FROM migrations WHERE idempotency_key LIKE 'drain:" + id_ +
                      ":%' AND status = '" + status + "'");
  }

  // The name of the server whose drain move is copying; empty if none (or more than one).
  std::string NameOfTheServerCopying() {
    return Text(
        "SELECT coalesce((SELECT s.name FROM migrations m JOIN drains d ON d.uuid = m.drain_uuid "
        "JOIN drain_servers s ON s.drain_id = d.id AND s.server_uuid = m.instance_uuid "
        "WHERE d.uuid = '" +
        id_ +
        "'::uuid AND m.status = 'running' AND (SELECT count(*) FROM migrations WHERE "
        "drain_uuid = d.uuid AND status = 'running') = 1), '')");
  }

  std::vector<DrainServerRow> DrainServers() {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    std::vector<DrainServerRow> out;
    for (const auto& r : w.exec_params(
             "SELECT s.server_uuid::text, s.name, s.state, coalesce(s.dest, ''), s.attempts "
             "FROM drain_servers s JOIN drains d ON d.id = s.drain_id WHERE d.uuid = $1::uuid "
             "ORDER BY s.position",
             id_)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<int>()});
    }
    return out;
  }
  std::string DrainStatus() {
    return Text("SELECT coalesce((SELECT status FROM drains WHERE uuid = '" + id_ +
                "'::uuid), '')");
  }

  // The drain ends `status`; `server` ends `state` (by its name).
  void Expect(const std::string& status) { expected_status_ = status; }
  void ExpectServer(const std::string& name, const std::string& state) {
    expected_states_[name] = state;
  }
  // The drain's requests for `server` refused before a move was recorded, `n` times.
  void Refused(const std::string& server, int n) { refused_[server] = n; }
  // Done once the drain ended, before the checks (what another request left is undone).
  void AfterTheEnd(std::function<void()> fn) { after_end_ = std::move(fn); }

  void CrashAndRecover() {
    ASSERT_TRUE(
        Stack::WaitFor([&] { return crashed_ || !lm_->stack->ControllerRunning(); }, kCrashWithin))
        << "the controller never crossed " << edge_ << "\n"
        << lm_->stack->ControllerLog();
    Revive();
    ASSERT_TRUE(crashed_);
    ASSERT_TRUE(Wait([&] { return Ended(DrainStatus()); }, kEndWithin))
        << "the drain is still " << DrainStatus() << "\n"
        << lm_->stack->ControllerLog();
    ASSERT_TRUE(Wait([&] { return NonTerminalMoves() == 0; }, kEndWithin))
        << NonTerminalMoves() << " moves not terminal";
    if (after_end_) after_end_();
  }

  void CheckEverythingIsConsistent() {
    EXPECT_EQ(DrainStatus(), expected_status_);
    EXPECT_EQ(lm_->Count("SELECT count(*) FROM drains WHERE lease_owner IS NOT NULL"), 0)
        << "an ended drain keeps no lease";
    EXPECT_EQ(lm_->Count("SELECT count(*) FROM hosts WHERE name = 'sim-1' AND disabled AND "
                         "disabled_reason = 'drain " +
                         id_ + "'"),
              1)
        << "the drained host's service is disabled with the drain as its reason";
    EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE lease_owner IS NOT NULL"), 0)
        << "a terminal move keeps no lease";
    EXPECT_EQ(lm_->LeakedClaims(), 0);
    const auto servers = DrainServers();
    ASSERT_FALSE(servers.empty());
    for (const auto& s : servers) {
      SCOPED_TRACE("server " + s.name + " " + s.uuid + " (" + s.state + ", attempts " +
                   std::to_string(s.attempts) + ")");
      EXPECT_TRUE(drains::IsServerEnded(s.state));
      if (auto it = expected_states_.find(s.name); it != expected_states_.end()) {
        EXPECT_EQ(s.state, it->second);
      }
      // One move per attempt, each under its own key and tagged with the drain.
      const auto refused = refused_.count(s.uuid) ? refused_.at(s.uuid) : 0;
      const auto moves =
          lm_->Count("SELECT count(*) FROM migrations WHERE idempotency_key LIKE 'drain:" + id_ +
                     ":" + s.uuid + ":%'");
      EXPECT_EQ(moves, s.attempts - refused) << "moves recorded for its attempts";
      EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE drain_uuid = '" + id_ +
                           "'::uuid AND instance_uuid = '" + s.uuid + "'::uuid"),
                moves)
          << "each of its moves tagged with the drain";
      if (deleted_.count(s.uuid)) {
        EXPECT_EQ(lm_->Count(ServerCount(s.uuid)), 0);
        for (const auto& h : hosts_) {
          auto domains = lm_->AgentDomains(h);
          EXPECT_EQ(std::count(domains.begin(), domains.end(), s.uuid), 0) << h;
        }
        continue;
      }
      const auto host = Text(
          "SELECT coalesce(h.name, '') || '/' || s.vm_state || '/' || "
          "coalesce(s.task_state, '') FROM servers s LEFT JOIN hosts h ON h.id = s.host_id "
          "WHERE s.uuid = '" +
          s.uuid + "'::uuid");
      const auto on = host.substr(0, host.find('/'));
      EXPECT_EQ(host, on + "/active/") << "ACTIVE, its task over";
      if (s.state == "moved") {
        EXPECT_EQ(on, s.dest);
        EXPECT_NE(on, "sim-1");
      } else {
        EXPECT_EQ(on, "sim-1") << "not moved: still on the drained host";
      }
      const auto shown = lm_->Server(s.uuid);
      EXPECT_EQ(shown["status"], "ACTIVE") << shown.dump();
      EXPECT_EQ(shown["OS-EXT-SRV-ATTR:host"], on);
      EXPECT_EQ(lm_->ClaimHosts(s.uuid), std::set<std::string>{on});
      for (const auto& h : hosts_) {
        auto domains = lm_->AgentDomains(h);
        EXPECT_EQ(std::count(domains.begin(), domains.end(), s.uuid), h == on ? 1 : 0)
            << "copies on " << h;
      }
      if (s.state == "moved") {
        EXPECT_TRUE(lm_->RunsOn(on, s.uuid));
      }
    }
  }

  std::string dsn_;
  std::string id_;  // the drain's
  std::unique_ptr<LiveMigrationStack> lm_;

 private:
  static bool Ended(const std::string& status) {
    return status == "done" || status == "partial" || status == "failed" || status == "cancelled";
  }
  std::string Key(const std::string& server, int attempt) const {
    return "drain:" + id_ + ":" + server + ":" + std::to_string(attempt);
  }
  static std::string ServerCount(const std::string& server) {
    return "SELECT count(*) FROM servers WHERE uuid = '" + server + "'::uuid";
  }
  int64_t NonTerminalMoves() {
    return lm_->Count(
        "SELECT count(*) FROM migrations WHERE status NOT IN (SELECT status FROM "
        "migration_statuses WHERE is_terminal)");
  }
  std::string Text(const std::string& query) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    return w.exec1(query)[0].as<std::string>();
  }

  // The armed incarnation's last drain transition is the edge: it died right there.
  void ExpectDiedRightAfterTheEdge() {
    const auto log = lm_->stack->ControllerLog();
    const auto armed = log.rfind("FERRY_TEST_CRASH_AFTER=" + edge_);
    ASSERT_NE(armed, std::string::npos) << "hook not armed";
    static const std::regex transition(
        R"(drain [0-9a-f-]{36} (server [0-9a-f-]{36} \([^)]*\) )?(\S+) -> (\S+) \((\w+)\))");
    std::istringstream lines(log.substr(armed));
    std::string line, last;
    while (std::getline(lines, line)) {
      if (line.find(" -> ") == std::string::npos) continue;
      std::smatch m;
      if (!std::regex_search(line, m, transition)) continue;
      last = std::string(m[1].matched ? "drain:" : "drain-status:") + m[2].str() + ">" +
             m[3].str() + ":" + m[4].str();
    }
    EXPECT_EQ(last, edge_) << "the controller's last drain transition\n" << log.substr(armed);
  }

  std::set<std::string> hosts_;
  std::string edge_;
  bool crashed_ = false;
  std::string expected_status_;
  std::map<std::string, std::string> expected_states_;
  std::map<std::string, int> refused_;
  std::set<std::string> deleted_;
  std::function<void()> after_end_;
  std::function<void()> before_restart_;
};

using Scenario = std::function<void(DrainCrashTorture&, const std::string& edge)>;

struct Scenarios {
  // Two servers, one at a time, both to sim-2: the happy path.
  static void AllMove(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kQuick}, {"sim-2", {}}});
    t.ServerOn("sim-1", "a");
    t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 1}});
    t.Expect("done");
  }

  // sim-2 has room for one of the two: the other is left (skipped by the plan).
  static void SomeDoNotFit(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kQuick}, {"sim-2", kRoomForOne}});
    t.ServerOn("sim-1", "a");
    t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({});
    t.ExpectServer("a", "moved");
    t.ExpectServer("b", "skipped");
    t.Expect("partial");
  }

  // An admin aborts the drain's move twice (the retry, re-planned onto the other host, too): the
  // server stays, the drain moved nothing. With `pause`, the drain is paused while the retry
  // copies.
  static void AbortedTwice(DrainCrashTorture& t, const std::string& edge, bool pause) {
    t.Start({{"sim-1", kSlow}, {"sim-2", {}}, {"sim-3", {}}});
    auto a = t.ServerOn("sim-1", "a");
    t.ArmCrash(edge);
    t.DrainSim1({});
    ASSERT_NO_FATAL_FAILURE(t.WaitCopying(a, 1));
    t.AbortMoveOf(a);
    ASSERT_NO_FATAL_FAILURE(t.WaitCopying(a, 2));
    if (pause) t.Act("pause");
    t.AbortMoveOf(a);
    t.ExpectServer("a", "failed");
    t.Expect("failed");
  }
  static void AbortedTwiceRunning(DrainCrashTorture& t, const std::string& edge) {
    AbortedTwice(t, edge, false);
  }
  static void AbortedTwicePaused(DrainCrashTorture& t, const std::string& edge) {
    AbortedTwice(t, edge, true);
  }

  // b went into ERROR before its turn came (after a's slow move): the drain's request for it is
  // refused, and so is its re-plan (an ERROR server is not moved live); an admin mends it after
  // the drain. (A server busy with a task is waited for instead: drains_test.)
  static void RefusedAtItsTurn(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kSlow}, {"sim-2", {}}});
    t.ServerOn("sim-1", "a");
    auto b = t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 1}});
    t.lm_->Sql("UPDATE servers SET vm_state = 'error' WHERE uuid = '" + b + "'");
    t.Refused(b, 2);
    t.AfterTheEnd(
        [&t, b] { t.lm_->Sql("UPDATE servers SET vm_state = 'active' WHERE uuid = '" + b + "'"); });
    t.ExpectServer("a", "moved");
    t.ExpectServer("b", "failed");
    t.Expect("partial");
  }

  // b is deleted while a moves, before its turn.
  static void DeletedBeforeItsTurn(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kSlow}, {"sim-2", {}}});
    t.ServerOn("sim-1", "a");
    auto b = t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 1}});
    t.DeleteServer(b);
    t.ExpectServer("a", "moved");
    t.ExpectServer("b", "skipped");
    t.Expect("partial");
  }

  // A controller dies right after a's intent; a is deleted before the next one (a lease of
  // 10 s: the time to delete it) remakes the request: it finds no server.
  static void DeletedWhileStarting(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kQuick}, {"sim-2", {}}}, {"--live-migration-lease", "10"});
    auto a = t.ServerOn("sim-1", "a");
    t.ServerOn("sim-1", "b");
    t.ArmCrash("drain:pending>starting:intent_saved");
    t.DrainSim1({{"max_parallel", 1}});
    ASSERT_NO_FATAL_FAILURE(t.ThenArm(edge));
    t.DeleteServer(a);
    t.Refused(a, 1);  // its intent, never requested
    t.ExpectServer("a", "skipped");
    t.ExpectServer("b", "moved");
    t.Expect("partial");
  }

  // An admin moves b (to sim-2, at once: two slots each way) while the drain moves the big a.
  static void MovedByAnAdmin(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kQuick}, {"sim-2", {}}},
            {"--max-concurrent-live-migrations", "2", "--max-inbound-live-migrations", "2"});
    t.ServerOn("sim-1", "a", kBig);
    auto b = t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 1}});
    t.Revive();
    auto r = t.lm_->MigrateLive(b, {{"host", "sim-2"}, {"block_migration", "auto"}});
    t.ExpectAnswered(r, 202, "the admin's move");
    t.ExpectServer("a", "moved");
    t.ExpectServer("b", "moved");
    t.Expect("done");
  }

  // Four servers, three at a time, one outbound slot: one copies, two wait in the engine's
  // queue, one is pending; the cancel aborts the queued, the pending never starts.
  static void CancelWhileQueued(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kSlow}, {"sim-2", {}}});
    for (const auto* name : {"a", "b", "c", "d"}) t.ServerOn("sim-1", name);
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 3}});
    // One of a, b, c copies (not merely queued, which the cancel would abort), the other two
    // wait in the queue. Which one holds the slot is the engine's admission order, not the
    // drain's: the three are requested in one pass.
    std::string copying;
    ASSERT_TRUE(t.Wait([&] {
      if (t.DrainMovesIn("running") != 1 || t.DrainMovesIn("queued") != 2) return false;
      copying = t.NameOfTheServerCopying();
      return !copying.empty();
    }));
    t.Act("cancel");
    for (const auto* name : {"a", "b", "c", "d"})
      t.ExpectServer(name, name == copying ? "moved" : "cancelled");
    t.Expect("cancelled");
  }

  // Paused while a copies, then resumed: b moves too.
  static void PauseResume(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kSlow}, {"sim-2", {}}});
    auto a = t.ServerOn("sim-1", "a");
    t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 1}});
    ASSERT_NO_FATAL_FAILURE(t.WaitCopying(a, 1));
    t.Act("pause");
    t.Act("resume");
    t.Expect("done");
  }

  // Paused while a copies, then cancelled: a's move finishes, b never starts.
  static void PauseThenCancel(DrainCrashTorture& t, const std::string& edge) {
    t.Start({{"sim-1", kSlow}, {"sim-2", {}}});
    auto a = t.ServerOn("sim-1", "a");
    t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({{"max_parallel", 1}});
    ASSERT_NO_FATAL_FAILURE(t.WaitCopying(a, 1));
    t.Act("pause");
    t.Act("cancel");
    t.ExpectServer("a", "moved");
    t.ExpectServer("b", "cancelled");
    t.Expect("cancelled");
  }

  // Paused while its last move copies: the drain ends once it finished. With `left`, a second
  // server had no room (skipped by the plan).
  static void PausedAtTheLastMove(DrainCrashTorture& t, const std::string& edge, bool left) {
    t.Start({{"sim-1", kSlow}, {"sim-2", left ? kRoomForOne : std::vector<std::string>{}}});
    auto a = t.ServerOn("sim-1", "a");
    if (left) t.ServerOn("sim-1", "b");
    t.ArmCrash(edge);
    t.DrainSim1({});
    ASSERT_NO_FATAL_FAILURE(t.WaitCopying(a, 1));
    t.Act("pause");
    t.ExpectServer("a", "moved");
    t.Expect(left ? "partial" : "done");
  }
  static void PausedAtTheLastMoveAllMove(DrainCrashTorture& t, const std::string& edge) {
    PausedAtTheLastMove(t, edge, false);
  }
  static void PausedAtTheLastMoveOneLeft(DrainCrashTorture& t, const std::string& edge) {
    PausedAtTheLastMove(t, edge, true);
  }

  static const std::map<std::string, Scenario>& ByEdge() {
    static const std::map<std::string, Scenario> scenarios = {
        {"drain:pending>starting:intent_saved", AllMove},
        {"drain:starting>moving:move_requested", AllMove},
        {"drain:moving>moved:move_succeeded", AllMove},
        {"drain:moving>pending:move_failed", AbortedTwiceRunning},
        {"drain:moving>failed:move_failed", AbortedTwiceRunning},
        {"drain:starting>pending:request_refused", RefusedAtItsTurn},
        {"drain:starting>failed:request_refused", RefusedAtItsTurn},
        {"drain:pending>skipped:server_deleted", DeletedBeforeItsTurn},
        {"drain:starting>skipped:server_deleted", DeletedWhileStarting},
        {"drain:pending>moved:moved_elsewhere", MovedByAnAdmin},
        {"drain:pending>cancelled:drain_stopped", CancelWhileQueued},
        {"drain:moving>cancelled:queued_move_aborted", CancelWhileQueued},
        {"drain-status:running>paused:pause", PauseResume},
        {"drain-status:paused>running:resume", PauseResume},
        {"drain-status:running>cancelling:cancel", CancelWhileQueued},
        {"drain-status:paused>cancelling:cancel", PauseThenCancel},
        {"drain-status:running>done:all_moved", AllMove},
        {"drain-status:running>partial:some_not_moved", SomeDoNotFit},
        {"drain-status:running>failed:none_moved", AbortedTwiceRunning},
        {"drain-status:paused>done:all_moved", PausedAtTheLastMoveAllMove},
        {"drain-status:paused>partial:some_not_moved", PausedAtTheLastMoveOneLeft},
        {"drain-status:paused>failed:none_moved", AbortedTwicePaused},
        {"drain-status:cancelling>cancelled:moves_ended", CancelWhileQueued},
    };
    return scenarios;
  }
};

std::vector<std::string> Edges() {
  std::vector<std::string> out;
  for (const auto& t : drains::Transitions()) out.push_back(drains::EdgeName(t));
  return out;
}

// "drain-status:running>paused:pause" -> "status_running_to_paused_on_pause".
std::string EdgeTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  const bool status = name.rfind("drain-status:", 0) == 0;
  name = (status ? "status_" : "server_") + name.substr(name.find(':') + 1);
  name.replace(name.find('>'), 1, "_to_");
  name.replace(name.find(':'), 1, "_on_");
  return name;
}

class DrainControllerKilledAfter : public DrainCrashTorture,
                                   public ::testing::WithParamInterface<std::string> {};

TEST_P(DrainControllerKilledAfter, RestartsAndEndsTheDrainConsistently) {
  FERRY_REQUIRE_PG(dsn);
  dsn_ = dsn;
  const auto& by_edge = Scenarios::ByEdge();
  auto it = by_edge.find(GetParam());
  ASSERT_NE(it, by_edge.end()) << "the drain state table's edge " << GetParam()
                               << " has no crash scenario";
  ASSERT_NO_FATAL_FAILURE(it->second(*this, GetParam()));
  ASSERT_NO_FATAL_FAILURE(CrashAndRecover());
  CheckEverythingIsConsistent();
}

INSTANTIATE_TEST_SUITE_P(DrainStateTable, DrainControllerKilledAfter, ::testing::ValuesIn(Edges()),
                         EdgeTestName);

// Between the move's request and the drain's record of it ("moving") there is no drain edge:
// a controller dying there leaves the server "starting" with its move already recorded. The
// next one makes the same request under the same key and gets that move, not a second one.
// (The crash is the edge just after, with the record rewound to before it.)
TEST_F(DrainCrashTorture, ADeathBetweenTheRequestAndItsRecordGetsTheSameMoveAgain) {
  FERRY_REQUIRE_PG(dsn);
  dsn_ = dsn;
  Start({{"sim-1", kQuick}, {"sim-2", {}}});
  ServerOn("sim-1", "a");
  ServerOn("sim-1", "b");
  ArmCrash("drain:starting>moving:move_requested");
  BeforeRestart([this] {
    lm_->Sql(
        "UPDATE drain_servers SET state = 'starting', migration_uuid = NULL "
        "WHERE state = 'moving'");
  });
  DrainSim1({{"max_parallel", 1}});
  Expect("done");
  ASSERT_NO_FATAL_FAILURE(CrashAndRecover());
  CheckEverythingIsConsistent();
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations"), 2) << "one move per server";
}

TEST(DrainCrashTortureCoverage, EveryEdgeOfTheTableIsCrashedOn) {
  std::set<std::string> table;
  for (const auto& e : Edges()) {
    EXPECT_TRUE(table.insert(e).second) << e << ": twice in the table";
  }
  for (const auto& edge : table) {
    EXPECT_EQ(Scenarios::ByEdge().count(edge), 1u) << edge << ": needs a scenario";
  }
  for (const auto& [edge, scenario] : Scenarios::ByEdge()) {
    EXPECT_TRUE(table.count(edge)) << "scenario for " << edge << ", which the table does not have";
  }
}

}  // namespace
}  // namespace ferry::testing
