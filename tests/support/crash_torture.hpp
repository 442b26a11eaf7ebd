#pragma once
// Crash torture for a kind of move's state table, shared by every kind's test
// (tests/integration/*_crash_test.cpp): for every edge of the table, a controller is killed
// right after it commits that edge (FERRY_TEST_CRASH_AFTER, controller/main.cpp), and what
// survives it must still end well: every move terminal and unleased, the server on exactly one
// host (the one its events say), its task cleared, claims only there, and migration_events one
// connected chain.
//
// The edges come from each table itself. Each needs a scenario that drives a move across it
// from the outside (requests, aborts, policies, sim failure scenarios, agents killed); each
// kind's coverage test fails when its table has an edge without one, so a new edge cannot slip
// past (and an edge no outside action can reach does not belong in the table).
//
// Two variants: the crashed controller restarts (single controller), and a second controller
// that was running all along takes the crashed one's moves over once their lease expires.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {

// "running>error:step_failed": an edge is its two statuses and the event that takes it (two
// events may join the same two statuses through different code).
template <typename Transition>
std::string EdgeName(const Transition& t) {
  return std::string(controller::store::ToString(t.from)) + ">" +
         std::string(controller::store::ToString(t.to)) + ":" + std::string(t.event);
}

struct EdgeParts {
  std::string from, to, event;
};
inline EdgeParts ParseEdge(const std::string& edge) {
  const auto gt = edge.find('>');
  const auto colon = edge.find(':');
  return {edge.substr(0, gt), edge.substr(gt + 1, colon - gt - 1), edge.substr(colon + 1)};
}

// "running>post-migrating:switched_over" -> "running_to_post_migrating_on_switched_over":
// gtest names are [A-Za-z0-9_].
inline std::string EdgeTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  name.replace(name.find('>'), 1, "_to_");
  name.replace(name.find(':'), 1, "_on_");
  std::ranges::replace(name, '-', '_');
  return name;
}

// Durations of the scenarios. Copies are modelled by the sim: bytes / --sim-bandwidth-mbps.
constexpr auto kCrashWithin = 60s;     // the scenario's slowest path to its edge (~25 s)
constexpr auto kTerminalWithin = 45s;  // lease 3 s + progress silence 10 s + a copy of ~11 s
inline const std::string kSmallFlavor = "small";  // 256 MB, no disk: ~2.7 s at 100 MB/s
inline const std::string kBigFlavor = "big";      // 1 GiB, no disk: ~11 s at 100 MB/s, a blocker

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

// The kind of move a torture test crashes.
struct TortureKind {
  std::string types_sql;  // its migration_type values, as an SQL list: "('live-migration')"
  // From its events: the guest ended on the destination (else on the source).
  std::function<bool(const std::vector<EventRow>&)> guest_moved;
};

class CrashTorture : public ::testing::Test {
 public:
  explicit CrashTorture(TortureKind kind) : kind_(std::move(kind)) {}

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

  void WaitStatus(const std::string& server, const std::string& status) {
    ASSERT_TRUE(lm_->WaitStatus(server, status, kCrashWithin))
        << lm_->LatestMigration(server).dump();
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
    auto migrations = Moves();
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
      const std::string host = kind_.guest_moved(events) ? m.dest : m.source;
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

 protected:
  void ExpectDiedRightAfterTheEdge() {
    auto log = lm_->stack->ControllerLog();
    EXPECT_NE(log.find("FERRY_TEST_CRASH_AFTER=" + edge_), std::string::npos) << "hook not armed";
    const auto parts = ParseEdge(edge_);
    auto last = log.rfind(" " + parts.from + " -> " + parts.to + " (" + parts.event + ")");
    ASSERT_NE(last, std::string::npos) << "the controller died before " << edge_ << "\n" << log;
    // No transition after that one: the process died right there, not later.
    const std::regex transition(R"(migration [0-9a-f-]{36} \S+ -> \S+ \()");
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
    const std::string marker = uuid + ": lease taken by ";
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
        "SELECT count(*) FROM migrations WHERE migration_type IN " + kind_.types_sql +
        " AND status NOT IN (SELECT status FROM migration_statuses WHERE is_terminal)");
  }

  std::vector<MigrationRow> Moves() {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    std::vector<MigrationRow> out;
    for (const auto& r :
         w.exec("SELECT uuid::text, instance_uuid::text, status, source_compute, "
                "coalesce(dest_compute, ''), lease_owner IS NOT NULL FROM migrations "
                "WHERE migration_type IN " +
                kind_.types_sql + " ORDER BY id")) {
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
  TortureKind kind_;
};

// The edges of a kind's table a torture test crashes on, in the table's order; with
// only_into_non_terminal, those that leave work behind (the takeover variant).
template <typename Table>
std::vector<std::string> DrivenEdges(const Table& transitions, bool only_into_non_terminal) {
  std::vector<std::string> out;
  for (const auto& t : transitions) {
    if (only_into_non_terminal && controller::store::IsTerminal(t.to)) continue;
    out.push_back(EdgeName(t));
  }
  return out;
}

// Every edge of the table has exactly one scenario, and every scenario an edge of the table.
template <typename Table, typename ScenarioMap>
void ExpectOneScenarioPerEdge(const Table& transitions, const ScenarioMap& by_edge) {
  std::set<std::string> table;
  for (const auto& t : transitions) table.insert(EdgeName(t));
  for (const auto& edge : table) {
    EXPECT_EQ(by_edge.count(edge), 1u) << edge << ": needs a scenario";
  }
  for (const auto& [edge, scenario] : by_edge) {
    EXPECT_TRUE(table.count(edge)) << "scenario for " << edge << ", which the table does not have";
  }
}

// Drives `edge`'s scenario with the controller armed to die right after it, then recovers and
// checks that everything ended consistently.
template <typename Fixture, typename ScenarioMap>
void RunCrashTorture(Fixture& t, const std::string& edge, const ScenarioMap& by_edge) {
  FERRY_REQUIRE_PG(dsn);
  t.dsn_ = dsn;
  auto it = by_edge.find(edge);
  ASSERT_NE(it, by_edge.end()) << "the state table's edge " << edge << " has no crash scenario";
  ASSERT_NO_FATAL_FAILURE(it->second(t, edge));
  ASSERT_NO_FATAL_FAILURE(t.CrashAndRecover());
  t.CheckEverythingIsConsistent();
}

}  // namespace ferry::testing
