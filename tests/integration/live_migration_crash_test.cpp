// Crash torture for the live-migration state table: for every edge of
// conductor::Transitions(), a controller is killed right after it commits that edge
// (FERRY_TEST_CRASH_AFTER, controller/main.cpp), and what survives it must still end well:
// every migration terminal and unleased, the server on exactly one host (the one its status
// says), its task cleared, claims only there, and migration_events one connected chain.
//
// The edges come from the table itself. Each needs a scenario that drives a migration across
// it from the outside (requests, aborts, policies, sim failure scenarios, agents killed); a
// coverage test fails when the table has an edge without one, so a new edge cannot slip past
// this file (and an edge no outside action can reach does not belong in the table).
//
// Two variants: the crashed controller restarts (single controller), and a second controller
// that was running all along takes the crashed one's migrations over once their lease expires.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "controller/conductor/live_migration_states.hpp"
#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

namespace conductor = ferry::controller::conductor;
using conductor::Transition;

// "running>error:step_failed": an edge is its two statuses and the event that takes it (two
// events may join the same two statuses through different code).
std::string EdgeName(const Transition& t) {
  return std::string(conductor::ToString(t.from)) + ">" + std::string(conductor::ToString(t.to)) +
         ":" + std::string(t.event);
}

struct EdgeParts {
  std::string from, to, event;
};
EdgeParts Parse(const std::string& edge) {
  const auto gt = edge.find('>');
  const auto colon = edge.find(':');
  return {edge.substr(0, gt), edge.substr(gt + 1, colon - gt - 1), edge.substr(colon + 1)};
}

// Durations of the scenarios. Copies are modelled by the sim: bytes / --sim-bandwidth-mbps.
constexpr auto kCrashWithin = 60s;         // the scenario's slowest path to its edge (~25 s)
constexpr auto kTerminalWithin = 45s;      // lease 3 s + progress silence 10 s + a copy of ~11 s
const std::string kSmallFlavor = "small";  // 256 MB, no disk: ~2.7 s at 100 MB/s
const std::string kBigFlavor = "big";      // 1 GiB, no disk: ~11 s at 100 MB/s, a blocker

struct MigrationRow {
  std::string uuid;
  std::string server;
  std::string status;
  std::string source;
  std::string dest;
  bool leased = false;
};

struct EventRow {
  std::string from;  // "" for the first event (requested)
  std::string to;
  std::string actor;
  std::string event;
};

class CrashTorture : public ::testing::Test {
 public:
  // hosts: name and extra agent arguments. service_down_time_s: when a killed agent's host
  // counts as down (60 s: never within a scenario, unless one wants it).
  // controller_args: policies the scenario needs (kept across the controller's restarts).
  void StartHosts(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts,
                  int service_down_time_s = 60, std::vector<std::string> controller_args = {}) {
    lm_ =
        std::make_unique<LiveMigrationStack>(dsn_, std::move(controller_args), service_down_time_s);
    lm_->StartHosts(hosts);
    for (const auto& [name, args] : hosts) {
      live_hosts_.insert(name);
      host_args_[name] = args;
    }
    lm_->stack->EnsureFlavor(kSmallFlavor, 1, 256, 0);
    lm_->stack->EnsureFlavor(kBigFlavor, 1, 1024, 0);
  }

  std::string ServerOn(const std::string& host, const std::string& name,
                       const std::string& flavor = kSmallFlavor) {
    return lm_->ServerOn(host, name, flavor);
  }

  // Restarts the controller with the crash hook for this test's edge; with two controllers,
  // starts the second (without the hook) beside it.
  void ArmCrash(const std::string& edge) {
    edge_ = edge;
    lm_->stack->StopController();
    lm_->stack->StartController({"FERRY_TEST_CRASH_AFTER=" + edge});
    if (two_controllers_) lm_->stack->StartSecondController();
  }

  // The controller may die on the very edge this request starts before it answers.
  void ExpectAcceptedOrCrashed(const HttpResult& r, const std::string& what) {
    if (r.status == 0) {
      EXPECT_TRUE(Stack::WaitFor([&] { return !lm_->stack->ControllerRunning(); }, 5s))
          << what << ": no answer, yet the controller still runs";
      return;
    }
    EXPECT_EQ(r.status, 202) << what << ": " << r.raw;
  }

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

  void WaitStatus(const std::string& server, const std::string& status) {
    ASSERT_TRUE(lm_->WaitStatus(server, status, kCrashWithin))
        << lm_->LatestMigration(server).dump();
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
  std::string LatestStatus(const std::string& server) { return lm_->LatestStatus(server); }

  void KillAgent(const std::string& host) {
    lm_->stack->KillAgent(host);
    live_hosts_.erase(host);
  }
  void RestartAgent(const std::string& host) {
    lm_->stack->StartAgent(host, host_args_.at(host));
    live_hosts_.insert(host);
  }

  // The terminal status a migration of `server` must end in after the crash and recovery, and
  // the server's vm_state then.
  void Expect(const std::string& server, const std::string& status,
              const std::string& vm_state = "active") {
    expected_[server] = status;
    expected_vm_state_[server] = vm_state;
  }

  void CrashAndRecover() {
    ASSERT_TRUE(Stack::WaitFor([&] { return !lm_->stack->ControllerRunning(); }, kCrashWithin))
        << "the controller never crossed " << edge_ << "\n"
        << lm_->stack->ControllerLog();
    ExpectDiedRightAfterTheEdge();
    if (!two_controllers_) lm_->stack->StartController();
    ASSERT_TRUE(Stack::WaitFor([&] { return NonTerminalMigrations() == 0; }, kTerminalWithin))
        << NonTerminalMigrations() << " migrations still not terminal\n"
        << (two_controllers_ ? lm_->stack->SecondControllerLog() : lm_->stack->ControllerLog());
  }

  // Every migration, the servers they moved, the hosts and the claims, after recovery.
  void CheckEverythingIsConsistent() {
    auto migrations = LiveMigrations();
    ASSERT_FALSE(migrations.empty());
    bool crossed = false;
    for (const auto& m : migrations) {
      SCOPED_TRACE("migration " + m.uuid + " of server " + m.server + " (" + m.status + ")");
      auto it = expected_.find(m.server);
      if (it != expected_.end()) {
        EXPECT_EQ(m.status, it->second);
      }
      EXPECT_FALSE(m.leased) << "a terminal migration keeps no lease";
      auto events = Events(m.uuid);
      ExpectConnectedChain(events, m.status);
      crossed = crossed || Crosses(events, edge_);
      const std::string host = SwitchedOver(events) ? m.dest : m.source;
      const auto vm_state = expected_vm_state_.find(m.server);
      ExpectServerSettledOn(m.server, host,
                            vm_state == expected_vm_state_.end() ? "active" : vm_state->second);
      EXPECT_TRUE(lm_->ClaimHosts(m.uuid).empty()) << "a terminal migration holds no claim";
      if (two_controllers_ && Crosses(events, edge_)) ExpectSecondControllerFinished(m, events);
    }
    EXPECT_TRUE(crossed) << "no migration crossed " << edge_;
    EXPECT_EQ(lm_->LeakedClaims(), 0);
    for (const auto& [server, status] : expected_) {
      EXPECT_TRUE(
          std::ranges::any_of(migrations, [&](const auto& m) { return m.server == server; }))
          << "no migration of " << server;
    }
  }

  bool two_controllers_ = false;
  std::string dsn_;  // the test cluster's

 private:
  void ExpectDiedRightAfterTheEdge() {
    auto log = lm_->stack->ControllerLog();
    EXPECT_NE(log.find("FERRY_TEST_CRASH_AFTER=" + edge_), std::string::npos) << "hook not armed";
    const auto parts = Parse(edge_);
    auto last = log.rfind(" " + parts.from + " -> " + parts.to + " (" + parts.event + ")");
    ASSERT_NE(last, std::string::npos) << "the controller died before " << edge_ << "\n" << log;
    // No transition after that one: the process died right there, not later.
    const std::regex transition(R"(live migration \S+ \S+ -> \S+ \()");
    const auto after =
        log.substr(log.find('\n', last) == std::string::npos ? log.size() : log.find('\n', last));
    EXPECT_FALSE(std::regex_search(after, transition))
        << "the controller ran on after " << edge_ << "\n"
        << after;
  }

  // Guest on `host` only, running (paused, when the move broke it: vm_state error); the record
  // says so; the task is over; claims only there.
  void ExpectServerSettledOn(const std::string& server, const std::string& host,
                             const std::string& vm_state) {
    const bool broken = vm_state == "error";
    auto row = ServerRow(server);
    EXPECT_EQ(row.host, host);
    EXPECT_EQ(row.vm_state, vm_state);
    EXPECT_EQ(row.task_state, "") << "task_state must be cleared";
    EXPECT_EQ(lm_->ClaimHosts(server), std::set<std::string>{host});
    for (const auto& h : live_hosts_) {
      auto domains = lm_->AgentDomains(h);
      const auto copies = std::count(domains.begin(), domains.end(), server);
      EXPECT_EQ(copies, h == host ? 1 : 0) << "domain copies of " << server << " on " << h;
    }
    if (live_hosts_.count(host)) {
      EXPECT_EQ(lm_->RunsOn(host, server), !broken) << "running on " << host;
    }
    auto shown = ApiAdmin().Get("/v2.1/servers/" + server).body["server"];
    EXPECT_EQ(shown["status"], broken ? "ERROR" : "ACTIVE") << shown.dump();
    if (broken) {
      EXPECT_TRUE(shown.contains("fault")) << "an ERROR server shows why";
    }
    EXPECT_EQ(shown["OS-EXT-SRV-ATTR:host"], host);
  }

  // requested -> accepted, then each event leaving the status the previous one entered.
  void ExpectConnectedChain(const std::vector<EventRow>& events, const std::string& terminal) {
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front().from, "");
    EXPECT_EQ(events.front().to, "accepted");
    for (size_t i = 1; i < events.size(); ++i) {
      EXPECT_EQ(events[i].from, events[i - 1].to) << "event " << i << " does not follow on";
    }
    EXPECT_EQ(events.back().to, terminal);
  }

  static bool Crosses(const std::vector<EventRow>& events, const std::string& edge) {
    return std::ranges::any_of(
        events, [&](const EventRow& e) { return e.from + ">" + e.to + ":" + e.event == edge; });
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

  // The first controller never came back: the second took the lease over and wrote every
  // event after the crash.
  void ExpectSecondControllerFinished(const MigrationRow& m, const std::vector<EventRow>& events) {
    auto owner = SecondOwnerOf(m.uuid);
    ASSERT_FALSE(owner.empty()) << "the second controller never took " << m.uuid << " over\n"
                                << lm_->stack->SecondControllerLog();
    auto crash = std::ranges::find_if(
        events, [&](const EventRow& e) { return e.from + ">" + e.to + ":" + e.event == edge_; });
    ASSERT_NE(crash, events.end());
    EXPECT_NE(crash->actor, "controller " + owner) << "the crashed controller took the edge";
    for (auto e = std::next(crash); e != events.end(); ++e) {
      EXPECT_EQ(e->actor, "controller " + owner) << e->from << " -> " << e->to;
    }
  }

  // The owner named in the second controller's "lease taken by" line for this migration.
  std::string SecondOwnerOf(const std::string& uuid) {
    const auto log = lm_->stack->SecondControllerLog();
    const std::string marker = "live migration " + uuid + ": lease taken by ";
    auto at = log.find(marker);
    if (at == std::string::npos) return "";
    at += marker.size();
    return log.substr(at, log.find_first_of(" \n", at) - at);
  }

  HttpClient ApiAdmin() const {
    return two_controllers_ ? lm_->stack->SecondAdmin() : lm_->stack->Admin();
  }

  int64_t NonTerminalMigrations() {
    return lm_->Count(
        "SELECT count(*) FROM migrations WHERE migration_type = 'live-migration' "
        "AND status NOT IN ('completed', 'failed', 'error', 'cancelled')");
  }

  std::vector<MigrationRow> LiveMigrations() {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    std::vector<MigrationRow> out;
    for (const auto& r :
         w.exec("SELECT uuid::text, instance_uuid::text, status, source_compute, "
                "coalesce(dest_compute, ''), lease_owner IS NOT NULL FROM migrations "
                "WHERE migration_type = 'live-migration' ORDER BY id")) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<bool>()});
    }
    return out;
  }

  std::vector<EventRow> Events(const std::string& migration_uuid) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    std::vector<EventRow> out;
    for (const auto& r : w.exec_params(
             "SELECT coalesce(e.from_status, ''), e.to_status, e.actor, e.event "
             "FROM migration_events e "
             "JOIN migrations m ON m.id = e.migration_id WHERE m.uuid = $1::uuid ORDER BY e.id",
             migration_uuid)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>()});
    }
    return out;
  }

  struct ServerState {
    std::string host;
    std::string vm_state;
    std::string task_state;
  };
  ServerState ServerRow(const std::string& uuid) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    auto rows = w.exec_params(
        "SELECT coalesce(h.name, ''), s.vm_state, coalesce(s.task_state, '') "
        "FROM servers s LEFT JOIN hosts h ON h.id = s.host_id WHERE s.uuid = $1::uuid",
        uuid);
    if (rows.empty()) return {};
    return {rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
            rows[0][2].as<std::string>()};
  }

  std::unique_ptr<LiveMigrationStack> lm_;
  std::set<std::string> live_hosts_;
  std::map<std::string, std::vector<std::string>> host_args_;
  std::map<std::string, std::string> expected_;
  std::map<std::string, std::string> expected_vm_state_;
  std::string edge_;
};

// One way from the outside across each edge; each ends with the controller crossing it.
using Scenario = std::function<void(CrashTorture&, const std::string& edge)>;

std::vector<std::string> Bandwidth(int mbps) {
  return {"--sim-bandwidth-mbps", std::to_string(mbps)};
}

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Scenarios {
  // A plain move sim-1 -> sim-2: every edge of the happy path.
  static void HappyPath(CrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "completed");
  }

  // The destination's pre-check refuses: nothing moved.
  static void PrecheckFails(CrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(500)},
                  {"sim-2", With(Bandwidth(500), {"--sim-scenario", "precheck-fails"})}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // The destination cannot be prepared: rolled back.
  static void PrepareFails(CrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(500)},
                  {"sim-2", With(Bandwidth(500), {"--sim-scenario", "prepare-fails"})}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "failed");
  }

  // The copy fails at switch-over: the guest stays on the source.
  static void SwitchoverFails(CrashTorture& t, const std::string& edge) {
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
  static void PostcopyFails(CrashTorture& t, const std::string& edge) {
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
  static void FinishFails(CrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(500)},
                  {"sim-2", With(Bandwidth(500), {"--sim-scenario", "finish-fails"})}});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.Migrate(id, "sim-2");
    t.Expect(id, "error");
  }

  // Aborted mid-copy of a 1 GiB guest (~11 s at 100 MB/s).
  static void AbortRunning(CrashTorture& t, const std::string& edge) {
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
  static void AbortQueued(CrashTorture& t, const std::string& edge) {
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
  static void DestinationDownWhileQueued(CrashTorture& t, const std::string& edge) {
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
  static void AbortPreparing(CrashTorture& t, const std::string& edge) {
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
  static void UnreadableWhileAccepted(CrashTorture& t, const std::string& edge) {
    t.StartHosts({{"sim-1", Bandwidth(100)}, {"sim-2", Bandwidth(100)}}, 60,
                 {"--step-retry-budget", "3", "--step-retry-window", "0"});
    auto id = t.ServerOn("sim-1", "web");
    t.ArmCrash(edge);
    t.InsertUnreadableAcceptedMigration(id, "sim-1");
    t.Expect(id, "error");
  }

  // The same while the copy runs (sim-1 dirties memory faster than it copies, so it does not
  // end by itself): given up through the destination's rollback, the guest on the source.
  static void UnreadableWhileRunning(CrashTorture& t, const std::string& edge) {
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
  static void UnreadableWhileQueued(CrashTorture& t, const std::string& edge) {
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
  static void UnreadableWhilePreparing(CrashTorture& t, const std::string& edge) {
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

// The edges of the table this file crashes on, in the table's order.
std::vector<std::string> DrivenEdges(bool only_into_non_terminal) {
  std::vector<std::string> out;
  for (const auto& t : conductor::Transitions()) {
    if (only_into_non_terminal && conductor::IsTerminal(t.to)) continue;
    out.push_back(EdgeName(t));
  }
  return out;
}

// "running>post-migrating:switched_over" -> "running_to_post_migrating_on_switched_over":
// gtest names are [A-Za-z0-9_].
std::string TestNameOf(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  name.replace(name.find('>'), 1, "_to_");
  name.replace(name.find(':'), 1, "_on_");
  std::ranges::replace(name, '-', '_');
  return name;
}

void RunCrashTorture(CrashTorture& t, const std::string& edge) {
  FERRY_REQUIRE_PG(dsn);
  t.dsn_ = dsn;
  auto it = Scenarios::ByEdge().find(edge);
  ASSERT_NE(it, Scenarios::ByEdge().end())
      << "the state table's edge " << edge << " has no crash scenario";
  ASSERT_NO_FATAL_FAILURE(it->second(t, edge));
  ASSERT_NO_FATAL_FAILURE(t.CrashAndRecover());
  t.CheckEverythingIsConsistent();
}

class ControllerKilledAfter : public CrashTorture,
                              public ::testing::WithParamInterface<std::string> {};

TEST_P(ControllerKilledAfter, RestartsAndEndsEveryMigrationConsistently) {
  RunCrashTorture(*this, GetParam());
}

INSTANTIATE_TEST_SUITE_P(StateTable, ControllerKilledAfter, ::testing::ValuesIn(DrivenEdges(false)),
                         TestNameOf);

class OneOfTwoControllersKilledAfter : public CrashTorture,
                                       public ::testing::WithParamInterface<std::string> {
 protected:
  OneOfTwoControllersKilledAfter() { two_controllers_ = true; }
};

// Edges into a non-terminal status leave work behind: the survivor must finish it.
TEST_P(OneOfTwoControllersKilledAfter, TheOtherTakesOverAndEndsEveryMigrationConsistently) {
  RunCrashTorture(*this, GetParam());
}

INSTANTIATE_TEST_SUITE_P(StateTable, OneOfTwoControllersKilledAfter,
                         ::testing::ValuesIn(DrivenEdges(true)), TestNameOf);

TEST(CrashTortureCoverage, EveryEdgeOfTheTableIsCrashedOn) {
  std::set<std::string> table;
  for (const auto& t : conductor::Transitions()) table.insert(EdgeName(t));
  for (const auto& edge : table) {
    EXPECT_EQ(Scenarios::ByEdge().count(edge), 1u) << edge << ": needs a scenario";
  }
  for (const auto& [edge, scenario] : Scenarios::ByEdge()) {
    EXPECT_TRUE(table.count(edge)) << "scenario for " << edge << ", which the table does not have";
  }
}

}  // namespace
}  // namespace ferry::testing
