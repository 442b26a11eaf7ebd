// Review M2: a controller that lost its lease while stalled (SIGSTOP, not killed) can no longer
// make an agent act for that migration. Controller A drives a live migration sim-1 -> sim-2 and
// stops itself (FERRY_TEST_PAUSE_BEFORE_SEND) right before it sends
// cleanup_live_migration_source to sim-1, after its last lease check. Controller B takes the
// lease over (epoch 2), finishes the migration, and then moves the server back to sim-1. sim-1's
// agent restarts (its command log, which would have answered A's command id with B's old
// result, is gone). A resumes and sends its stale cleanup, which would destroy the guest that
// now runs on sim-1: sim-1 refuses it (409, stale lease epoch 1 < 2), the guest runs on, and A
// writes nothing to the migration. A variant stalls A before its lease check: it finds the
// lease gone and sends nothing.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

// A free loopback port for sim-1, so that its agent restarts where the controllers know it.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct MigrationRecord {
  std::string status;
  int64_t state_version = 0;
  int64_t lease_epoch = 0;
  int64_t events = 0;
};

MigrationRecord Record(LiveMigrationStack& lm, const std::string& uuid) {
  pqxx::connection c(lm.stack->dsn());
  pqxx::work w(c);
  auto r = w.exec_params1(
      "SELECT status, state_version, lease_epoch, (SELECT count(*) FROM migration_events e "
      "WHERE e.migration_id = m.id) FROM migrations m WHERE uuid = $1::uuid",
      uuid);
  return {r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<int64_t>(), r[3].as<int64_t>()};
}

class LiveMigrationFencing : public ::testing::Test {
 protected:
  // Up to the moment A is continued: A stalled at `pause_point` (FERRY_TEST_PAUSE_BEFORE_SEND)
  // in the cleanup of migration m1_, B finished m1_ and moved the server back to sim-1, and
  // sim-1's agent restarted.
  void StallAThenLetBMoveOn(const std::string& pause_point) {
    FERRY_REQUIRE_PG(dsn);
    // B: the first controller, the agents' (progress and heartbeats go to it). Lease 3 s.
    lm_ = std::make_unique<LiveMigrationStack>(dsn);
    sim1_listen_ = "127.0.0.1:" + std::to_string(FreePort());
    lm_->StartHosts({{"sim-1", {"--listen", sim1_listen_}}, {"sim-2", {}}});
    lm_->stack->EnsureFlavor("small", 1, 256, 0);  // 256 MB: a copy of ~3 s in the sim
    server_ = lm_->ServerOn("sim-1", "fenced", "small");

    // A: a second controller on the same database, which stops itself in the cleanup.
    lm_->stack->StartSecondController({"FERRY_TEST_PAUSE_BEFORE_SEND=" + pause_point});
    a_ = lm_->stack->SecondControllerPid();
    auto a_api = lm_->stack->SecondAdmin();
    a_api.SetMicroversion("2.80");
    auto accepted =
        a_api.Post("/v2.1/servers/" + server_ + "/action",
                   {{"os-migrateLive", {{"host", "sim-2"}, {"block_migration", "auto"}}}});
    ASSERT_EQ(accepted.status, 202) << accepted.raw;
    ASSERT_TRUE(Stack::WaitFor([&] { return StoppedBySignal(a_); }, 60s))
        << "A never reached the cleanup\n"
        << lm_->stack->SecondControllerLog();
    m1_ = lm_->LatestMigration(server_)["uuid"];
    EXPECT_EQ(Record(*lm_, m1_).lease_epoch, 1);

    // B takes the lease over once it lapses (epoch 2) and finishes: the guest is on sim-2.
    ASSERT_TRUE(lm_->WaitStatus(server_, "completed", 30s))
        << lm_->LatestMigration(server_).dump() << "\n"
        << lm_->stack->ControllerLog();
    EXPECT_EQ(Record(*lm_, m1_).lease_epoch, 2);
    EXPECT_TRUE(lm_->RunsOn("sim-2", server_));

    // B moves it on: back to sim-1.
    ASSERT_EQ(lm_->MigrateLive(server_, {{"host", "sim-1"}, {"block_migration", "auto"}}).status,
              202);
    ASSERT_TRUE(Stack::WaitFor([&] { return lm_->LatestMigration(server_)["uuid"] != m1_; }, 10s));
    ASSERT_TRUE(lm_->WaitStatus(server_, "completed", 60s)) << lm_->LatestMigration(server_).dump();
    ASSERT_TRUE(lm_->RunsOn("sim-1", server_));

    // sim-1's agent restarts on the same port: its command log is gone, its lease epochs not.
    lm_->stack->KillAgent("sim-1");
    lm_->stack->StartAgent("sim-1", {"--listen", sim1_listen_});
    ASSERT_TRUE(Stack::WaitFor([&] { return lm_->RunsOn("sim-1", server_); }, 10s));
    before_ = Record(*lm_, m1_);
    ASSERT_EQ(before_.status, "completed");
    sim1_log_before_ = lm_->stack->AgentLog("sim-1").size();
    ASSERT_EQ(::kill(a_, SIGCONT), 0);  // A wakes up and goes on with what it decided before
  }

  bool ALogged(const std::string& text, std::chrono::milliseconds within) {
    return Stack::WaitFor(
        [&] { return lm_->stack->SecondControllerLog().find(text) != std::string::npos; }, within);
  }

  // Nothing destroyed, nothing written: the guest runs where B put it, the record is B's.
  void ExpectNothingChangedByA() {
    EXPECT_TRUE(lm_->RunsOn("sim-1", server_)) << lm_->stack->AgentLog("sim-1");
    EXPECT_FALSE(lm_->RunsOn("sim-2", server_));
    auto shown = lm_->Server(server_);
    EXPECT_EQ(shown["status"], "ACTIVE") << shown.dump();
    EXPECT_EQ(shown["OS-EXT-SRV-ATTR:host"], "sim-1");
    const auto after = Record(*lm_, m1_);
    EXPECT_EQ(after.status, "completed");
    EXPECT_EQ(after.state_version, before_.state_version) << "A wrote to the migration";
    EXPECT_EQ(after.events, before_.events);
    EXPECT_EQ(lm_->LeakedClaims(), 0);
    EXPECT_EQ(lm_->ClaimHosts(server_), std::set<std::string>{"sim-1"});
    EXPECT_FALSE(StoppedBySignal(a_)) << "A runs on";
  }

  std::unique_ptr<LiveMigrationStack> lm_;
  std::string sim1_listen_;
  std::string server_;
  std::string m1_;
  pid_t a_ = -1;
  MigrationRecord before_;
  size_t sim1_log_before_ = 0;  // sim-1's log up to A's waking (B's commands are in it)
};

// A stalled after its last lease check: the command goes out, and the agent refuses it.
TEST_F(LiveMigrationFencing, AStaleCommandThatGoesOutIsRefusedByTheAgent) {
  ASSERT_NO_FATAL_FAILURE(StallAThenLetBMoveOn("cleanup_live_migration_source"));
  const std::string refusal = "stale lease epoch 1 < 2 for migration " + m1_;
  EXPECT_TRUE(Stack::WaitFor(
      [&] { return lm_->stack->AgentLog("sim-1").find(refusal) != std::string::npos; }, 20s))
      << "sim-1 never refused A's stale command\n"
      << lm_->stack->AgentLog("sim-1");
  EXPECT_TRUE(ALogged("stopped driving it here", 10s)) << lm_->stack->SecondControllerLog();
  ExpectNothingChangedByA();
}

// A stalled before its lease check: it finds the lease gone and sends nothing at all.
TEST_F(LiveMigrationFencing, AControllerThatFindsItsLeaseGoneSendsNothing) {
  ASSERT_NO_FATAL_FAILURE(StallAThenLetBMoveOn("check:cleanup_live_migration_source"));
  EXPECT_TRUE(ALogged("no longer held by", 20s)) << lm_->stack->SecondControllerLog();
  EXPECT_TRUE(ALogged("stopped driving it here", 10s)) << lm_->stack->SecondControllerLog();
  // Wait as long as the refusal takes in the test above, then: sim-1 got no command of m1.
  std::this_thread::sleep_for(1s);
  const auto since_a_woke = lm_->stack->AgentLog("sim-1").substr(sim1_log_before_);
  EXPECT_EQ(since_a_woke.find(m1_), std::string::npos) << since_a_woke;
  ExpectNothingChangedByA();
}

}  // namespace
}  // namespace ferry::testing
