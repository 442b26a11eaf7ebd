// Review M2: a controller that lost its lease while stalled (SIGSTOP, not killed) can no longer
// make an agent act for that migration. Controller A drives a live migration sim-1 -> sim-2 and
// stops itself (FERRY_TEST_PAUSE_BEFORE_SEND) right before it sends
// cleanup_live_migration_source to sim-1, after its last lease check. Controller B takes the
// lease over (epoch 2), finishes the migration, and then moves the server back to sim-1. sim-1's
// agent restarts (its command log, which would have answered A's command id with B's old
// result, is gone). A resumes and sends its stale cleanup, which would destroy the guest that
// now runs on sim-1: sim-1 refuses it (409, stale lease epoch 1 < 2), the guest runs on, and A
// writes nothing to the migration.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

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

// 'T' in /proc/<pid>/stat: stopped by a signal.
bool Stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
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

TEST(LiveMigrationFencing, AStalledControllersCleanupIsRefusedAfterAnotherTookTheMigrationOver) {
  FERRY_REQUIRE_PG(dsn);
  // B: the first controller, the agents' (progress and heartbeats go to it). Lease 3 s.
  LiveMigrationStack lm(dsn);
  const std::string sim1_listen = "127.0.0.1:" + std::to_string(FreePort());
  lm.StartHosts({{"sim-1", {"--listen", sim1_listen}}, {"sim-2", {}}});
  lm.stack->EnsureFlavor("small", 1, 256, 0);  // 256 MB: a copy of ~3 s in the sim
  const std::string server = lm.ServerOn("sim-1", "fenced", "small");

  // A: a second controller on the same database, which stops itself before the cleanup.
  lm.stack->StartSecondController({"FERRY_TEST_PAUSE_BEFORE_SEND=cleanup_live_migration_source"});
  const pid_t a = lm.stack->SecondControllerPid();
  auto a_api = lm.stack->SecondAdmin();
  a_api.SetMicroversion("2.80");
  auto accepted =
      a_api.Post("/v2.1/servers/" + server + "/action",
                 {{"os-migrateLive", {{"host", "sim-2"}, {"block_migration", "auto"}}}});
  ASSERT_EQ(accepted.status, 202) << accepted.raw;
  ASSERT_TRUE(Stack::WaitFor([&] { return Stopped(a); }, 60s)) << "A never reached the cleanup\n"
                                                               << lm.stack->SecondControllerLog();
  const std::string m1 = lm.LatestMigration(server)["uuid"];
  EXPECT_EQ(Record(lm, m1).lease_epoch, 1);

  // B takes the lease over once it lapses (epoch 2) and finishes: the guest is on sim-2.
  ASSERT_TRUE(lm.WaitStatus(server, "completed", 30s)) << lm.LatestMigration(server).dump() << "\n"
                                                       << lm.stack->ControllerLog();
  EXPECT_EQ(Record(lm, m1).lease_epoch, 2);
  EXPECT_TRUE(lm.RunsOn("sim-2", server));

  // B moves it on: back to sim-1.
  ASSERT_EQ(lm.MigrateLive(server, {{"host", "sim-1"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(Stack::WaitFor([&] { return lm.LatestMigration(server)["uuid"] != m1; }, 10s));
  ASSERT_TRUE(lm.WaitStatus(server, "completed", 60s)) << lm.LatestMigration(server).dump();
  ASSERT_TRUE(lm.RunsOn("sim-1", server));

  // sim-1's agent restarts on the same port: its command log is gone, its lease epochs are not.
  lm.stack->KillAgent("sim-1");
  lm.stack->StartAgent("sim-1", {"--listen", sim1_listen});
  ASSERT_TRUE(Stack::WaitFor([&] { return lm.RunsOn("sim-1", server); }, 10s));
  const auto before = Record(lm, m1);
  ASSERT_EQ(before.status, "completed");

  // A wakes up and sends what it decided before it stalled.
  ASSERT_EQ(::kill(a, SIGCONT), 0);
  const std::string refusal = "stale lease epoch 1 < 2 for migration " + m1;
  EXPECT_TRUE(Stack::WaitFor(
      [&] { return lm.stack->AgentLog("sim-1").find(refusal) != std::string::npos; }, 20s))
      << "sim-1 never refused A's stale command\n"
      << lm.stack->AgentLog("sim-1");
  EXPECT_TRUE(Stack::WaitFor(
      [&] {
        return lm.stack->SecondControllerLog().find("stopped driving it here") != std::string::npos;
      },
      10s))
      << lm.stack->SecondControllerLog();

  // Nothing destroyed, nothing written: the guest runs where B put it, the record is B's.
  EXPECT_TRUE(lm.RunsOn("sim-1", server)) << lm.stack->AgentLog("sim-1");
  EXPECT_FALSE(lm.RunsOn("sim-2", server));
  auto shown = lm.Server(server);
  EXPECT_EQ(shown["status"], "ACTIVE") << shown.dump();
  EXPECT_EQ(shown["OS-EXT-SRV-ATTR:host"], "sim-1");
  const auto after = Record(lm, m1);
  EXPECT_EQ(after.status, "completed");
  EXPECT_EQ(after.state_version, before.state_version) << "A wrote to the migration";
  EXPECT_EQ(after.events, before.events);
  EXPECT_EQ(lm.LeakedClaims(), 0);
  EXPECT_EQ(lm.ClaimHosts(server), std::set<std::string>{"sim-1"});
  EXPECT_FALSE(Stopped(a)) << "A runs on after the refusal";
}

}  // namespace
}  // namespace ferry::testing
